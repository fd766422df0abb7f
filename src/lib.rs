//! Bianmin Kiosk (便民自助终端): the library behind the `bianmin` binary —
//! wiring (`app`), background services, the CLI and the walkthrough. The
//! layers below, the screens included, are crates of their own
//! (ARCHITECTURE.md).

pub mod app;
pub mod cli;
pub mod remote;
pub mod services;
pub mod walkthrough;
