//! `bianmin update`: the updater (`run`, as root from
//! `bianmin-update.timer`) and the check a freshly installed version runs on
//! itself (`self-check`).

use bianmin_config::Config;
use bianmin_ops::update::{self, Health, PassOutcome, UpdateOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// One pass: ask the platform, download with apt, install between
    /// residents, judge the new version, roll back if it is unhealthy.
    Run(RunArgs),
    /// What a new version checks on itself before it is called healthy:
    /// the configuration, the database, the content package.
    SelfCheck,
}

/// Settings of the updater. Taken from its command line only: it runs as
/// root, and the kiosk's own files are writable by the kiosk's user.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The APT repository's public key (root-owned, not group/world-writable).
    #[arg(long, default_value = update::DEFAULT_ARCHIVE_KEY)]
    pub archive_key: PathBuf,
    #[arg(long, default_value = update::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// READY and the self-check within this many seconds.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout: u64,
    /// Watch the new version this long; two deaths in it are unhealthy.
    #[arg(long, default_value_t = 600)]
    pub watch: u64,
    /// Wait this long for the resident in session to finish.
    #[arg(long, default_value_t = 600)]
    pub hold_timeout: u64,
    /// Without systemd: start the new version with this command (its
    /// NOTIFY_SOCKET the updater's) to judge it. Default: systemd's unit.
    #[arg(long, num_args = 1.., allow_hyphen_values = true)]
    pub health_command: Vec<String>,
    /// The installed kiosk binary, run for its self-check.
    #[arg(long, default_value = "/usr/bin/bianmin")]
    pub kiosk_binary: PathBuf,
}

pub fn run(
    command: UpdateCommand,
    loaded: Result<Config, bianmin_config::ConfigError>,
) -> ExitCode {
    match command {
        UpdateCommand::SelfCheck => self_check(loaded),
        UpdateCommand::Run(args) => match loaded {
            Ok(config) => run_pass(&config, args),
            Err(e) => {
                eprintln!("bianmin update: the kiosk's configuration is unusable: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Only critical failures count: a missing content package or an
/// unplugged reader is not the new version's fault.
fn self_check(loaded: Result<Config, bianmin_config::ConfigError>) -> ExitCode {
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            println!("FAIL  config  {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for check in super::queue::doctor_checks(&config) {
        let mark = if check.ok {
            "ok  "
        } else if check.critical {
            "FAIL"
        } else {
            "warn"
        };
        println!("{mark}  {}  {}", check.name, check.detail);
        failed |= check.critical && !check.ok;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn run_pass(config: &Config, args: RunArgs) -> ExitCode {
    let client = match bianmin_platform::client::PlatformClient::from_config(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bianmin update: no platform client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = UpdateOptions {
        archive_key: args.archive_key,
        state_dir: args.state_dir,
        kiosk_data_dir: config.store.data_dir.clone(),
        ready_timeout: Duration::from_secs(args.ready_timeout),
        watch: Duration::from_secs(args.watch),
        hold_timeout: Duration::from_secs(args.hold_timeout),
        health: if args.health_command.is_empty() {
            Health::Systemd
        } else {
            Health::Command(args.health_command)
        },
        ca_file: config.platform.ca_file.clone(),
        repository_url: update::repository_url(config.platform.url.as_str()),
        kiosk_binary: args.kiosk_binary,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bianmin update: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(update::pass(&client, &options)) {
        Ok(PassOutcome::NothingToDo(why) | PassOutcome::Waiting(why)) => {
            println!("{why}");
            ExitCode::SUCCESS
        }
        Ok(PassOutcome::Reported(report)) => {
            println!(
                "{} → {}: {:?} — {}",
                report.from, report.to, report.outcome, report.detail
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bianmin update: {e}");
            ExitCode::FAILURE
        }
    }
}
