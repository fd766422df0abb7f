//! `bianmin device …`: technician commands that talk to one device directly.

use crate::config::Config;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// List serial ports with their USB vendor and product ids.
    List,
}

pub fn run(command: DeviceCommand, _config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        DeviceCommand::List => {
            eprintln!("设备驱动尚未接入 (device drivers are not built into this version yet)");
            Ok(ExitCode::from(2))
        }
    }
}

/// Device rows for `bianmin doctor`.
pub fn doctor_checks(_config: &Config) -> Vec<super::doctor::Check> {
    Vec::new()
}
