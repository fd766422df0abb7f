//! The two file-system helpers every layer of the kiosk shares, written once:
//! crash-safe replacement of a small file ([`atomic`]) and free space
//! ([`disk`]).

pub mod atomic;
pub mod disk;

pub use atomic::write_atomic;
pub use disk::{disk_space, DiskSpace};
