//! The technician's admin PIN: Argon2id hash and lock-out after repeated
//! failures. There is no factory PIN: a fresh install has none and admin
//! entry stays shut ("未设置管理员密码") until a technician provisions one
//! on the device (`bianmin config set-admin-pin`, [`AdminGate::provision`]).
//! A deleted PIN file is the same as none (shut), a damaged one refuses
//! entry; neither ever reopens a default. A file written by an older
//! version that still holds its factory PIN (`must_change: true`) counts
//! as not provisioned.
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
    /// No admin PIN has been provisioned on this kiosk (fresh install, PIN
    /// file deleted, or only an old factory PIN): entry is shut.
    NotProvisioned,
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
            AdminError::NotProvisioned => NOT_PROVISIONED,
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

/// What the PIN pad says on a kiosk without an admin PIN.
pub const NOT_PROVISIONED: Words = Words::fixed(
    "未设置管理员密码，管理模式不可用。请运维人员在终端上以 root 运行 `bianmin config set-admin-pin` 设置",
    "No admin PIN is set, so admin mode is shut. A technician sets one on the terminal with `bianmin config set-admin-pin` (as root)",
);

/// Whether admin entry can be tried now: what the PIN pad shows as it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinGate {
    /// No PIN provisioned: entry is shut, the pad shows [`NOT_PROVISIONED`].
    NotProvisioned,
    /// Too many wrong PINs: shut for this many more minutes.
    Locked { minutes: u64 },
    /// A PIN may be entered.
    Open,
}

impl PinGate {
    /// The message for the pad; `None` when entry is open.
    pub fn words(self) -> Option<Words> {
        match self {
            PinGate::NotProvisioned => Some(NOT_PROVISIONED),
            PinGate::Locked { minutes } => Some(AdminError::Locked { minutes }.words()),
            PinGate::Open => None,
        }
    }
}

/// Persisted state. The hash is a PHC string (`$argon2id$v=19$m=…`), so its
/// cost parameters travel with it and can be raised later without breaking
/// old files.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PinState {
    hash: String,
    /// Written as `true` by older versions for their factory PIN; such a
    /// file counts as not provisioned. Always `false` now.
    #[serde(default)]
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
    /// `None`: no PIN provisioned, entry shut.
    state: Option<PinState>,
}

impl AdminGate {
    /// Open the PIN file in `data_dir`. A missing file (or one still holding
    /// an old factory PIN) gives a gate that refuses entry with
    /// [`AdminError::NotProvisioned`]; nothing is created. A damaged file is
    /// an error: entry stays shut until a PIN is provisioned again.
    pub fn open(data_dir: &Path) -> Result<AdminGate, AdminError> {
        let path = data_dir.join(PIN_FILE);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<PinState>(&bytes).map_err(|e| storage(&path, e))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AdminGate { path, state: None })
            }
            Err(e) => return Err(storage(&path, e)),
        };
        if !state.hash.starts_with("$argon2id$") {
            return Err(storage(&path, "not an Argon2id hash"));
        }
        if state.must_change {
            tracing::warn!("admin PIN file still holds the old factory PIN: admin entry is shut until a PIN is provisioned");
            return Ok(AdminGate { path, state: None });
        }
        Ok(AdminGate {
            path,
            state: Some(state),
        })
    }

    /// Provision the admin PIN of the kiosk whose data directory is
    /// `data_dir` (the technician's `bianmin config set-admin-pin`, or the
    /// demo at its start). `pin_or_hash` is the PIN itself (checked by
    /// [`check_new_pin`]) or an Argon2id PHC string made elsewhere (fleet
    /// provisioning). Replaces any PIN and clears a lock-out: whoever can
    /// write the data directory already owns the kiosk.
    ///
    /// Run as root, the file is given to the owner of `data_dir` (the
    /// service user), which must be able to read it.
    pub fn provision(data_dir: &Path, pin_or_hash: &str) -> Result<AdminGate, AdminError> {
        let hash = if pin_or_hash.starts_with("$argon2id$") {
            argon2::PasswordHash::new(pin_or_hash).map_err(|_| {
                AdminError::WeakPin(Words::fixed(
                    "不是有效的 Argon2id 哈希",
                    "not a valid Argon2id hash",
                ))
            })?;
            pin_or_hash.to_string()
        } else {
            check_new_pin(pin_or_hash)?;
            hash_pin(pin_or_hash)?
        };
        let path = data_dir.join(PIN_FILE);
        std::fs::create_dir_all(data_dir).map_err(|e| storage(&path, e))?;
        let gate = AdminGate {
            path,
            state: Some(PinState {
                hash,
                must_change: false,
                failures: 0,
                locked_until: None,
            }),
        };
        gate.persist()?;
        give_to_directory_owner(data_dir, &gate.path)?;
        Ok(gate)
    }

    /// Provision a fresh random PIN and return it (for `bianmin demo`, which
    /// prints it on the console at start).
    pub fn provision_random(
        data_dir: &Path,
    ) -> Result<(AdminGate, zeroize::Zeroizing<String>), AdminError> {
        loop {
            let pin =
                zeroize::Zeroizing::new(format!("{:06}", rand::random_range(0..1_000_000u32)));
            if check_new_pin(&pin).is_ok() {
                return Ok((AdminGate::provision(data_dir, &pin)?, pin));
            }
        }
    }

    /// Whether entry can be tried now, without counting an attempt: the PIN
    /// pad shows this as soon as it opens.
    pub fn status(&self, now: SystemTime) -> PinGate {
        if self.state.is_none() {
            return PinGate::NotProvisioned;
        }
        match self.locked_minutes(now) {
            Some(minutes) => PinGate::Locked { minutes },
            None => PinGate::Open,
        }
    }

    /// True when an admin PIN is provisioned.
    pub fn is_provisioned(&self) -> bool {
        self.state.is_some()
    }

    /// Check a PIN. Argon2id takes a noticeable fraction of a second on a
    /// Raspberry Pi by design: call this off the UI thread.
    pub fn try_enter(&mut self, pin: &str, now: SystemTime) -> Result<AdminSession, AdminError> {
        let now_s = unix_secs(now);
        let Some(state) = self.state.as_mut() else {
            return Err(AdminError::NotProvisioned);
        };
        if let Some(until) = state.locked_until {
            // A Pi has no real-time clock: after a reboot without network the
            // clock may lag the one that set the lock. Never let that stretch
            // the lock beyond its nominal length.
            let until = until.min(now_s.saturating_add(LOCKOUT.as_secs()));
            if now_s < until {
                return Err(AdminError::Locked {
                    minutes: (until - now_s).div_ceil(60),
                });
            }
            state.locked_until = None;
            state.failures = 0;
        }

        // Count the attempt on disk before checking it: pulling the plug
        // during the check must not give a free guess.
        state.failures += 1;
        if state.failures >= MAX_FAILURES {
            state.locked_until = Some(now_s + LOCKOUT.as_secs());
        }
        let hash = state.hash.clone();
        self.persist()?;

        let right = verify_pin(pin, &hash);
        let state = self.state.as_mut().expect("provisioned above");
        if right {
            state.failures = 0;
            state.locked_until = None;
            self.persist()?;
            return Ok(AdminSession {
                actor: "technician-pin".into(),
                started: now,
                last_activity: now,
            });
        }
        if state.locked_until.is_some() {
            return Err(AdminError::Locked {
                minutes: LOCKOUT.as_secs().div_ceil(60),
            });
        }
        Err(AdminError::WrongPin {
            remaining: MAX_FAILURES - state.failures,
        })
    }

    /// Set a new PIN from inside an admin session.
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
        let hash = hash_pin(new_pin)?;
        let Some(state) = self.state.as_mut() else {
            return Err(AdminError::NotProvisioned);
        };
        state.hash = hash;
        state.must_change = false;
        self.persist()?;
        session.touch(now);
        Ok(())
    }

    /// Minutes left of a lock-out, without counting an attempt.
    pub fn locked_minutes(&self, now: SystemTime) -> Option<u64> {
        let now_s = unix_secs(now);
        let until = self
            .state
            .as_ref()?
            .locked_until?
            .min(now_s.saturating_add(LOCKOUT.as_secs()));
        (now_s < until).then(|| (until - now_s).div_ceil(60))
    }

    /// Wrong PINs since the last success (for the operations screen).
    pub fn failures(&self) -> u32 {
        self.state.as_ref().map_or(0, |s| s.failures)
    }

    fn persist(&self) -> Result<(), AdminError> {
        let Some(state) = &self.state else {
            return Err(AdminError::NotProvisioned);
        };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| storage(&self.path, e))?;
        write_atomic(&self.path, &bytes, 0o600, None).map_err(|e| storage(&self.path, e))
    }
}

/// When the file's owner differs from the data directory's (provisioned by
/// root for the `bianmin` service user), hand it over; a service that cannot
/// read its PIN file would stay shut.
fn give_to_directory_owner(data_dir: &Path, file: &Path) -> Result<(), AdminError> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = std::fs::metadata(data_dir).map_err(|e| storage(data_dir, e))?;
    let meta = std::fs::metadata(file).map_err(|e| storage(file, e))?;
    if (meta.uid(), meta.gid()) == (dir.uid(), dir.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(file, Some(dir.uid()), Some(dir.gid())).map_err(|e| {
        storage(
            file,
            format!(
                "cannot give it to the data directory's owner (run as root or as that user): {e}"
            ),
        )
    })
}

/// A new PIN must be 6–12 digits and not trivially guessable.
pub fn check_new_pin(pin: &str) -> Result<(), AdminError> {
    if !(PIN_MIN_LEN..=PIN_MAX_LEN).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(AdminError::WeakPin(Words::fixed(
            "须为 6 至 12 位数字",
            "it must be 6 to 12 digits",
        )));
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
