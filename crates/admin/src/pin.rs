//! The technician's admin PIN: Argon2id hash, lock-out after repeated
//! failures, and a default PIN that must be changed on first entry.
//!
//! Where it lives: `<data_dir>/admin-pin.json` (by default
//! /var/lib/bianmin/admin-pin.json), mode 0600, owned by the service user.
//! Not in kiosk.toml: that file is a dpkg conffile that technicians copy
//! between terminals and paste into tickets, and the lock-out counter changes
//! at run time, which a conffile must not. Not root-only either: the kiosk
//! runs as `bianmin` and has to read the hash to check a PIN; the data
//! directory itself is 0700 (systemd `StateDirectory=`), so no other account
//! can read it.
//!
//! Time is passed in (`now`) rather than read here, so the lock-out is tested
//! without sleeping and survives a restart (it is stored as a wall-clock
//! instant, not as a timer).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use bianmin_core::words::Words;
use bianmin_fs::atomic::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// File name of the PIN state inside the data directory.
pub const PIN_FILE: &str = "admin-pin.json";
/// The PIN a fresh installation accepts once; entering it forces a change.
pub const DEFAULT_PIN: &str = "123456";
/// Wrong PINs in a row that lock admin entry.
pub const MAX_FAILURES: u32 = 5;
/// How long admin entry stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Admin mode ends after this long without a touch.
pub const SESSION_IDLE: Duration = Duration::from_secs(5 * 60);
const PIN_MIN_LEN: usize = 6;
const PIN_MAX_LEN: usize = 12;

/// Why admin entry (or a PIN change) was refused, in words a technician at
/// the screen understands ([`AdminError::words`]; `Display` is the Chinese).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    WrongPin {
        remaining: u32,
    },
    Locked {
        minutes: u64,
    },
    /// The rule the new PIN breaks.
    WeakPin(Words),
    SessionExpired,
    /// The PIN file is unreadable or damaged. Entry is refused rather than
    /// falling back to the default PIN: otherwise damaging the file would be
    /// a way in. `detail` is for the log; it never contains the PIN or hash.
    Storage {
        detail: String,
    },
}

impl AdminError {
    pub fn words(&self) -> Words {
        match self {
            AdminError::WrongPin { remaining } => Words::new(
                format!("PIN 错误，还可尝试 {remaining} 次"),
                format!("Wrong PIN; {remaining} tries left"),
            ),
            AdminError::Locked { minutes } => Words::new(
                format!("已锁定，请 {minutes} 分钟后再试"),
                format!("Locked; try again in {minutes} min"),
            ),
            AdminError::WeakPin(rule) => Words::new(
                format!("新 PIN 不可用：{}", rule.zh()),
                format!("This PIN cannot be used: {}", rule.en()),
            ),
            AdminError::SessionExpired => Words::fixed(
                "管理模式已超时，请重新输入 PIN",
                "Admin mode timed out; enter the PIN again",
            ),
            AdminError::Storage { detail } => Words::new(
                format!("管理设置无法读取，请联系运维人员（{detail}）"),
                format!("The admin settings cannot be read; call maintenance ({detail})"),
            ),
        }
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.words().zh())
    }
}

impl std::error::Error for AdminError {}

/// Persisted state. The hash is a PHC string (`$argon2id$v=19$m=…`), so its
/// cost parameters travel with it and can be raised later without breaking
/// old files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PinState {
    hash: String,
    must_change: bool,
    failures: u32,
    /// Unix seconds until which entry is locked.
    locked_until: Option<u64>,
}

/// Who is in admin mode and since when; handed out only by `try_enter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    actor: String,
    started: SystemTime,
    last_activity: SystemTime,
    must_change_pin: bool,
}

impl AdminSession {
    /// Name recorded in the audit log. A PIN is shared by the technicians of a
    /// station, so this says how they got in, not who they are.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// The default PIN was used: the UI must show the change-PIN page before
    /// anything else.
    pub fn must_change_pin(&self) -> bool {
        self.must_change_pin
    }

    /// A touch in admin mode keeps the session alive.
    pub fn touch(&mut self, now: SystemTime) {
        self.last_activity = now;
    }

    /// True once the session has been idle for `SESSION_IDLE`; the UI then
    /// returns to the attract screen.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now.duration_since(self.last_activity)
            .is_ok_and(|idle| idle >= SESSION_IDLE)
    }
}

/// Admin entry for one data directory.
#[derive(Debug)]
pub struct AdminGate {
    path: PathBuf,
    state: PinState,
}

impl AdminGate {
    /// Open the PIN file in `data_dir`, creating it with the default PIN (to
    /// be changed on first entry) when there is none.
    pub fn open(data_dir: &Path) -> Result<AdminGate, AdminError> {
        let path = data_dir.join(PIN_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<PinState>(&bytes).map_err(|e| storage(&path, e))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let state = PinState {
                    hash: hash_pin(DEFAULT_PIN)?,
                    must_change: true,
                    failures: 0,
                    locked_until: None,
                };
                std::fs::create_dir_all(data_dir).map_err(|e| storage(&path, e))?;
                let gate = AdminGate { path, state };
                gate.persist()?;
                return Ok(gate);
            }
            Err(e) => return Err(storage(&path, e)),
        };
        if !state.hash.starts_with("$argon2id$") {
            return Err(storage(&path, "not an Argon2id hash"));
        }
        Ok(AdminGate { path, state })
    }

    /// Check a PIN. Argon2id takes a noticeable fraction of a second on a
    /// Raspberry Pi by design: call this off the UI thread.
    pub fn try_enter(&mut self, pin: &str, now: SystemTime) -> Result<AdminSession, AdminError> {
        let now_s = unix_secs(now);
        if let Some(until) = self.state.locked_until {
            // A Pi has no real-time clock: after a reboot without network the
            // clock may lag the one that set the lock. Never let that stretch
            // the lock beyond its nominal length.
            let until = until.min(now_s.saturating_add(LOCKOUT.as_secs()));
            if now_s < until {
                return Err(AdminError::Locked {
                    minutes: (until - now_s).div_ceil(60),
                });
            }
            self.state.locked_until = None;
            self.state.failures = 0;
        }

        // Count the attempt on disk before checking it: pulling the plug
        // during the check must not give a free guess.
        self.state.failures += 1;
        if self.state.failures >= MAX_FAILURES {
            self.state.locked_until = Some(now_s + LOCKOUT.as_secs());
        }
        self.persist()?;

        if verify_pin(pin, &self.state.hash) {
            self.state.failures = 0;
            self.state.locked_until = None;
            self.persist()?;
            return Ok(AdminSession {
                actor: "technician-pin".into(),
                started: now,
                last_activity: now,
                must_change_pin: self.state.must_change,
            });
        }
        if self.state.locked_until.is_some() {
            return Err(AdminError::Locked {
                minutes: LOCKOUT.as_secs().div_ceil(60),
            });
        }
        Err(AdminError::WrongPin {
            remaining: MAX_FAILURES - self.state.failures,
        })
    }

    /// Set a new PIN from inside an admin session; clears the must-change flag.
    pub fn change_pin(
        &mut self,
        session: &mut AdminSession,
        new_pin: &str,
        now: SystemTime,
    ) -> Result<(), AdminError> {
        if session.is_expired(now) {
            return Err(AdminError::SessionExpired);
        }
        check_new_pin(new_pin)?;
        self.state.hash = hash_pin(new_pin)?;
        self.state.must_change = false;
        self.persist()?;
        session.must_change_pin = false;
        session.touch(now);
        Ok(())
    }

    /// Minutes left of a lock-out, without counting an attempt: the PIN pad
    /// shows this as soon as it opens.
    pub fn locked_minutes(&self, now: SystemTime) -> Option<u64> {
        let now_s = unix_secs(now);
        let until = self
            .state
            .locked_until?
            .min(now_s.saturating_add(LOCKOUT.as_secs()));
        (now_s < until).then(|| (until - now_s).div_ceil(60))
    }

    /// True while the default PIN is still in force.
    pub fn must_change_pin(&self) -> bool {
        self.state.must_change
    }

    /// Wrong PINs since the last success (for the operations screen).
    pub fn failures(&self) -> u32 {
        self.state.failures
    }

    /// Reset to the default PIN, for `root` on the device when the PIN is
    /// forgotten: whoever can write the data directory already owns the kiosk.
    pub fn reset(data_dir: &Path) -> Result<AdminGate, AdminError> {
        let path = data_dir.join(PIN_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage(&path, e)),
        }
        AdminGate::open(data_dir)
    }

    fn persist(&self) -> Result<(), AdminError> {
        let bytes = serde_json::to_vec_pretty(&self.state).map_err(|e| storage(&self.path, e))?;
        write_atomic(&self.path, &bytes, 0o600, None).map_err(|e| storage(&self.path, e))
    }
}

/// Why the factory PIN cannot be the new one.
pub const FACTORY_PIN_REFUSED: Words = Words::fixed("不能使用出厂 PIN", "not the factory PIN");

/// A new PIN must be 6–12 digits, not the default and not trivially guessable.
pub fn check_new_pin(pin: &str) -> Result<(), AdminError> {
    if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AdminError::WeakPin(Words::fixed(
            "须为 6 至 12 位数字",
            "it must be 6 to 12 digits",
        )));
    }
    if pin == DEFAULT_PIN {
        return Err(AdminError::WeakPin(FACTORY_PIN_REFUSED));
    }
    let bytes = pin.as_bytes();
    if bytes.iter().all(|&b| b == bytes[0]) {
        return Err(AdminError::WeakPin(Words::fixed(
            "不能全部是同一个数字",
            "it must not be one digit repeated",
        )));
    }
    let step = |d: i16| {
        bytes
            .windows(2)
            .all(|w| i16::from(w[1]) - i16::from(w[0]) == d)
    };
    if step(1) || step(-1) {
        return Err(AdminError::WeakPin(Words::fixed(
            "不能是连续数字",
            "it must not be consecutive digits",
        )));
    }
    Ok(())
}

pub(crate) fn hash_pin(pin: &str) -> Result<String, AdminError> {
    Argon2::default()
        .hash_password(pin.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AdminError::Storage {
            detail: format!("cannot hash: {e}"),
        })
}

pub(crate) fn verify_pin(pin: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(pin.as_bytes(), hash)
        .is_ok()
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn storage(path: &Path, e: impl std::fmt::Display) -> AdminError {
    AdminError::Storage {
        detail: format!("{}: {e}", path.display()),
    }
}
