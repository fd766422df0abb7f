//! Wiring of the kiosk: configuration, UI, devices and store.
use crate::cli::ScreensArgs;
use crate::config::{Config, ConfigError};
use std::process::ExitCode;

pub fn run_kiosk(_config: Result<Config, ConfigError>) -> ExitCode {
    ExitCode::FAILURE
}
pub fn run_demo(_config: Config, _large: bool) -> ExitCode {
    ExitCode::FAILURE
}
pub fn startup_probe(_config: Config) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::FAILURE)
}
pub fn render_screens(_config: &Config, _args: &ScreensArgs) -> anyhow::Result<()> {
    Ok(())
}
