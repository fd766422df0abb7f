//! Bianmin Kiosk (便民自助终端): the library behind the `bianmin` binary.
//! ARCHITECTURE.md has the map.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod desk;
pub mod logging;
pub mod ops;
pub mod platform;
pub mod services;
pub mod store;
pub mod sync;
pub mod ui;
pub mod voice;
