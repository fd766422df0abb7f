//! Admin PIN: no factory PIN (a fresh or wiped kiosk is shut until a PIN is
//! provisioned), wrong PINs count down, five lock entry for 15 minutes, and
//! the lock survives a restart.

use bianmin_admin::pin::{check_new_pin, LOCKOUT, NOT_PROVISIONED, PIN_FILE, SESSION_IDLE};
use bianmin_admin::{AdminError, AdminGate, PinGate};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_790_000_000 + secs)
}

const PIN: &str = "480715";

/// A data directory with `PIN` provisioned.
fn provisioned() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    AdminGate::provision(dir.path(), PIN).unwrap();
    dir
}

#[test]
fn a_fresh_install_has_no_pin_and_refuses_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    assert_eq!(gate.status(t(0)), PinGate::NotProvisioned);
    assert_eq!(PinGate::NotProvisioned.words(), Some(NOT_PROVISIONED));
    assert!(NOT_PROVISIONED.zh().starts_with("未设置管理员密码"));
    for pin in ["123456", "000000", PIN] {
        assert_eq!(gate.try_enter(pin, t(1)), Err(AdminError::NotProvisioned));
    }
    assert!(
        !dir.path().join(PIN_FILE).exists(),
        "opening creates nothing"
    );
    assert!(AdminError::NotProvisioned
        .to_string()
        .starts_with("未设置管理员密码"));
}

#[test]
fn a_provisioned_pin_opens_and_is_stored_only_as_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let mut gate = AdminGate::provision(dir.path(), PIN).unwrap();
    let file = dir.path().join(PIN_FILE);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("$argon2id$"),
        "stored as an Argon2id PHC string"
    );
    assert!(!text.contains(PIN), "the PIN itself is never stored");
    assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(gate.status(t(0)), PinGate::Open);
    let mut session = gate.try_enter(PIN, t(0)).unwrap();
    assert_eq!(session.actor(), "technician-pin");
    gate.change_pin(&mut session, "592714", t(2)).unwrap();

    // The new PIN holds after a restart; the old one no longer opens.
    let mut gate = AdminGate::open(dir.path()).unwrap();
    assert!(gate.try_enter(PIN, t(10)).is_err());
    gate.try_enter("592714", t(11)).unwrap();
}

#[test]
fn weak_pins_cannot_be_provisioned_but_a_hash_made_elsewhere_can() {
    let dir = tempfile::tempdir().unwrap();
    for weak in ["123456", "111111", "12345"] {
        assert!(matches!(
            AdminGate::provision(dir.path(), weak),
            Err(AdminError::WeakPin(_))
        ));
    }
    assert!(!dir.path().join(PIN_FILE).exists());
    let hash = bianmin_admin::staff::hash(PIN).unwrap();
    let mut gate = AdminGate::provision(dir.path(), &hash).unwrap();
    gate.try_enter(PIN, t(0)).unwrap();
    assert!(AdminGate::provision(dir.path(), "$argon2id$garbage").is_err());
}

#[test]
fn a_deleted_pin_file_shuts_admin_mode() {
    let dir = provisioned();
    std::fs::remove_file(dir.path().join(PIN_FILE)).unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    assert_eq!(gate.status(t(0)), PinGate::NotProvisioned);
    for pin in ["123456", PIN] {
        assert_eq!(gate.try_enter(pin, t(1)), Err(AdminError::NotProvisioned));
    }
}

#[test]
fn an_old_factory_pin_file_counts_as_not_provisioned() {
    // What older versions wrote on first start: the hash of the public
    // factory PIN 123456, to be changed on first entry.
    let dir = tempfile::tempdir().unwrap();
    let hash = bianmin_admin::staff::hash(PIN).unwrap();
    std::fs::write(
        dir.path().join(PIN_FILE),
        serde_json::json!({"hash": hash, "must_change": true, "failures": 0, "locked_until": null})
            .to_string(),
    )
    .unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    assert_eq!(gate.status(t(0)), PinGate::NotProvisioned);
    assert_eq!(gate.try_enter(PIN, t(0)), Err(AdminError::NotProvisioned));
}

#[test]
fn the_demo_pin_is_random_and_works() {
    let dir = tempfile::tempdir().unwrap();
    let (mut gate, pin) = AdminGate::provision_random(dir.path()).unwrap();
    assert!(check_new_pin(&pin).is_ok());
    gate.try_enter(&pin, t(0)).unwrap();
    let (_, again) = AdminGate::provision_random(dir.path()).unwrap();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    gate.try_enter(&again, t(1)).unwrap();
}

#[test]
fn five_wrong_pins_lock_for_fifteen_minutes_across_a_restart() {
    let dir = provisioned();
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
    let err = gate.try_enter(PIN, t(4 + 61)).unwrap_err();
    assert_eq!(err.to_string(), "已锁定，请 14 分钟后再试");

    // Once the 15 minutes are over, the right PIN opens and the count starts afresh.
    let after = t(4 + LOCKOUT.as_secs());
    gate.try_enter(PIN, after).unwrap();
    assert_eq!(gate.failures(), 0);
    assert_eq!(
        gate.try_enter("000001", after).unwrap_err().to_string(),
        "PIN 错误，还可尝试 4 次"
    );
}

#[test]
fn a_clock_that_went_backwards_cannot_stretch_the_lock() {
    let dir = provisioned();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    let late = t(100_000);
    for _ in 0..5 {
        let _ = gate.try_enter("000001", late);
    }
    // After a reboot without network the clock is a day behind.
    let err = gate.try_enter(PIN, t(0)).unwrap_err();
    assert_eq!(err, AdminError::Locked { minutes: 15 });
}

#[test]
fn success_resets_the_count() {
    let dir = provisioned();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    for i in 0..4 {
        let _ = gate.try_enter("999999", t(i));
    }
    gate.try_enter(PIN, t(5)).unwrap();
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
    // root's way out: provision a PIN again; no default ever reopens.
    let mut gate = AdminGate::provision(dir.path(), PIN).unwrap();
    gate.try_enter(PIN, t(0)).unwrap();
}

#[test]
fn session_times_out_when_idle() {
    let dir = provisioned();
    let mut gate = AdminGate::open(dir.path()).unwrap();
    let mut session = gate.try_enter(PIN, t(0)).unwrap();
    assert!(!session.is_expired(t(60)));
    session.touch(t(200));
    assert!(!session.is_expired(t(200) + SESSION_IDLE - Duration::from_secs(1)));
    assert!(session.is_expired(t(200) + SESSION_IDLE));
    assert_eq!(
        gate.change_pin(&mut session, "592714", t(10_000)),
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
