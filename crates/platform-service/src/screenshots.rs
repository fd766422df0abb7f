//! `bianmin-platform screenshots --out DIR`: the console's main pages as
//! PNGs, over a throwaway database filled with demo records sent through
//! the same storage path as the kiosk API.

use crate::browser::{self, Driver};
use crate::cluster::TempCluster;
use crate::{publish_if_missing, seed_demo_staff, DataKey, ServiceOptions, DEMO_STAFF};
use bianmin_platform::api::RecordKind;
use bianmin_platform_server::{Backend as _, Checked, Doc, ServerOptions};
use fantoccini::Locator;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn record(id: &str, body: serde_json::Value) -> Checked {
    Checked {
        id: id.to_string(),
        service_code: body["service_code"].as_str().map(str::to_string),
        body,
    }
}

/// Demo applications from two terminals, 好差评 and a 办不成事 report.
async fn seed(backend: &crate::PgBackend) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let services = [
        ("DEMO-SB-001", "社会保障卡申领"),
        ("DEMO-HJ-002", "居住证申领"),
        ("DEMO-YL-003", "城乡居民养老保险参保登记"),
    ];
    let mut first = String::new();
    for (t, terminal) in ["T0001", "T0002"].iter().enumerate() {
        let mut apps = Vec::new();
        for i in 0..4 {
            let (code, name) = services[(i + t) % services.len()];
            let receipt = format!("{terminal}-20261205-{:04}", i + 1);
            if first.is_empty() {
                first = receipt.clone();
            }
            apps.push(record(
                &receipt,
                json!({
                    "receipt_no": receipt, "terminal_id": terminal, "service_code": code,
                    "service_name": name, "created_at": format!("2026-12-05T09:1{i}:00+08:00"),
                    "applicant": {"name": "王秀英", "id_number": "11010519491231002X",
                                  "phone": "13912345678", "address": "城关镇幸福路8号"},
                    "form": {"申领原因": "首次申领", "_confirmation": {
                        "summary": ["事项：社会保障卡申领", "申请人：王*英", "材料：近期免冠照片（容缺后补）"],
                        "commitment": "本人承诺所填信息真实有效，如有虚假，愿承担相应法律责任。"}},
                    "materials": [{"name": "居民身份证", "state": "e_cert"},
                                  {"name": "近期免冠照片", "state": if i % 2 == 0 { "pending" } else { "provided" }}],
                    "delivery": {"method": "pickup"}
                }),
            ));
        }
        backend
            .store_batch(RecordKind::Application, terminal, apps, now - 3600)
            .await?;
        let evaluations = (0..6)
            .map(|i| {
                let id = format!("EV-{terminal}-{i}");
                let level = [5, 5, 4, 3, 2, 1][i];
                let comment = if i >= 4 { "等候时间长" } else { "" };
                record(
                    &id,
                    json!({"id": id, "terminal_id": terminal, "service_code": services[i % 3].0,
                           "level": level, "comment": comment,
                           "created_at": bianmin_core::time::rfc3339(now * 1000)}),
                )
            })
            .collect();
        backend
            .store_batch(RecordKind::Evaluation, terminal, evaluations, now)
            .await?;
    }
    let report_id = "ER-T0001-1";
    backend
        .store_batch(
            RecordKind::ErrorReport,
            "T0001",
            vec![record(
                report_id,
                json!({"id": report_id, "terminal_id": "T0001", "at": bianmin_core::time::rfc3339(now * 1000),
                       "kind": "cannot_get_done", "service_code": "DEMO-HJ-002",
                       "message": "需要的证明在别的县开具，终端上办不了"}),
            )],
            now,
        )
        .await?;
    backend
        .add_progress(&first, "need_materials", "请补交近期免冠照片", now - 600)
        .await?;
    // The fleet: the demo station, one kiosk out of paper, one well.
    crate::seed_demo_station(backend).await?;
    for (terminal, printer, uptime) in [("T0001", "paper_out", 86_400 * 3), ("T0002", "ok", 7200)] {
        let id = format!("HB-{terminal}-1");
        let beat = json!({
            "id": id, "terminal_id": terminal, "at": bianmin_core::time::rfc3339(now * 1000),
            "status": if printer == "ok" { "ok" } else { "degraded" },
            "devices": {"id_card": "ok", "printer": printer, "scanner": "ok", "disk": "ok"},
            "queue_depth": 2, "oldest_pending_secs": 240, "free_disk_bytes": 21_500_000_000u64,
            "total_disk_bytes": 31_900_000_000u64, "version": env!("CARGO_PKG_VERSION"),
            "uptime_secs": uptime, "station_code": "110101001001",
            "content_version": "2026.12-demo"
        });
        backend
            .store_batch(
                RecordKind::Heartbeat,
                terminal,
                vec![record(&id, beat)],
                now,
            )
            .await?;
    }
    Ok(first)
}

/// Two small packages standing for releases (built with dpkg-deb), in a
/// repository signed with a key made for the screenshots: 0.9.0 in stable,
/// 0.9.1 in canary with one kiosk healthy on it and one rolled back. `None`
/// where dpkg-deb or gpg is missing (the page is then not drawn).
async fn releases(work: &Path) -> anyhow::Result<Option<Arc<crate::updates::AptRepo>>> {
    use crate::updates;
    let have = |program: &str| {
        std::process::Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("dpkg-deb") || !have("gpg") || !have("apt-ftparchive") {
        eprintln!("screenshots: dpkg-deb, gpg or apt-ftparchive missing: no 版本发布 page");
        return Ok(None);
    }
    let home = work.join("gnupg");
    updates::new_key(&home, updates::KeyAlgorithm::Ed25519).await?;
    let repo = Arc::new(updates::AptRepo::open(&work.join("apt"), &home).await?);
    Ok(Some(repo))
}

/// A package `bianmin` of `version` with nothing in it but its control file.
fn placeholder_deb(work: &Path, version: &str) -> anyhow::Result<PathBuf> {
    let root = work.join(format!("pkg-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN"))?;
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: bianmin\nVersion: {version}\nArchitecture: amd64\n\
             Maintainer: Bianmin Kiosk maintainers <kiosk@example.invalid>\n\
             Description: screenshot placeholder {version}\n"
        ),
    )?;
    let deb = work.join(format!("bianmin_{version}_amd64.deb"));
    let built = std::process::Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group", "-Zgzip"])
        .arg(&root)
        .arg(&deb)
        .output()?;
    anyhow::ensure!(built.status.success(), "dpkg-deb: {built:?}");
    Ok(deb)
}

/// Publish the two releases and the kiosks' reports on them.
async fn seed_releases(
    backend: &crate::PgBackend,
    repo: &crate::updates::AptRepo,
    work: &Path,
) -> anyhow::Result<()> {
    use bianmin_platform::api::{UpdateOutcome, UpdateReport};
    let now = chrono::Utc::now().timestamp();
    for version in ["0.9.0", "0.9.1"] {
        let deb = placeholder_deb(work, version)?;
        if let Err(refused) =
            crate::updates::add_release(backend.pool(), repo, &deb, "technician", now).await?
        {
            anyhow::bail!("{refused}");
        }
    }
    crate::updates::promote(backend.pool(), repo, "0.9.0", "technician", now).await?;
    for (terminal, outcome, detail) in [
        (
            "T0001",
            UpdateOutcome::Healthy,
            "READY and self-check after 6.1 s, no failure while watched 600 s",
        ),
        (
            "T0002",
            UpdateOutcome::RolledBack,
            "0.9.1 was unhealthy (no READY within 60 s); 0.9.0 reinstalled and healthy",
        ),
    ] {
        let report = UpdateReport {
            from: "0.9.0".into(),
            to: "0.9.1".into(),
            outcome,
            detail: detail.into(),
        };
        backend.update_report(terminal, report, now).await?;
    }
    Ok(())
}

fn password_of(username: &str) -> &'static str {
    DEMO_STAFF
        .iter()
        .find(|s| s.0 == username)
        .map(|s| s.3)
        .unwrap_or("")
}

/// Serve the console over a fresh database of `cluster`, fill it and write
/// one PNG per main page into `out`.
pub async fn write_all(cluster: &TempCluster, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let conninfo = cluster.fresh_database().await?;
    let work = tempfile::tempdir()?;
    let apt = releases(work.path()).await?;
    let svc = crate::spawn(ServiceOptions {
        fleet: crate::fleet::FleetOptions {
            apt: apt.clone(),
            ..Default::default()
        },
        conninfo,
        data_key: Arc::new(DataKey::generate()),
        pool_size: 4,
        publishers: vec![bianmin_core::package::TrustedKey::demo()],
        content_signer: Some(crate::console::ContentSigner::demo()),
        server: ServerOptions::default(),
    })
    .await?;
    seed_demo_staff(&svc.backend).await?;
    publish_if_missing(
        &svc.backend,
        Doc::ContentPackage,
        bianmin_core::package::DEMO_PACKAGE_JSON.as_bytes().to_vec(),
    )
    .await?;
    let first = seed(&svc.backend).await?;
    if let Some(repo) = &apt {
        seed_releases(&svc.backend, repo, work.path()).await?;
    }
    let origin = format!("http://{}", svc.handle.addr());
    let driver = Driver::start()?;
    let b = driver.browser().await?;
    let mut written = Vec::new();
    let mut shot = |name: &str| {
        let path = out.join(name);
        written.push(path.clone());
        path
    };
    b.goto(&format!("{origin}/console/login")).await?;
    browser::screenshot(&b, &shot("login.png")).await?;
    browser::sign_in(&b, &origin, "clerk", password_of("clerk")).await?;
    browser::screenshot(&b, &shot("clerk-queue.png")).await?;
    b.goto(&format!("{origin}/console/applications/{first}"))
        .await?;
    browser::screenshot(&b, &shot("clerk-application.png")).await?;
    browser::click_and_wait(&b, Locator::Id("logout")).await?;
    browser::sign_in(&b, &origin, "author", password_of("author")).await?;
    browser::screenshot(&b, &shot("author-content.png")).await?;
    let first_service = b
        .find(Locator::Css("#services a"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    b.goto(&format!("{origin}{first_service}")).await?;
    browser::screenshot(&b, &shot("author-preview.png")).await?;
    // The demo package's own sources uploaded: the draft to preview and publish.
    let sources = tempfile::tempdir()?;
    let doc = bianmin_core::package::document_of(bianmin_core::package::DEMO_PACKAGE_JSON)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let exported = bianmin_content::export(doc).map_err(|e| anyhow::anyhow!(e))?;
    bianmin_content::write_dir(&exported, sources.path(), "")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    b.goto(&format!("{origin}/console/content")).await?;
    for (input, file) in [
        ("src-catalogue", "catalogue/catalogue.xlsx"),
        ("src-forms", "forms/forms.toml"),
        ("src-bundles", "bundles/bundles.toml"),
        ("src-header", "content/package.toml"),
    ] {
        let path = sources.path().join(file);
        b.find(Locator::Id(input))
            .await?
            .send_keys(&path.to_string_lossy())
            .await?;
    }
    browser::click_and_wait(&b, Locator::Id("build-sources")).await?;
    browser::screenshot(&b, &shot("author-draft.png")).await?;
    browser::click_and_wait(&b, Locator::Id("logout")).await?;
    browser::sign_in(&b, &origin, "supervisor", password_of("supervisor")).await?;
    browser::screenshot(&b, &shot("supervisor-evaluations.png")).await?;
    b.goto(&format!("{origin}/console/audit")).await?;
    browser::screenshot(&b, &shot("supervisor-audit.png")).await?;
    browser::click_and_wait(&b, Locator::Id("logout")).await?;
    browser::sign_in(&b, &origin, "technician", password_of("technician")).await?;
    browser::screenshot(&b, &shot("technician-fleet.png")).await?;
    b.goto(&format!("{origin}/console/alerts")).await?;
    browser::screenshot(&b, &shot("technician-alerts.png")).await?;
    b.goto(&format!("{origin}/console/fleet/stations")).await?;
    browser::screenshot(&b, &shot("technician-stations.png")).await?;
    browser::click_and_wait(&b, Locator::Id("codes-110101001001")).await?;
    browser::screenshot(&b, &shot("technician-enrollment-codes.png")).await?;
    if apt.is_some() {
        b.goto(&format!("{origin}/console/releases")).await?;
        browser::screenshot(&b, &shot("technician-releases.png")).await?;
    }
    b.close().await?;
    if apt.is_some() {
        // The throwaway key's gpg-agent goes with its home.
        crate::updates::stop_agent(&work.path().join("gnupg"));
    }
    Ok(written)
}
