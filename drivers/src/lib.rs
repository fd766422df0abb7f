//! Device drivers of the Bianmin kiosk: one module per device, each a sans-IO
//! codec plus a thin serial transport plus a simulator on a pseudo-terminal.

pub mod demo;
pub mod gpio;
pub mod id_number;
pub mod idcard;
pub mod manager;
pub mod printer;
pub mod pty;
pub mod scanner;
pub mod serial;

/// Whether a device is present and working, as the kiosk reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceHealth {
    Ok,
    Absent,
    Faulty,
}
