//! Bianmin Kiosk (便民自助终端): the library behind the `bianmin` binary —
//! wiring, the service desk, background services, admin, operations and the
//! Slint glue. The layers below are crates of their own (ARCHITECTURE.md);
//! they are re-exported under their old module names so that paths inside
//! the kiosk (`crate::store::Store`) read as before.

pub use bianmin_admin as admin;
pub use bianmin_config as config;
pub use bianmin_config::logging;
pub use bianmin_core as core;
pub use bianmin_desk as desk;
pub use bianmin_desk::signature;
pub use bianmin_ops as ops;
pub use bianmin_ops::devices;
pub use bianmin_platform as platform;
pub use bianmin_store as store;
pub use bianmin_sync as sync;

pub mod app;
pub mod cli;
pub mod mailbox;
pub mod services;
pub mod ui;
pub mod voice;
