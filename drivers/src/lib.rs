//! Device drivers of the Bianmin kiosk: one module per device, each a sans-IO
//! codec plus a thin serial transport plus a simulator on a pseudo-terminal.
//! The simulators (and the pty they run on) are behind the `sim` feature:
//! `bianmin demo` and the tests turn it on.

#[cfg(feature = "sim")]
pub mod demo;
pub mod gpio;
pub use bianmin_core::id_number;
pub mod idcard;
pub mod manager;
pub mod printer;
#[cfg(feature = "sim")]
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
