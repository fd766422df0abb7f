//! Operations helpers for a kiosk that runs unattended for years: disk space,
//! bounded directories, uptime, systemd notification and watchdog, and the
//! heartbeat the platform receives. No Slint, no tokio: the app wires them.

pub mod disk;
pub mod heartbeat;
pub mod notify;
pub mod uptime;

pub use disk::{bound_dir, disk_space, DiskLevel, DiskSpace, DiskThresholds};
pub use heartbeat::{DeviceHealth, DeviceState, Heartbeat, PaperState};
pub use notify::{LoopHealth, Notifier, Watchdog, WatchdogDecision};
