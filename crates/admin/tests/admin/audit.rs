//! Audit log: one JSON line per admin action, secrets never written, bounded
//! by rotation.

use bianmin_admin::audit_log::{is_secret_key, REDACTED};
use bianmin_admin::{AuditEntry, AuditLog, ChainProblem};
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

fn chained_log(dir: &std::path::Path, n: usize) -> AuditLog {
    let log = AuditLog::open(dir);
    for i in 0..n {
        log.append(&AuditEntry::action(UNIX_EPOCH, "t", &format!("action {i}")))
            .unwrap();
    }
    log
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn each_line_carries_the_hash_of_the_line_before() {
    let dir = tempfile::tempdir().unwrap();
    let log = chained_log(dir.path(), 3);
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let prev = |l: &str| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["prev"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(prev(lines[0]), bianmin_admin::audit_log::GENESIS);
    assert_eq!(prev(lines[1]), sha256_hex(lines[0].as_bytes()));
    assert_eq!(prev(lines[2]), sha256_hex(lines[1].as_bytes()));
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.lines, 3);
    assert_eq!(report.head.unwrap(), sha256_hex(lines[2].as_bytes()));
    // Entries still read as before.
    assert_eq!(log.read_current().unwrap()[2].action, "action 2");
}

/// A heartbeat carries the last lines as written, oldest first, at most
/// RECENT_LINES of them; the last one is the head.
#[test]
fn the_report_keeps_the_last_lines_for_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let n = bianmin_admin::audit_log::RECENT_LINES + 5;
    let log = chained_log(dir.path(), n);
    let report = log.verify().unwrap();
    let text = std::fs::read_to_string(log.path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(report.recent, lines[5..]);
    assert_eq!(
        report.head.unwrap(),
        sha256_hex(report.recent.last().unwrap().as_bytes())
    );
}

#[test]
fn a_rewritten_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let log = chained_log(dir.path(), 4);
    let text = std::fs::read_to_string(log.path()).unwrap();
    std::fs::write(log.path(), text.replace("action 1", "action X")).unwrap();
    let report = log.verify().unwrap();
    assert_eq!(
        report.problems,
        vec![ChainProblem::Broken {
            file: log.path().to_path_buf(),
            line: 3
        }],
        "the line after the rewritten one no longer matches"
    );
}

#[test]
fn a_deleted_line_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let log = chained_log(dir.path(), 4);
    let text = std::fs::read_to_string(log.path()).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(log.path(), kept.join("\n") + "\n").unwrap();
    let report = log.verify().unwrap();
    assert_eq!(
        report.problems,
        vec![ChainProblem::Broken {
            file: log.path().to_path_buf(),
            line: 2
        }]
    );
}

#[test]
fn cutting_the_end_shows_in_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let log = chained_log(dir.path(), 3);
    let head = log.verify().unwrap().head;
    let text = std::fs::read_to_string(log.path()).unwrap();
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(log.path(), kept.join("\n") + "\n").unwrap();
    let report = log.verify().unwrap();
    assert!(report.is_intact(), "a shorter chain is still a chain");
    assert_ne!(
        report.head, head,
        "but its head differs from the one kept elsewhere"
    );
}

#[test]
fn the_chain_runs_across_rotation_and_survives_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::with_limits(path.clone(), 2_000, 2);
    for i in 0..60 {
        log.append(&AuditEntry::action(UNIX_EPOCH, "t", &format!("p {i}")))
            .unwrap();
    }
    assert!(log.files().len() >= 2);
    assert!(log.verify().unwrap().is_intact());
    // A torn write, then more entries: only the torn line is reported.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"at\":\"2026-");
    std::fs::write(&path, bytes).unwrap();
    log.append(&AuditEntry::action(UNIX_EPOCH, "t", "after"))
        .unwrap();
    let report = log.verify().unwrap();
    assert!(
        matches!(
            report.problems.as_slice(),
            [ChainProblem::Unreadable { .. }]
        ),
        "{report:?}"
    );
    // Tampering in a rotated file is found too.
    let rotated = dir.path().join("audit.jsonl.1");
    let text = std::fs::read_to_string(&rotated).unwrap();
    let first = text.lines().next().unwrap().to_string();
    std::fs::write(
        &rotated,
        text.replacen(&first, &first.replace("\"t\"", "\"x\""), 1),
    )
    .unwrap();
    assert!(log
        .verify()
        .unwrap()
        .problems
        .iter()
        .any(|p| matches!(p, ChainProblem::Broken { file, .. } if *file == rotated)));
}

/// In the 国密 suite new lines chain with SM3 and say so; a log begun with
/// SHA-256 still verifies across the change, and an SM3 line rewritten
/// breaks the chain as a SHA-256 one does.
#[test]
fn the_gm_suite_chains_with_sm3_across_a_change_of_suite() {
    use bianmin_admin::audit_log::ChainHash;
    let dir = tempfile::tempdir().unwrap();
    let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    let before = AuditLog::open(dir.path());
    before
        .append(&AuditEntry::action(at, "technician-pin", "enter"))
        .unwrap();
    before
        .append(&AuditEntry::action(at, "technician-pin", "leave"))
        .unwrap();
    let gm = AuditLog::open(dir.path()).chained_with(ChainHash::Sm3);
    for action in ["enter", "test-print", "leave"] {
        gm.append(&AuditEntry::action(at, "technician-pin", action))
            .unwrap();
    }
    let text = std::fs::read_to_string(gm.path()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(!lines[1].contains("\"hash\""), "SHA-256 lines as before");
    assert!(lines[2].contains("\"hash\":\"sm3\""), "{}", lines[2]);
    let report = gm.verify().unwrap();
    assert!(report.is_intact(), "{:?}", report.problems);
    assert_eq!(report.lines, 5);
    assert_eq!(
        report.head.as_deref(),
        Some(ChainHash::Sm3.of(lines[4].as_bytes()).as_str())
    );
    // The third line's prev is the SM3 of the second.
    let third: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(third["prev"], ChainHash::Sm3.of(lines[1].as_bytes()));
    // Rewrite an SM3-chained line: the next one no longer matches.
    let tampered = text.replacen("test-print", "export-logs", 1);
    std::fs::write(gm.path(), tampered).unwrap();
    let report = gm.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}
