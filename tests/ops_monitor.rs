//! The operations monitor end to end: a disk that fills up is reported (the
//! journal, `systemctl status` through a real notify socket, the heartbeat
//! in the outbox) and so is its recovery; heartbeats carry device health
//! including paper near-end; a live change of the heartbeat interval.
//!
//! One test function sets NOTIFY_SOCKET for the whole process; the pure
//! heartbeat test does not touch the environment.

use bianmin_drivers::manager::{DeviceStatus, DevicesStatus};
use bianmin_drivers::printer::PrinterState;
use bianmin_ops::monitor::{build_heartbeat, device_health};
use bianmin_ops::{DiskLevel, DiskSpace, DiskThresholds, OpsMonitor, OpsSnapshot, OpsSources};
use bianmin_store::Store;
use bianmin_testkit::notify_messages;
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const MIB: u64 = 1024 * 1024;

fn wire(store: &Store, key: &str) -> serde_json::Value {
    let bytes = store.record_json(key).unwrap().expect("record body");
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_full_disk_is_reported_until_it_recovers_and_heartbeats_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_nonblocking(true).unwrap();
    std::env::set_var("NOTIFY_SOCKET", &sock_path);

    let data = dir.path().join("data");
    let store = Store::open_at(&data, "T0001").unwrap();
    let free = Arc::new(AtomicU64::new(8 * 1024 * MIB));
    let (_devices_tx, devices_rx) = tokio::sync::watch::channel(DevicesStatus {
        id_card: DeviceStatus::Ok,
        printer: DeviceStatus::Ok,
        scanner: DeviceStatus::Absent {
            detail: "/dev/bianmin-scanner: no such file".into(),
        },
        gpio: DeviceStatus::Disabled,
    });
    let mut sources = OpsSources::new(data.clone(), "T0001", "110101001001");
    sources.store = Some(store.clone());
    sources.devices = Some(devices_rx);
    let probe_free = free.clone();
    sources.disk_probe = Arc::new(move |_| {
        Ok(DiskSpace {
            total_bytes: 32 * 1024 * MIB,
            free_bytes: probe_free.load(Ordering::SeqCst),
        })
    });
    let monitor = OpsMonitor::new(sources);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Healthy disk: nothing to report.
    rt.block_on(monitor.refresh());
    let snap = monitor.snapshot();
    assert_eq!(snap.disk_level, Some(DiskLevel::Ok));
    assert_eq!(snap.disk_warning, None);
    assert!(notify_messages(&sock).is_empty());
    let key = monitor.heartbeat_now().expect("heartbeat queued");
    assert_eq!(store.stats().unwrap().pending_heartbeats, 1);
    let hb = wire(&store, &key);
    assert_eq!(hb["devices"]["disk"], "ok");
    assert_eq!(hb["devices"]["scanner"], "absent");
    assert_eq!(hb["status"], "degraded", "the scanner is missing");

    // The disk fills: reported once per change of level, in words.
    free.store(100 * MIB, Ordering::SeqCst);
    rt.block_on(monitor.refresh());
    let snap = monitor.snapshot();
    assert_eq!(snap.disk_level, Some(DiskLevel::Critical));
    assert!(snap
        .disk_warning
        .as_ref()
        .unwrap()
        .zh()
        .starts_with("存储空间即将用尽"));
    let sent = notify_messages(&sock);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].starts_with("STATUS=存储空间即将用尽：仅剩 100 MB"),
        "{sent:?}"
    );
    rt.block_on(monitor.refresh());
    assert!(
        notify_messages(&sock).is_empty(),
        "not repeated while unchanged"
    );
    let key = monitor.heartbeat_now().unwrap();
    assert_eq!(wire(&store, &key)["devices"]["disk"], "critical");
    let hb = monitor.heartbeat(SystemTime::now());
    assert!(hb.warnings.contains(&"disk_critical".to_string()));

    // Space is freed: the recovery is reported too, and the heartbeat clears.
    free.store(4 * 1024 * MIB, Ordering::SeqCst);
    rt.block_on(monitor.refresh());
    assert_eq!(monitor.snapshot().disk_level, Some(DiskLevel::Ok));
    assert_eq!(notify_messages(&sock), ["STATUS=运行中\n"]);
    let key = monitor.heartbeat_now().unwrap();
    assert_eq!(wire(&store, &key)["devices"]["disk"], "ok");
    assert_eq!(monitor.snapshot().last_heartbeat.unwrap().0, key);

    // A disk that cannot be measured is shown as unknown, not as fine.
    let mut sources = OpsSources::new(data.clone(), "T0001", "110101001001");
    sources.disk_probe = Arc::new(|_| Err(std::io::Error::other("statvfs failed")));
    let blind = OpsMonitor::new(sources);
    rt.block_on(blind.refresh());
    assert_eq!(blind.snapshot().disk, None);
    assert!(blind.heartbeat_now().is_none(), "no store, nothing queued");

    // The interval is applied live.
    monitor.set_heartbeat_interval(60);
    assert_eq!(monitor.heartbeat_interval(), Duration::from_secs(60));
    std::env::remove_var("NOTIFY_SOCKET");
}

#[test]
fn heartbeat_reports_paper_near_end_queue_age_and_sync() {
    let devices = DevicesStatus {
        id_card: DeviceStatus::Ok,
        printer: DeviceStatus::Degraded {
            reason: bianmin_core::words::Words::fixed("打印纸快用完了", "Paper is running out"),
            detail: "paper near end".into(),
        },
        scanner: DeviceStatus::Ok,
        gpio: DeviceStatus::Disabled,
    };
    let health = device_health(&devices, Some(PrinterState::PaperNearEnd));
    let printer = health.iter().find(|h| h.device == "printer").unwrap();
    assert_eq!(
        printer.state,
        bianmin_ops::DeviceState::Ok,
        "near-end still prints"
    );
    assert_eq!(printer.paper, Some(bianmin_ops::PaperState::NearEnd));

    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let snap = OpsSnapshot {
        devices: Some(devices),
        printer: Some(PrinterState::PaperNearEnd),
        queue: Some(bianmin_store::QueueStats {
            pending: 3,
            pending_applications: 2,
            pending_heartbeats: 1,
            oldest_pending_ms: Some(1_800_000_000_000 - 7_200_000),
            ..Default::default()
        }),
        disk: Some(DiskSpace {
            total_bytes: 32 * 1024 * MIB,
            free_bytes: 900 * MIB,
        }),
        uptime: Duration::from_secs(3600),
        catalogue_version: Some("2026.11.1".into()),
        ..Default::default()
    };
    let hb = build_heartbeat(
        &snap,
        "T0001",
        "110101001001",
        now,
        &DiskThresholds::default(),
    );
    assert_eq!(hb.queue_depth, 3);
    assert_eq!(hb.oldest_pending_secs, Some(7200));
    assert_eq!(hb.catalogue_version.as_deref(), Some("2026.11.1"));
    assert_eq!(hb.warnings, ["disk_low", "paper_near_end"]);
    let outbox = hb.to_outbox();
    assert_eq!(outbox.devices["printer"], "paper_near_end");
    assert_eq!(outbox.devices["disk"], "low");
    assert_eq!(outbox.status, "degraded");
    // Figures only: no field could hold a resident's data.
    let json = hb.to_json();
    assert!(
        !json.contains("name") && !json.contains("id_number"),
        "{json}"
    );
}

/// The kiosk's services start the sync engine without its own heartbeats:
/// only the operations monitor sends them, so none goes out at boot before
/// the monitor is up (the engine's housekeeping has run once by Online).
#[test]
fn the_kiosk_sync_engine_leaves_heartbeats_to_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = bianmin_config::Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    let services = bianmin::services::start(&mut config, true);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut online = false;
    while !online {
        assert!(std::time::Instant::now() < deadline, "never online");
        online = services.inbox.drain().iter().any(|e| {
            matches!(
                e,
                bianmin_ui::events::UiEvent::Link {
                    link: bianmin_sync::Link::Online,
                    ..
                }
            )
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let store = services.store.clone().expect("store open");
    let queue = store.stats().unwrap();
    assert_eq!((queue.pending_heartbeats, queue.acked), (0, 0), "{queue:?}");
    let platform = services.platform.as_ref().expect("embedded platform");
    assert_eq!(platform.stats().heartbeats, 0);
}
