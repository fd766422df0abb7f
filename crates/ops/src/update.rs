//! Updates with automatic rollback: `bianmin update run`, started as root
//! by `bianmin-update.timer`.
//!
//! One pass: ask the platform which version the station's channel holds
//! (`GET /update`); fetch it with apt from the platform's APT repository,
//! whose Release apt verifies against the archive key pinned on this
//! machine (root-owned, never taken from the kiosk's writable files);
//! wait for the maintenance window and for a moment between residents (the
//! kiosk grants a hold and shows its "updating" page); install with dpkg;
//! start the new version and call it healthy only if it says READY and its
//! self-check passes within the time limit and it does not die twice while
//! watched; otherwise reinstall the version that ran before and never try
//! the failed one again. Every outcome goes to the platform (kept on disk
//! until it is delivered), so the county's console sees it.
//!
//! Package verification is apt's own (signed Release → Packages hashes →
//! the .deb's hash); nothing here checks signatures by hand.

use bianmin_platform::api::{UpdateOffer, UpdateOutcome, UpdateReport};
use bianmin_platform::client::PlatformClient;
use serde::{Deserialize, Serialize};
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The package the kiosk ships as.
pub const PACKAGE: &str = "bianmin";
/// Where the technician (or the county's image) puts the APT repository's
/// public key: Debian's place for locally pinned `signed-by=` keys, which
/// apt's unprivileged `_apt` user can read (it cannot enter /etc/bianmin)
/// and the kiosk's user cannot write.
pub const DEFAULT_ARCHIVE_KEY: &str = "/etc/apt/keyrings/bianmin-archive.gpg";
/// The updater's own state: apt lists and downloads, the last good package,
/// versions that failed, reports not yet delivered.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/bianmin-update";
/// What the kiosk is: the systemd unit the updater restarts and watches.
pub const KIOSK_UNIT: &str = "bianmin.service";

/// The files through which the updater and the running kiosk agree on a
/// moment between residents (in the kiosk's data directory).
pub const HOLD_REQUEST: &str = "update-hold.request";
pub const HOLD_GRANTED: &str = "update-hold.granted";
/// Held (flock) by a running kiosk for its whole life: the updater knows
/// whether anyone must be asked before the package is replaced.
pub const KIOSK_LOCK: &str = "kiosk.lock";

/// How the new version is started and judged.
#[derive(Debug, Clone)]
pub enum Health {
    /// Production: systemd runs `bianmin.service` (Type=notify, so the unit
    /// is `active` only after READY=1); restarts are counted by NRestarts.
    Systemd,
    /// No systemd (containers, the update test): the updater starts this
    /// command itself with `NOTIFY_SOCKET` pointing at its own socket, waits
    /// for READY=1, counts exits while watching, and stops it afterwards —
    /// whatever supervises the kiosk there starts it again.
    Command(Vec<String>),
}

/// The updater's settings; from its command line only (it runs as root:
/// nothing here may come from files the kiosk's user can write).
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    pub archive_key: PathBuf,
    pub state_dir: PathBuf,
    /// The kiosk's data directory (hold handshake, kiosk lock).
    pub kiosk_data_dir: PathBuf,
    /// READY and the self-check within this.
    pub ready_timeout: Duration,
    /// After READY: this long without two deaths (the watchdog firing twice
    /// within 10 min is the rule).
    pub watch: Duration,
    /// How long a resident in session may hold the installation up before
    /// this pass gives up (the next pass asks again).
    pub hold_timeout: Duration,
    pub health: Health,
    /// `--ca-file` for apt over HTTPS (the kiosk's `platform.ca_file`).
    pub ca_file: Option<PathBuf>,
    /// The APT repository (`{platform origin}/apt`).
    pub repository_url: String,
    /// The installed kiosk binary, run for its self-check.
    pub kiosk_binary: PathBuf,
}

/// What one pass did, in words for the technician's terminal and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassOutcome {
    NothingToDo(String),
    Waiting(String),
    Reported(UpdateReport),
}

/// Why a pass stopped before deciding anything (the kiosk keeps running
/// what it runs).
#[derive(Debug)]
pub struct UpdateError(pub String);

impl std::fmt::Display for UpdateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UpdateError {}

fn err(text: impl Into<String>) -> UpdateError {
    UpdateError(text.into())
}

/// The updater's memory across passes.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Versions that were installed, failed their health check and were
    /// rolled back: never installed again by this kiosk.
    bad_versions: Vec<String>,
    /// Reports the platform has not acknowledged yet, oldest first.
    unsent: Vec<UpdateReport>,
    /// The last report of `Downloaded` sent for this version (said once).
    downloaded_said: Option<String>,
}

impl State {
    fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    fn load(dir: &Path) -> State {
        std::fs::read(Self::path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, dir: &Path) -> Result<(), UpdateError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        bianmin_fs::write_atomic(&Self::path(dir), &bytes, 0o600, None)
            .map_err(|e| err(format!("cannot keep the updater's state: {e}")))
    }
}

/// The APT repository of a platform whose kiosk API is at `api_url`: below
/// it, at `{api_url}/apt` (docs/platform-api.yaml), so one URL and one CA
/// serve both.
pub fn repository_url(api_url: &str) -> String {
    format!("{}/apt", api_url.trim_end_matches('/'))
}

/// The pinned key must be root's and writable by nobody else: the kiosk's
/// user may create files in /etc/bianmin, and a key it planted would let it
/// sign its own "updates", run as root.
pub fn check_archive_key(path: &Path) -> Result<(), UpdateError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        err(format!(
            "no APT archive key at {} ({e}): updates are off until the county's key is installed there",
            path.display()
        ))
    })?;
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(err(format!(
            "{} must belong to root and be writable by nobody else (owner uid {}, mode {:o}): refused",
            path.display(),
            meta.uid(),
            meta.mode() & 0o7777
        )));
    }
    Ok(())
}

/// The installed version of the kiosk package, if any.
pub fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", PACKAGE])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !version.is_empty()).then_some(version)
}

/// Debian's own ordering of versions (`dpkg --compare-versions`): no
/// second implementation of it here.
pub fn version_newer(candidate: &str, than: &str) -> bool {
    Command::new("dpkg")
        .args(["--compare-versions", candidate, "gt", than])
        .status()
        .is_ok_and(|s| s.success())
}

/// Run `program args`, its output kept for the report; an error says which
/// step failed and the last lines it printed.
fn run(step: &str, command: &mut Command) -> Result<String, UpdateError> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| err(format!("{step}: cannot run it: {e}")))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        let tail: Vec<&str> = text.lines().rev().take(6).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(err(format!(
            "{step} failed ({}): {}",
            out.status,
            tail.join(" | ")
        )))
    }
}

/// apt confined to the updater's own sources, lists and downloads: the
/// system's other repositories and caches are neither read nor touched.
struct Apt {
    list: PathBuf,
    lists: PathBuf,
    archives: PathBuf,
    cache: PathBuf,
    ca_file: Option<PathBuf>,
}

impl Apt {
    fn prepare(opts: &UpdateOptions, channel: &str) -> Result<Apt, UpdateError> {
        if !matches!(channel, "canary" | "stable") {
            return Err(err(format!(
                "the platform named an unknown channel {channel:?}"
            )));
        }
        let lists = opts.state_dir.join("lists");
        let archives = opts.state_dir.join("archives");
        let cache = opts.state_dir.join("cache");
        for dir in [
            &lists,
            &lists.join("partial"),
            &archives,
            &archives.join("partial"),
            &cache,
        ] {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        }
        let list = opts.state_dir.join("bianmin.sources.list");
        let line = format!(
            "deb [signed-by={}] {} {channel} main\n",
            opts.archive_key.display(),
            opts.repository_url
        );
        bianmin_fs::write_atomic(&list, line.as_bytes(), 0o644, None)
            .map_err(|e| err(format!("cannot write {}: {e}", list.display())))?;
        Ok(Apt {
            list,
            lists,
            archives,
            cache,
            ca_file: opts.ca_file.clone(),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("apt-get");
        command
            .arg("-q")
            .arg("-o")
            .arg(format!("Dir::Etc::SourceList={}", self.list.display()))
            .args(["-o", "Dir::Etc::SourceParts=/dev/null"])
            .arg("-o")
            .arg(format!("Dir::State::Lists={}", self.lists.display()))
            // Its own package cache too: the system's pkgcache.bin is not
            // rebuilt from these lists.
            .arg("-o")
            .arg(format!("Dir::Cache={}", self.cache.display()))
            .arg("-o")
            .arg(format!("Dir::Cache::Archives={}", self.archives.display()))
            .args(["-o", "APT::Get::List-Cleanup=0"])
            .env("DEBIAN_FRONTEND", "noninteractive");
        if let Some(ca) = &self.ca_file {
            command
                .arg("-o")
                .arg(format!("Acquire::https::CaInfo={}", ca.display()));
        }
        command.args(args);
        command
    }

    /// The signed index; apt refuses a Release not signed by the pinned key.
    fn update(&self) -> Result<(), UpdateError> {
        let signature_refused = |text: &str| {
            [
                "NO_PUBKEY",
                "is not signed",
                "BADSIG",
                "could not be verified",
                "The following signatures",
            ]
            .iter()
            .any(|w| text.contains(w))
        };
        match run("apt-get update", &mut self.command(&["update"])) {
            Err(e) if signature_refused(&e.0) => Err(err(format!(
                "the repository's signature was refused by apt (not the county's key?): {e}"
            ))),
            Err(e) => Err(err(format!("the repository could not be read: {e}"))),
            // apt-get update may exit 0 for a repository it ignored with
            // only a warning: that is a refusal here too.
            Ok(out) if signature_refused(&out) || out.contains("Failed to fetch") => {
                let line = out
                    .lines()
                    .find(|l| l.starts_with("W:") || l.starts_with("E:"))
                    .unwrap_or("apt ignored the repository");
                Err(err(format!("the repository was not usable: {line}")))
            }
            Ok(_) => Ok(()),
        }
    }

    /// Download `version` (verified by apt against the signed index) and
    /// return the .deb.
    fn download(&self, version: &str) -> Result<PathBuf, UpdateError> {
        let spec = format!("{PACKAGE}={version}");
        run(
            &format!("downloading {spec}"),
            &mut self.command(&[
                "install",
                "-y",
                "--download-only",
                "--allow-downgrades",
                "--no-install-recommends",
                &spec,
            ]),
        )?;
        self.cached(version).ok_or_else(|| {
            err(format!(
                "apt reported {spec} downloaded but no package is in {}",
                self.archives.display()
            ))
        })
    }

    /// Fetch the package of the version installed now (`apt-get install
    /// --download-only` skips a version that is installed; `apt-get
    /// download` does not, and checks it against the signed index too).
    fn fetch_installed(&self, version: &str) -> Result<PathBuf, UpdateError> {
        let spec = format!("{PACKAGE}={version}");
        let mut command = self.command(&["download", &spec]);
        command.current_dir(&self.archives);
        run(
            &format!("downloading {spec} for the way back"),
            &mut command,
        )?;
        self.cached(version)
            .ok_or_else(|| err(format!("apt-get download left no {spec} package")))
    }

    /// The downloaded package of `version`, if present.
    fn cached(&self, version: &str) -> Option<PathBuf> {
        // apt names files package_version_arch.deb with ':' escaped as %3a.
        let prefix = format!("{PACKAGE}_{}_", version.replace(':', "%3a"));
        std::fs::read_dir(&self.archives)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
            })
    }
}

/// One pass of the updater.
pub async fn pass(
    client: &PlatformClient,
    opts: &UpdateOptions,
) -> Result<PassOutcome, UpdateError> {
    std::fs::create_dir_all(&opts.state_dir)
        .map_err(|e| err(format!("cannot create {}: {e}", opts.state_dir.display())))?;
    let _one_at_a_time = lock_exclusive(&opts.state_dir.join("updater.lock"), false)?
        .ok_or_else(|| err("another update pass is running"))?;
    let mut state = State::load(&opts.state_dir);
    deliver_unsent(client, &mut state, &opts.state_dir).await;
    check_archive_key(&opts.archive_key)?;
    let offer = client.update_offer().await.map_err(|e| {
        err(format!(
            "the platform did not say which version to run: {e}"
        ))
    })?;
    let outcome = decide(client, opts, &mut state, offer).await;
    state.save(&opts.state_dir)?;
    outcome
}

async fn decide(
    client: &PlatformClient,
    opts: &UpdateOptions,
    state: &mut State,
    offer: UpdateOffer,
) -> Result<PassOutcome, UpdateError> {
    let Some(target) = offer.version.clone() else {
        return Ok(PassOutcome::NothingToDo(format!(
            "nothing is published on the {} channel",
            offer.channel
        )));
    };
    let running = installed_version().unwrap_or_default();
    if !running.is_empty() && !version_newer(&target, &running) {
        return Ok(PassOutcome::NothingToDo(format!(
            "{running} runs; the {} channel offers {target}",
            offer.channel
        )));
    }
    if state.bad_versions.contains(&target) {
        return Ok(PassOutcome::NothingToDo(format!(
            "{target} failed its health check here before and was rolled back: not tried again"
        )));
    }
    let report = |outcome, detail: String| UpdateReport {
        from: running.clone(),
        to: target.clone(),
        outcome,
        detail,
    };
    let apt = Apt::prepare(opts, &offer.channel)?;
    let downloaded = apt.update().and_then(|()| {
        let new = apt.download(&target)?;
        // The way back must be on this disk before anything is replaced.
        let previous = match (running.is_empty(), previous_package(opts, &apt, &running)) {
            (true, _) => None,
            (false, Some(p)) => Some(p),
            (false, None) => {
                return Err(err(format!(
                    "no package of the running version {running} is kept here or offered by the repository: \
                     without a way back, {target} is not installed"
                )))
            }
        };
        Ok((new, previous))
    });
    let (new_deb, previous_deb) = match downloaded {
        Ok(found) => found,
        Err(e) => {
            let r = report(UpdateOutcome::Failed, e.0);
            send(client, state, &r).await;
            return Ok(PassOutcome::Reported(r));
        }
    };
    if state.downloaded_said.as_deref() != Some(target.as_str()) {
        state.downloaded_said = Some(target.clone());
        send(
            client,
            state,
            &report(
                UpdateOutcome::Downloaded,
                format!("{target} downloaded and verified by apt"),
            ),
        )
        .await;
    }
    if let Some(window) = &offer.window {
        let now = chrono::Utc::now().with_timezone(&bianmin_core::time::station_zone());
        let minute = chrono::Timelike::hour(&now) * 60 + chrono::Timelike::minute(&now);
        if !window.contains(minute) {
            return Ok(PassOutcome::Waiting(format!(
                "{target} is downloaded; it is installed in the maintenance window {}–{}",
                window.start, window.end
            )));
        }
    }
    let Some(hold) = Hold::obtain(&opts.kiosk_data_dir, opts.hold_timeout)? else {
        return Ok(PassOutcome::Waiting(format!(
            "{target} is downloaded; a resident is being served, the next pass tries again"
        )));
    };
    // Released as soon as the kiosk that granted it has stopped: the new
    // process must not start into the "updating" page.
    let mut hold = Some(hold);
    if let Err(e) = install(&new_deb) {
        let r = report(
            UpdateOutcome::Failed,
            format!("{e}; {running} keeps running"),
        );
        // dpkg may have left the old version half-replaced: put it back.
        if let Some(previous) = &previous_deb {
            if let Err(again) = install(previous) {
                tracing::error!(%again, "the previous version could not be reinstalled");
            }
        }
        let _ = start_and_judge(opts, &mut hold);
        send(client, state, &r).await;
        return Ok(PassOutcome::Reported(r));
    }
    match start_and_judge(opts, &mut hold) {
        Ok(how) => {
            keep_as_good(opts, &new_deb);
            let r = report(UpdateOutcome::Healthy, how);
            send(client, state, &r).await;
            Ok(PassOutcome::Reported(r))
        }
        Err(why) => {
            state.bad_versions.push(target.clone());
            let back = match &previous_deb {
                Some(previous) => install(previous).and_then(|()| start_and_judge(opts, &mut hold)),
                None => Err(err(
                    "no previous version was installed: nothing to go back to",
                )),
            };
            let detail = match back {
                Ok(_) => {
                    format!("{target} was unhealthy ({why}); {running} reinstalled and healthy")
                }
                Err(e) => format!(
                    "{target} was unhealthy ({why}); going back to {running} failed too: {e}"
                ),
            };
            let r = report(UpdateOutcome::RolledBack, detail);
            send(client, state, &r).await;
            Ok(PassOutcome::Reported(r))
        }
    }
}

/// The package of the version running now: the copy kept when it was last
/// healthy, else the repository's (a channel keeps every version it held).
fn previous_package(opts: &UpdateOptions, apt: &Apt, running: &str) -> Option<PathBuf> {
    let kept = opts.state_dir.join("good");
    if let Ok(entries) = std::fs::read_dir(&kept) {
        let prefix = format!("{PACKAGE}_{}_", running.replace(':', "%3a"));
        if let Some(p) = entries.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        }) {
            return Some(p);
        }
    }
    apt.cached(running)
        .or_else(|| apt.fetch_installed(running).ok())
}

/// Keep the package that just proved healthy as the way back for the next
/// update (only the newest one is kept).
fn keep_as_good(opts: &UpdateOptions, deb: &Path) {
    let kept = opts.state_dir.join("good");
    let _ = std::fs::remove_dir_all(&kept);
    if std::fs::create_dir_all(&kept).is_ok() {
        if let Some(name) = deb.file_name() {
            if let Err(e) = std::fs::copy(deb, kept.join(name)) {
                tracing::warn!(%e, "the healthy package was not kept for rollback");
            }
        }
    }
}

/// dpkg installs the verified file; the technician's conffiles stay.
fn install(deb: &Path) -> Result<(), UpdateError> {
    run(
        &format!("installing {}", deb.display()),
        Command::new("dpkg")
            .args(["--force-confold", "--force-downgrade", "-i"])
            .arg(deb)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .map(|_| ())
}

/// Start what is installed now and judge it; Ok says how it proved healthy.
/// The kiosk's hold, if still held, is released once the old process is
/// gone and before the new one starts.
fn start_and_judge(opts: &UpdateOptions, hold: &mut Option<Hold>) -> Result<String, UpdateError> {
    let started = Instant::now();
    let judged = match &opts.health {
        Health::Systemd => judge_systemd(opts, started, hold),
        Health::Command(argv) => {
            hold.take();
            judge_command(opts, argv, started)
        }
    }
    .and_then(|()| self_check(opts, started))
    .and_then(|()| watch(opts));
    // Whatever the verdict, the updater does not stay a supervisor.
    SUPERVISED.with(|s| s.borrow_mut().take());
    judged?;
    Ok(format!(
        "READY and self-check after {:.1} s, no failure while watched {} s",
        started.elapsed().as_secs_f32(),
        opts.watch.as_secs()
    ))
}

fn judge_systemd(
    opts: &UpdateOptions,
    started: Instant,
    hold: &mut Option<Hold>,
) -> Result<(), UpdateError> {
    // Stopped first (waits for the process to end), then the hold goes,
    // then the new version starts (not waited for: READY is judged below).
    run(
        "systemctl stop",
        Command::new("systemctl").args(["stop", KIOSK_UNIT]),
    )?;
    hold.take();
    run(
        "systemctl start",
        Command::new("systemctl").args(["start", "--no-block", KIOSK_UNIT]),
    )?;
    loop {
        let props = unit_properties()?;
        match props.get("ActiveState").map(String::as_str) {
            Some("active") => return Ok(()),
            Some("failed") => {
                return Err(err(format!(
                    "{KIOSK_UNIT} failed at start ({})",
                    props.get("Result").cloned().unwrap_or_default()
                )))
            }
            _ => {}
        }
        if started.elapsed() > opts.ready_timeout {
            return Err(err(format!(
                "no READY within {} s",
                opts.ready_timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn unit_properties() -> Result<std::collections::HashMap<String, String>, UpdateError> {
    let out = run(
        "systemctl show",
        Command::new("systemctl").args([
            "show",
            KIOSK_UNIT,
            "-p",
            "ActiveState",
            "-p",
            "Result",
            "-p",
            "NRestarts",
        ]),
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// The process the updater supervises itself when there is no systemd.
struct Supervised {
    child: std::process::Child,
    socket: std::os::unix::net::UnixDatagram,
}

impl Supervised {
    fn start(opts: &UpdateOptions, argv: &[String]) -> Result<Supervised, UpdateError> {
        // In the kiosk's data directory: the kiosk's user reaches it there
        // whatever the updater's own directory allows.
        let path = opts.kiosk_data_dir.join("update-notify.sock");
        let _ = std::fs::remove_file(&path);
        let socket = std::os::unix::net::UnixDatagram::bind(&path)
            .map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| err(e.to_string()))?;
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| err("the health command is empty"))?;
        let owner = kiosk_owner(opts);
        // The kiosk's user must be able to send to the socket.
        let _ = std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1));
        let child = Command::new(program)
            .args(args)
            .uid(owner.0)
            .gid(owner.1)
            .env("NOTIFY_SOCKET", &path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| err(format!("cannot start {program}: {e}")))?;
        Ok(Supervised { child, socket })
    }

    /// READY=1 arrived within `limit`; an exit first is the failure.
    fn wait_ready(&mut self, limit: Duration, started: Instant) -> Result<(), UpdateError> {
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(n) = self.socket.recv(&mut buf) {
                if String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == "READY=1")
                {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(err(format!("the new version exited at start ({status})")));
            }
            if started.elapsed() > limit {
                return Err(err(format!("no READY within {} s", limit.as_secs())));
            }
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

thread_local! {
    /// The supervised process between start and the end of the watch.
    static SUPERVISED: std::cell::RefCell<Option<(Supervised, Vec<String>)>> =
        const { std::cell::RefCell::new(None) };
}

fn judge_command(
    opts: &UpdateOptions,
    argv: &[String],
    started: Instant,
) -> Result<(), UpdateError> {
    SUPERVISED.with(|s| s.borrow_mut().take());
    let mut process = Supervised::start(opts, argv)?;
    process.wait_ready(opts.ready_timeout, started)?;
    SUPERVISED.with(|s| *s.borrow_mut() = Some((process, argv.to_vec())));
    Ok(())
}

/// The kiosk's user (the owner of its data directory): the new version and
/// its self-check run as it — as root they would leave root-owned files the
/// kiosk cannot open.
fn kiosk_owner(opts: &UpdateOptions) -> (u32, u32) {
    std::fs::metadata(&opts.kiosk_data_dir)
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((0, 0))
}

/// The new binary checks itself: configuration, store, content package.
fn self_check(opts: &UpdateOptions, started: Instant) -> Result<(), UpdateError> {
    let owner = kiosk_owner(opts);
    let mut child = Command::new(&opts.kiosk_binary)
        .args(["update", "self-check"])
        .uid(owner.0)
        .gid(owner.1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("the self-check could not start: {e}")))?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| err(e.to_string()))? {
            if status.success() {
                return Ok(());
            }
            let mut text = String::new();
            if let Some(mut out) = child.stdout.take() {
                let _ = out.read_to_string(&mut text);
            }
            if let Some(mut out) = child.stderr.take() {
                let _ = out.read_to_string(&mut text);
            }
            return Err(err(format!(
                "the self-check failed: {}",
                text.trim().lines().last().unwrap_or("no output")
            )));
        }
        if started.elapsed() > opts.ready_timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!(
                "the self-check did not finish within {} s",
                opts.ready_timeout.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Deaths while watched: two (the watchdog firing, a crash) are unhealthy.
fn watch(opts: &UpdateOptions) -> Result<(), UpdateError> {
    let until = Instant::now() + opts.watch;
    match &opts.health {
        Health::Systemd => {
            let restarts = |p: &std::collections::HashMap<String, String>| {
                p.get("NRestarts")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let first = restarts(&unit_properties()?);
            while Instant::now() < until {
                std::thread::sleep(Duration::from_secs(2));
                let now = restarts(&unit_properties()?);
                if now >= first + 2 {
                    return Err(err(format!(
                        "restarted {} times within {} s of starting",
                        now - first,
                        opts.watch.as_secs()
                    )));
                }
            }
            Ok(())
        }
        Health::Command(_) => {
            let mut deaths = 0;
            let result = loop {
                if Instant::now() >= until {
                    break Ok(());
                }
                let exited = SUPERVISED.with(|s| {
                    s.borrow_mut()
                        .as_mut()
                        .and_then(|(p, _)| p.child.try_wait().ok().flatten())
                });
                if let Some(status) = exited {
                    deaths += 1;
                    if deaths >= 2 {
                        break Err(err(format!("exited twice while watched (last: {status})")));
                    }
                    let argv = SUPERVISED.with(|s| s.borrow().as_ref().map(|(_, a)| a.clone()));
                    if let Some(argv) = argv {
                        let restarted = Supervised::start(opts, &argv)?;
                        SUPERVISED.with(|s| *s.borrow_mut() = Some((restarted, argv)));
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            };
            result
        }
    }
}

/// Hold the kiosk between residents while the package is replaced.
struct Hold {
    dir: PathBuf,
    /// With no kiosk running, the updater keeps the kiosk's lock itself for
    /// the whole installation, and leaves the request standing: a kiosk
    /// that starts meanwhile (a crash restart) finds the request at once
    /// and holds itself on its updating page instead of taking residents.
    _kiosk_lock: Option<std::fs::File>,
}

impl Hold {
    /// `Some` when the package may be replaced now: no kiosk is running, or
    /// the running kiosk granted the hold (it shows its updating page and
    /// starts no session). `None` when a resident kept it busy too long.
    fn obtain(data_dir: &Path, timeout: Duration) -> Result<Option<Hold>, UpdateError> {
        let _ = std::fs::remove_file(data_dir.join(HOLD_GRANTED));
        std::fs::write(data_dir.join(HOLD_REQUEST), b"update\n")
            .map_err(|e| err(format!("cannot ask the kiosk to pause: {e}")))?;
        let mut hold = Hold {
            dir: data_dir.to_path_buf(),
            _kiosk_lock: None,
        };
        if let Some(lock) = lock_exclusive(&data_dir.join(KIOSK_LOCK), false)? {
            hold._kiosk_lock = Some(lock);
            return Ok(Some(hold));
        }
        let asked = Instant::now();
        while asked.elapsed() < timeout {
            if data_dir.join(HOLD_GRANTED).exists() {
                return Ok(Some(hold));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(None)
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.dir.join(HOLD_REQUEST));
        let _ = std::fs::remove_file(self.dir.join(HOLD_GRANTED));
    }
}

/// An exclusive flock on `path`, `None` if someone else holds it (or waits
/// for it when `wait`). The lock lives as long as the returned file.
pub fn lock_exclusive(path: &Path, wait: bool) -> Result<Option<std::fs::File>, UpdateError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
    let lock = if wait {
        file.lock().map_err(std::fs::TryLockError::Error)
    } else {
        file.try_lock()
    };
    match lock {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(err(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

async fn send(client: &PlatformClient, state: &mut State, report: &UpdateReport) {
    tracing::info!(from = %report.from, to = %report.to, outcome = ?report.outcome, detail = %report.detail, "update");
    state.unsent.push(report.clone());
    deliver_unsent(client, state, Path::new("")).await;
}

/// Deliver the reports the platform has not had yet, oldest first; the
/// rest stay for the next pass (a kiosk offline during its update still
/// tells the county afterwards).
async fn deliver_unsent(client: &PlatformClient, state: &mut State, dir: &Path) {
    while let Some(report) = state.unsent.first() {
        match client.report_update(report).await {
            Ok(()) => {
                state.unsent.remove(0);
            }
            Err(e) => {
                tracing::warn!(%e, "update report kept for the next pass");
                break;
            }
        }
    }
    if !dir.as_os_str().is_empty() {
        let _ = state.save(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_sits_beside_the_api() {
        assert_eq!(
            repository_url("https://pt.example.gov.cn/api/v1"),
            "https://pt.example.gov.cn/api/v1/apt"
        );
        assert_eq!(
            repository_url("http://127.0.0.1:8700/api/v1/"),
            "http://127.0.0.1:8700/api/v1/apt"
        );
    }

    #[test]
    fn a_key_the_kiosk_user_could_have_written_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("archive-key.gpg");
        std::fs::write(&key, b"key").unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o666)).unwrap();
        let refused = check_archive_key(&key).unwrap_err().to_string();
        assert!(refused.contains("writable by nobody else"), "{refused}");
        assert!(check_archive_key(&dir.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("updates are off"));
    }

    #[test]
    fn debian_versions_are_compared_by_dpkg() {
        if Command::new("dpkg").arg("--version").output().is_err() {
            eprintln!("dpkg not installed: skipped");
            return;
        }
        assert!(version_newer("0.1.10", "0.1.9"));
        assert!(version_newer("0.1.2", "0.1.2~rc1"));
        assert!(!version_newer("0.1.2", "0.1.2"));
    }

    /// With no kiosk running, the hold keeps the kiosk's lock and its
    /// request for the whole installation (a kiosk started meanwhile holds
    /// itself); both go with the hold.
    #[test]
    fn with_no_kiosk_running_the_hold_keeps_the_lock_and_the_request() {
        let dir = tempfile::tempdir().unwrap();
        let hold = Hold::obtain(dir.path(), Duration::from_secs(1))
            .unwrap()
            .expect("no kiosk: held at once");
        assert!(lock_exclusive(&dir.path().join(KIOSK_LOCK), false)
            .unwrap()
            .is_none());
        assert!(dir.path().join(HOLD_REQUEST).exists());
        drop(hold);
        assert!(!dir.path().join(HOLD_REQUEST).exists());
        assert!(lock_exclusive(&dir.path().join(KIOSK_LOCK), false)
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_running_kiosk_holds_its_lock() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_exclusive(&dir.path().join(KIOSK_LOCK), false).unwrap();
        assert!(held.is_some());
        assert!(lock_exclusive(&dir.path().join(KIOSK_LOCK), false)
            .unwrap()
            .is_none());
    }
}
