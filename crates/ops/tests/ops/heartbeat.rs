//! Heartbeat payload: device health incl. paper near-end, queue, disk,
//! version, uptime; warnings derived; no personal data fields exist.

use bianmin_ops::uptime::{format_uptime, parse_proc_uptime, system_uptime, ProcessClock};
use bianmin_ops::{DeviceHealth, DeviceState, DiskSpace, DiskThresholds, Heartbeat, PaperState};
use std::time::{Duration, UNIX_EPOCH};

#[test]
fn heartbeat_carries_health_and_derives_warnings() {
    let at = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let hb = Heartbeat::new("T0001", "110101001001", at, Duration::from_secs(93_784))
        .disk(
            DiskSpace {
                total_bytes: 32 << 30,
                free_bytes: 700 << 20,
            },
            &DiskThresholds::default(),
        )
        .queue(12, Some(Duration::from_secs(3600)))
        .device(DeviceHealth::new("printer", DeviceState::Ok).with_paper(PaperState::NearEnd))
        .device(DeviceHealth::new("id_card", DeviceState::Absent).with_detail("ENOENT"))
        .device(DeviceHealth::new("scanner", DeviceState::Disabled))
        .finish();
    assert_eq!(
        hb.warnings,
        ["disk_low", "paper_near_end", "device_absent:id_card"]
    );
    let v: serde_json::Value = serde_json::from_str(&hb.to_json()).unwrap();
    assert_eq!(v["terminal_id"], "T0001");
    assert_eq!(v["at"], "2026-09-21T14:13:20Z");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["uptime_secs"], 93_784);
    assert_eq!(v["queue_depth"], 12);
    assert_eq!(v["oldest_pending_secs"], 3600);
    assert_eq!(v["disk"]["level"], "low");
    assert_eq!(v["devices"][0]["paper"], "near_end");
    assert_eq!(v["devices"][1]["state"], "absent");
    assert!(v["devices"][2].get("paper").is_none());
    // Round-trips for the platform server's tests.
    let back: Heartbeat = serde_json::from_value(v).unwrap();
    assert_eq!(back, hb);

    // Folded into the outbox record the platform receives.
    let record = hb.to_outbox();
    assert_eq!(record.status, "degraded");
    assert_eq!(record.devices["printer"], "paper_near_end");
    assert_eq!(record.devices["id_card"], "absent");
    assert_eq!(record.devices["scanner"], "disabled");
    assert_eq!(record.devices["disk"], "low");
    assert_eq!(record.uptime_secs, 93_784);
}

#[test]
fn healthy_heartbeat_has_no_warnings() {
    let hb = Heartbeat::new("T0001", "110101001001", UNIX_EPOCH, Duration::ZERO)
        .device(DeviceHealth::new("printer", DeviceState::Ok).with_paper(PaperState::Ok))
        .finish();
    assert!(hb.warnings.is_empty());
    assert_eq!(hb.to_outbox().status, "ok");
}

#[test]
fn uptime_parsing_and_wording() {
    assert_eq!(
        parse_proc_uptime("350735.47 234388.90\n"),
        Some(Duration::from_secs_f64(350735.47))
    );
    assert_eq!(parse_proc_uptime(""), None);
    assert_eq!(parse_proc_uptime("-1 0"), None);
    assert_eq!(parse_proc_uptime("abc"), None);
    assert!(system_uptime().is_some(), "Linux has /proc/uptime");
    assert!(ProcessClock::start().uptime() < Duration::from_secs(5));
    assert_eq!(
        format_uptime(Duration::from_secs(93_784)),
        "1 天 2 小时 3 分"
    );
    assert_eq!(format_uptime(Duration::from_secs(3_700)), "1 小时 1 分");
    assert_eq!(format_uptime(Duration::from_secs(59)), "0 分");
}
