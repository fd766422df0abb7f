//! The console in a real Chromium (WebDriver), over the platform service on
//! a real PostgreSQL, with the kiosk's real store, sync engine and client:
//! a clerk moves a kiosk's application to 补正 and then 办结 and the
//! kiosk's progress query shows each step; an author publishes a content
//! package and the kiosk installs it; a supervisor reads the chart after a
//! kiosk's 差评 and answers it. Plus the refusals: a form without its CSRF
//! token, a wrong password five times.

use bianmin_core::package::{self, TrustedKey, DEMO_KEY_ID, DEMO_PACKAGE_JSON};
use bianmin_platform::client::PlatformClient;
use bianmin_platform_server::ServerOptions;
use bianmin_platform_service::browser::{self, click_and_wait, Driver};
use bianmin_platform_service::{seed_demo_staff, DEMO_STAFF};
use bianmin_store::{NewEvaluation, PackageSlot, Store};
use bianmin_sync as sync;
use bianmin_testkit::*;
use fantoccini::{Client, Locator};
use std::time::Duration;

const DEMO_KEY_FILE: &str = include_str!("../../../config/content/demo-signing.key");

fn password_of(username: &str) -> &'static str {
    DEMO_STAFF.iter().find(|s| s.0 == username).unwrap().3
}

async fn sign_in_as(b: &Client, origin: &str, username: &str) {
    browser::sign_in(b, origin, username, password_of(username))
        .await
        .unwrap();
}

async fn sign_out(b: &Client) {
    click_and_wait(b, Locator::Id("logout")).await.unwrap();
}

async fn click(b: &Client, target: Locator<'_>) {
    click_and_wait(b, target).await.unwrap();
}

/// Take one step on the application page the browser shows.
async fn take_step(b: &Client, action: &str, note: &str) {
    b.find(Locator::Css(&format!("input[name=action][value={action}]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    if !note.is_empty() {
        b.find(Locator::Id("note"))
            .await
            .unwrap()
            .send_keys(note)
            .await
            .unwrap();
    }
    click(b, Locator::Id("do-step")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_author_and_supervisor_work_in_chromium_and_the_kiosk_sees_it() {
    let svc = postgres_service(ServerOptions::default()).await;
    seed_demo_staff(&svc.backend).await.unwrap();
    let origin = format!("http://{}", svc.handle.addr());

    // A kiosk sends one application (a photo owed under 容缺) and one 差评.
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), svc.handle.base_url());
    let store = Store::open(&config).unwrap();
    // Made by a daughter for her father, the photo owed by a day.
    let mut application = app(1);
    application.materials[1].due = Some("2026-12-11".into());
    application.agent = Some(bianmin_platform::api::AgentWire {
        name: "李明".into(),
        id_number: "110101199003071235".into(),
        relationship: "子女".into(),
        identified_by: bianmin_platform::api::IdentifiedBy::IdCard,
        declaration: "代办人声明：本人受其委托代为办理。".into(),
    });
    let receipt = store.enqueue_application(application).unwrap().receipt_no;
    store
        .enqueue_evaluation(NewEvaluation {
            receipt_no: Some(receipt.clone()),
            service_code: "DEMO-SB-001".into(),
            level: 1,
            comment: "排队时间太长".into(),
        })
        .unwrap();
    // And a 办不成事 report with a number to call back.
    store
        .enqueue_error_report(bianmin_store::NewErrorReport {
            kind: "cannot_get_done".into(),
            service_code: Some("DEMO-HJ-003".into()),
            message: "居住证办不了".into(),
            callback_phone: Some("13912345678".into()),
        })
        .unwrap();
    let (engine, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    wait_drained(&mut rx, Duration::from_secs(30)).await;
    engine.shutdown().await;
    let kiosk = PlatformClient::from_config(&config).unwrap();

    let driver = Driver::start().unwrap();
    let b = driver.browser().await.unwrap();

    // 受理 clerk: the queue lists it with the owed photo; 补正, then 受理,
    // 审核, 办结 — and the kiosk's progress query follows each step.
    sign_in_as(&b, &origin, "clerk").await;
    let queue = browser::text_of(&b, "queue").await.unwrap();
    assert!(queue.contains(&receipt), "{queue}");
    // The queue by service and by station.
    for (filter, listed) in [
        ("service=DEMO-SB-001", true),
        ("service=DEMO-HJ-001", false),
        ("station=999999999999", false),
    ] {
        b.goto(&format!("{origin}/console/applications?{filter}"))
            .await
            .unwrap();
        let queue = browser::text_of(&b, "queue").await.unwrap();
        assert_eq!(queue.contains(&receipt), listed, "{filter}: {queue}");
    }
    b.goto(&format!("{origin}/console/applications"))
        .await
        .unwrap();
    let queue = browser::text_of(&b, "queue").await.unwrap();
    assert!(
        queue.contains("1份"),
        "the owed 容缺 material shows: {queue}"
    );
    click(&b, Locator::LinkText(&receipt)).await;
    let materials = browser::text_of(&b, "materials").await.unwrap();
    assert!(
        materials.contains("容缺后补（请于2026-12-11前补交）"),
        "{materials}"
    );
    let agent = browser::text_of(&b, "agent").await.unwrap();
    assert!(
        agent.contains("李*") && agent.contains("子女") && agent.contains("代办人声明"),
        "{agent}"
    );
    assert!(!agent.contains("110101199003071235"), "masked: {agent}");
    let page = b.source().await.unwrap();
    assert!(
        !page.contains(ID_NUMBER),
        "the ID number is shown masked to the clerk"
    );
    take_step(&b, "correct", "请补交近期免冠照片").await;
    assert_eq!(
        browser::text_of(&b, "current-status").await.unwrap(),
        "待补正"
    );
    let progress = kiosk.progress(&receipt).await.unwrap();
    assert_eq!(progress.status, "need_materials");
    assert!(progress
        .steps
        .iter()
        .any(|s| s.note == "请补交近期免冠照片"));
    for (action, shown, kiosk_status) in [
        ("accept", "已受理", "accepted"),
        ("review", "审核中", "in_review"),
        ("complete", "已办结", "completed"),
    ] {
        take_step(&b, action, "").await;
        assert_eq!(browser::text_of(&b, "current-status").await.unwrap(), shown);
        assert_eq!(kiosk.progress(&receipt).await.unwrap().status, kiosk_status);
    }
    let steps: Vec<String> = kiosk
        .progress(&receipt)
        .await
        .unwrap()
        .steps
        .into_iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(
        steps,
        [
            "submitted",
            "received",
            "need_materials",
            "accepted",
            "in_review",
            "completed"
        ]
    );
    sign_out(&b).await;

    // Content author: publish a new signed package in the browser; the
    // kiosk pulls it, verifies it and installs it.
    let envelope: package::SignedEnvelope = serde_json::from_str(DEMO_PACKAGE_JSON).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&envelope.package).unwrap();
    doc["version"] = "county-2026.12.1".into();
    let signed = package::sign(
        &serde_json::to_string_pretty(&doc).unwrap(),
        DEMO_KEY_ID,
        DEMO_KEY_FILE,
    )
    .unwrap();
    sign_in_as(&b, &origin, "author").await;
    // Typing 100 kB key by key would take minutes: the value is set as a
    // paste would set it.
    b.execute(
        "document.getElementById('package').value = arguments[0];",
        vec![serde_json::Value::String(signed.clone())],
    )
    .await
    .unwrap();
    click(&b, Locator::Id("publish")).await;
    let outcome = browser::text_of(&b, "outcome").await.unwrap();
    assert!(outcome.contains("county-2026.12.1"), "{outcome}");
    let pull = sync::pull_content(&kiosk, &store, &[TrustedKey::demo()])
        .await
        .unwrap();
    assert_eq!(pull.version.as_deref(), Some("county-2026.12.1"));
    assert_eq!(
        store
            .content_package(PackageSlot::Current)
            .unwrap()
            .unwrap()
            .version,
        "county-2026.12.1"
    );
    // A tampered package is refused at the console, whole.
    let tampered = signed.replace("county-2026.12.1", "county-2026.12.9");
    b.execute(
        "document.getElementById('package').value = arguments[0];",
        vec![serde_json::Value::String(tampered)],
    )
    .await
    .unwrap();
    click(&b, Locator::Id("publish")).await;
    let outcome = browser::text_of(&b, "outcome").await.unwrap();
    assert!(outcome.starts_with("未发布"), "{outcome}");
    assert!(browser::text_of(&b, "current-version")
        .await
        .unwrap()
        .contains("county-2026.12.1"));
    sign_out(&b).await;

    // Supervisor: the chart counts the kiosk's 差评; it is answered.
    sign_in_as(&b, &origin, "supervisor").await;
    let totals = browser::text_of(&b, "totals").await.unwrap();
    assert!(totals.contains("差评1条"), "{totals}");
    assert!(totals.contains("按期整改0条"), "{totals}");
    let chart = b.find(Locator::Id("level-chart")).await.unwrap();
    assert!(chart.text().await.unwrap().contains("非常不满意"));
    let bad = browser::text_of(&b, "bad").await.unwrap();
    assert!(bad.contains("排队时间太长"), "{bad}");
    b.find(Locator::Css("#bad input[name=note]"))
        .await
        .unwrap()
        .send_keys("已增加午间窗口")
        .await
        .unwrap();
    click(&b, Locator::Css("#bad button")).await;
    let totals = browser::text_of(&b, "totals").await.unwrap();
    assert!(totals.contains("按期整改1条（100%"), "{totals}");
    // The 办不成事 report, with the number left, is followed up once.
    let reports = browser::text_of(&b, "reports").await.unwrap();
    assert!(reports.contains("居住证办不了"), "{reports}");
    assert!(reports.contains("13912345678"), "{reports}");
    b.find(Locator::Css("#reports input[name=note]"))
        .await
        .unwrap()
        .send_keys("已回电，约定周三到窗口办理")
        .await
        .unwrap();
    click(&b, Locator::Css("#reports button")).await;
    let reports = browser::text_of(&b, "reports").await.unwrap();
    assert!(reports.contains("已回电，约定周三到窗口办理"), "{reports}");
    assert!(b
        .find(Locator::Css("#reports input[name=note]"))
        .await
        .is_err());
    b.goto(&format!("{origin}/console/audit")).await.unwrap();
    let audit = browser::text_of(&b, "audit").await.unwrap();
    for action in [
        "application_step",
        "content_publish",
        "evaluation_answer",
        "report_followup",
        "sign_in",
    ] {
        assert!(
            audit.contains(action),
            "{action} in the audit trail: {audit}"
        );
    }
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_and_repeated_wrong_passwords_are_refused() {
    let svc = postgres_service(ServerOptions::default()).await;
    seed_demo_staff(&svc.backend).await.unwrap();
    let origin = format!("http://{}", svc.handle.addr());
    let driver = Driver::start().unwrap();
    let b = driver.browser().await.unwrap();

    // Five wrong passwords lock the account, even for the right one next.
    for _ in 0..5 {
        browser::sign_in(&b, &origin, "clerk", "wrong-password")
            .await
            .unwrap();
    }
    let error = browser::text_of(&b, "login-error").await.unwrap();
    assert!(error.contains("锁定"), "{error}");
    sign_in_as(&b, &origin, "clerk").await;
    let error = browser::text_of(&b, "login-error").await.unwrap();
    assert!(error.contains("锁定"), "{error}");

    // The supervisor signs in; a form posted from elsewhere (no token) is
    // refused and changes nothing.
    sign_in_as(&b, &origin, "supervisor").await;
    b.execute(
        "const f = document.createElement('form'); f.method = 'post';
         f.action = '/console/evaluations/T0001/EV-1/answer';
         const n = document.createElement('input'); n.name = 'note'; n.value = 'forged';
         f.appendChild(n); document.body.appendChild(f);
         setTimeout(() => f.submit(), 0);",
        vec![],
    )
    .await
    .unwrap();
    // Wait for the answer page to replace the evaluations page.
    for _ in 0..100 {
        if b.find(Locator::Id("totals")).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = b.source().await.unwrap();
    assert!(page.contains("安全令牌"), "{page}");
    let client = svc.backend.pool().get().await.unwrap();
    let answers: i64 = client
        .query_one("SELECT count(*) FROM evaluation_answers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(answers, 0);
    b.close().await.unwrap();
}

/// Export the demo package's sources into `dir` after `change`.
fn sources_in(dir: &std::path::Path, change: impl FnOnce(&mut package::PackageDocument)) {
    let mut doc = package::document_of(DEMO_PACKAGE_JSON).unwrap();
    change(&mut doc);
    let exported = bianmin_content::export(doc).unwrap();
    bianmin_content::write_dir(&exported, dir, "").unwrap();
}

/// Choose the four source files on the content page and build them.
async fn upload_sources(b: &Client, origin: &str, dir: &std::path::Path) {
    b.goto(&format!("{origin}/console/content")).await.unwrap();
    for (input, file) in [
        ("src-catalogue", "catalogue/catalogue.xlsx"),
        ("src-forms", "forms/forms.toml"),
        ("src-bundles", "bundles/bundles.toml"),
        ("src-header", "content/package.toml"),
    ] {
        b.find(Locator::Id(input))
            .await
            .unwrap()
            .send_keys(dir.join(file).to_str().unwrap())
            .await
            .unwrap();
    }
    click(b, Locator::Id("build-sources")).await;
}

/// An author uploads the county's sources in Chromium: a spreadsheet with a
/// mistake is refused with its sheet, row and column; fixed, it builds a
/// draft whose guide previews with the change, which is signed with the
/// platform's publisher key and published, and the kiosk installs it with
/// the changed form label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_builds_a_package_from_sources_in_chromium_and_the_kiosk_installs_it() {
    let svc = postgres_service(ServerOptions::default()).await;
    seed_demo_staff(&svc.backend).await.unwrap();
    bianmin_platform_service::seed_demo_station(&svc.backend)
        .await
        .unwrap();
    let origin = format!("http://{}", svc.handle.addr());
    let driver = Driver::start().unwrap();
    let b = driver.browser().await.unwrap();
    sign_in_as(&b, &origin, "author").await;

    let broken = tempfile::tempdir().unwrap();
    sources_in(broken.path(), |doc| {
        doc.catalogue.services[0].category = "no-such-category".into();
    });
    upload_sources(&b, &origin, broken.path()).await;
    let mistakes = browser::text_of(&b, "source-errors").await.unwrap();
    assert!(
        mistakes.contains(
            "工作表「事项」第 2 行 B 列（分类）：分类表里没有「no-such-category」这个分类"
        ),
        "{mistakes}"
    );

    let fixed = tempfile::tempdir().unwrap();
    sources_in(fixed.path(), |doc| {
        doc.version = "county-2026.12.2".into();
        doc.catalogue.services[0].summary = "县里改写的指南：带身份证到服务站即可。".into();
        doc.forms.fields.get_mut("applicant.name").unwrap().label =
            "申请人姓名（与身份证一致）".into();
    });
    upload_sources(&b, &origin, fixed.path()).await;
    assert_eq!(
        browser::text_of(&b, "draft-version").await.unwrap(),
        "county-2026.12.2"
    );
    // Nothing of a draft is served before it is published.
    let kiosk_dir = tempfile::tempdir().unwrap();
    let mut config = config(kiosk_dir.path(), svc.handle.base_url());
    config.content.public_key = package::DEMO_PUBLIC_KEY.into();
    let store = Store::open(&config).unwrap();
    let kiosk = PlatformClient::from_config(&config).unwrap();
    let pull = sync::pull_content(&kiosk, &store, &[TrustedKey::demo()])
        .await
        .unwrap();
    assert_ne!(pull.version.as_deref(), Some("county-2026.12.2"));

    click(&b, Locator::Css("a[href$='/preview/DEMO-SB-001']")).await;
    let guide = browser::text_of(&b, "guide").await.unwrap();
    assert!(guide.contains("县里改写的指南"), "{guide}");
    b.back().await.unwrap();
    click(&b, Locator::Id("publish-draft")).await;
    let outcome = browser::text_of(&b, "outcome").await.unwrap();
    assert!(outcome.contains("county-2026.12.2"), "{outcome}");

    let pull = sync::pull_content(&kiosk, &store, &[TrustedKey::demo()])
        .await
        .unwrap();
    assert_eq!(pull.version.as_deref(), Some("county-2026.12.2"));
    let installed = store
        .content_package(PackageSlot::Current)
        .unwrap()
        .unwrap();
    let package = package::open(&installed.body, &[TrustedKey::demo()]).unwrap();
    let name = package
        .forms
        .schema_for("DEMO-SB-001")
        .field("applicant.name")
        .unwrap();
    assert_eq!(name.label, "申请人姓名（与身份证一致）");

    // The next version goes to one station first: its kiosk is served it,
    // a kiosk of another station keeps the version it has.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other_config = bianmin_testkit::config(other_dir.path(), svc.handle.base_url());
    other_config.station.terminal_id = bianmin_config::TerminalId("T0002".into());
    other_config.station.code = bianmin_config::Digits("110101001002".into());
    // Trusting the publisher as a real kiosk does: the sync engine that
    // drains the heartbeats pulls the package too.
    other_config.content.public_key = package::DEMO_PUBLIC_KEY.into();
    let other_store = Store::open(&other_config).unwrap();
    let other = PlatformClient::from_config(&other_config).unwrap();
    for (config, store, station) in [
        (&config, &store, "110101001001"),
        (&other_config, &other_store, "110101001002"),
    ] {
        heartbeat_from(config, store, station).await;
    }
    let pull = sync::pull_content(&other, &other_store, &[TrustedKey::demo()])
        .await
        .unwrap();
    assert_eq!(pull.version.as_deref(), Some("county-2026.12.2"));

    let trial = tempfile::tempdir().unwrap();
    sources_in(trial.path(), |doc| doc.version = "county-2026.12.3".into());
    upload_sources(&b, &origin, trial.path()).await;
    for choice in ["scope-some", "station-110101001001"] {
        // Ticking a box does not load a page.
        b.find(Locator::Id(choice))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    click(&b, Locator::Id("publish-draft")).await;
    let outcome = browser::text_of(&b, "outcome").await.unwrap();
    assert!(outcome.contains("到 1 个站点"), "{outcome}");
    let pull = sync::pull_content(&kiosk, &store, &[TrustedKey::demo()])
        .await
        .unwrap();
    assert_eq!(pull.version.as_deref(), Some("county-2026.12.3"));
    let pull = sync::pull_content(&other, &other_store, &[TrustedKey::demo()])
        .await
        .unwrap();
    assert_eq!(
        pull.version.as_deref(),
        Some("county-2026.12.2"),
        "the other station keeps its version"
    );
    assert_eq!(
        other_store
            .content_package(PackageSlot::Current)
            .unwrap()
            .unwrap()
            .version,
        "county-2026.12.2"
    );
    let versions = browser::text_of(&b, "versions").await.unwrap();
    assert!(versions.contains("110101001001"), "{versions}");
    b.close().await.unwrap();
}

/// One heartbeat of a kiosk at `station`, drained to the platform (which
/// learns the kiosk's station from it).
async fn heartbeat_from(config: &bianmin_config::Config, store: &Store, station: &str) {
    store
        .enqueue_heartbeat(bianmin_store::NewHeartbeat {
            status: "ok".into(),
            devices: Default::default(),
            version: "0.9.1".into(),
            uptime_secs: 60,
            station_code: Some(station.into()),
            audit: None,
        })
        .unwrap();
    let (engine, mut rx) = sync::spawn_without_heartbeats(config, store.clone()).unwrap();
    wait_drained(&mut rx, Duration::from_secs(30)).await;
    engine.shutdown().await;
}
