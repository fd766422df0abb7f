//! Pure domain logic: no Slint, no tokio, no SQLite, no filesystem, no clock.
//! Time reaches it as values (ticks, dates, milliseconds) its callers read.
//! `.ci/check-layers` fails the build if any of those enters this crate's
//! dependency tree. Everything here is unit-tested.

pub mod application;
pub mod bundle;
pub mod catalogue;
pub mod evaluation;
pub mod form;
pub mod glossary;
pub mod id_number;
pub mod ime;
pub mod package;
pub mod personal_code;
pub mod phone;
pub mod receipt;
pub mod search;
pub mod session;
pub mod time;
pub mod words;
