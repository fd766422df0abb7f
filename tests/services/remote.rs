//! A technician's commands from the county console reach a kiosk: the demo
//! services (simulated devices on ptys, the platform service on a throwaway
//! PostgreSQL) with the kiosk polling every second. In Chromium the
//! technician sends "打印测试页" and the test page comes out of the virtual
//! printer; "设备自检" comes back with the devices' states; a configuration
//! out of range is refused at the console, a good one is fetched, verified
//! and kept by the kiosk (its idle time-out after the restart); "重新启动"
//! reaches the UI as a request (carried out between residents).

use bianmin::services;
use bianmin_config::{Config, Ranged};
use bianmin_platform_service::browser::{self, click_and_wait, Driver};
use bianmin_platform_service::DEMO_STAFF;
use bianmin_store::NewHeartbeat;
use bianmin_ui::events::UiEvent;
use fantoccini::Locator;
use std::time::{Duration, Instant};

fn receipts(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_test_page_sent_from_the_console_comes_out_of_the_kiosks_printer() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    config.platform.command_poll_secs = Ranged(1);
    let services = services::start(&mut config, true);
    assert!(
        services.demo_cluster.is_some(),
        "the demo platform runs on PostgreSQL here"
    );
    let platform = services.platform.as_ref().expect("the demo platform");
    let origin = format!("http://{}", platform.addr());
    let devices = services.demo_devices.clone().expect("demo devices");
    let store = services.store.clone().expect("store");
    // The kiosk is known to the fleet by its heartbeat.
    store
        .enqueue_heartbeat(NewHeartbeat {
            status: "ok".into(),
            version: "0.1.0".into(),
            station_code: Some("110101001001".into()),
            ..NewHeartbeat::default()
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.stats().unwrap().pending > 0 {
        assert!(Instant::now() < deadline, "heartbeat not sent");
        std::thread::sleep(Duration::from_millis(50));
    }

    let password = DEMO_STAFF.iter().find(|s| s.0 == "technician").unwrap().3;
    let printed_before = receipts(&devices.receipts_dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let driver = Driver::start().unwrap();
        let b = driver.browser().await.unwrap();
        browser::sign_in(&b, &origin, "technician", password)
            .await
            .unwrap();
        b.goto(&format!("{origin}/console/fleet/kiosks/T0001"))
            .await
            .unwrap();
        let send = |kind: &'static str| {
            let b = b.clone();
            async move {
                b.find(Locator::Id(&format!("kind-{kind}")))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                click_and_wait(&b, Locator::Id("send-command"))
                    .await
                    .unwrap();
            }
        };
        send("print_test_page").await;
        assert!(browser::text_of(&b, "message")
            .await
            .unwrap()
            .starts_with("已发出指令：打印测试页"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            b.refresh().await.unwrap();
            let commands = browser::text_of(&b, "commands").await.unwrap();
            if commands.contains("完成：测试页已打印") {
                break;
            }
            assert!(Instant::now() < deadline, "no result: {commands}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert!(
            receipts(&devices.receipts_dir) > printed_before,
            "the test page came out of the virtual printer"
        );

        send("self_test").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            b.refresh().await.unwrap();
            let commands = browser::text_of(&b, "commands").await.unwrap();
            if commands.contains("打印机：正常") {
                assert!(commands.contains("待上报队列：完好"), "{commands}");
                break;
            }
            assert!(Instant::now() < deadline, "no self-test: {commands}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        // Remote configuration: a value out of range is refused with its
        // line, the text kept; a good one is fetched, verified and kept by
        // the kiosk, which says so and restarts between residents.
        let write = |text: &'static str| {
            let b = b.clone();
            async move {
                let field = b.find(Locator::Id("config-text")).await.unwrap();
                field.clear().await.unwrap();
                field.send_keys(text).await.unwrap();
                click_and_wait(&b, Locator::Id("save-config"))
                    .await
                    .unwrap();
            }
        };
        write("[session]\nidle_timeout_secs = 5\n").await;
        let refused = browser::text_of(&b, "config-error").await.unwrap();
        assert!(refused.contains("配置:2:"), "{refused}");
        write("[session]\nidle_timeout_secs = 90\n").await;
        assert!(browser::text_of(&b, "config-saved").await.is_ok());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            b.refresh().await.unwrap();
            let state = browser::text_of(&b, "config-state").await.unwrap();
            if state.starts_with("终端已采用 c1") {
                assert!(state.contains("在居民办完后重新启动生效"), "{state}");
                break;
            }
            assert!(Instant::now() < deadline, "not applied: {state}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        send("restart").await;
        b.close().await.unwrap();
    });
    // After the restart the kiosk runs with the county's value.
    let kept = config
        .overlay_file(&dir.path().join(bianmin_config::REMOTE_FILE))
        .unwrap();
    assert_eq!(kept.session.idle_timeout_secs.get(), 90);
    assert_eq!(
        bianmin_config::remote_version(dir.path()).as_deref(),
        Some("c1")
    );
    // The restart reaches the UI, which carries it out between residents.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if services
            .inbox
            .drain()
            .iter()
            .any(|e| matches!(e, UiEvent::RestartRequested))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no restart request");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The fleet's "paper out" alert from the kiosk's own devices: the demo
/// services with their printer simulator on a pty and the operations
/// monitor sending heartbeats every 10 s (the shortest allowed). The
/// simulator runs out of paper: the technician's alerts page in Chromium
/// shows the alert open; paper back: closed.
#[test]
fn the_paper_out_alert_opens_and_closes_with_the_printer_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    config.platform.heartbeat_secs = Ranged(10);
    let services = services::start(&mut config, true);
    let platform = services.platform.as_ref().expect("the demo platform");
    let origin = format!("http://{}", platform.addr());
    let devices = services.demo_devices.clone().expect("demo devices");
    let _monitor = bianmin::app::start_monitor(&services, &config);

    let password = DEMO_STAFF.iter().find(|s| s.0 == "technician").unwrap().3;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let driver = Driver::start().unwrap();
        let b = driver.browser().await.unwrap();
        browser::sign_in(&b, &origin, "technician", password)
            .await
            .unwrap();
        // Until `id` shows `text` (heartbeats come every 10 s).
        let wait_for = |id: &'static str, text: &'static str| {
            let b = b.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(45);
                loop {
                    b.refresh().await.unwrap();
                    let shown = browser::text_of(&b, id).await.unwrap_or_default();
                    if shown.contains(text) {
                        return shown;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{id} never showed {text}: {shown}"
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        b.goto(&format!("{origin}/console/fleet")).await.unwrap();
        wait_for("kiosks", "在线").await;

        devices.printer.device().faults.paper_end = true;
        click_and_wait(&b, Locator::LinkText("告警")).await.unwrap();
        wait_for("open-alerts", "打印机缺纸").await;

        devices.printer.device().faults.paper_end = false;
        wait_for("closed-alerts", "打印纸用完").await;
        // Other alerts of a kiosk just started may be open (a device still
        // starting); the paper's is not among them any more.
        let open = browser::text_of(&b, "open-alerts")
            .await
            .unwrap_or_default();
        assert!(!open.contains("打印机缺纸"), "{open}");
        b.close().await.unwrap();
    });
    drop(services);
}
