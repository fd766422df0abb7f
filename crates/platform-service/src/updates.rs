//! Staged software updates: the platform's signed APT repository, the
//! releases published to it, and the channels that hold them.
//!
//! A release (a `.deb` of the package `bianmin`) goes first to `canary`
//! — the stations a county chose to try new versions — and later, by a
//! technician's hand or after N healthy hours, to `stable`. Each channel
//! is an APT suite of one repository:
//!
//! ```text
//! {dir}/pool/main/bianmin_0.90.2_amd64.deb
//! {dir}/dists/{canary,stable}/Release, InRelease, Release.gpg
//! {dir}/dists/{canary,stable}/main/binary-{arch}/Packages, Packages.gz
//! {dir}/archive-key.gpg, archive-key.asc     (the public key kiosks pin)
//! ```
//!
//! served read-only at `{platform url}/apt` (the kiosk API's URL, e.g.
//! `https://host/api/v1/apt`), so a kiosk's source is
//! `deb [signed-by=/etc/bianmin/archive-key.gpg] {platform url}/apt {channel} main`.
//!
//! Only standard Debian tooling writes it — `dpkg-deb` reads a package's
//! fields, `apt-ftparchive` writes `Packages` and `Release`, `gpg` signs,
//! `dpkg --compare-versions` orders versions — so what apt on the kiosk
//! verifies was made the way Debian's own archives are. A channel's
//! `Packages` lists every version the channel ever held, so apt can go
//! back to the previous one when a new one proves unhealthy.
//!
//! The repository directory is shared by every instance; each change of a
//! channel runs under a PostgreSQL advisory lock in the transaction that
//! records it, and a channel's new index replaces the old one in one
//! `renameat2(RENAME_EXCHANGE)`: apt sees the old index or the new one,
//! never half of each, and the database never says a channel holds what
//! its index does not.

use anyhow::Context as _;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use deadpool_postgres::{GenericClient, Pool};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The only package the repository takes.
pub const PACKAGE: &str = "bianmin";

/// The channels, trial first.
pub const CHANNELS: &[&str] = &["canary", "stable"];

/// Where the repository is served, under the kiosk API's prefix: the
/// kiosk's `platform.url` + `/apt`.
pub const APT_PATH: &str = "/apt";

/// Architectures a repository with no package yet announces (the kiosks':
/// PCs and Raspberry Pis), so apt on either finds an empty index rather
/// than an error.
const DEFAULT_ARCHITECTURES: &[&str] = &["amd64", "arm64"];

/// The advisory lock of channel changes; any constant other than the
/// migrations' (87000001).
const REPO_LOCK: i64 = 87_000_002;

/// `fleet_settings` key: hours a release stays in canary, healthy, before
/// the fleet watch promotes it; absent: promotion by hand only.
pub const AUTO_PROMOTE_SETTING: &str = "auto_promote_hours";

/// A channel in the console's words.
pub fn channel_title(channel: &str) -> &'static str {
    match channel {
        "canary" => "试点版",
        "stable" => "稳定版",
        _ => "未知",
    }
}

/// An installation's outcome in the console's words.
pub fn outcome_title(outcome: &str) -> &'static str {
    match outcome {
        "downloaded" => "已下载，待安装",
        "healthy" => "运行正常",
        "rolled_back" => "已回滚",
        "failed" => "安装失败",
        _ => "未知",
    }
}

pub fn outcome_name(outcome: bianmin_platform::api::UpdateOutcome) -> &'static str {
    use bianmin_platform::api::UpdateOutcome::*;
    match outcome {
        Downloaded => "downloaded",
        Healthy => "healthy",
        RolledBack => "rolled_back",
        Failed => "failed",
    }
}

/// The repository: its directory (shared by the instances) and the GnuPG
/// home holding the one signing key.
#[derive(Debug, Clone)]
pub struct AptRepo {
    dir: PathBuf,
    gnupg_home: PathBuf,
    /// The signing key's fingerprint.
    fingerprint: String,
}

impl AptRepo {
    /// Open (or start) the repository in `dir`, signing with the one
    /// secret key in `gnupg_home`; the public key is exported next to the
    /// pool for whoever builds kiosk images.
    pub async fn open(dir: &Path, gnupg_home: &Path) -> anyhow::Result<AptRepo> {
        let fingerprint = signing_key(gnupg_home).await?;
        std::fs::create_dir_all(dir.join("pool/main"))
            .and_then(|()| std::fs::create_dir_all(dir.join("dists")))
            .with_context(|| dir.display().to_string())?;
        let repo = AptRepo {
            dir: dir.to_path_buf(),
            gnupg_home: gnupg_home.to_path_buf(),
            fingerprint,
        };
        for (name, armor) in [("archive-key.gpg", false), ("archive-key.asc", true)] {
            let key = repo.export_public(armor).await?;
            replace_file(&repo.dir, name, &key)?;
        }
        Ok(repo)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    async fn export_public(&self, armor: bool) -> anyhow::Result<Vec<u8>> {
        let mut cmd = gpg(&self.gnupg_home);
        if armor {
            cmd.arg("--armor");
        }
        run(cmd.args(["--export", &self.fingerprint])).await
    }

    /// Write `channel`'s index from what `client` (inside the transaction
    /// holding the repository lock) says it holds, sign it, and put it in
    /// place in one rename.
    async fn regenerate(&self, client: &impl GenericClient, channel: &str) -> anyhow::Result<()> {
        let since = channel_column(channel)?;
        let files: Vec<String> = client
            .query(
                &format!(
                    "SELECT f.file_name FROM release_files f JOIN releases r USING (version)
                     WHERE r.{since} IS NOT NULL"
                ),
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut architectures: Vec<String> = client
            .query(
                "SELECT DISTINCT architecture FROM release_files WHERE architecture <> 'all'
                 ORDER BY 1",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if architectures.is_empty() {
            architectures = DEFAULT_ARCHITECTURES
                .iter()
                .map(|a| a.to_string())
                .collect();
        }
        // Every package of the pool, then the channel's: apt-ftparchive
        // scans directories, and the pool is the one directory of debs.
        let stanzas = if files.is_empty() {
            Vec::new()
        } else {
            let out = run(tokio::process::Command::new("apt-ftparchive")
                .current_dir(&self.dir)
                .args(["packages", "pool/main"]))
            .await?;
            String::from_utf8(out)
                .context("apt-ftparchive wrote something not UTF-8")?
                .split("\n\n")
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_string())
                .filter(|s| {
                    field(s, "Filename")
                        .and_then(|f| f.rsplit('/').next())
                        .is_some_and(|name| files.iter().any(|f| f == name))
                })
                .collect()
        };

        let dists = self.dir.join("dists");
        let fresh = tempfile::Builder::new()
            .prefix(&format!(".{channel}.new-"))
            .tempdir_in(&dists)?;
        for arch in &architectures {
            let binary = fresh.path().join(format!("main/binary-{arch}"));
            std::fs::create_dir_all(&binary)?;
            let mut packages = String::new();
            for s in stanzas
                .iter()
                .filter(|s| matches!(field(s, "Architecture"), Some(a) if a == arch || a == "all"))
            {
                packages.push_str(s);
                packages.push_str("\n\n");
            }
            std::fs::write(binary.join("Packages"), &packages)?;
            run(tokio::process::Command::new("gzip")
                .current_dir(&binary)
                .args(["-9", "-n", "-k", "Packages"]))
            .await?;
        }
        let option = |name: &str, value: &str| format!("APT::FTPArchive::Release::{name}={value}");
        let release = run(tokio::process::Command::new("apt-ftparchive")
            .current_dir(fresh.path())
            .arg("-o")
            .arg(option("Origin", "Bianmin"))
            .arg("-o")
            .arg(option("Label", "Bianmin Kiosk"))
            .arg("-o")
            .arg(option("Suite", channel))
            .arg("-o")
            .arg(option("Codename", channel))
            .arg("-o")
            .arg(option("Architectures", &architectures.join(" ")))
            .arg("-o")
            .arg(option("Components", "main"))
            .arg("-o")
            .arg(option(
                "Description",
                &format!("Bianmin Kiosk, {channel} channel"),
            ))
            .args(["release", "."]))
        .await?;
        std::fs::write(fresh.path().join("Release"), release)?;
        self.sign(fresh.path()).await?;
        fsync_tree(fresh.path())?;

        let target = dists.join(channel);
        let fresh = fresh.keep();
        if target.exists() {
            exchange(&fresh, &target)?;
            // `fresh` now holds the old index.
            std::fs::remove_dir_all(&fresh)?;
        } else {
            std::fs::rename(&fresh, &target)?;
        }
        std::fs::File::open(&dists)?.sync_all()?;
        tracing::info!(channel, packages = stanzas.len(), "apt index regenerated");
        Ok(())
    }

    /// `InRelease` (clear-signed) and `Release.gpg` (detached) for the
    /// `Release` in `dir`.
    async fn sign(&self, dir: &Path) -> anyhow::Result<()> {
        for (how, out) in [("--clearsign", "InRelease"), ("-abs", "Release.gpg")] {
            run(gpg(&self.gnupg_home)
                .current_dir(dir)
                .args(["--yes", "--digest-algo", "SHA512", "--local-user"])
                .arg(&self.fingerprint)
                .args([how, "-o", out, "Release"]))
            .await?;
        }
        Ok(())
    }
}

/// `gpg` on `home`, never asking anyone anything.
fn gpg(home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("gpg");
    cmd.arg("--homedir").arg(home).args(["--batch", "--quiet"]);
    cmd
}

/// Run a tool; its standard output, or an error with what it said.
async fn run(cmd: &mut tokio::process::Command) -> anyhow::Result<Vec<u8>> {
    let program = format!("{:?}", cmd.as_std().get_program());
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("{program} (is it installed?)"))?;
    if !out.status.success() {
        anyhow::bail!(
            "{program} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// A field of a Debian control stanza (single-line fields).
fn field<'a>(stanza: &'a str, name: &str) -> Option<&'a str> {
    stanza.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k == name).then(|| v.trim())
    })
}

fn channel_column(channel: &str) -> anyhow::Result<&'static str> {
    match channel {
        "canary" => Ok("canary_since"),
        "stable" => Ok("stable_since"),
        other => anyhow::bail!("no channel {other:?}"),
    }
}

/// Swap two directories in one step (Linux `renameat2`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are NUL-terminated paths that live across the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Flush a freshly written directory tree before it is swapped in.
fn fsync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fsync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Put `bytes` at `dir/name` through a temporary file and a rename.
fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // Readable by the web server and whoever copies it into an image.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The fingerprint of the one secret key in `home`.
pub async fn signing_key(home: &Path) -> anyhow::Result<String> {
    let listing = run(gpg(home).args(["--with-colons", "--list-secret-keys"]))
        .await
        .with_context(|| format!("reading the signing key in {}", home.display()))?;
    let listing = String::from_utf8_lossy(&listing);
    let mut keys = Vec::new();
    let mut after_sec = false;
    for line in listing.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.first() {
            Some(&"sec") => after_sec = true,
            Some(&"fpr") if after_sec => {
                keys.push(fields.get(9).unwrap_or(&"").to_string());
                after_sec = false;
            }
            Some(&"ssb") => after_sec = false,
            _ => {}
        }
    }
    match keys.as_slice() {
        [one] if !one.is_empty() => Ok(one.clone()),
        [] => anyhow::bail!(
            "no secret key in {}: make one with `bianmin-platform new-apt-key --gnupg-home {}`",
            home.display(),
            home.display()
        ),
        _ => anyhow::bail!(
            "{} holds {} secret keys; the repository is signed with exactly one",
            home.display(),
            keys.len()
        ),
    }
}

/// The kind of signing key `new-apt-key` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Ed25519,
    Rsa3072,
}

impl KeyAlgorithm {
    pub fn parse(text: &str) -> Option<KeyAlgorithm> {
        match text {
            "ed25519" => Some(KeyAlgorithm::Ed25519),
            "rsa3072" => Some(KeyAlgorithm::Rsa3072),
            _ => None,
        }
    }
}

/// Make the repository's signing key in `home` (created mode 0700; a home
/// that already holds a secret key is left alone), without a passphrase
/// — the service signs unattended — and never expiring; export its public
/// half as `archive-key.gpg` (binary, for apt's `signed-by=`) and
/// `archive-key.asc` in `home`. Returns the fingerprint.
pub async fn new_key(home: &Path, algorithm: KeyAlgorithm) -> anyhow::Result<String> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .with_context(|| home.display().to_string())?;
    if signing_key(home).await.is_ok() {
        anyhow::bail!(
            "{} already holds a signing key; it is not replaced",
            home.display()
        );
    }
    let algo = match algorithm {
        KeyAlgorithm::Ed25519 => "ed25519",
        KeyAlgorithm::Rsa3072 => "rsa3072",
    };
    run(gpg(home)
        .args(["--passphrase", "", "--pinentry-mode", "loopback"])
        .args([
            "--quick-gen-key",
            "Bianmin Kiosk archive signing key",
            algo,
            "sign",
            "never",
        ]))
    .await?;
    let fingerprint = signing_key(home).await?;
    let repo = AptRepo {
        dir: home.to_path_buf(),
        gnupg_home: home.to_path_buf(),
        fingerprint: fingerprint.clone(),
    };
    for (name, armor) in [("archive-key.gpg", false), ("archive-key.asc", true)] {
        let key = repo.export_public(armor).await?;
        replace_file(home, name, &key)?;
    }
    Ok(fingerprint)
}

/// Stop the gpg-agent gpg started for `home` (a throwaway home of the
/// demo or a test; a served one keeps its agent).
pub fn stop_agent(home: &Path) {
    let _ = std::process::Command::new("gpgconf")
        .arg("--homedir")
        .arg(home)
        .args(["--kill", "gpg-agent"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// Whether `version` is a Debian version this repository takes: dpkg's
/// characters only, starting with a digit (an optional epoch first), so
/// it is safe in a file name, a command line and a URL.
pub fn valid_version(version: &str) -> bool {
    let upstream = match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        Some(_) => return false,
        None => version,
    };
    !upstream.is_empty()
        && upstream.len() <= 64
        && upstream.starts_with(|c: char| c.is_ascii_digit())
        && upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-".contains(&b))
}

/// The version without epoch and Debian revision ("1:0.90.2-1" → "0.90.2"):
/// what the kiosk's heartbeat calls its version.
pub fn upstream_of(version: &str) -> &str {
    let v = version.split_once(':').map_or(version, |(_, rest)| rest);
    v.rsplit_once('-').map_or(v, |(up, _)| up)
}

/// Debian's order of two versions, as dpkg itself decides it: the
/// kiosk's apt and dpkg install by that order, so the platform asks the
/// same program rather than keep a second implementation in step (it is
/// asked only when a release is added, never on a kiosk's request).
pub async fn compare_versions(a: &str, b: &str) -> anyhow::Result<Ordering> {
    for (op, answer) in [("lt", Ordering::Less), ("gt", Ordering::Greater)] {
        let status = tokio::process::Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .await
            .context("dpkg --compare-versions (is dpkg installed?)")?;
        match status.code() {
            Some(0) => return Ok(answer),
            Some(1) => {}
            _ => anyhow::bail!("dpkg cannot compare {a:?} and {b:?}"),
        }
    }
    Ok(Ordering::Equal)
}

/// A package's fields as `dpkg-deb -f` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebInfo {
    pub package: String,
    pub version: String,
    pub architecture: String,
}

impl DebInfo {
    /// Its name in the pool, as Debian names them (no epoch).
    pub fn file_name(&self) -> String {
        let version = self
            .version
            .split_once(':')
            .map_or(self.version.as_str(), |(_, v)| v);
        format!("{}_{}_{}.deb", self.package, version, self.architecture)
    }
}

pub async fn inspect_deb(path: &Path) -> anyhow::Result<DebInfo> {
    let out = run(tokio::process::Command::new("dpkg-deb")
        .arg("-f")
        .arg(path)
        .args(["Package", "Version", "Architecture"]))
    .await
    .with_context(|| format!("{} is not a Debian package", path.display()))?;
    let text = String::from_utf8_lossy(&out);
    let get = |name: &str| field(&text, name).unwrap_or("").to_string();
    Ok(DebInfo {
        package: get("Package"),
        version: get("Version"),
        architecture: get("Architecture"),
    })
}

/// What `release add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// A new version, now in canary.
    Release(DebInfo),
    /// Another architecture of a version already published; it is in the
    /// channels the version is in.
    Architecture(DebInfo),
    /// The very same file was already published.
    AlreadyThere(DebInfo),
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Publish `deb` to canary: checked to be a package `bianmin` with a
/// sound version, copied into the pool, recorded, canary's index
/// regenerated, audited as `by`. A refusal is `Ok(Err(sentence))`.
pub async fn add_release(
    pool: &Pool,
    repo: &AptRepo,
    deb: &Path,
    by: &str,
    now: i64,
) -> anyhow::Result<Result<Added, String>> {
    let info = inspect_deb(deb).await?;
    if info.package != PACKAGE {
        return Ok(Err(format!(
            "{} is the package {:?}, not {PACKAGE}",
            deb.display(),
            info.package
        )));
    }
    if !valid_version(&info.version) {
        return Ok(Err(format!(
            "version {:?} is not a Debian version this repository takes",
            info.version
        )));
    }
    if info.architecture.is_empty()
        || !info
            .architecture
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Ok(Err(format!(
            "architecture {:?} is not one apt knows",
            info.architecture
        )));
    }
    let bytes = std::fs::read(deb).with_context(|| deb.display().to_string())?;
    let sha256 = sha256_hex(&bytes);
    let size = i64::try_from(bytes.len())?;
    let name = info.file_name();

    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REPO_LOCK])
        .await?;
    let same = tx
        .query_opt(
            "SELECT sha256 FROM release_files WHERE version = $1 AND architecture = $2",
            &[&info.version, &info.architecture],
        )
        .await?;
    if let Some(row) = same {
        return Ok(if row.get::<_, String>(0) == sha256 {
            Ok(Added::AlreadyThere(info))
        } else {
            Err(format!(
                "{} {} ({}) is already published with other contents: apt would refuse one of \
                 them; publish it under a new version",
                PACKAGE, info.version, info.architecture
            ))
        });
    }
    let known: Vec<String> = tx
        .query("SELECT version FROM releases ORDER BY rank", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let new_version = !known.contains(&info.version);
    if new_version {
        // Where the new version goes among the known ones, in dpkg's order.
        let (mut low, mut high) = (0, known.len());
        while low < high {
            let mid = (low + high) / 2;
            match compare_versions(&known[mid], &info.version).await? {
                Ordering::Less => low = mid + 1,
                _ => high = mid,
            }
        }
        let mut ordered = known.clone();
        ordered.insert(low, info.version.clone());
        tx.execute(
            "INSERT INTO releases (version, rank, added_at, added_by, canary_since)
             VALUES ($1, -1, $2, $3, $2)",
            &[&info.version, &now, &by],
        )
        .await?;
        for (rank, version) in ordered.iter().enumerate() {
            tx.execute(
                "UPDATE releases SET rank = $2 WHERE version = $1",
                &[version, &(rank as i32)],
            )
            .await?;
        }
    }
    tx.execute(
        "INSERT INTO release_files (version, architecture, file_name, sha256, size, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &info.version,
            &info.architecture,
            &name,
            &sha256,
            &size,
            &now,
        ],
    )
    .await?;
    replace_file(&repo.dir.join("pool/main"), &name, &bytes)?;
    // A new architecture may change every channel's Architectures.
    for channel in CHANNELS {
        repo.regenerate(&tx, channel).await?;
    }
    tx.execute(
        "INSERT INTO console_audit (at, actor, action, detail) VALUES ($1, $2, 'release_added', $3)",
        &[&now, &by, &format!("{name} sha256 {sha256}")],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        version = info.version,
        arch = info.architecture,
        "release added"
    );
    Ok(Ok(if new_version {
        Added::Release(info)
    } else {
        Added::Architecture(info)
    }))
}

/// Put `version` (in canary) into stable, by a member of staff or `auto`;
/// false when it is not in canary or is in stable already.
pub async fn promote(
    pool: &Pool,
    repo: &AptRepo,
    version: &str,
    by: &str,
    now: i64,
) -> anyhow::Result<bool> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REPO_LOCK])
        .await?;
    let n = tx
        .execute(
            "UPDATE releases SET stable_since = $2, promoted_by = $3
             WHERE version = $1 AND canary_since IS NOT NULL AND stable_since IS NULL",
            &[&version, &now, &by],
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    repo.regenerate(&tx, "stable").await?;
    tx.execute(
        "INSERT INTO console_audit (at, actor, action, detail)
         VALUES ($1, $2, 'release_promoted', $3)",
        &[&now, &by, &format!("{version} → stable")],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(version, by, "release promoted to stable");
    Ok(true)
}

/// Promote every release that has been in canary for the hours the
/// console set, with at least one kiosk reporting it healthy and none
/// having rolled it back. Any instance's watch may run it: `promote`
/// changes a release once.
pub async fn auto_promote(pool: &Pool, repo: &AptRepo, now: i64) -> anyhow::Result<Vec<String>> {
    let client = pool.get().await?;
    // Read here rather than through `fleet::setting`: the fleet watch
    // calls this module, and modules do not import each other back.
    let Some(hours) = client
        .query_opt(
            "SELECT value FROM fleet_settings WHERE key = $1",
            &[&AUTO_PROMOTE_SETTING],
        )
        .await?
        .and_then(|r| r.get::<_, String>(0).parse::<i64>().ok())
    else {
        return Ok(Vec::new());
    };
    let due: Vec<String> = client
        .query(
            "SELECT r.version FROM releases r
             WHERE r.stable_since IS NULL AND r.canary_since <= $1
               AND EXISTS (SELECT 1 FROM update_reports u
                           WHERE u.to_version = r.version AND u.outcome = 'healthy')
               AND NOT EXISTS (SELECT 1 FROM update_reports u
                               WHERE u.to_version = r.version AND u.outcome = 'rolled_back')
             ORDER BY r.rank",
            &[&(now - hours * 3600)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    drop(client);
    let mut promoted = Vec::new();
    for version in due {
        if promote(pool, repo, &version, "auto", now).await? {
            promoted.push(version);
        }
    }
    Ok(promoted)
}

/// Write both channels' indexes from the database (at start: a first
/// repository, or one an interrupted change left behind).
pub async fn regenerate_all(pool: &Pool, repo: &AptRepo) -> anyhow::Result<()> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REPO_LOCK])
        .await?;
    // Indexes a crash left half-written (no instance writes one now: the
    // lock is held).
    for entry in std::fs::read_dir(repo.dir.join("dists"))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') && name.contains(".new-") && path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        }
    }
    for channel in CHANNELS {
        repo.regenerate(&tx, channel).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The newest version `channel` holds.
pub async fn newest_in(
    client: &impl GenericClient,
    channel: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let sql = match channel {
        "canary" => {
            "SELECT version FROM releases WHERE canary_since IS NOT NULL ORDER BY rank DESC LIMIT 1"
        }
        _ => {
            "SELECT version FROM releases WHERE stable_since IS NOT NULL ORDER BY rank DESC LIMIT 1"
        }
    };
    Ok(client.query_opt(sql, &[]).await?.map(|r| r.get(0)))
}

/// The repository over HTTP at `{API_PREFIX}/apt/…`: its files only, read
/// as they are, no listing; a path with anything but plain names
/// (`..`, hidden names such as an index being written, odd characters)
/// is not found. Without a repository every path is answered 404 "this
/// platform distributes no software", as `GET /update` is.
pub fn router(repo: Option<Arc<AptRepo>>) -> Router {
    Router::new()
        .route(
            &format!("{}{APT_PATH}/{{*path}}", bianmin_platform::api::API_PREFIX),
            get(serve_file),
        )
        .with_state(repo)
}

/// The file `path` names under `root`, if it is a plain one.
pub fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for part in path.split('/') {
        let plain = !part.is_empty()
            && !part.starts_with('.')
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b));
        if !plain {
            return None;
        }
        out.push(part);
    }
    Some(out)
}

async fn serve_file(
    State(repo): State<Option<Arc<AptRepo>>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found\n").into_response();
    let Some(repo) = repo else {
        let body = serde_json::json!({
            "code": "not_found",
            "message": "this platform distributes no software",
        });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    };
    let Some(file) = resolve(&repo.dir, &path) else {
        return not_found();
    };
    // No symbolic link leads out: what opens must lie under the root.
    let (Ok(real), Ok(root)) = (
        tokio::fs::canonicalize(&file).await,
        tokio::fs::canonicalize(&repo.dir).await,
    ) else {
        return not_found();
    };
    if !real.starts_with(&root) {
        return not_found();
    }
    let Ok(opened) = tokio::fs::File::open(&real).await else {
        return not_found();
    };
    let Ok(meta) = opened.metadata().await else {
        return not_found();
    };
    if !meta.is_file() {
        return not_found();
    }
    let kind = if path.ends_with("Release") || path.ends_with("/Packages") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    // Streamed: a package is tens of megabytes and many kiosks may fetch it.
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(opened));
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_LENGTH, meta.len().to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_under_the_root_are_served() {
        let root = Path::new("/srv/apt");
        assert_eq!(
            resolve(root, "dists/canary/InRelease"),
            Some(PathBuf::from("/srv/apt/dists/canary/InRelease"))
        );
        assert!(resolve(root, "pool/main/bianmin_0.90.2~rc1+b1_amd64.deb").is_some());
        for refused in [
            "../etc/passwd",
            "dists/../../etc/passwd",
            "dists/.canary.new-x/Release",
            "dists//Release",
            "",
            "dists/canary/Release\0",
            "dists\\..\\x",
            "pool/main/%2e%2e",
        ] {
            assert_eq!(resolve(root, refused), None, "{refused:?}");
        }
    }

    #[test]
    fn versions_are_taken_only_with_dpkgs_characters() {
        for good in ["0.90.1", "0.90.2-1", "1:0.90.2~rc1+deb12u1-2"] {
            assert!(valid_version(good), "{good}");
        }
        for bad in [
            "",
            "v0.90",
            "0.90 1",
            "0.90/../x",
            ":0.9",
            "a:0.9",
            "0.9;rm",
        ] {
            assert!(!valid_version(bad), "{bad}");
        }
        assert_eq!(upstream_of("1:0.90.2-1"), "0.90.2");
        assert_eq!(upstream_of("0.90.2"), "0.90.2");
    }

    #[tokio::test]
    async fn dpkg_orders_versions_as_debian_does() {
        assert_eq!(
            compare_versions("0.90.2~rc1", "0.90.2").await.unwrap(),
            Ordering::Less
        );
        assert_eq!(
            compare_versions("0.90.10", "0.90.9").await.unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("1:0.1", "0.99").await.unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("0.90.1", "0.90.1").await.unwrap(),
            Ordering::Equal
        );
    }
}
