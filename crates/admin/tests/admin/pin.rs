//! Admin PIN: default PIN forces a change, wrong PINs count down, five lock
//! entry for 15 minutes, and the lock survives a restart.

use bianmin_admin::pin::{
    check_new_pin, DEFAULT_PIN, FACTORY_PIN_REFUSED, LOCKOUT, PIN_FILE, SESSION_IDLE,
};
use bianmin_admin::{AdminError, AdminGate};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
}

#[test]
fn fresh_install_accepts_default_pin_once_and_demands_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    assert!(gate.must_change_pin());
    let file = dir.path().join(PIN_FILE);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("$argon2id$"),
        "stored as an Argon2id PHC string"
    );
    assert!(
        !text.contains(DEFAULT_PIN),
        "the PIN itself is never stored"
    );
    assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);

    let mut session = gate.try_enter(DEFAULT_PIN, t(0)).unwrap();
    assert!(session.must_change_pin());
    assert_eq!(
        gate.change_pin(&mut session, DEFAULT_PIN, t(1)),
        Err(AdminError::WeakPin(FACTORY_PIN_REFUSED))
    );
    gate.change_pin(&mut session, "480715", t(2)).unwrap();
    assert!(!session.must_change_pin());

    // The new PIN holds after a restart; the default no longer opens.
    let mut gate = AdminGate::open(dir.path()).unwrap();
    assert!(!gate.must_change_pin());
    assert!(gate.try_enter(DEFAULT_PIN, t(10)).is_err());
    let session = gate.try_enter("480715", t(11)).unwrap();
    assert!(!session.must_change_pin());
    assert_eq!(session.actor(), "technician-pin");
}

#[test]
fn five_wrong_pins_lock_for_fifteen_minutes_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    for (i, remaining) in [4, 3, 2, 1].into_iter().enumerate() {
        let err = gate.try_enter("000001", t(i as u64)).unwrap_err();
        assert_eq!(err, AdminError::WrongPin { remaining });
    }
    assert_eq!(
        gate.try_enter("000001", t(4)).unwrap_err().to_string(),
        "已锁定，请 15 分钟后再试"
    );

    // A restart (new gate from disk) keeps the lock; even the right PIN is refused.
    drop(gate);
    let mut gate = AdminGate::open(dir.path()).unwrap();
    let err = gate.try_enter(DEFAULT_PIN, t(4 + 61)).unwrap_err();
    assert_eq!(err.to_string(), "已锁定，请 14 分钟后再试");

    // Once the 15 minutes are over, the right PIN opens and the count starts afresh.
    let after = t(4 + LOCKOUT.as_secs());
    gate.try_enter(DEFAULT_PIN, after).unwrap();
    assert_eq!(gate.failures(), 0);
    assert_eq!(
        gate.try_enter("000001", after).unwrap_err().to_string(),
        "PIN 错误，还可尝试 4 次"
    );
}

#[test]
fn a_clock_that_went_backwards_cannot_stretch_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    let late = t(100_000);
    for _ in 0..5 {
        let _ = gate.try_enter("000001", late);
    }
    // After a reboot without network the clock is a day behind.
    let err = gate.try_enter(DEFAULT_PIN, t(0)).unwrap_err();
    assert_eq!(err, AdminError::Locked { minutes: 15 });
}

#[test]
fn success_resets_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    for i in 0..4 {
        let _ = gate.try_enter("999999", t(i));
    }
    gate.try_enter(DEFAULT_PIN, t(5)).unwrap();
    assert_eq!(
        gate.try_enter("999999", t(6)).unwrap_err(),
        AdminError::WrongPin { remaining: 4 }
    );
}

#[test]
fn damaged_pin_file_refuses_entry_instead_of_falling_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(PIN_FILE), b"{ not json").unwrap();
    let err = AdminGate::open(dir.path()).unwrap_err();
    assert!(matches!(err, AdminError::Storage { .. }));
    assert!(err.to_string().starts_with("管理设置无法读取"));
    // root's way out: reset to the default PIN (which must then be changed).
    let gate = AdminGate::reset(dir.path()).unwrap();
    assert!(gate.must_change_pin());
}

#[test]
fn session_times_out_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    let mut session = gate.try_enter(DEFAULT_PIN, t(0)).unwrap();
    assert!(!session.is_expired(t(60)));
    session.touch(t(200));
    assert!(!session.is_expired(t(200) + SESSION_IDLE - Duration::from_secs(1)));
    assert!(session.is_expired(t(200) + SESSION_IDLE));
    assert_eq!(
        gate.change_pin(&mut session, "480715", t(10_000)),
        Err(AdminError::SessionExpired)
    );
}

#[test]
fn weak_new_pins_are_refused_with_a_reason() {
    for (pin, ok) in [
        ("12345", false),
        ("1234567890123", false),
        ("12a456", false),
        ("111111", false),
        ("234567", false),
        ("987654", false),
        ("", false),
        ("480715", true),
        ("20260418", true),
    ] {
        assert_eq!(check_new_pin(pin).is_ok(), ok, "{pin}");
    }
}
