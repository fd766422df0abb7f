//! Pure domain logic: no Slint, no tokio, no I/O. Everything here is unit-tested.

pub mod catalogue;
pub mod search;
pub mod session;
