//! Operations helpers for a kiosk that runs unattended for years: disk space,
//! bounded directories, uptime, systemd notification and watchdog, and the
//! heartbeat the platform receives. No Slint; `monitor` runs on the
//! services' tokio runtime, the rest is plain functions the app wires.

pub mod devices;
pub mod disk;
pub mod enroll;
pub mod export;
pub mod heartbeat;
pub mod monitor;
pub mod notify;
pub mod uptime;

pub use disk::{bound_dir, disk_space, DiskLevel, DiskSpace, DiskThresholds};
pub use heartbeat::{DeviceHealth, DeviceState, Heartbeat, PaperState};
pub use monitor::{OpsMonitor, OpsSnapshot, OpsSources};
pub use notify::{LoopHealth, Notifier, Watchdog, WatchdogDecision};
