//! Enrollment: a technician asks the console for one-time codes bound to a
//! station (valid 7 days, kept only as their hash); a kiosk with no
//! identity sends one with the public half of a key pair it generated, and
//! gets its terminal id, station, the platform's URL and CA, the content
//! publisher's key and the technicians' admin PIN hash. From then on it
//! signs with its own key ([`crate::PgBackend`]'s `terminal_key`).

use crate::db::PgBackend;
use crate::fleet::EnrollOptions;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use bianmin_platform::api::{Enrollment, EnrollmentRequest, API_PREFIX, ENROLLMENTS_PATH};
use std::sync::Arc;

/// The letters of a code: no 0/O, 1/I/L, so that a code read aloud or
/// typed from paper is not mistaken.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 12;
/// How long a code may be used.
pub const CODE_DAYS: i64 = 7;
/// What a scanned enrollment QR code starts with; then the code, a colon
/// and the kiosk API's URL.
pub const QR_PREFIX: &str = "BMENROLL1:";

/// A fresh code, 12 letters of [`CODE_ALPHABET`] (≈ 59 bits).
pub fn new_code() -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// "K7Q2M9XD4RTB" as printed: "K7Q2-M9XD-4RTB".
pub fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// A typed or scanned code as stored: upper case, without dashes or
/// spaces; `None` when it cannot be a code.
pub fn normalise(code: &str) -> Option<String> {
    let code: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

fn code_hash(code: &str) -> String {
    bianmin_platform::sign::body_hash(code.as_bytes())
}

/// Make `count` codes for `station`; returns them (shown once).
pub async fn make_codes(
    backend: &PgBackend,
    station: &str,
    count: usize,
    by: &str,
    now: i64,
) -> anyhow::Result<Vec<String>> {
    let mut client = backend.pool().get().await?;
    let tx = client.transaction().await?;
    let mut codes = Vec::with_capacity(count);
    for _ in 0..count {
        let code = new_code();
        tx.execute(
            "INSERT INTO enrollment_codes (code_hash, station_code, created_at, created_by, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[&code_hash(&code), &station, &now, &by, &(now + CODE_DAYS * 86_400)],
        )
        .await?;
        codes.push(code);
    }
    tx.execute(
        "INSERT INTO console_audit (at, actor, action, detail) VALUES ($1, $2, 'enrollment_codes', $3)",
        &[&now, &by, &format!("{station} ×{count}")],
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

pub const ADMIN_PIN_SETTING: &str = "admin_pin_hash";

/// A refusal, in the sentence the kiosk shows the technician.
struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.1, "message": self.2});
        (self.0, Json(body)).into_response()
    }
}

fn refuse(code: &'static str, sentence: &str) -> Refusal {
    Refusal(StatusCode::FORBIDDEN, code, sentence.to_string())
}

struct Enroller {
    backend: Arc<PgBackend>,
    options: EnrollOptions,
}

pub fn router(backend: Arc<PgBackend>, options: EnrollOptions) -> Router {
    Router::new()
        .route(&format!("{API_PREFIX}{ENROLLMENTS_PATH}"), post(enroll))
        .with_state(Arc::new(Enroller { backend, options }))
}

async fn enroll(
    State(e): State<Arc<Enroller>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<EnrollmentRequest>(&body) else {
        return Refusal(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "注册请求格式不对。".into(),
        )
        .into_response();
    };
    let now = chrono::Utc::now().timestamp();
    match enroll_in(&e, &headers, request, now).await {
        Ok(Ok(enrollment)) => Json(enrollment).into_response(),
        Ok(Err(refusal)) => refusal.into_response(),
        Err(err) => {
            tracing::error!(error = %err, "enrollment: database");
            let mut r = Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "平台暂时无法注册终端，请稍后再试。".into(),
            )
            .into_response();
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, 10u32.into());
            r
        }
    }
}

async fn enroll_in(
    e: &Enroller,
    headers: &HeaderMap,
    request: EnrollmentRequest,
    now: i64,
) -> anyhow::Result<Result<Enrollment, Refusal>> {
    let Some(code) = normalise(&request.code) else {
        return Ok(Err(refuse(
            "unknown_code",
            "注册码不对：应为 12 位字母和数字，请核对后重新输入或扫描。",
        )));
    };
    use bianmin_platform::sign::{public_key_is_valid, ALG_ED25519, ALG_SM2};
    let decoded = base64::engine::general_purpose::STANDARD.decode(&request.public_key);
    // Ed25519 or, from a kiosk of the 国密 suite, SM2; anything else is
    // refused before the code is spent.
    let public_key = match (request.algorithm.as_str(), decoded) {
        (alg, Ok(k)) if public_key_is_valid(alg, &k) => k,
        (ALG_ED25519 | ALG_SM2, _) => return Ok(Err(refuse("bad_key", "终端公钥格式不对。"))),
        _ => {
            return Ok(Err(refuse(
                "bad_key",
                "终端密钥类型不受支持（需 Ed25519 或 SM2）。",
            )))
        }
    };
    let mut client = e.backend.pool().get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT c.station_code, c.expires_at, c.used_at, s.name, s.address
             FROM enrollment_codes c JOIN stations s ON s.code = c.station_code
             WHERE c.code_hash = $1 FOR UPDATE OF c",
            &[&code_hash(&code)],
        )
        .await?
    else {
        return Ok(Err(refuse(
            "unknown_code",
            "没有这个注册码，请核对后重新输入或扫描。",
        )));
    };
    let station: String = row.get(0);
    if row.get::<_, Option<i64>>(2).is_some() {
        return Ok(Err(refuse(
            "used_code",
            "这个注册码已经用过：每个注册码只能注册一台终端，请向运维人员另取一个。",
        )));
    }
    if row.get::<_, i64>(1) < now {
        return Ok(Err(refuse(
            "expired_code",
            "这个注册码已过期（7 天内有效），请向运维人员另取一个。",
        )));
    }
    if let Some(old) = &request.replaces {
        let old_station: Option<String> = tx
            .query_opt(
                "SELECT station_code FROM terminals WHERE terminal_id = $1",
                &[old],
            )
            .await?
            .map(|r| r.get(0));
        if old_station.as_deref() != Some(station.as_str()) {
            return Ok(Err(refuse(
                "other_station",
                "这个注册码属于另一个站点，不能用来替换这台终端。请使用本站点的注册码。",
            )));
        }
    }
    let number: i32 = tx
        .query_one(
            "UPDATE stations SET next_terminal = next_terminal + 1 WHERE code = $1
             RETURNING next_terminal - 1",
            &[&station],
        )
        .await?
        .get(0);
    if number > 99 {
        return Ok(Err(refuse(
            "station_full",
            "这个站点已注册 99 台终端，请联系平台管理员。",
        )));
    }
    let terminal = format!("T{station}{number:02}");
    tx.execute(
        "INSERT INTO terminals (terminal_id, station_code, algorithm, public_key, enrolled_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[&terminal, &station, &request.algorithm, &public_key, &now],
    )
    .await?;
    if let Some(old) = &request.replaces {
        tx.execute(
            "UPDATE terminals SET replaced_by = $2 WHERE terminal_id = $1",
            &[old, &terminal],
        )
        .await?;
    }
    tx.execute(
        "UPDATE enrollment_codes SET used_at = $2, terminal_id = $3 WHERE code_hash = $1",
        &[&code_hash(&code), &now, &terminal],
    )
    .await?;
    let detail = match &request.replaces {
        Some(old) => format!("{terminal} at {station}, replacing {old}"),
        None => format!("{terminal} at {station}"),
    };
    tx.execute(
        "INSERT INTO console_audit (at, actor, action, detail) VALUES ($1, 'kiosk', 'terminal_enrolled', $2)",
        &[&now, &detail],
    )
    .await?;
    let admin_pin_hash = crate::fleet::setting(&tx, ADMIN_PIN_SETTING).await?;
    tx.commit().await?;
    let platform_url = e.options.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let scheme = if e.options.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{host}{API_PREFIX}")
    });
    tracing::info!(terminal, station, "terminal enrolled");
    Ok(Ok(Enrollment {
        terminal_id: terminal,
        station_code: station,
        station_name: row.get(3),
        station_address: row.get(4),
        platform_url,
        ca_pem: e.options.ca_pem.clone(),
        content_public_key: e.options.content_public_key.clone(),
        config_toml: String::new(),
        admin_pin_hash,
        config_public_key: e.options.config_public_key.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_twelve_unambiguous_letters_read_back_however_typed() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(normalise(&code).as_deref(), Some(code.as_str()));
        let printed = grouped(&code);
        assert_eq!(printed.len(), 14);
        assert_eq!(
            normalise(&printed.to_lowercase()).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(normalise("K7Q2-M9XD-4RT0"), None, "0 is not a code letter");
        assert_eq!(normalise("K7Q2"), None);
        assert_ne!(new_code(), new_code());
    }
}
