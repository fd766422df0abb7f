//! The kiosk's side of the platform API: reqwest over rustls (ring), every
//! request signed (see [`super::sign`]).

use crate::api::*;
use crate::sign::Credential;
use bianmin_config::{Config, PlatformConfig};
use reqwest::header::{HeaderMap, HeaderValue, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use zeroize::Zeroizing;

/// Longest `Retry-After` honoured; a larger one is capped (the link is retried
/// at least this often).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Largest answer body read from the platform. The largest legitimate ones
/// are the catalogue and a printable document (a few MiB of base64 PDF); a
/// body beyond this is refused as a protocol error instead of filling the
/// memory of a small board (a hostile or broken server can send without end).
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

/// Largest error answer read: only its short JSON message is used.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PlatformError {
    #[error("未配置平台密钥 (BIANMIN_PLATFORM_SECRET is not set)")]
    Unconfigured,
    #[error("平台配置错误 (platform setup: {0})")]
    Setup(String),
    #[error("网络不可用 (network: {0})")]
    Network(String),
    #[error("平台证书不可信，拒绝连接 (TLS: the platform's certificate was refused: {0})")]
    Tls(String),
    #[error("平台暂时不可用 (HTTP {status}: {reason})")]
    Server {
        status: u16,
        reason: String,
        retry_after: Option<Duration>,
    },
    #[error("平台拒绝了本终端的签名 (HTTP {status} {code}: {reason})")]
    Auth {
        status: u16,
        code: String,
        reason: String,
        /// Server clock (unix seconds) when it said `clock_skew`.
        server_time: Option<i64>,
    },
    #[error("平台拒绝了请求 (HTTP {status}: {reason})")]
    Refused { status: u16, reason: String },
    #[error("平台上没有该记录 (not found)")]
    NotFound,
    #[error("平台答复无法识别 (protocol: {0})")]
    Protocol(String),
}

impl PlatformError {
    /// Retrying the same request later can succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            PlatformError::Refused { .. } | PlatformError::NotFound | PlatformError::Unconfigured
        )
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Why the platform would not vouch for a personal code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Never issued: a forgery, or a code of another province.
    Unknown,
    Expired,
    /// Spent before (shown twice).
    Used,
    /// Not a well-formed code.
    Malformed,
}

/// A personal code that was not verified.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CodeCheckError {
    #[error("平台拒绝了这个码 (code refused: {0:?})")]
    Refused(CodeRefusal),
    /// The platform could not be asked (offline, away, misconfigured).
    #[error("{0}")]
    Unreachable(PlatformError),
}

/// Result of a conditional catalogue pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueFetch {
    NotModified,
    New { etag: Option<String>, body: String },
}

/// Install ring as rustls' process-wide provider (reqwest is built without one).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client every call to the platform goes through: no plain HTTP
/// beyond loopback, no redirects, the configured CA only, bounded waits.
fn http_client(platform: &PlatformConfig) -> Result<reqwest::Client, PlatformError> {
    install_crypto_provider();
    // Whatever the configuration says: residents' data never goes over
    // plain HTTP to another machine (loopback serves tests and demo).
    if !bianmin_config::is_loopback_url(platform.url.as_str()) {
        return Err(PlatformError::Setup(
            "平台地址必须是 https://（明文 http:// 只允许本机测试） (plain http:// only to this machine)"
                .into(),
        ));
    }
    let timeout = Duration::from_secs(u64::from(platform.request_timeout_secs.get()));
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .no_proxy()
        // Never follow a redirect: the signature covers the path it was
        // made for, and a redirect (a captive portal, a hijacked proxy)
        // would carry signed requests and residents' data elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bianmin-kiosk/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &platform.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| PlatformError::Setup(format!("CA file {}: {e}", ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| PlatformError::Setup(format!("CA file {}: {e}", ca.display())))?;
        if certs.is_empty() {
            return Err(PlatformError::Setup(format!(
                "CA file {} holds no certificate",
                ca.display()
            )));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map_err(|e| PlatformError::Setup(e.to_string()))
}

/// Enroll a kiosk with a one-time code (`POST /enrollments`, unsigned: the
/// code is the credential). A refusal comes back as `Refused` with the
/// platform's sentence (reused, expired or unknown code).
pub async fn enroll(
    platform: &PlatformConfig,
    request: &crate::api::EnrollmentRequest,
) -> Result<crate::api::Enrollment, PlatformError> {
    let http = http_client(platform)?;
    let url = format!(
        "{}{}",
        platform.url.as_str().trim_end_matches('/'),
        crate::api::ENROLLMENTS_PATH
    );
    let body = serde_json::to_vec(request).map_err(|e| PlatformError::Protocol(e.to_string()))?;
    let resp = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(classify)?;
    let status = resp.status();
    let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| PlatformError::Protocol(e.to_string()));
    }
    let reason = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    Err(if status.is_server_error() {
        PlatformError::Server {
            status: status.as_u16(),
            reason,
            retry_after: None,
        }
    } else {
        PlatformError::Refused {
            status: status.as_u16(),
            reason,
        }
    })
}

/// A signed HTTP client for one terminal.
pub struct PlatformClient {
    http: reqwest::Client,
    base: String,
    base_path: String,
    terminal_id: String,
    credential: Credential,
    clock_offset_secs: AtomicI64,
    /// A shared secret signs HMAC-SHA256 or, in the 国密 suite, HMAC-SM3
    /// (an enrolled key signs Ed25519 whatever the suite).
    suite: crate::seal::Suite,
}

impl std::fmt::Debug for PlatformClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlatformClient({}, {})", self.base, self.terminal_id)
    }
}

impl PlatformClient {
    /// The client of the configured terminal: its own key when enrolled
    /// (`platform.key_file`), else the secret from the environment.
    pub fn from_config(config: &Config) -> Result<PlatformClient, PlatformError> {
        let terminal = config.station.terminal_id.as_str();
        let suite = match config.crypto.suite {
            bianmin_config::CryptoSuite::Intl => crate::seal::Suite::Intl,
            bianmin_config::CryptoSuite::Gm => crate::seal::Suite::Gm,
        };
        if let Some(path) = &config.platform.key_file {
            let der = Zeroizing::new(std::fs::read(path).map_err(|e| {
                PlatformError::Setup(format!("terminal key {}: {e}", path.display()))
            })?);
            let credential = Credential::from_pkcs8(&der).map_err(|e| {
                PlatformError::Setup(format!("terminal key {}: {e}", path.display()))
            })?;
            return PlatformClient::with_credential(&config.platform, terminal, credential)
                .map(|c| c.with_suite(suite));
        }
        let secret = config
            .platform
            .secret
            .as_ref()
            .ok_or(PlatformError::Unconfigured)?;
        let client = PlatformClient::new(&config.platform, terminal, secret.0.as_bytes())?;
        Ok(client.with_suite(suite))
    }

    /// Sign requests with the shared secret in `suite` (HMAC-SHA256 by
    /// default, HMAC-SM3 for the 国密 suite). An enrolled key signs Ed25519
    /// whatever the suite.
    pub fn with_suite(mut self, suite: crate::seal::Suite) -> PlatformClient {
        self.suite = suite;
        self
    }

    pub fn new(
        platform: &PlatformConfig,
        terminal_id: &str,
        secret: &[u8],
    ) -> Result<PlatformClient, PlatformError> {
        let credential = Credential::Secret(Zeroizing::new(secret.to_vec()));
        PlatformClient::with_credential(platform, terminal_id, credential)
    }

    pub fn with_credential(
        platform: &PlatformConfig,
        terminal_id: &str,
        credential: Credential,
    ) -> Result<PlatformClient, PlatformError> {
        let http = http_client(platform)?;
        let base = platform.url.as_str().trim_end_matches('/').to_string();
        let base_path = base
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_default();
        Ok(PlatformClient {
            http,
            base,
            base_path,
            terminal_id: terminal_id.to_string(),
            credential,
            clock_offset_secs: AtomicI64::new(0),
            suite: crate::seal::Suite::Intl,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Seconds added to the local clock when signing, learnt from a
    /// `clock_skew` answer (0 when the clocks agree).
    pub fn clock_offset_secs(&self) -> i64 {
        self.clock_offset_secs.load(Ordering::Relaxed)
    }

    /// Sign and send; maps every failure onto [`PlatformError`].
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        extra: HeaderMap,
    ) -> Result<reqwest::Response, PlatformError> {
        let ts = chrono::Utc::now().timestamp() + self.clock_offset_secs();
        let signed_path = format!("{}{}", self.base_path, path);
        let mut req = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .headers(extra);
        // A fresh nonce on every send, retries included: the platform refuses
        // a nonce it has seen (replay protection).
        for (name, value) in self.credential.headers(
            self.suite,
            method.as_str(),
            &signed_path,
            &self.terminal_id,
            ts,
            &body,
        ) {
            req = req.header(name, value);
        }
        if !body.is_empty() {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        if status.is_redirection() {
            // Retryable on purpose: a redirect is a setup fault (a wrong
            // `platform.url`, a portal in the way) that a technician fixes;
            // the records must wait, not be parked as refused.
            let to: String = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            return Err(PlatformError::Setup(format!(
                "平台返回重定向 HTTP {} → {to:?}，终端不跟随重定向，请检查 platform.url (redirects are not followed)",
                status.as_u16()
            )));
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = read_capped(resp, MAX_ERROR_BODY)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let api: Option<ApiError> = serde_json::from_str(&text).ok();
        let reason = api
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_else(|| text.chars().take(200).collect());
        let code = status.as_u16();
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let api = api.unwrap_or(ApiError {
                    code: "unauthorized".into(),
                    message: reason.clone(),
                    server_time: None,
                });
                if api.code == "clock_skew" {
                    if let Some(server) = api.server_time {
                        let offset = server - chrono::Utc::now().timestamp();
                        self.clock_offset_secs.store(offset, Ordering::Relaxed);
                        tracing::warn!(offset, "系统时间与平台相差过大 (clock differs from the platform); signing with the platform's time");
                    }
                }
                PlatformError::Auth {
                    status: code,
                    code: api.code,
                    reason,
                    server_time: api.server_time,
                }
            }
            StatusCode::NOT_FOUND => PlatformError::NotFound,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => PlatformError::Server {
                status: code,
                reason,
                retry_after,
            },
            s if s.is_server_error() => PlatformError::Server {
                status: code,
                reason,
                retry_after,
            },
            _ => PlatformError::Refused {
                status: code,
                reason,
            },
        })
    }

    /// Upload a batch body (`{"applications": [...]}` etc.) of `kind`.
    pub async fn post_batch(
        &self,
        kind: RecordKind,
        body: Vec<u8>,
    ) -> Result<BatchResponse, PlatformError> {
        let resp = self
            .send(Method::POST, kind.batch_path(), body, HeaderMap::new())
            .await?;
        let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
        serde_json::from_slice(&bytes).map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    /// The commands a technician sent this terminal, each handed out once.
    pub async fn commands(&self) -> Result<Vec<RemoteCommand>, PlatformError> {
        let resp = self
            .send(Method::GET, COMMANDS_PATH, Vec::new(), HeaderMap::new())
            .await?;
        let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
        serde_json::from_slice::<CommandList>(&bytes)
            .map(|l| l.commands)
            .map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    /// The configuration the county set for this terminal: `None` when it
    /// is the version held (`If-None-Match`) or there is none.
    pub async fn remote_config(
        &self,
        held: Option<&str>,
    ) -> Result<Option<RemoteConfig>, PlatformError> {
        let mut extra = HeaderMap::new();
        if let Some(v) = held.and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok()) {
            extra.insert(IF_NONE_MATCH, v);
        }
        let resp = match self.send(Method::GET, CONFIG_PATH, Vec::new(), extra).await {
            Ok(r) => r,
            Err(PlatformError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    /// Which version the station's channel offers (`GET /update`).
    pub async fn update_offer(&self) -> Result<UpdateOffer, PlatformError> {
        let resp = self
            .send(Method::GET, UPDATE_PATH, Vec::new(), HeaderMap::new())
            .await?;
        let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
        serde_json::from_slice(&bytes).map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    /// Say how an installation went (`POST /update/result`).
    pub async fn report_update(&self, report: &UpdateReport) -> Result<(), PlatformError> {
        let body =
            serde_json::to_vec(report).map_err(|e| PlatformError::Protocol(e.to_string()))?;
        let path = format!("{UPDATE_PATH}/result");
        self.send(Method::POST, &path, body, HeaderMap::new())
            .await?;
        Ok(())
    }

    /// Say what became of a configuration version.
    pub async fn config_result(&self, result: &ConfigResult) -> Result<(), PlatformError> {
        let body =
            serde_json::to_vec(result).map_err(|e| PlatformError::Protocol(e.to_string()))?;
        let path = format!("{CONFIG_PATH}/result");
        self.send(Method::POST, &path, body, HeaderMap::new())
            .await?;
        Ok(())
    }

    /// Report what became of command `id`.
    pub async fn command_result(
        &self,
        id: &str,
        result: &CommandResult,
    ) -> Result<(), PlatformError> {
        let body =
            serde_json::to_vec(result).map_err(|e| PlatformError::Protocol(e.to_string()))?;
        let path = format!("{COMMANDS_PATH}/{id}/result");
        self.send(Method::POST, &path, body, HeaderMap::new())
            .await?;
        Ok(())
    }

    /// Conditional catalogue pull.
    pub async fn catalogue(&self, etag: Option<&str>) -> Result<CatalogueFetch, PlatformError> {
        self.conditional_get("/catalogue", etag).await
    }

    /// Conditional pull of the signed content package (the caller verifies
    /// it; this only fetches bytes).
    pub async fn content_package(
        &self,
        etag: Option<&str>,
    ) -> Result<CatalogueFetch, PlatformError> {
        self.conditional_get("/content-package", etag).await
    }

    async fn conditional_get(
        &self,
        path: &str,
        etag: Option<&str>,
    ) -> Result<CatalogueFetch, PlatformError> {
        let mut headers = HeaderMap::new();
        if let Some(tag) = etag.and_then(|t| HeaderValue::from_str(t).ok()) {
            headers.insert(IF_NONE_MATCH, tag);
        }
        let resp = self.send(Method::GET, path, Vec::new(), headers).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(CatalogueFetch::NotModified);
        }
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_capped(resp, MAX_RESPONSE_BODY).await?;
        let body = String::from_utf8(body)
            .map_err(|_| PlatformError::Protocol(format!("{path} is not UTF-8")))?;
        Ok(CatalogueFetch::New { etag, body })
    }

    /// Progress of one application by its receipt number.
    pub async fn progress(&self, receipt_no: &str) -> Result<Progress, PlatformError> {
        if !bianmin_core::receipt::is_valid(receipt_no) {
            return Err(PlatformError::NotFound);
        }
        self.get_json(&format!("/applications/{receipt_no}/progress"))
            .await
    }

    /// A resident's e-certificates and printable documents. The ID number
    /// goes in the (TLS-protected) body, never in the URL.
    pub async fn resident_documents(
        &self,
        id_number: &str,
    ) -> Result<ResidentDocuments, PlatformError> {
        self.post_resident_query("/residents/documents", id_number)
            .await
    }

    /// A POST whose body is one resident's ID number (never in a URL or an
    /// access log) and whose answer is JSON of type `T`.
    async fn post_resident_query<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        id_number: &str,
    ) -> Result<T, PlatformError> {
        let body = Zeroizing::new(
            serde_json::to_vec(&ResidentQuery {
                id_number: id_number.to_string(),
            })
            .expect("serialisable"),
        );
        let resp = self
            .send(Method::POST, path, body.to_vec(), HeaderMap::new())
            .await?;
        let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
        serde_json::from_slice(&bytes).map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    /// Every application of the resident with `id_number`, at any terminal,
    /// newest first (`POST /residents/applications`; the number in the body).
    pub async fn resident_applications(
        &self,
        id_number: &str,
    ) -> Result<ResidentApplications, PlatformError> {
        self.post_resident_query(RESIDENT_APPLICATIONS_PATH, id_number)
            .await
    }

    /// This terminal's 办不成事 reports and 差评 to call back about.
    pub async fn follow_ups(&self) -> Result<FollowUps, PlatformError> {
        self.get_json(FOLLOW_UPS_PATH).await
    }

    /// This terminal's look-up key for the ID-number hashes of its outbox
    /// (kept in memory only by the caller).
    pub async fn lookup_key(&self) -> Result<zeroize::Zeroizing<[u8; 32]>, PlatformError> {
        use base64::Engine as _;
        let answer: LookupKey = self.get_json(LOOKUP_KEY_PATH).await?;
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(answer.key.trim())
                .map_err(|_| PlatformError::Protocol("the look-up key is not base64".into()))?,
        );
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(PlatformError::Protocol(
                "the look-up key is not 32 bytes".into(),
            ));
        }
        key.copy_from_slice(&bytes);
        Ok(key)
    }

    /// Spend a personal code (一码通办) at the platform: whom it stands for.
    /// A refusal says why: [`CodeRefusal`].
    pub async fn verify_identity_code(
        &self,
        scheme: bianmin_core::personal_code::Scheme,
        token: &str,
    ) -> Result<VerifiedIdentity, CodeCheckError> {
        let body = Zeroizing::new(
            serde_json::to_vec(&CodeVerification {
                scheme,
                token: token.to_string(),
            })
            .expect("serialisable"),
        );
        let resp = self
            .send(
                Method::POST,
                IDENTITY_VERIFY_PATH,
                body.to_vec(),
                HeaderMap::new(),
            )
            .await
            .map_err(|e| match e {
                PlatformError::NotFound => CodeCheckError::Refused(CodeRefusal::Unknown),
                PlatformError::Refused { status: 409, .. } => {
                    CodeCheckError::Refused(CodeRefusal::Used)
                }
                PlatformError::Refused { status: 410, .. } => {
                    CodeCheckError::Refused(CodeRefusal::Expired)
                }
                PlatformError::Refused { status: 400, .. } => {
                    CodeCheckError::Refused(CodeRefusal::Malformed)
                }
                other => CodeCheckError::Unreachable(other),
            })?;
        let bytes = read_capped(resp, MAX_RESPONSE_BODY)
            .await
            .map_err(CodeCheckError::Unreachable)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CodeCheckError::Unreachable(PlatformError::Protocol(e.to_string())))
    }

    /// A signed GET whose answer is JSON of type `T`.
    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, PlatformError> {
        let resp = self
            .send(Method::GET, path, Vec::new(), HeaderMap::new())
            .await?;
        let bytes = read_capped(resp, MAX_RESPONSE_BODY).await?;
        serde_json::from_slice(&bytes).map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    /// One printable document.
    pub async fn document(&self, id: &str) -> Result<PrintableDocument, PlatformError> {
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(PlatformError::NotFound);
        }
        self.get_json(&format!("/documents/{id}")).await
    }
}

/// The answer's body, refused once it exceeds `limit` bytes (announced by
/// `Content-Length` or counted while reading, for chunked or close-delimited
/// bodies): never more than `limit` plus one network chunk is held.
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, PlatformError> {
    let too_large = || {
        PlatformError::Protocol(format!(
            "平台答复过大，超过 {} KiB (answer larger than the limit)",
            limit / 1024
        ))
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = (when.timestamp() - chrono::Utc::now().timestamp()).max(0) as u64;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

fn classify(e: reqwest::Error) -> PlatformError {
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = src {
        chain.push_str(&s.to_string());
        chain.push_str(": ");
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("invalid peer")
    {
        PlatformError::Tls(chain.trim_end_matches(": ").to_string())
    } else {
        PlatformError::Network(chain.trim_end_matches(": ").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
