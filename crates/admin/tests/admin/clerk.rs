//! 帮办 clerks' lock-out survives a restart of the kiosk.

use bianmin_admin::staff::{Attempts, ATTEMPTS_FILE, LOCKOUT};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
}

#[test]
fn the_clerk_lock_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut attempts = Attempts::open(dir.path());
    for i in 0..5 {
        assert_eq!(attempts.locked_minutes_at(t(i)), None);
        attempts.failed_at(t(i));
    }
    assert_eq!(attempts.locked_minutes_at(t(4)), Some(15));
    drop(attempts);

    // The kiosk restarts: the lock is still there, and ends on time.
    let attempts = Attempts::open(dir.path());
    assert_eq!(attempts.locked_minutes_at(t(4 + 60)), Some(14));
    assert_eq!(attempts.locked_minutes_at(t(4) + LOCKOUT), None);
}

#[test]
fn failures_below_the_limit_survive_a_restart_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut attempts = Attempts::open(dir.path());
    for i in 0..4 {
        attempts.failed_at(t(i));
    }
    let mut attempts = Attempts::open(dir.path());
    attempts.failed_at(t(10));
    assert_eq!(
        attempts.locked_minutes_at(t(10)),
        Some(15),
        "the fifth, after a restart"
    );
    attempts.succeeded();
    let attempts = Attempts::open(dir.path());
    assert_eq!(attempts.locked_minutes_at(t(11)), None);
}

#[test]
fn a_damaged_lock_file_closes_instead_of_reopening() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(ATTEMPTS_FILE), b"{ damaged").unwrap();
    let attempts = Attempts::open(dir.path());
    assert!(attempts.locked_minutes_at(SystemTime::now()).is_some());
}

#[test]
fn a_clock_that_went_backwards_cannot_stretch_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut attempts = Attempts::open(dir.path());
    for _ in 0..5 {
        attempts.failed_at(t(100_000));
    }
    let attempts = Attempts::open(dir.path());
    assert_eq!(attempts.locked_minutes_at(t(0)), Some(15));
}
