//! The `bianmin` command line. Each subcommand family lives in its own module
//! so that the device, queue and UI work can grow without touching each other.

pub mod check;
pub mod content;
pub mod device;
pub mod doctor;
pub mod queue;
pub mod screens;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "bianmin",
    version,
    about = "便民自助终端 Bianmin Kiosk: 24-hour government-service self-service terminal"
)]
pub struct Cli {
    /// Configuration file (default: /etc/bianmin/kiosk.toml when it exists, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the kiosk with the configured devices and platform.
    Run,
    /// Run the kiosk with simulated devices and demo data; no hardware needed.
    Demo(DemoArgs),
    /// Render every screen to PNG without a display (software renderer).
    Screens(ScreensArgs),
    /// Walk one whole journey in demo mode (simulated devices, embedded
    /// platform) and write a numbered PNG of every step. No display needed.
    Walkthrough(WalkthroughArgs),
    /// Measure every screen: labels, touch-target and text sizes, contrast.
    AuditUi(AuditArgs),
    /// Check configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Talk to one device directly (technician tools).
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Inspect and manage the offline outbox.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// Deliver queued records to the platform.
    Sync(queue::SyncArgs),
    /// Check every configured device, the store and the platform link.
    Doctor,
    /// Enroll this kiosk with the county's platform: CODE is the 12-letter
    /// code (or the scanned `BMENROLL1:…` text) from the console's sheet.
    /// The kiosk generates its own key pair; the platform answers with its
    /// terminal id, station, URL and CA, written to `enrolled.toml` in the
    /// data directory. Restart the kiosk afterwards.
    Enroll {
        code: String,
        /// The kiosk API's URL when the code does not carry it (default:
        /// `platform.url` from the configuration).
        #[arg(long)]
        url: Option<String>,
        /// The terminal id of the machine this one replaces (same station):
        /// its key stops working, its records stay its own.
        #[arg(long)]
        replaces: Option<String>,
    },
    /// Build, check and sign the county's content package.
    #[command(subcommand)]
    Content(content::ContentCommand),
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Start in large-font mode.
    #[arg(long)]
    pub large: bool,
    /// Render the attract screen once headless, print start-up time and memory, exit (for benchmarks).
    #[arg(long, hide = true)]
    pub startup_probe: bool,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only this theme (default: both).
    #[arg(long, value_enum)]
    pub theme: Option<ThemeArg>,
    /// Window size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Also list every measured text and touch target.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE for a kiosk residents use: syntax and ranges, then the
    /// platform link (https:// with `ca_file`; plain http:// only to this
    /// machine on a `mode = "test"` kiosk). Prints each problem with line
    /// and column, exits non-zero if any.
    Check { file: PathBuf },
    /// Print the commented reference configuration with every default.
    Defaults,
    /// Read a clerk's PIN from standard input and print the Argon2id hash to
    /// put in `[[assist.staff]] pin_hash` (the PIN itself is never stored).
    HashPin,
    /// Provision the technician's admin PIN (there is no factory PIN; until
    /// this is done admin mode stays shut). Reads the PIN (6–12 digits, not
    /// trivial) or an Argon2id hash from `hash-pin` from standard input and
    /// writes `admin-pin.json` in the data directory. Run it on the
    /// terminal as root: the file is given to the data directory's owner.
    SetAdminPin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ThemeArg {
    Normal,
    Large,
}

impl ThemeArg {
    /// The themes to cover, as `large` flags: the one asked for, or both.
    pub fn selection(theme: Option<ThemeArg>) -> Vec<bool> {
        match theme {
            Some(ThemeArg::Normal) => vec![false],
            Some(ThemeArg::Large) => vec![true],
            None => vec![false, true],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Zh,
    En,
}

#[derive(Debug, clap::Args)]
pub struct ScreensArgs {
    /// Directory the PNGs are written to (created if missing).
    #[arg(long, default_value = "shots")]
    pub out: PathBuf,
    /// Only this theme (default: both).
    #[arg(long, value_enum)]
    pub theme: Option<ThemeArg>,
    /// Window size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Language of the screens.
    #[arg(long, value_enum, default_value = "zh")]
    pub lang: LangArg,
}

#[derive(Debug, clap::Args)]
pub struct WalkthroughArgs {
    /// Directory the PNGs are written to (created if missing; keep it out of git).
    #[arg(long, default_value = "walkthrough")]
    pub out: PathBuf,
    /// Large-font mode (长辈版) instead of the standard one.
    #[arg(long)]
    pub large: bool,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("expected WIDTHxHEIGHT such as 1280x800, found {text:?}"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .ok()
            .filter(|v| (200..=8000).contains(v))
    };
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!(
            "expected WIDTHxHEIGHT with each side from 200 to 8000, found {text:?}"
        )),
    }
}
