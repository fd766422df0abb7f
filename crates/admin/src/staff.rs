//! 帮办代办: a station clerk takes over the keyboard for a resident after
//! proving who they are with their staff id and PIN. Argon2 is slow on
//! purpose, so callers run `verify` off the UI thread; five wrong PINs in a
//! row close assisted mode for a quarter of an hour, as for admin mode.

use bianmin_config::StaffMember;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// The staff id of the clerk whose PIN matches, if any.
pub fn verify(staff: &[StaffMember], id: &str, pin: &str) -> Option<String> {
    staff
        .iter()
        .find(|member| member.id.0 == id)
        .filter(|member| super::pin::verify_pin(pin, &member.pin_hash.0))
        .map(|member| member.id.0.clone())
}

/// The PHC string to put in `[[assist.staff]] pin_hash`.
pub fn hash(pin: &str) -> Result<String, super::AdminError> {
    super::pin::check_new_pin(pin)?;
    super::pin::hash_pin(pin)
}

/// Wrong PINs in a row, and the lock they cause.
#[derive(Debug, Default)]
pub struct Attempts {
    failures: u32,
    locked_until: Option<Instant>,
}

impl Attempts {
    /// Minutes left of a lock, rounded up; `None` when open.
    pub fn locked_minutes(&self, now: Instant) -> Option<u64> {
        let until = self.locked_until?;
        let left = until
            .checked_duration_since(now)
            .filter(|left| !left.is_zero())?;
        Some(left.as_secs().div_ceil(60).max(1))
    }

    pub fn failed(&mut self, now: Instant) {
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            self.failures = 0;
            self.locked_until = Some(now + LOCKOUT);
        }
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.locked_until = None;
    }
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
