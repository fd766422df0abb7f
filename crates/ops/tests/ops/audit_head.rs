//! The admin audit log's head hash and length go out with each heartbeat
//! and are stored by the platform (the reference server, or the platform
//! service on PostgreSQL with BIANMIN_TEST_PLATFORM=postgres): a log cut or
//! rewritten on the terminal afterwards no longer matches the platform's copy.

use bianmin_admin::audit_log::{AuditEntry, AuditLog};
use bianmin_ops::{OpsMonitor, OpsSources};
use bianmin_platform::api::RecordKind;
use bianmin_store::Store;
use bianmin_testkit::*;
use std::time::SystemTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_carry_the_audit_chain_head_to_the_platform() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    let log = AuditLog::open(dir.path());
    for action in ["admin_login", "test_print", "admin_logout"] {
        log.append(&AuditEntry::action(SystemTime::now(), "admin", action))
            .unwrap();
    }
    let report = log.verify().unwrap();
    assert!(report.is_intact());
    let mut sources = OpsSources::new(dir.path().to_path_buf(), "T0001", "110101001001");
    sources.store = Some(store.clone());
    let monitor = OpsMonitor::new(sources);
    let first = tokio::task::block_in_place(|| monitor.heartbeat_now()).expect("queued");

    // A fourth line, then another heartbeat: the head moves on.
    log.append(&AuditEntry::action(
        SystemTime::now(),
        "admin",
        "admin_login",
    ))
    .unwrap();
    let second = tokio::task::block_in_place(|| monitor.heartbeat_now()).expect("queued");

    let client = bianmin_platform::client::PlatformClient::from_config(&config).unwrap();
    bianmin_sync::drain_once(&client, &store, 10, |_| {})
        .await
        .unwrap();
    let stored = |id: &str| {
        server
            .record(RecordKind::Heartbeat, id)
            .unwrap_or_else(|| panic!("the platform stored heartbeat {id}"))
    };
    let at_platform = stored(&first);
    assert_eq!(at_platform["audit"]["head"], report.head.clone().unwrap());
    assert_eq!(at_platform["audit"]["length"], 3);
    assert_eq!(at_platform["audit"]["intact"], true);
    let later = stored(&second);
    assert_eq!(later["audit"]["length"], 4);
    assert_eq!(
        later["audit"]["head"],
        log.verify().unwrap().head.unwrap(),
        "the head the terminal has now"
    );
    assert_ne!(later["audit"]["head"], at_platform["audit"]["head"]);

    // Cutting the last line on the terminal: the chain still verifies
    // locally, but its head is the one of three lines ago — the platform's
    // copy shows the cut.
    let path = log.path().to_path_buf();
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&path, format!("{}\n", kept.join("\n"))).unwrap();
    let cut = log.verify().unwrap();
    assert!(cut.is_intact());
    assert_ne!(cut.head.unwrap(), later["audit"]["head"].as_str().unwrap());

    // A rewritten line is reported as broken, in the heartbeat too.
    let tampered = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("test_print", "test_pr1nt", 1);
    std::fs::write(&path, tampered).unwrap();
    let hb = monitor.heartbeat(SystemTime::now());
    let broken = hb.audit(&log.verify().unwrap()).finish();
    assert_eq!(broken.audit.as_ref().map(|a| a.intact), Some(false));
    assert!(broken.warnings.contains(&"audit_log_broken".to_string()));
}
