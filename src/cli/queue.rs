//! `bianmin queue …` and `bianmin sync`: the offline outbox.

use crate::config::Config;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Counts per state and the age of the oldest pending record.
    Status,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Drain the outbox once and exit.
    #[arg(long)]
    pub once: bool,
}

pub fn run(command: QueueCommand, _config: &Config) -> anyhow::Result<ExitCode> {
    match command {
        QueueCommand::Status => {
            eprintln!("离线队列尚未接入 (the outbox is not built into this version yet)");
            Ok(ExitCode::from(2))
        }
    }
}

pub fn sync(_args: SyncArgs, _config: &Config) -> anyhow::Result<ExitCode> {
    eprintln!("同步尚未接入 (sync is not built into this version yet)");
    Ok(ExitCode::from(2))
}

/// Store and platform rows for `bianmin doctor`.
pub fn doctor_checks(_config: &Config) -> Vec<super::doctor::Check> {
    Vec::new()
}
