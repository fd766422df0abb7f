//! Updates with automatic rollback, for real on this machine (issue 18):
//! the kiosk's .deb is built three times — 0.1.1 and 0.1.2 from this build,
//! and a broken 0.1.3 whose binary exits at start — and published to the
//! platform service's signed APT repository on loopback (PostgreSQL, GPG,
//! apt-ftparchive). 0.1.1 is installed with dpkg; the installed updater
//! (`bianmin update run`) then installs 0.1.2 and reports it healthy, and
//! installs 0.1.3, sees it fail and reinstalls 0.1.2 by itself.
//!
//! There is no systemd here (CI containers): the updater is given
//! `--health-command /usr/bin/bianmin run`, starts the new version itself
//! as the kiosk's user with NOTIFY_SOCKET pointing at its own socket, on an
//! Xvfb display, waits for READY=1 and runs the new binary's
//! `update self-check`; on a kiosk, systemd starts the unit (Type=notify)
//! and the updater reads its state and restart count instead.
//!
//! It installs a system package, so it runs only as root on Debian with
//! cargo-deb (`.ci/install-deps`), as CI does; elsewhere it says why it is
//! skipped. The package is purged afterwards, whatever happens.

use super::desktop::Xvfb;
use bianmin_platform_service::updates;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VERSIONS: [&str; 3] = ["0.1.1", "0.1.2", "0.1.3"];

fn missing_prerequisite() -> Option<String> {
    if !is_root() {
        return Some("not root".into());
    }
    for (program, arg) in [
        ("dpkg-deb", "--version"),
        ("apt-ftparchive", "--version"),
        ("gpg", "--version"),
        ("cargo-deb", "--version"),
    ] {
        if Command::new(program).arg(arg).output().is_err() {
            return Some(format!("{program} is not installed (.ci/install-deps)"));
        }
    }
    if installed("bianmin") {
        return Some("a bianmin package is installed on this machine already".into());
    }
    None
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn installed_version() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "bianmin"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn check(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `cargo deb` of this build with `version`; the file it wrote.
fn build_deb(version: &str, out_dir: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = check(
        &format!("cargo deb {version}"),
        Command::new("cargo")
            .args(["deb", "--no-build", "--fast", "--profile", "dev"])
            .arg("--manifest-path")
            .arg(&manifest)
            .args(["--deb-version", version, "--output"])
            .arg(out_dir)
            .output(),
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "cargo deb wrote no file: {}",
        path.display()
    );
    path
}

/// `good`'s package with another version whose binary exits at start: what a
/// release with a fatal start-up bug looks like to the updater.
fn broken_deb(good: &Path, version: &str, work: &Path) -> PathBuf {
    let tree = work.join("broken-tree");
    check(
        "dpkg-deb -R",
        Command::new("dpkg-deb")
            .arg("-R")
            .arg(good)
            .arg(&tree)
            .output(),
    );
    std::fs::write(
        tree.join("usr/bin/bianmin"),
        "#!/bin/sh\necho 'bianmin: fatal error at start (a broken release)' >&2\nexit 3\n",
    )
    .unwrap();
    let control = tree.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("Version:") {
                format!("Version: {version}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&control, text).unwrap();
    let deb = work.join(format!("bianmin_{version}_broken.deb"));
    check(
        "dpkg-deb -b",
        Command::new("dpkg-deb")
            .args(["-Zgzip", "-b"])
            .arg(&tree)
            .arg(&deb)
            .output(),
    );
    deb
}

/// Purges the package and the updater's key whatever the test did.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        if installed("bianmin") || Path::new("/etc/bianmin").exists() {
            let _ = Command::new("dpkg")
                .args(["--purge", "bianmin"])
                .env("BIANMIN_PURGE_FORCE", "1")
                .output();
        }
        let _ = std::fs::remove_file("/etc/apt/keyrings/bianmin-archive.gpg");
    }
}

/// The installed updater, one pass; its stdout.
fn update_pass(origin_env: &[(&str, String)], state: &Path, display: &str) -> String {
    let out = check(
        "bianmin update run",
        Command::new("/usr/bin/bianmin")
            .args(["update", "run", "--ready-timeout", "60", "--watch", "5"])
            .args(["--hold-timeout", "5", "--state-dir"])
            .arg(state)
            .args(["--health-command", "/usr/bin/bianmin", "run"])
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .envs(origin_env.iter().map(|(k, v)| (*k, v.as_str())))
            .output(),
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("updater: {}", said.trim());
    said
}

#[test]
fn the_updater_installs_a_healthy_version_and_rolls_back_a_broken_one() {
    if let Some(why) = missing_prerequisite() {
        eprintln!("update test skipped: {why}");
        return;
    }
    let _cleanup = Cleanup;
    let work = tempfile::tempdir().unwrap();
    let debs: Vec<PathBuf> = VERSIONS[..2]
        .iter()
        .map(|v| build_deb(v, work.path()))
        .chain(std::iter::once(PathBuf::new()))
        .collect();
    let debs = [
        debs[0].clone(),
        debs[1].clone(),
        broken_deb(&debs[1], VERSIONS[2], work.path()),
    ];

    // The platform: the service over PostgreSQL with its APT repository.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gnupg = work.path().join("gnupg");
    let repo_dir = work.path().join("apt");
    let (svc, repo) = rt.block_on(async {
        updates::new_key(&gnupg, updates::KeyAlgorithm::Ed25519)
            .await
            .unwrap();
        let repo = std::sync::Arc::new(updates::AptRepo::open(&repo_dir, &gnupg).await.unwrap());
        (
            bianmin_testkit::postgres_service_with_apt(repo.clone()).await,
            repo,
        )
    });
    // The kiosk belongs to no station here: it follows stable, so each
    // release is promoted as soon as it is added.
    let publish = |deb: &Path, version: &str| {
        rt.block_on(async {
            let pool = svc.backend.pool();
            updates::add_release(pool, &repo, deb, "test", 0)
                .await
                .unwrap()
                .unwrap_or_else(|refused| panic!("refused: {refused}"));
            assert!(updates::promote(pool, &repo, version, "test", 0)
                .await
                .unwrap());
        })
    };
    publish(&debs[0], VERSIONS[0]);
    publish(&debs[1], VERSIONS[1]);

    // 0.1.1 installed by hand, configured for the loopback platform, the
    // archive key pinned where the updater expects it.
    check(
        "dpkg -i 0.1.1",
        Command::new("dpkg").arg("-i").arg(&debs[0]).output(),
    );
    assert_eq!(installed_version(), "0.1.1");
    let api = svc.handle.base_url().to_string();
    std::fs::write(
        "/etc/bianmin/kiosk.toml",
        format!(
            "[station]\nterminal_id = \"T0001\"\ncode = \"110101001001\"\nmode = \"test\"\n\n\
             [platform]\nurl = \"{api}\"\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/etc/apt/keyrings").unwrap();
    std::fs::copy(
        gnupg.join("archive-key.gpg"),
        "/etc/apt/keyrings/bianmin-archive.gpg",
    )
    .unwrap();
    let secret = [(
        "BIANMIN_PLATFORM_SECRET",
        bianmin_testkit::SECRET.to_string(),
    )];
    let xvfb = Xvfb::start(1280, 800, &work.path().join("xvfb.log"));
    let state = work.path().join("updater");

    // 0.1.2: installed, started, healthy.
    let said = update_pass(&secret, &state, &xvfb.name());
    assert!(said.contains("Healthy"), "{said}");
    assert_eq!(installed_version(), "0.1.2");

    // 0.1.3 exits at start: rolled back to 0.1.2 by the updater itself.
    publish(&debs[2], VERSIONS[2]);
    let said = update_pass(&secret, &state, &xvfb.name());
    assert!(said.contains("RolledBack"), "{said}");
    assert!(said.contains("exited at start"), "{said}");
    assert_eq!(installed_version(), "0.1.2");
    // And it is not tried again.
    let said = update_pass(&secret, &state, &xvfb.name());
    assert!(said.contains("not tried again"), "{said}");
    assert_eq!(installed_version(), "0.1.2");

    // The county sees both outcomes.
    let outcomes: Vec<(String, String)> = rt.block_on(async {
        let db = svc.backend.pool().get().await.unwrap();
        db.query(
            "SELECT to_version, outcome FROM update_reports WHERE terminal_id = 'T0001' ORDER BY seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
    });
    let has =
        |version: &str, outcome: &str| outcomes.iter().any(|(v, o)| v == version && o == outcome);
    assert!(has("0.1.2", "downloaded"), "{outcomes:?}");
    assert!(has("0.1.2", "healthy"), "{outcomes:?}");
    assert!(has("0.1.3", "rolled_back"), "{outcomes:?}");
    assert!(!has("0.1.3", "healthy"), "{outcomes:?}");
}
