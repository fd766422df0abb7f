//! Fleet operations over a real PostgreSQL with the kiosk's real store and
//! sync engine: heartbeats become each kiosk's live state; paper out, a
//! stale queue and a refused content package open alerts that close by
//! themselves; a kiosk gone quiet opens "offline"; every opening and
//! closing reaches the county's webhook exactly once although two
//! instances of the service run the watch; a webhook that fails is retried.
//! In Chromium: a technician creates a station (a bad code refused), sees
//! the kiosk online with its printer out of paper and the open alert, sees
//! it close, and changes a rule and the webhook.

use bianmin_platform_server::ServerOptions;
use bianmin_platform_service::browser::{self, click_and_wait, Driver};
use bianmin_platform_service::{cluster, seed_demo_staff, DEMO_STAFF};
use bianmin_store::{NewHeartbeat, Store};
use bianmin_sync as sync;
use bianmin_testkit::*;
use fantoccini::Locator;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A county's webhook on loopback: records every POST; answers 500 while
/// `failing` is set.
#[derive(Clone, Default)]
struct Webhook {
    heard: Arc<Mutex<Vec<Value>>>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Webhook {
    async fn start(&self) -> String {
        let this = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let this = this.clone();
                async move {
                    if this.failing.load(std::sync::atomic::Ordering::SeqCst) {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    this.heard.lock().unwrap().push(v);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    /// (event, rule) pairs heard so far.
    fn events(&self) -> Vec<(String, String)> {
        self.heard
            .lock()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["event"].as_str().unwrap_or("").to_string(),
                    v["rule"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn db(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// A kiosk: its store, and the sync engine draining it to the platform.
struct Kiosk {
    store: Store,
    engine: Option<sync::SyncHandle>,
    dir: tempfile::TempDir,
}

impl Kiosk {
    fn start(url: &str) -> Kiosk {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&config(dir.path(), url)).unwrap();
        let mut kiosk = Kiosk {
            store,
            engine: None,
            dir,
        };
        kiosk.resume(url);
        kiosk
    }

    /// (Re)start the sync engine towards `url`; heartbeats are the test's
    /// own, as the kiosk's operations monitor sends them.
    fn resume(&mut self, url: &str) {
        let config = config(self.dir.path(), url);
        let (engine, _rx) = sync::spawn_without_heartbeats(&config, self.store.clone()).unwrap();
        self.engine = Some(engine);
    }

    /// Queue a heartbeat with the printer in `printer`'s state and wait
    /// until the platform has it.
    async fn beat(&self, printer: &str, uptime_secs: u64) {
        let devices: BTreeMap<String, String> = [
            ("printer".to_string(), printer.to_string()),
            ("id_card".to_string(), "ok".to_string()),
        ]
        .into();
        self.send(NewHeartbeat {
            status: if printer == "ok" { "ok" } else { "degraded" }.into(),
            devices,
            version: "0.9.1".into(),
            uptime_secs,
            station_code: Some("110101001001".into()),
            audit: None,
        })
        .await;
    }

    /// Queue `heartbeat` and wait until the platform has it.
    async fn send(&self, heartbeat: NewHeartbeat) {
        self.store.enqueue_heartbeat(heartbeat).unwrap();
        let store = self.store.clone();
        wait_for(
            "the heartbeat to drain",
            Duration::from_secs(20),
            async || store.stats().unwrap().pending == 0,
        )
        .await;
    }

    async fn stop(&mut self) {
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_open_and_close_by_themselves_and_reach_the_webhook_once_from_two_instances() {
    let conninfo = cluster::shared().fresh_database().await.unwrap();
    let one = postgres_service_on(&conninfo, ServerOptions::default()).await;
    let two = postgres_service_on(&conninfo, ServerOptions::default()).await;
    let hook = Webhook::default();
    let url = hook.start().await;
    let sql = db(&conninfo).await;
    sql.execute(
        "INSERT INTO fleet_settings (key, value) VALUES ('webhook_url', $1)",
        &[&url],
    )
    .await
    .unwrap();
    // Seconds instead of 15 minutes, so the test sees "offline".
    sql.execute(
        "UPDATE alert_rules SET threshold = 2 WHERE rule = 'offline'",
        &[],
    )
    .await
    .unwrap();
    ignore_this_machines_disk(&one.backend).await;

    let mut kiosk = Kiosk::start(one.handle.base_url());
    kiosk.beat("paper_out", 100).await;
    let row = sql
        .query_one(
            "SELECT station_code, devices->>'printer', total_disk_bytes IS NOT NULL, version
             FROM kiosks",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("110101001001")
    );
    assert_eq!(row.get::<_, String>(1), "paper_out");
    assert!(
        row.get::<_, bool>(2),
        "the disk's size came with the heartbeat"
    );
    assert_eq!(row.get::<_, String>(3), "0.9.1");
    let open = || async {
        sql.query(
            "SELECT rule FROM alerts WHERE closed_at IS NULL ORDER BY rule",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
    };
    assert_eq!(open().await, ["paper_out"]);

    // Paper back: the alert closes; the kiosk restarted meanwhile (uptime
    // went backwards), which is counted.
    kiosk.beat("ok", 5).await;
    assert!(open().await.is_empty());
    let restarts: i64 = sql
        .query_one("SELECT count(*) FROM kiosk_restarts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(restarts, 1);

    // Quiet for longer than the rule: offline opens (by either instance's
    // watch, once); a heartbeat closes it.
    kiosk.stop().await;
    wait_for("offline alert", Duration::from_secs(15), async || {
        open().await == ["offline"]
    })
    .await;
    // Back, through the other instance.
    kiosk.resume(two.handle.base_url());
    kiosk.beat("ok", 10).await;
    assert!(open().await.is_empty(), "{:?}", open().await);

    let expected = [
        ("opened", "paper_out"),
        ("closed", "paper_out"),
        ("opened", "offline"),
        ("closed", "offline"),
    ]
    .map(|(e, r)| (e.to_string(), r.to_string()));
    wait_for("webhook deliveries", Duration::from_secs(15), async || {
        hook.events().len() >= expected.len()
    })
    .await;
    // Both instances' watches ran all along: no event twice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hook.events(), expected);
    let first = hook.heard.lock().unwrap()[0].clone();
    assert_eq!(first["rule_title"], "打印纸用完");
    assert!(first["terminal_id"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(first["opened_at"].as_str().is_some());

    // The webhook fails: the event waits, is retried, and arrives once.
    hook.failing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    kiosk.beat("paper_near_end", 20).await;
    wait_for(
        "a failed delivery noted",
        Duration::from_secs(10),
        async || {
            sql.query_one(
                "SELECT count(*) FROM alert_events WHERE delivered_at IS NULL AND attempts > 0",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
                == 1
        },
    )
    .await;
    hook.failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // Retries back off from 10 s; make it due now instead of waiting.
    sql.execute("UPDATE alert_events SET next_try_at = 0", &[])
        .await
        .unwrap();
    wait_for(
        "the retried delivery",
        Duration::from_secs(10),
        async || hook.events().len() == expected.len() + 1,
    )
    .await;
    assert_eq!(
        hook.events().last().unwrap(),
        &("opened".to_string(), "paper_near_end".to_string())
    );
    kiosk.stop().await;
}

fn password_of(username: &str) -> &'static str {
    DEMO_STAFF.iter().find(|s| s.0 == username).unwrap().3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_creates_a_station_and_watches_a_kiosk_run_out_of_paper_in_chromium() {
    let svc = postgres_service(ServerOptions::default()).await;
    seed_demo_staff(&svc.backend).await.unwrap();
    ignore_this_machines_disk(&svc.backend).await;
    let origin = format!("http://{}", svc.handle.addr());
    let mut kiosk = Kiosk::start(svc.handle.base_url());

    let driver = Driver::start().unwrap();
    let b = driver.browser().await.unwrap();
    browser::sign_in(&b, &origin, "technician", password_of("technician"))
        .await
        .unwrap();
    assert_eq!(
        browser::text_of(&b, "no-kiosks").await.unwrap(),
        "还没有终端发来心跳。终端注册并联网后会出现在这里。"
    );

    // A station: an 11-digit code is refused with its reason, then made.
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
    fill("name", "城关镇便民服务站").await;
    fill("code", "11010100100").await;
    fill("hours", "08:30-17:30").await;
    // The browser's own pattern check would stop an 11-digit code before
    // the server sees it; the server's check is what is tested here.
    b.execute(
        "document.getElementById('code').removeAttribute('pattern')",
        vec![],
    )
    .await
    .unwrap();
    click_and_wait(&b, Locator::Id("create-station"))
        .await
        .unwrap();
    assert_eq!(
        browser::text_of(&b, "message").await.unwrap(),
        "区划代码应为 12 位数字。"
    );
    fill("name", "城关镇便民服务站").await;
    fill("code", "110101001001").await;
    fill("address", "城关镇人民路1号").await;
    click_and_wait(&b, Locator::Id("create-station"))
        .await
        .unwrap();
    assert_eq!(
        browser::text_of(&b, "message").await.unwrap(),
        "已新建站点：城关镇便民服务站（110101001001）"
    );

    // The kiosk's printer runs out of paper: online, 缺纸, an open alert.
    kiosk.beat("paper_out", 100).await;
    b.goto(&format!("{origin}/console/fleet")).await.unwrap();
    let summary = browser::text_of(&b, "fleet-summary").await.unwrap();
    assert!(
        summary.starts_with("共 1 台，在线 1 台，离线 0 台，有告警 1 台。"),
        "{summary}"
    );
    let kiosks = browser::text_of(&b, "kiosks").await.unwrap();
    for shown in [
        "城关镇便民服务站",
        "在线",
        "打印机：缺纸",
        "打印纸用完",
        "程序 0.9.1",
    ] {
        assert!(kiosks.contains(shown), "{shown} in {kiosks}");
    }
    click_and_wait(&b, Locator::Id("filter-offline"))
        .await
        .unwrap();
    let offline = browser::text_of(&b, "kiosks").await.unwrap();
    assert!(
        !offline.contains("城关镇"),
        "no kiosk is offline: {offline}"
    );
    click_and_wait(&b, Locator::LinkText("告警")).await.unwrap();
    let open = browser::text_of(&b, "open-alerts").await.unwrap();
    assert!(open.contains("打印机缺纸，请更换纸卷"), "{open}");

    // Paper back: the alert moves to 已解除.
    kiosk.beat("ok", 200).await;
    b.refresh().await.unwrap();
    assert_eq!(
        browser::text_of(&b, "no-open-alerts").await.unwrap(),
        "没有未解除的告警。"
    );
    let closed = browser::text_of(&b, "closed-alerts").await.unwrap();
    assert!(closed.contains("打印纸用完"), "{closed}");

    // Rules: a threshold out of range is refused; a plain-HTTP webhook to
    // another machine too; then a good change is saved and audited.
    fill("threshold_offline", "5").await;
    click_and_wait(&b, Locator::Id("save-rules")).await.unwrap();
    assert_eq!(
        browser::text_of(&b, "message").await.unwrap(),
        "离线的阈值应为 60 到 604800 之间的整数。"
    );
    fill("threshold_offline", "1800").await;
    fill("webhook", "http://ops.example.gov.cn/hook").await;
    click_and_wait(&b, Locator::Id("save-rules")).await.unwrap();
    assert!(browser::text_of(&b, "message")
        .await
        .unwrap()
        .starts_with("告警推送地址必须是 https://"));
    fill("threshold_offline", "1800").await;
    fill("webhook", "https://ops.example.gov.cn/hook").await;
    click_and_wait(&b, Locator::Id("save-rules")).await.unwrap();
    assert_eq!(
        browser::text_of(&b, "message").await.unwrap(),
        "已保存 2 项改动。"
    );
    let client = svc.backend.pool().get().await.unwrap();
    let threshold: i64 = client
        .query_one(
            "SELECT threshold FROM alert_rules WHERE rule = 'offline'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(threshold, 1800);
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM console_audit WHERE actor = 'technician'
             AND action IN ('station_created', 'alert_rules')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2);
    kiosk.stop().await;
    b.close().await.unwrap();
}

/// The test kiosk's heartbeats carry the free disk of the machine the tests
/// run on (the store measures it): the low-disk rule is switched off so a
/// full build machine does not open an alert these tests do not expect.
async fn ignore_this_machines_disk(backend: &bianmin_platform_service::PgBackend) {
    backend
        .pool()
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE alert_rules SET enabled = false WHERE rule = 'disk_low'",
            &[],
        )
        .await
        .unwrap();
}

/// A kiosk's real admin audit log in `dir`: `actions` at minutes past 08:00
/// on 2026-12-05, chained as the admin worker writes them.
fn write_audit(dir: &std::path::Path, actions: &[(u64, &str)]) {
    use bianmin_admin::audit_log::{AuditEntry, AuditLog};
    let log = AuditLog::open(dir);
    for (minute, action) in actions {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_764_921_600 + minute * 60);
        log.append(&AuditEntry::action(at, "technician-pin", action))
            .unwrap();
    }
}

/// One heartbeat carrying the audit log's head and last lines, drained.
async fn beat_with_audit(kiosk: &Kiosk, uptime_secs: u64) {
    let report = bianmin_admin::audit_log::AuditLog::open(kiosk.dir.path())
        .verify()
        .unwrap();
    kiosk
        .send(NewHeartbeat {
            status: "ok".into(),
            devices: BTreeMap::new(),
            version: "0.9.1".into(),
            uptime_secs,
            station_code: Some("110101001001".into()),
            audit: Some(bianmin_store::AuditHead {
                head: report.head.clone().unwrap(),
                length: report.lines as u64,
                intact: report.is_intact(),
                recent: report.recent.clone(),
            }),
        })
        .await;
}

/// The admin audit log travels with heartbeats: lines that go on from what
/// the platform saw are fine; the log rewritten on the kiosk (the old
/// session replaced and chained again by hand, so the kiosk's own check
/// passes) opens "audit_rewritten", which stays open until a technician
/// closes it in Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_audit_log_opens_an_alert_a_technician_closes_after_looking() {
    let svc = postgres_service(ServerOptions::default()).await;
    seed_demo_staff(&svc.backend).await.unwrap();
    ignore_this_machines_disk(&svc.backend).await;
    let origin = format!("http://{}", svc.handle.addr());
    let kiosk = Kiosk::start(svc.handle.base_url());
    let open_rules = || async {
        let client = svc.backend.pool().get().await.unwrap();
        client
            .query(
                "SELECT rule FROM alerts WHERE closed_at IS NULL ORDER BY rule",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    };

    write_audit(
        kiosk.dir.path(),
        &[(0, "enter"), (1, "config-change"), (2, "leave")],
    );
    beat_with_audit(&kiosk, 100).await;
    write_audit(kiosk.dir.path(), &[(60, "enter"), (61, "leave")]);
    beat_with_audit(&kiosk, 160).await;
    assert!(open_rules().await.is_empty(), "{:?}", open_rules().await);

    // Someone with the SD card replaces the log: the first session's change
    // is gone, the chain made again (the kiosk's own check passes).
    std::fs::remove_file(kiosk.dir.path().join("audit.jsonl")).unwrap();
    write_audit(
        kiosk.dir.path(),
        &[
            (0, "enter"),
            (2, "leave"),
            (60, "enter"),
            (61, "leave"),
            (62, "enter"),
        ],
    );
    beat_with_audit(&kiosk, 220).await;
    assert_eq!(open_rules().await, ["audit_rewritten"]);
    // Later heartbeats, now going on from the new head, do not close it.
    write_audit(kiosk.dir.path(), &[(63, "leave")]);
    beat_with_audit(&kiosk, 280).await;
    assert_eq!(open_rules().await, ["audit_rewritten"]);

    let driver = Driver::start().unwrap();
    let b = driver.browser().await.unwrap();
    browser::sign_in(&b, &origin, "technician", password_of("technician"))
        .await
        .unwrap();
    b.goto(&format!("{origin}/console/alerts")).await.unwrap();
    let alerts = browser::text_of(&b, "open-alerts").await.unwrap();
    assert!(alerts.contains("已不在终端的日志里"), "{alerts}");
    click_and_wait(&b, Locator::Css("#open-alerts button"))
        .await
        .unwrap();
    assert!(open_rules().await.is_empty());
    assert!(b.find(Locator::Id("no-open-alerts")).await.is_ok());
    b.close().await.unwrap();
}
