//! The outbox under bad conditions: personal data at rest, a full disk, a
//! corrupted database file.

use bianmin_store::{NewEvaluation, Store, StoreError, DB_FILE};
use bianmin_testkit::*;
use std::path::Path;

fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_personal_data_in_database_or_wal_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    for i in 0..20 {
        store.enqueue_application(app(i)).unwrap();
    }
    store
        .enqueue_evaluation(NewEvaluation {
            receipt_no: None,
            service_code: "DEMO-SB-001".into(),
            level: 2,
            comment: "窗口电话13912345678没人接".into(),
        })
        .unwrap();
    let files = all_bytes(dir.path());
    assert!(
        files.iter().any(|(n, _)| n.ends_with("-wal")),
        "WAL is live while scanning"
    );
    assert!(!dir.path().join("outbox.key").exists(), "no local key");
    for (name, bytes) in &files {
        for secret in [
            ID_NUMBER.as_bytes(),
            "测试居民".as_bytes(),
            b"13912345678",
            "演示路88号".as_bytes(),
            b"\"i\":1",
        ] {
            assert!(
                !contains(bytes, secret),
                "{name} holds {:?}",
                String::from_utf8_lossy(secret)
            );
        }
    }
    // The receipt number, service and time stay readable for the technician.
    let db = std::fs::read(dir.path().join(DB_FILE)).unwrap();
    let wal = std::fs::read(dir.path().join(format!("{DB_FILE}-wal"))).unwrap();
    assert!(contains(&db, b"DEMO-SB-001") || contains(&wal, b"DEMO-SB-001"));
    // The kiosk's own copy keeps the ID number sealed; the platform's
    // (here the published demo) private key opens it.
    let first = store.list(None, 100).unwrap().pop().unwrap();
    let json = store.record_json(&first.key).unwrap().unwrap();
    assert!(!contains(&json, ID_NUMBER.as_bytes()));
    let mut value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    bianmin_platform::api::open_record(
        bianmin_platform::api::RecordKind::Application,
        &mut value,
        "T0001",
        &bianmin_platform::seal::OpeningKeys::demo(),
    )
    .unwrap();
    assert_eq!(value["applicant"]["id_number"], ID_NUMBER);
}

#[test]
fn no_key_file_is_created_and_the_data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(&dir.path().join("data"), "T0001").unwrap();
    store.enqueue_application(app(1)).unwrap();
    assert!(!dir.path().join("data/outbox.key").exists());
    let dmeta = std::fs::metadata(dir.path().join("data")).unwrap();
    assert_eq!(dmeta.permissions().mode() & 0o077, 0, "data dir is private");
}

#[test]
fn full_disk_is_a_clear_error_and_nothing_is_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    for i in 0..3 {
        store.enqueue_application(app(i)).unwrap();
    }
    let before = store.stats().unwrap();
    let pages: i64 = {
        let c = rusqlite_page_count(dir.path());
        c.max(1)
    };
    store.debug_set_max_page_count(pages as u64).unwrap();
    let mut big = app(9);
    big.form = serde_json::json!({"essay": "很长的说明".repeat(4000)});
    let err = store.enqueue_application(big).unwrap_err();
    assert!(matches!(err, StoreError::Full), "{err:?}");
    assert!(err.to_string().starts_with("申请未能保存"), "{err}");
    assert!(err.resident_message().zh().contains("申请未能保存"));
    assert_eq!(store.stats().unwrap(), before, "nothing half-written");
    // Space comes back: the next application is taken and numbered next.
    store.debug_set_max_page_count(1_000_000).unwrap();
    let r = store.enqueue_application(app(10)).unwrap();
    assert!(r.receipt_no.contains("-000004-"), "{}", r.receipt_no);
    store.integrity_check().unwrap();
}

fn rusqlite_page_count(dir: &Path) -> i64 {
    // A second connection sees the committed page count.
    let c = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap()
}

#[test]
fn corrupted_header_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_at(dir.path(), "T0001").unwrap();
        store.enqueue_application(app(1)).unwrap();
    }
    let path = dir.path().join(DB_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..16].copy_from_slice(b"NOT A DATABASE!!");
    std::fs::write(&path, bytes).unwrap();
    let _ = std::fs::remove_file(dir.path().join(format!("{DB_FILE}-wal")));
    let err = Store::open_at(dir.path(), "T0001").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.is_fatal());
    assert!(err.to_string().contains("数据库已损坏"), "{err}");
}

#[test]
fn corrupted_pages_refuse_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_at(dir.path(), "T0001").unwrap();
        for i in 0..300 {
            store.enqueue_application(app(i)).unwrap();
        }
    }
    let path = dir.path().join(DB_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8 * 4096, "database has pages to break");
    for b in &mut bytes[2 * 4096..6 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    let err = Store::open_at(dir.path(), "T0001").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn reopen_keeps_records_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let a = {
        let store = Store::open_at(dir.path(), "T0001").unwrap();
        store.enqueue_application(app(1)).unwrap().receipt_no
    };
    let store = Store::open_at(dir.path(), "T0001").unwrap();
    let b = store.enqueue_application(app(2)).unwrap().receipt_no;
    assert!(a < b);
    assert_eq!(store.stats().unwrap().pending_applications, 2);
    let c = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 6);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_bad_or_mismatched_platform_key_is_a_fatal_key_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), "http://127.0.0.1:9/api/v1");
    c.platform.seal_public_key = "x25519:not-a-key".into();
    c.platform.seal_key_id = "k1".into();
    let err = Store::open(&c).unwrap_err();
    assert!(
        matches!(err, StoreError::Key(_)) && err.is_fatal(),
        "{err:?}"
    );
    // An SM2 key under the international suite.
    c.platform.seal_public_key = bianmin_config::DEMO_SEAL_GM.into();
    let err = Store::open(&c).unwrap_err().to_string();
    assert!(err.contains("suite"), "{err}");
    c.crypto.suite = bianmin_config::CryptoSuite::Gm;
    Store::open(&c).unwrap();
}
