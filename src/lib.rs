//! Bianmin Kiosk (便民自助终端): the library behind the `bianmin` binary —
//! wiring, the service desk, background services, admin, operations and the
//! Slint glue. The layers below are crates of their own (ARCHITECTURE.md);
//! they are re-exported under their old module names so that paths inside
//! the kiosk (`crate::store::Store`) read as before.

pub use bianmin_config as config;
pub use bianmin_config::logging;
pub use bianmin_core as core;
pub use bianmin_platform as platform;
pub use bianmin_store as store;
pub use bianmin_sync as sync;

pub mod admin;
pub mod app;
pub mod cli;
pub mod desk;
pub mod devices;
pub mod mailbox;
pub mod ops;
pub mod services;
pub mod signature;
pub mod ui;
pub mod voice;
