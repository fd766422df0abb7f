//! Audit log: one JSON line per admin action, secrets never written, bounded
//! by rotation.

use bianmin_admin::audit_log::{is_secret_key, REDACTED};
use bianmin_admin::{AuditEntry, AuditLog};
use std::time::{Duration, UNIX_EPOCH};

#[test]
fn entries_are_json_lines_with_who_when_what() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path());
    let at = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    log.append(&AuditEntry::action(at, "technician-pin", "enter"))
        .unwrap();
    log.append(&AuditEntry::change(
        at,
        "technician-pin",
        "devices.printer.port",
        Some("\"/dev/bianmin-printer\""),
        Some("\"/dev/ttyUSB1\""),
    ))
    .unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(v["at"], "2026-09-21T14:13:20Z");
    assert_eq!(v["actor"], "technician-pin");
    assert_eq!(v["action"], "config-change");
    assert_eq!(v["key"], "devices.printer.port");
    assert_eq!(v["new"], "\"/dev/ttyUSB1\"");
    assert_eq!(log.read_current().unwrap().len(), 2);
}

#[test]
fn secret_values_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path());
    let at = UNIX_EPOCH;
    for key in ["platform.secret", "admin.pin", "store.key_file_password"] {
        assert!(is_secret_key(key), "{key}");
        log.append(&AuditEntry::change(
            at,
            "t",
            key,
            Some("old-s3cret"),
            Some("new-s3cret"),
        ))
        .unwrap();
    }
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains(REDACTED));
    assert!(!is_secret_key("devices.printer.port"));
    assert!(!is_secret_key("station.name"));
}

#[test]
fn a_torn_last_line_spoils_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path());
    log.append(&AuditEntry::action(UNIX_EPOCH, "t", "enter"))
        .unwrap();
    let mut bytes = std::fs::read(log.path()).unwrap();
    bytes.extend_from_slice(b"{\"at\":\"2026-");
    std::fs::write(log.path(), bytes).unwrap();
    assert_eq!(log.read_current().unwrap().len(), 1);
}

#[test]
fn size_is_bounded_by_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::with_limits(path.clone(), 2_000, 2);
    for i in 0..500 {
        log.append(&AuditEntry::action(
            UNIX_EPOCH,
            "t",
            &format!("test-print {i}"),
        ))
        .unwrap();
    }
    let files = log.files();
    assert_eq!(files.len(), 3, "current + 2 rotated: {files:?}");
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert!(total <= 3 * 2_000, "{total}");
    assert!(!dir.path().join("audit.jsonl.3").exists());
    // The newest entry is in the current file.
    let last = log.read_current().unwrap().pop().unwrap();
    assert_eq!(last.action, "test-print 499");
}
