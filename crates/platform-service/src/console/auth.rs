//! Staff sign-in: Argon2id passwords, lock-out after repeated failures,
//! sessions as random tokens (only their SHA-256 is stored), a CSRF token
//! per session, and an audit trail.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use deadpool_postgres::Pool;
use ring::rand::{SecureRandom, SystemRandom};

/// Failures in a row before an account is locked, and for how long.
pub const MAX_FAILURES: i32 = 5;
pub const LOCK_SECS: i64 = 15 * 60;
/// A session lasts a working day.
pub const SESSION_SECS: i64 = 8 * 3600;
pub const SESSION_COOKIE: &str = "bm_session";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Clerk,
    Author,
    Supervisor,
    /// County technician: stations, kiosks' status, alerts (fleet).
    Technician,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "clerk" => Some(Role::Clerk),
            "author" => Some(Role::Author),
            "supervisor" => Some(Role::Supervisor),
            "technician" => Some(Role::Technician),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Author => "author",
            Role::Supervisor => "supervisor",
            Role::Technician => "technician",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Role::Clerk => "受理人员",
            Role::Author => "内容编辑",
            Role::Supervisor => "监督人员",
            Role::Technician => "运维人员",
        }
    }

    /// Where the role starts after sign-in.
    pub fn home(self) -> &'static str {
        match self {
            Role::Clerk => "/console/applications",
            Role::Author => "/console/content",
            Role::Supervisor => "/console/evaluations",
            Role::Technician => "/console/fleet",
        }
    }
}

/// A signed-in member of staff.
#[derive(Debug, Clone)]
pub struct Staff {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub csrf: String,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn token_hash(token: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An Argon2id PHC string with a fresh random salt (argon2's defaults).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

/// A password long enough to be worth a lock-out.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 10 {
        return Err("密码至少10位");
    }
    Ok(())
}

/// Add or replace a member of staff.
pub async fn upsert_staff(
    pool: &Pool,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<()> {
    check_new_password(password).map_err(|e| anyhow::anyhow!(e))?;
    let hash = hash_password(password)?;
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO staff (username, display_name, role, password_hash)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name,
                 role = excluded.role, password_hash = excluded.password_hash,
                 failed = 0, locked_until = 0",
            &[&username, &display_name, &role.as_str(), &hash],
        )
        .await?;
    Ok(())
}

/// Why a sign-in failed, in the words the page shows.
#[derive(Debug, PartialEq, Eq)]
pub enum SignInError {
    /// Unknown user or wrong password: the same sentence for both.
    Wrong,
    Locked {
        minutes: i64,
    },
}

/// Check a password; on success open a session and return its cookie token.
pub async fn sign_in(
    pool: &Pool,
    username: &str,
    password: &str,
    now: i64,
) -> anyhow::Result<Result<String, SignInError>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT password_hash, failed, locked_until FROM staff WHERE username = $1",
            &[&username],
        )
        .await?;
    let Some(row) = row else {
        // Same work as a real check, so the time taken does not tell which
        // usernames exist.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
        let _ = verify_password(dummy, password);
        return Ok(Err(SignInError::Wrong));
    };
    let hash: String = row.get(0);
    let locked_until: i64 = row.get(2);
    if locked_until > now {
        return Ok(Err(SignInError::Locked {
            minutes: (locked_until - now + 59) / 60,
        }));
    }
    if !verify_password(&hash, password) {
        let failed: i32 = row.get::<_, i32>(1) + 1;
        let lock = if failed >= MAX_FAILURES {
            now + LOCK_SECS
        } else {
            0
        };
        client
            .execute(
                "UPDATE staff SET failed = $2, locked_until = $3 WHERE username = $1",
                &[&username, &(if lock > 0 { 0 } else { failed }), &lock],
            )
            .await?;
        audit(
            pool,
            username,
            "sign_in_failed",
            &format!("failure {failed}"),
            now,
        )
        .await?;
        if lock > 0 {
            return Ok(Err(SignInError::Locked {
                minutes: LOCK_SECS / 60,
            }));
        }
        return Ok(Err(SignInError::Wrong));
    }
    client
        .execute(
            "UPDATE staff SET failed = 0, locked_until = 0 WHERE username = $1",
            &[&username],
        )
        .await?;
    let token = random_token();
    client
        .execute(
            "INSERT INTO console_sessions (token_hash, username, csrf, expires_at)
             VALUES ($1, $2, $3, $4)",
            &[
                &token_hash(&token),
                &username,
                &random_token(),
                &(now + SESSION_SECS),
            ],
        )
        .await?;
    audit(pool, username, "sign_in", "", now).await?;
    Ok(Ok(token))
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The member of staff a session token belongs to, if it is still valid.
pub async fn session(pool: &Pool, token: &str, now: i64) -> anyhow::Result<Option<Staff>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT st.username, st.display_name, st.role, s.csrf
             FROM console_sessions s JOIN staff st ON st.username = s.username
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            &[&token_hash(token), &now],
        )
        .await?;
    Ok(row.and_then(|r| {
        Some(Staff {
            username: r.get(0),
            display_name: r.get(1),
            role: Role::parse(r.get(2))?,
            csrf: r.get(3),
        })
    }))
}

pub async fn sign_out(pool: &Pool, token: &str) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "DELETE FROM console_sessions WHERE token_hash = $1",
            &[&token_hash(token)],
        )
        .await?;
    Ok(())
}

/// One line of the audit trail: who did what, when.
pub async fn audit(
    pool: &Pool,
    actor: &str,
    action: &str,
    detail: &str,
    now: i64,
) -> anyhow::Result<()> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO console_audit (at, actor, action, detail) VALUES ($1, $2, $3, $4)",
            &[&now, &actor, &action, &detail],
        )
        .await?;
    Ok(())
}

/// Compare a posted CSRF token with the session's in constant time.
pub fn csrf_matches(expected: &str, posted: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let digest = |t: &str| ring::digest::digest(&ring::digest::SHA256, t.as_bytes());
    bool::from(digest(expected).as_ref().ct_eq(digest(posted).as_ref())) && !posted.is_empty()
}
