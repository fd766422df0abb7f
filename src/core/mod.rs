//! Pure domain logic: no Slint, no tokio, no I/O. Everything here is unit-tested.

pub mod application;
pub mod bundle;
pub mod catalogue;
pub mod evaluation;
pub mod form;
pub mod ime;
pub mod search;
pub mod session;
