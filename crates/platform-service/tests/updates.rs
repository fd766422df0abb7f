//! Staged updates over a real PostgreSQL, real Debian tooling and a real
//! apt: two tiny packages `bianmin` 0.90.1 and 0.90.2 built with
//! `dpkg-deb`, published with `bianmin-platform release add`, are seen by
//! apt (unprivileged, its own state directories, the archive key pinned
//! with `signed-by=`) on canary and not on stable until promoted; apt
//! refuses the repository once its Release is signed with another key or
//! tampered with, and a tampered Packages; the HTTP side serves files only.
//! The kiosk API's signed `GET /update` answers the station's channel,
//! newest version and window; a rolled-back installation opens an alert
//! shown in the console, a healthy one closes it; a technician promotes by
//! hand in Chromium, and the fleet watch promotes a healthy release after
//! the hours set.

use bianmin_platform::api::{UpdateOutcome, UpdateReport};
use bianmin_platform::client::{PlatformClient, PlatformError};
use bianmin_platform_server::ServerOptions;
use bianmin_platform_service::browser::{self, click_and_wait, Driver};
use bianmin_platform_service::updates::{self, AptRepo, KeyAlgorithm};
use bianmin_platform_service::{cluster, fleet, DataKey, DEMO_STAFF};
use bianmin_testkit::*;
use fantoccini::Locator;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A package `bianmin` of `version` for amd64, built with dpkg-deb.
fn build_deb(dir: &Path, version: &str) -> PathBuf {
    let root = dir.join(format!("pkg-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/doc/bianmin")).unwrap();
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: bianmin\nVersion: {version}\nArchitecture: amd64\n\
             Maintainer: Bianmin Kiosk maintainers <kiosk@example.invalid>\n\
             Description: test build {version}\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("usr/share/doc/bianmin/VERSION"), version).unwrap();
    let out = dir.join(format!("bianmin_{version}_amd64.deb"));
    let built = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group", "-Zgzip"])
        .arg(&root)
        .arg(&out)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    out
}

/// apt on its own directories (no root paths, no lock, the host's apt
/// configuration left out), following one source line.
struct Apt {
    root: tempfile::TempDir,
}

impl Apt {
    fn new(source: &str) -> Apt {
        let root = tempfile::tempdir().unwrap();
        for d in [
            "state/lists/partial",
            "cache/archives/partial",
            "etc/apt.conf.d",
            "etc/preferences.d",
        ] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        std::fs::write(root.path().join("status"), "").unwrap();
        std::fs::write(root.path().join("etc/sources.list"), format!("{source}\n")).unwrap();
        Apt { root }
    }

    fn command(&self, program: &str) -> Command {
        let r = self.root.path().display();
        let mut cmd = Command::new(program);
        for option in [
            format!("Dir::State={r}/state"),
            format!("Dir::State::status={r}/status"),
            format!("Dir::Cache={r}/cache"),
            format!("Dir::Etc::SourceList={r}/etc/sources.list"),
            "Dir::Etc::SourceParts=/dev/null".into(),
            format!("Dir::Etc::Parts={r}/etc/apt.conf.d"),
            format!("Dir::Etc::PreferencesParts={r}/etc/preferences.d"),
            "Debug::NoLocking=1".into(),
            "APT::Architecture=amd64".into(),
            "APT::Architectures=amd64".into(),
            "Acquire::Languages=none".into(),
            "Acquire::Retries=0".into(),
            "Acquire::http::Proxy=DIRECT".into(),
            // Root in a container: apt would fetch as _apt, who cannot
            // write this test's directories.
            "APT::Sandbox::User=root".into(),
        ] {
            cmd.arg("-o").arg(option);
        }
        cmd
    }

    /// `apt-get update`: whether it succeeded, and what it said.
    fn update(&self) -> (bool, String) {
        let out = self.command("apt-get").arg("update").output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // apt-get update exits 0 on some errors; an E: line is a refusal.
        (
            out.status.success() && !said.lines().any(|l| l.starts_with("E:")),
            said,
        )
    }

    /// The candidate `apt-cache policy bianmin` names, if any, and the
    /// versions its table lists.
    fn policy(&self) -> (Option<String>, String) {
        let out = self
            .command("apt-cache")
            .args(["policy", "bianmin"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let candidate = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate: "))
            .filter(|v| *v != "(none)")
            .map(str::to_string);
        (candidate, text)
    }
}

/// The candidate a fresh apt sees on `channel`; panics if apt refuses.
fn candidate(base_url: &str, key: &Path, channel: &str) -> (Option<String>, String) {
    let apt = Apt::new(&source_line(base_url, key, channel));
    let (ok, said) = apt.update();
    assert!(ok, "apt-get update on {channel}: {said}");
    apt.policy()
}

fn source_line(base_url: &str, key: &Path, channel: &str) -> String {
    format!(
        "deb [signed-by={}] {base_url}/apt {channel} main",
        key.display()
    )
}

/// A service with a repository, a fresh key and its own database.
struct Rig {
    svc: bianmin_platform_service::Service,
    conninfo: String,
    repo: Arc<AptRepo>,
    /// The public key kiosks pin.
    key: PathBuf,
    home: PathBuf,
    work: tempfile::TempDir,
}

impl Rig {
    async fn start() -> Rig {
        let work = tempfile::tempdir().unwrap();
        let home = work.path().join("gnupg");
        updates::new_key(&home, KeyAlgorithm::Ed25519)
            .await
            .unwrap();
        let repo = Arc::new(
            AptRepo::open(&work.path().join("apt"), &home)
                .await
                .unwrap(),
        );
        let conninfo = cluster::shared().fresh_database().await.unwrap();
        let svc = bianmin_platform_service::spawn(bianmin_platform_service::ServiceOptions {
            fleet: fleet::FleetOptions {
                watch_every: Duration::from_millis(200),
                apt: Some(repo.clone()),
                ..Default::default()
            },
            conninfo: conninfo.clone(),
            data_key: Arc::new(DataKey::from_hex(TEST_DATA_KEY).unwrap()),
            pool_size: 4,
            publishers: vec![bianmin_core::package::TrustedKey::demo()],
            content_signer: None,
            server: ServerOptions {
                shared_secret: Some(SECRET.into()),
                ..ServerOptions::default()
            },
        })
        .await
        .unwrap();
        Rig {
            svc,
            conninfo,
            key: home.join("archive-key.gpg"),
            repo,
            home,
            work,
        }
    }

    fn url(&self) -> &str {
        self.svc.handle.base_url()
    }

    /// `bianmin-platform release add` as a technician runs it.
    fn release_add_cli(&self, deb: &Path) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_bianmin-platform"))
            .args(["release", "add"])
            .arg(deb)
            .arg("--database")
            .arg(&self.conninfo)
            .arg("--apt-dir")
            .arg(self.repo.dir())
            .arg("--apt-gnupg-home")
            .arg(&self.home)
            .output()
            .unwrap()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        updates::stop_agent(&self.home);
    }
}

/// The status line of a GET sent byte for byte (no client tidies the path).
fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apt_sees_a_release_on_canary_first_and_refuses_a_forged_or_tampered_repository() {
    let rig = Rig::start().await;
    let debs = rig.work.path().join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let old = build_deb(&debs, "0.90.1");
    let new = build_deb(&debs, "0.90.2");

    // An empty repository is a valid one: nothing to install anywhere.
    let url = rig.url().to_string();
    let key = rig.key.clone();
    let (c, _) = tokio::task::spawn_blocking(move || candidate(&url, &key, "stable"))
        .await
        .unwrap();
    assert_eq!(c, None);

    // Published from the command line, newest first: the order is dpkg's.
    for deb in [&new, &old] {
        let out = rig.release_add_cli(deb);
        assert!(out.status.success(), "{out:?}");
    }
    assert!(String::from_utf8_lossy(&rig.release_add_cli(&old).stdout).contains("already"));
    // Not a package of ours: refused.
    let other = rig.work.path().join("other");
    std::fs::create_dir_all(other.join("DEBIAN")).unwrap();
    std::fs::write(
        other.join("DEBIAN/control"),
        "Package: other\nVersion: 1.0\nArchitecture: amd64\nMaintainer: x <x@example.invalid>\nDescription: x\n",
    )
    .unwrap();
    let other_deb = rig.work.path().join("other.deb");
    assert!(Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&other)
        .arg(&other_deb)
        .output()
        .unwrap()
        .status
        .success());
    let refused = rig.release_add_cli(&other_deb);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not bianmin"));

    let url = rig.url().to_string();
    let key = rig.key.clone();
    let (canary, stable) = tokio::task::spawn_blocking(move || {
        (
            candidate(&url, &key, "canary"),
            candidate(&url, &key, "stable"),
        )
    })
    .await
    .unwrap();
    assert_eq!(canary.0.as_deref(), Some("0.90.2"), "{}", canary.1);
    assert!(
        canary.1.contains("0.90.1 500"),
        "canary keeps the older version for a rollback: {}",
        canary.1
    );
    assert_eq!(stable.0, None, "not on stable until promoted: {}", stable.1);

    let now = chrono::Utc::now().timestamp();
    assert!(updates::promote(
        rig.svc.backend.pool(),
        &rig.repo,
        "0.90.1",
        "technician",
        now
    )
    .await
    .unwrap());
    let url = rig.url().to_string();
    let key = rig.key.clone();
    let (c, _) = tokio::task::spawn_blocking(move || candidate(&url, &key, "stable"))
        .await
        .unwrap();
    assert_eq!(c.as_deref(), Some("0.90.1"));
    let db = rig.svc.backend.pool().get().await.unwrap();
    let audited: Vec<String> = db
        .query(
            "SELECT actor || ' ' || action FROM console_audit WHERE action LIKE 'release%' ORDER BY seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        audited,
        [
            "cli release_added",
            "cli release_added",
            "technician release_promoted"
        ]
    );

    // Another key signs canary's Release: apt refuses the repository.
    let canary_dir = rig.repo.dir().join("dists/canary");
    let stranger = rig.work.path().join("stranger");
    updates::new_key(&stranger, KeyAlgorithm::Ed25519)
        .await
        .unwrap();
    for (how, out) in [("--clearsign", "InRelease"), ("-abs", "Release.gpg")] {
        let signed = Command::new("gpg")
            .arg("--homedir")
            .arg(&stranger)
            .args(["--batch", "--yes", how, "-o", out, "Release"])
            .current_dir(&canary_dir)
            .output()
            .unwrap();
        assert!(signed.status.success(), "{signed:?}");
    }
    updates::stop_agent(&stranger);
    let refusal = |what: &'static str| {
        let line = source_line(rig.url(), &rig.key, "canary");
        async move {
            tokio::task::spawn_blocking(move || {
                let apt = Apt::new(&line);
                let (ok, said) = apt.update();
                assert!(!ok, "apt took the repository with {what}: {said}");
                assert_eq!(apt.policy().0, None, "{what}");
                said
            })
            .await
            .unwrap()
        }
    };
    let said = refusal("a Release signed by another key").await;
    assert!(said.contains("NO_PUBKEY"), "{said}");

    // The right key, but a Release changed after signing.
    updates::regenerate_all(rig.svc.backend.pool(), &rig.repo)
        .await
        .unwrap();
    let in_release = std::fs::read_to_string(canary_dir.join("InRelease")).unwrap();
    std::fs::write(
        canary_dir.join("InRelease"),
        in_release.replacen("Suite: canary", "Suite: canary\nNotAutomatic: no", 1),
    )
    .unwrap();
    let said = refusal("a tampered Release").await;
    assert!(said.contains("BADSIG"), "{said}");

    // A Packages changed after signing (same size, one version raised):
    // its hash no longer matches.
    updates::regenerate_all(rig.svc.backend.pool(), &rig.repo)
        .await
        .unwrap();
    let packages = canary_dir.join("main/binary-amd64/Packages");
    let text = std::fs::read_to_string(&packages).unwrap();
    std::fs::write(
        &packages,
        text.replace("Version: 0.90.2", "Version: 9.90.2"),
    )
    .unwrap();
    std::fs::remove_file(canary_dir.join("main/binary-amd64/Packages.gz")).unwrap();
    let said = refusal("a tampered Packages").await;
    assert!(said.contains("Hash Sum mismatch"), "{said}");

    // Files only: no listing, no way out of the repository.
    std::os::unix::fs::symlink("/etc/passwd", rig.repo.dir().join("pool/main/x.deb")).unwrap();
    let addr = rig.svc.handle.addr();
    let statuses = tokio::task::spawn_blocking(move || {
        [
            "/api/v1/apt/archive-key.gpg",
            "/api/v1/apt/dists/",
            "/api/v1/apt/pool/main",
            "/api/v1/apt/../../../../etc/passwd",
            "/api/v1/apt/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/api/v1/apt/dists/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/api/v1/apt/pool/main/x.deb",
        ]
        .map(|p| raw_get(addr, p))
    })
    .await
    .unwrap();
    assert!(statuses[0].contains(" 200 "), "{statuses:?}");
    for s in &statuses[1..] {
        assert!(s.contains(" 404 ") || s.contains(" 400 "), "{statuses:?}");
    }
}

fn password_of(username: &str) -> &'static str {
    DEMO_STAFF.iter().find(|s| s.0 == username).unwrap().3
}

async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offer_follows_the_station_a_rollback_alerts_and_a_technician_promotes_in_chromium() {
    let rig = Rig::start().await;
    bianmin_platform_service::seed_demo_staff(&rig.svc.backend)
        .await
        .unwrap();
    let debs = rig.work.path().join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let now = chrono::Utc::now().timestamp();
    for version in ["0.90.1", "0.90.2"] {
        let added = updates::add_release(
            rig.svc.backend.pool(),
            &rig.repo,
            &build_deb(&debs, version),
            "technician",
            now,
        )
        .await
        .unwrap();
        assert!(matches!(added, Ok(updates::Added::Release(_))), "{added:?}");
    }

    // The kiosk's heartbeats placed it at a canary station with a window.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), rig.url());
    let terminal = config.station.terminal_id.as_str().to_string();
    let db = rig.svc.backend.pool().get().await.unwrap();
    db.execute(
        "INSERT INTO stations (code, name, address, created_at, created_by, channel,
             window_start, window_end)
         VALUES ('110101001001', '城关镇便民服务站', '', 0, 't', 'canary', '22:00', '05:00')",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO kiosks (terminal_id, station_code, last_heartbeat_at, last_received_at,
             status, version)
         VALUES ($1, '110101001001', $2, $2, 'ok', '0.90.1')",
        &[&terminal, &now],
    )
    .await
    .unwrap();

    let client = PlatformClient::from_config(&config).unwrap();
    let offer = client.update_offer().await.unwrap();
    assert_eq!(offer.channel, "canary");
    assert_eq!(offer.version.as_deref(), Some("0.90.2"));
    let window = offer.window.expect("the station's window");
    assert_eq!(
        (window.start.as_str(), window.end.as_str()),
        ("22:00", "05:00")
    );

    // 0.90.2 comes back unhealthy: rolled back, an alert opens.
    client
        .report_update(&UpdateReport {
            from: "0.90.1".into(),
            to: "0.90.2".into(),
            outcome: UpdateOutcome::RolledBack,
            detail: "自检失败：打印机未就绪（120 秒内未 READY）".into(),
        })
        .await
        .unwrap();
    let open_update_alerts = async || {
        db.query_one(
            "SELECT count(*) FROM alerts WHERE rule = 'update_failed' AND closed_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    assert_eq!(open_update_alerts().await, 1);

    // The console: the technician sees the alert, the kiosk's rollout
    // state and the release's outcome, moves the station to stable (its
    // window checked) and promotes 0.90.2 by hand.
    let origin = format!("http://{}", rig.svc.handle.addr());
    let driver = Driver::start().unwrap();
    let b = driver.browser().await.unwrap();
    browser::sign_in(&b, &origin, "technician", password_of("technician"))
        .await
        .unwrap();
    b.goto(&format!("{origin}/console/alerts")).await.unwrap();
    let open = browser::text_of(&b, "open-alerts").await.unwrap();
    assert!(open.contains("软件更新失败"), "{open}");
    assert!(
        open.contains("0.90.2 安装后不正常，已回滚到 0.90.1"),
        "{open}"
    );
    b.goto(&format!("{origin}/console/fleet/kiosks/{terminal}"))
        .await
        .unwrap();
    let state = browser::text_of(&b, "kiosk-update").await.unwrap();
    assert!(state.contains("0.90.1 → 0.90.2：已回滚"), "{state}");
    assert!(state.contains("打印机未就绪"), "{state}");

    b.goto(&format!("{origin}/console/fleet/stations"))
        .await
        .unwrap();
    let fill = |id: &'static str, text: &'static str| {
        let b = b.clone();
        async move {
            let field = b.find(Locator::Id(id)).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(text).await.unwrap();
        }
    };
    b.find(Locator::Css("#channel-110101001001 option[value=stable]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill("window-start-110101001001", "25:00").await;
    click_and_wait(&b, Locator::Id("save-updates-110101001001"))
        .await
        .unwrap();
    assert!(browser::text_of(&b, "message")
        .await
        .unwrap()
        .starts_with("维护时段应为两个不同的时刻"));
    b.find(Locator::Css("#channel-110101001001 option[value=stable]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill("window-start-110101001001", "23:00").await;
    click_and_wait(&b, Locator::Id("save-updates-110101001001"))
        .await
        .unwrap();
    assert_eq!(
        browser::text_of(&b, "message").await.unwrap(),
        "已保存：站点 110101001001 跟随稳定版，每天 23:00 至 05:00 安装。"
    );
    let offer = client.update_offer().await.unwrap();
    assert_eq!(offer.channel, "stable");
    assert_eq!(offer.version, None, "nothing in stable yet");
    assert_eq!(offer.window.unwrap().start, "23:00");

    click_and_wait(&b, Locator::LinkText("版本发布"))
        .await
        .unwrap();
    let releases = browser::text_of(&b, "releases").await.unwrap();
    assert!(releases.contains("已回滚 1 台"), "{releases}");
    click_and_wait(&b, Locator::Id("promote-0.90.2"))
        .await
        .unwrap();
    assert!(browser::text_of(&b, "message")
        .await
        .unwrap()
        .starts_with("已把 0.90.2 推广到稳定版"));
    let row = b
        .find(Locator::Css("tr[data-version='0.90.2'] td.stable"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("technician 推广"), "{row}");
    let offer = client.update_offer().await.unwrap();
    assert_eq!(offer.version.as_deref(), Some("0.90.2"));
    let stable = reqwest::get(format!(
        "{}/apt/dists/stable/main/binary-amd64/Packages",
        rig.url()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(stable.contains("Version: 0.90.2"), "{stable}");

    // Installed again, healthy: the alert closes.
    client
        .report_update(&UpdateReport {
            from: "0.90.1".into(),
            to: "0.90.2".into(),
            outcome: UpdateOutcome::Healthy,
            detail: "READY，自检通过".into(),
        })
        .await
        .unwrap();
    assert_eq!(open_update_alerts().await, 0);

    // Automatic promotion: 1 healthy hour, set in the console; 0.90.1
    // has been in canary for two with a healthy kiosk and no rollback.
    fill("hours", "0").await;
    click_and_wait(&b, Locator::Id("save-auto")).await.unwrap();
    assert!(browser::text_of(&b, "message")
        .await
        .unwrap()
        .starts_with("自动推广的小时数应为"));
    fill("hours", "1").await;
    click_and_wait(&b, Locator::Id("save-auto")).await.unwrap();
    db.execute(
        "UPDATE releases SET canary_since = canary_since - 7200 WHERE version = '0.90.1'",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO update_reports (terminal_id, from_version, to_version, outcome, detail, at)
         VALUES ('T-OTHER', '0.90.0', '0.90.1', 'healthy', '', 0)",
        &[],
    )
    .await
    .unwrap();
    wait_for("automatic promotion", Duration::from_secs(10), async || {
        db.query_opt(
            "SELECT 1 FROM releases WHERE version = '0.90.1' AND promoted_by = 'auto'",
            &[],
        )
        .await
        .unwrap()
        .is_some()
    })
    .await;
    b.refresh().await.unwrap();
    let row = b
        .find(Locator::Css("tr[data-version='0.90.1'] td.stable"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("自动推广"), "{row}");
    b.close().await.unwrap();

    // Without a repository the platform offers no software.
    let plain = postgres_service(ServerOptions::default()).await;
    let none = PlatformClient::from_config(&bianmin_testkit::config(
        dir.path(),
        plain.handle.base_url(),
    ))
    .unwrap()
    .update_offer()
    .await;
    assert!(matches!(none, Err(PlatformError::NotFound)), "{none:?}");
    let apt = reqwest::get(format!(
        "{}/apt/dists/stable/InRelease",
        plain.handle.base_url()
    ))
    .await
    .unwrap();
    assert_eq!(apt.status(), 404);
    let said = apt.text().await.unwrap();
    assert!(said.contains("distributes no software"), "{said}");
}
