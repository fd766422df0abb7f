//! Technician admin mode's rules without its screens: PIN gate with lock-out,
//! audit log, and atomic saving of an edited configuration. The screens
//! (`ui/admin.slint`, `crates/ui/src/admin.rs`) call these from a worker thread; none
//! of them touches Slint, so all of them are tested without a window.

pub use bianmin_fs::atomic;
pub mod audit_log;
pub mod config_store;
pub mod pin;
pub mod staff;

pub use audit_log::{AuditEntry, AuditLog, ChainProblem, ChainReport};
pub use config_store::{Change, ConfigStore, SaveError};
pub use pin::{AdminError, AdminGate, AdminSession, PinGate};
