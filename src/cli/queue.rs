//! `bianmin queue …` and `bianmin sync`: the offline outbox.

use bianmin_config::Config;
use bianmin_platform::client::PlatformClient;
use bianmin_store::{now_ms, rfc3339, RecordState, Store};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Counts per state and the age of the oldest pending record.
    Status,
    /// Records, newest first (receipt number, service, time, state; never personal data).
    List {
        /// Only records in this state.
        #[arg(long, value_parser = ["pending", "acked", "parked"])]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Put a parked record (rejected by the platform) back in the queue.
    Retry {
        /// Record id or receipt number, as `queue list` shows.
        id: String,
    },
    /// Write every record not yet acknowledged to FILE, personal fields
    /// sealed to the platform's key as on the wire (for carrying out on a
    /// USB stick; see docs/platform-api.yaml).
    Export { file: PathBuf },
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Drain the outbox once and exit.
    #[arg(long)]
    pub once: bool,
}

fn open(config: &Config) -> anyhow::Result<Store> {
    Store::open(config).map_err(|e| anyhow::anyhow!("{}: {e}", config.store.data_dir.display()))
}

fn age(ms: i64) -> String {
    let secs = ((now_ms() - ms).max(0) / 1000) as u64;
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

pub fn run(command: QueueCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let store = open(config)?;
    match command {
        QueueCommand::Status => {
            let s = store.stats()?;
            println!(
                "pending   {} ({} applications)",
                s.pending, s.pending_applications
            );
            println!("parked    {}", s.parked);
            println!(
                "acked     {} ({} purged of personal data)",
                s.acked, s.purged
            );
            match s.oldest_pending_ms {
                Some(ms) => println!("oldest    {} ({} ago)", rfc3339(ms), age(ms)),
                None => println!("oldest    -"),
            }
            let clock = store.clock_check();
            if !clock.is_ok() {
                println!("clock     {}", clock.describe());
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::List { state, limit } => {
            let state = state.as_deref().map(|s| match s {
                "acked" => RecordState::Acked,
                "parked" => RecordState::Parked,
                _ => RecordState::Pending,
            });
            for r in store.list(state, limit)? {
                println!(
                    "{:>6}  {:<12} {:<34} {:<8} {:<14} {}  tries {}{}",
                    r.id,
                    r.kind.as_str(),
                    r.key,
                    r.state.as_str(),
                    r.service_code.as_deref().unwrap_or("-"),
                    rfc3339(r.created_at_ms),
                    r.attempts,
                    r.last_error.map(|e| format!("  ({e})")).unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Retry { id } => {
            let r = store.retry(&id)?;
            println!("{} is pending again", r.key);
            Ok(ExitCode::SUCCESS)
        }
        QueueCommand::Export { file } => {
            let n = store.export(&file)?;
            println!(
                "{n} records written to {} (personal fields sealed to the platform's key {})",
                file.display(),
                store.sealing_key_id()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn sync(args: SyncArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let store = open(config)?;
    let rt = tokio::runtime::Runtime::new()?;
    if !args.once {
        return rt.block_on(async {
            let (handle, mut rx) = bianmin_sync::spawn(config, store)?;
            println!("syncing with {} (Ctrl-C to stop)", config.platform.url.as_str());
            loop {
                tokio::select! {
                    changed = rx.changed() => {
                        if changed.is_err() { break; }
                        let s = rx.borrow_and_update().clone();
                        println!("{:?}: {} pending, {} parked{}", s.link, s.queue.pending, s.queue.parked,
                            s.last_error.map(|e| format!(" — {e}")).unwrap_or_default());
                    }
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            handle.shutdown().await;
            Ok(ExitCode::SUCCESS)
        });
    }
    let client = PlatformClient::from_config(config)?;
    let total = store.stats()?.pending;
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let result = rt.block_on(async {
        let catalogue = bianmin_sync::pull_catalogue(&client, &store).await;
        let report = bianmin_sync::drain_once(
            &client,
            &store,
            config.platform.batch_size.get() as usize,
            |r| {
                bar.set_position(r.accepted + r.duplicates + r.parked);
            },
        )
        .await;
        (catalogue, report)
    });
    bar.finish_and_clear();
    match result {
        (catalogue, Ok(r)) => {
            println!(
                "sent: {} accepted, {} already at the platform, {} parked (rejected)",
                r.accepted, r.duplicates, r.parked
            );
            match catalogue {
                Ok(v) => println!("catalogue: {}", v.unwrap_or_else(|| "-".into())),
                Err(e) => println!("catalogue: not updated ({e})"),
            }
            Ok(if r.parked > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        (_, Err(e)) => {
            let left = store.stats()?.pending;
            eprintln!("sync stopped: {e}; {left} records kept for the next try");
            Ok(ExitCode::from(2))
        }
    }
}

/// Store and platform rows for `bianmin doctor`.
pub fn doctor_checks(config: &Config) -> Vec<super::check::Check> {
    use super::check::Check;
    let check = |name: &str, ok: bool, critical: bool, detail: String| Check {
        name: name.into(),
        ok,
        critical,
        detail,
    };
    let mut out = Vec::new();
    let store = match Store::open(config) {
        Ok(s) => s,
        Err(e) => {
            out.push(check("database", false, true, e.to_string()));
            return out;
        }
    };
    match store.integrity_check() {
        Ok(()) => out.push(check(
            "database",
            true,
            true,
            store.db_path().display().to_string(),
        )),
        Err(e) => out.push(check("database", false, true, e.to_string())),
    }
    out.extend(content_checks(&store));
    match store.stats() {
        Ok(s) => {
            let stale = s
                .oldest_pending_ms
                .is_some_and(|ms| now_ms() - ms > 86_400_000);
            out.push(check(
                "queue",
                !stale && s.parked == 0,
                false,
                format!(
                    "{} pending{}, {} parked",
                    s.pending,
                    s.oldest_pending_ms
                        .map(|ms| format!(" (oldest {} ago)", age(ms)))
                        .unwrap_or_default(),
                    s.parked
                ),
            ))
        }
        Err(e) => out.push(check("queue", false, true, e.to_string())),
    }
    let clock = store.clock_check();
    out.push(check("clock", clock.is_ok(), false, clock.describe()));
    let free = bianmin_store::free_disk_bytes(store.data_dir());
    out.push(check(
        "disk",
        free > 64 * 1024 * 1024,
        false,
        format!("{} MiB free", free / (1024 * 1024)),
    ));
    let platform = match PlatformClient::from_config(config) {
        Err(e) => check("platform", false, false, e.to_string()),
        Ok(client) => {
            let etag = store.catalogue().ok().flatten().and_then(|c| c.etag);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Err(e) => check("platform", false, false, e.to_string()),
                Ok(rt) => match rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), client.catalogue(etag.as_deref()))
                        .await
                }) {
                    Ok(Ok(_)) => check(
                        "platform",
                        true,
                        false,
                        format!("{} reachable", config.platform.url.as_str()),
                    ),
                    Ok(Err(e)) => check("platform", false, false, e.to_string()),
                    Err(_) => check("platform", false, false, "no answer within 10 s".into()),
                },
            }
        }
    };
    out.push(platform);
    out
}

/// The content package: without one the kiosk serves nobody (its screen
/// says 本终端正在准备服务内容); a refused pull is a warning, the previous
/// package keeps serving.
fn content_checks(store: &Store) -> Vec<super::check::Check> {
    use super::check::Check;
    let mut out = Vec::new();
    match store.content_package(bianmin_store::PackageSlot::Current) {
        Ok(Some(package)) => out.push(Check {
            name: "content".into(),
            ok: true,
            critical: true,
            detail: format!(
                "package {} installed {}",
                package.version,
                bianmin_store::rfc3339(package.installed_at_ms)
            ),
        }),
        // A warning, not a failure: the devices and the store are sound and
        // the package arrives with the next pull; the line says what it means.
        Ok(None) => out.push(Check {
            name: "content".into(),
            ok: false,
            critical: false,
            detail: "no content package yet: the kiosk is out of service until a valid \
                     signed package arrives from the platform"
                .into(),
        }),
        Err(e) => out.push(Check {
            name: "content".into(),
            ok: false,
            critical: true,
            detail: e.to_string(),
        }),
    }
    if let Ok(Some(refusal)) = store.content_refusal() {
        out.push(Check {
            name: "content pull".into(),
            ok: false,
            critical: false,
            detail: format!(
                "the last package pulled was refused at {}: {}",
                bianmin_store::rfc3339(refusal.at_ms),
                refusal.reason
            ),
        });
    }
    out
}
