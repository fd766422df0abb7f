//! 帮办代办: a station clerk takes over the keyboard for a resident after
//! proving who they are with their staff id and PIN. Argon2 is slow on
//! purpose, so callers run `verify` off the UI thread; five wrong PINs in a
//! row close assisted mode for a quarter of an hour, as for admin mode, and
//! the lock is kept on disk so a restart does not lift it.

use bianmin_config::StaffMember;
use bianmin_fs::atomic::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq as _;

pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// File name of the clerks' lock-out state inside the data directory.
pub const ATTEMPTS_FILE: &str = "clerk-lockout.json";

/// An Argon2id PHC string with the cost of [`hash`]'s (`Argon2::default()`,
/// checked by a test) whose output matches no PIN: an unknown staff id is
/// checked against it, so it takes as long as a known one and the answer's
/// time does not tell which ids exist.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Ymlhbm1pbi1ub2JvZHk$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The staff id of the clerk whose PIN matches, if any.
pub fn verify(staff: &[StaffMember], id: &str, pin: &str) -> Option<String> {
    verify_with(staff, id, pin, super::pin::verify_pin)
}

/// [`verify`] with the Argon2 check passed in (tests count its calls).
/// Exactly one check runs whatever the id: the clerk's hash, or
/// [`DUMMY_HASH`] for an id nobody has. Every id is compared in full.
pub fn verify_with(
    staff: &[StaffMember],
    id: &str,
    pin: &str,
    check: impl FnOnce(&str, &str) -> bool,
) -> Option<String> {
    let mut found: Option<&StaffMember> = None;
    for member in staff {
        let same: bool = member.id.0.as_bytes().ct_eq(id.as_bytes()).into();
        if same && found.is_none() {
            found = Some(member);
        }
    }
    let hash = found.map_or(DUMMY_HASH, |m| m.pin_hash.0.as_str());
    let right = check(pin, hash);
    found.filter(|_| right).map(|m| m.id.0.clone())
}

/// The PHC string to put in `[[assist.staff]] pin_hash`.
pub fn hash(pin: &str) -> Result<String, super::AdminError> {
    super::pin::check_new_pin(pin)?;
    super::pin::hash_pin(pin)
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct AttemptsState {
    failures: u32,
    /// Unix milliseconds until which assisted mode is closed.
    locked_until_ms: Option<u64>,
}

/// Wrong PINs in a row, and the lock they cause. [`Attempts::open`] keeps
/// them in the data directory; `Attempts::default()` only in memory.
#[derive(Debug)]
pub struct Attempts {
    state: AttemptsState,
    path: Option<PathBuf>,
    /// One reading of both clocks, so `Instant`s convert to wall time the
    /// same way on every call.
    anchor: (Instant, SystemTime),
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            state: AttemptsState::default(),
            path: None,
            anchor: (Instant::now(), SystemTime::now()),
        }
    }
}

impl Attempts {
    /// The clerks' attempts of the kiosk whose data directory is `data_dir`.
    /// A damaged file closes assisted mode for [`LOCKOUT`] (never reopens
    /// it): otherwise damaging the file would reset the count.
    pub fn open(data_dir: &Path) -> Attempts {
        let path = data_dir.join(ATTEMPTS_FILE);
        let mut attempts = Attempts {
            path: Some(path.clone()),
            ..Attempts::default()
        };
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<AttemptsState>(&bytes) {
                Ok(state) => attempts.state = state,
                Err(_) => {
                    tracing::warn!(
                        "clerk lock-out file damaged: assisted mode closed for 15 minutes"
                    );
                    attempts.state.locked_until_ms =
                        Some(unix_ms(SystemTime::now()) + LOCKOUT.as_millis() as u64);
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(error = %e, "clerk lock-out file unreadable: assisted mode closed for 15 minutes");
                attempts.state.locked_until_ms =
                    Some(unix_ms(SystemTime::now()) + LOCKOUT.as_millis() as u64);
            }
        }
        attempts
    }

    /// Minutes left of a lock, rounded up; `None` when open.
    pub fn locked_minutes(&self, now: Instant) -> Option<u64> {
        self.locked_minutes_at(self.wall(now))
    }

    pub fn failed(&mut self, now: Instant) {
        self.failed_at(self.wall(now))
    }

    /// [`Attempts::locked_minutes`] at a wall-clock time.
    pub fn locked_minutes_at(&self, now: SystemTime) -> Option<u64> {
        let now_ms = unix_ms(now);
        // A Pi has no real-time clock: a clock that went backwards after a
        // reboot must not stretch the lock beyond its length.
        let until = self
            .state
            .locked_until_ms?
            .min(now_ms.saturating_add(LOCKOUT.as_millis() as u64));
        let left = until.checked_sub(now_ms).filter(|left| *left > 0)?;
        Some(left.div_ceil(60_000).max(1))
    }

    /// [`Attempts::failed`] at a wall-clock time.
    pub fn failed_at(&mut self, now: SystemTime) {
        self.state.failures += 1;
        if self.state.failures >= MAX_FAILURES {
            self.state.failures = 0;
            self.state.locked_until_ms = Some(unix_ms(now) + LOCKOUT.as_millis() as u64);
        }
        self.persist();
    }

    pub fn succeeded(&mut self) {
        self.state = AttemptsState::default();
        self.persist();
    }

    fn wall(&self, now: Instant) -> SystemTime {
        let (instant, wall) = self.anchor;
        match now.checked_duration_since(instant) {
            Some(ahead) => wall + ahead,
            None => wall - instant.duration_since(now),
        }
    }

    /// A write that fails is logged, not fatal: the count still holds in
    /// memory until the next restart.
    fn persist(&self) {
        let Some(path) = &self.path else { return };
        let bytes = serde_json::to_vec(&self.state).expect("plain struct");
        if let Err(e) = write_atomic(path, &bytes, 0o600, None) {
            tracing::warn!(error = %e, "clerk lock-out not saved");
        }
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_config::{PinHash, StaffId};

    fn member(id: &str, pin: &str) -> StaffMember {
        StaffMember {
            id: StaffId(id.into()),
            pin_hash: PinHash(hash(pin).unwrap()),
        }
    }

    #[test]
    fn the_right_clerk_with_the_right_pin_only() {
        let staff = vec![member("1001", "246813"), member("1002", "975318")];
        assert_eq!(verify(&staff, "1001", "246813").as_deref(), Some("1001"));
        assert_eq!(verify(&staff, "1002", "246813"), None, "another's PIN");
        assert_eq!(verify(&staff, "1003", "246813"), None, "unknown id");
        assert_eq!(verify(&[], "1001", "246813"), None);
    }

    /// Unknown ids cost one Argon2 check like known ones (against the dummy
    /// hash), so they do not answer faster.
    #[test]
    fn an_unknown_id_is_checked_as_long_as_a_known_one() {
        let staff = vec![member("1001", "246813")];
        for (id, expected_hash) in [
            ("1001", staff[0].pin_hash.0.as_str()),
            ("1003", DUMMY_HASH),
            ("", DUMMY_HASH),
        ] {
            let mut checked = Vec::new();
            let verdict = verify_with(&staff, id, "246813", |pin, hash| {
                checked.push(hash.to_string());
                super::super::pin::verify_pin(pin, hash)
            });
            assert_eq!(checked, vec![expected_hash.to_string()], "{id:?}");
            assert_eq!(verdict.is_some(), id == "1001");
        }
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs_and_matches_nothing() {
        let real = argon2::PasswordHash::new(&staff_hash())
            .unwrap()
            .params
            .to_string();
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(dummy.params.to_string(), real);
        assert_eq!(dummy.algorithm.as_str(), "argon2id");
        assert!(!super::super::pin::verify_pin("246813", DUMMY_HASH));
    }

    fn staff_hash() -> String {
        hash("246813").unwrap()
    }

    #[test]
    fn weak_pins_are_refused_when_hashing() {
        assert!(hash("123456").is_err());
        assert!(hash("111111").is_err());
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let now = Instant::now();
        let mut attempts = Attempts::default();
        for _ in 0..4 {
            attempts.failed(now);
        }
        assert_eq!(attempts.locked_minutes(now), None);
        attempts.failed(now);
        assert_eq!(attempts.locked_minutes(now), Some(15));
        assert_eq!(attempts.locked_minutes(now + LOCKOUT), None);
    }
}
