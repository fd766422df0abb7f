//! Reference implementation of the platform API (docs/platform-api.yaml):
//! axum + SQLite, on loopback for tests and `bianmin demo`, or as a
//! stand-in at a station (`bianmin-platform`).
//!
//! It verifies every signature from the headers before reading a body,
//! refuses a replayed nonce, dedupes records on (kind, signing terminal, id)
//! forever (a primary key, not a time window) and can inject faults at run
//! time through [`FaultControl`] or `POST /admin/faults`: 500s, 503/429 with
//! `Retry-After`, connection resets, slow answers and a response lost after
//! the write was committed.
//!
//! `/admin/*` answers loopback peers only, or, when an admin token is set,
//! only requests bearing it. Connections beyond [`ServerOptions::max_connections`]
//! are closed at once.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine as _;
use bianmin_core::receipt;
use bianmin_platform::api::*;
use bianmin_platform::sign;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Notify};

pub mod backend;
pub mod identity;
pub mod secrets;
pub mod sqlite;

pub use backend::{
    etag_of, Backend, BackendError, BackendResult, Checked, Counts, Doc, Inspect, NonceCheck,
    Published, StoredApplication,
};
pub use sqlite::{SqliteBackend, MAX_NONCES};

/// Largest accepted request body. Read only after the signature (made over
/// the headers, which carry the body's hash) was checked.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// Default largest number of open connections; more are closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Largest accepted batch.
pub const MAX_BATCH: usize = 1000;

/// A fault to inject into the next API request(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// 500 Internal Server Error, nothing stored.
    Error500,
    /// 503 with `Retry-After`, nothing stored.
    Unavailable { retry_after_secs: u64 },
    /// 429 with `Retry-After`, nothing stored.
    RateLimited { retry_after_secs: u64 },
    /// The TCP connection is reset (RST) before any answer; nothing stored.
    Reset,
    /// The answer comes after `delay_ms` (then normally).
    Slow { delay_ms: u64 },
    /// The request is processed and committed, then the connection is reset
    /// instead of answering: the client cannot know it succeeded.
    DropAfterCommit,
}

#[derive(Default)]
struct FaultState {
    queue: VecDeque<Fault>,
    random: Vec<(Fault, f64)>,
}

/// Run-time fault switchboard, shared by the handle and `/admin/faults`.
#[derive(Default)]
pub struct FaultControl {
    state: Mutex<FaultState>,
    injected: AtomicU64,
}

impl FaultControl {
    /// The next `times` API requests get `fault` (in order, after any queued).
    pub fn inject(&self, fault: Fault, times: u32) {
        let mut s = self.state.lock().unwrap();
        for _ in 0..times {
            s.queue.push_back(fault);
        }
    }

    /// Every API request gets `fault` with `probability` (0 removes it).
    pub fn set_random(&self, fault: Fault, probability: f64) {
        let mut s = self.state.lock().unwrap();
        s.random
            .retain(|(f, _)| std::mem::discriminant(f) != std::mem::discriminant(&fault));
        if probability > 0.0 {
            s.random.push((fault, probability.min(1.0)));
        }
    }

    pub fn clear(&self) {
        *self.state.lock().unwrap() = FaultState::default();
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    /// Queued faults not yet used.
    pub fn queued(&self) -> usize {
        self.state.lock().unwrap().queue.len()
    }

    fn next(&self) -> Option<Fault> {
        let mut s = self.state.lock().unwrap();
        let f = s.queue.pop_front().or_else(|| {
            s.random
                .iter()
                .find(|(_, p)| rand::random::<f64>() < *p)
                .map(|(f, _)| *f)
        });
        if f.is_some() {
            self.injected.fetch_add(1, Ordering::Relaxed);
        }
        f
    }
}

/// PEM certificate chain and private key for HTTPS.
#[derive(Clone)]
pub struct TlsOptions {
    pub cert_chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

pub struct ServerOptions {
    /// Loopback port 0 by default.
    pub bind: SocketAddr,
    /// SQLite file; `None` keeps everything in memory.
    pub db_path: Option<PathBuf>,
    /// The catalogue document served by `GET /catalogue` (opaque JSON).
    pub catalogue: Vec<u8>,
    /// The signed content package served by `GET /content-package`, as
    /// published (the server does not sign: the publisher does, offline);
    /// `None` answers 404 until one is published.
    pub content_package: Option<Vec<u8>>,
    /// Terminal id → signing secret.
    pub secrets: HashMap<String, String>,
    /// Secret accepted for any terminal id not in `secrets` (demo, tests).
    pub shared_secret: Option<String>,
    pub tls: Option<TlsOptions>,
    /// Largest accepted clock difference, seconds.
    pub max_skew_secs: i64,
    /// Pretend the server's clock is this many seconds ahead (tests of a
    /// terminal whose clock is wrong).
    pub clock_offset_secs: i64,
    /// When set, `/admin/*` requires `Authorization: Bearer <token>` from
    /// every peer; when not, `/admin/*` answers loopback peers only.
    pub admin_token: Option<String>,
    /// Open connections at most; a connection beyond it is closed at once.
    pub max_connections: usize,
    /// Serve `/admin/faults` (tests, the reference server). A production
    /// platform service leaves it off: no request can then inject a fault.
    pub fault_injection: bool,
    /// The platform's private keys that open the personal fields kiosks
    /// sealed to its public key (by key id: old keys stay while records
    /// sealed to them may arrive). The published demo keys by default.
    pub opening_keys: Arc<bianmin_platform::seal::OpeningKeys>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            db_path: None,
            catalogue: br#"{"schema":1,"version":"empty","categories":[],"services":[]}"#.to_vec(),
            content_package: None,
            secrets: HashMap::new(),
            shared_secret: None,
            tls: None,
            max_skew_secs: sign::MAX_SKEW_SECS,
            clock_offset_secs: 0,
            admin_token: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            fault_injection: true,
            opening_keys: Arc::new(bianmin_platform::seal::OpeningKeys::demo()),
        }
    }
}

/// Counters of what the server saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    pub applications: u64,
    pub evaluations: u64,
    pub heartbeats: u64,
    pub error_reports: u64,
    /// Records received again after they were stored (answered `duplicate`).
    pub duplicates: u64,
    pub rejected: u64,
    pub bad_signatures: u64,
    /// Requests refused because their nonce had been used (replays).
    #[serde(default)]
    pub replays: u64,
    /// Connections closed at once because `max_connections` were open.
    #[serde(default)]
    pub connections_refused: u64,
    pub faults_injected: u64,
}

/// Counters of what the HTTP layer refused or saw twice (per instance).
#[derive(Default)]
struct Counters {
    duplicates: AtomicU64,
    rejected: AtomicU64,
    bad_signatures: AtomicU64,
    replays: AtomicU64,
    connections_refused: AtomicU64,
}

struct Shared<B> {
    backend: Arc<B>,
    admin_token: Option<String>,
    secrets: HashMap<String, String>,
    shared_secret: Option<String>,
    max_skew: i64,
    clock_offset: i64,
    faults: Arc<FaultControl>,
    reject_services: Arc<Mutex<HashSet<String>>>,
    counters: Arc<Counters>,
    opening_keys: Arc<bianmin_platform::seal::OpeningKeys>,
}

/// A running server; dropping it stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    base_url: String,
    inspect: Arc<dyn Inspect>,
    issuer: Issuer,
    counters: Arc<Counters>,
    faults: Arc<FaultControl>,
    reject_services: Arc<Mutex<HashSet<String>>>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Issues demo personal codes on the handle's backend (see [`identity`]).
type Issuer = Arc<
    dyn Fn(
            identity::IssueCodeRequest,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<identity::IssuedCode, Response>> + Send>,
        > + Send
        + Sync,
>;

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    api_error_at(status, code, message, None)
}

fn api_error_at(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    server_time: Option<i64>,
) -> Response {
    (
        status,
        Json(ApiError {
            code: code.into(),
            message: message.into(),
            server_time,
        }),
    )
        .into_response()
}

pub async fn spawn(opts: ServerOptions) -> std::io::Result<ServerHandle> {
    let backend = Arc::new(SqliteBackend::open(opts.db_path.as_deref())?);
    backend.publish_now(Doc::Catalogue, Bytes::from(opts.catalogue.clone()));
    if let Some(package) = &opts.content_package {
        backend.publish_now(Doc::ContentPackage, Bytes::from(package.clone()));
    }
    spawn_with(backend.clone(), backend, opts, Router::new()).await
}

/// Serve the kiosk API over `backend` (its `db_path`, `catalogue` and
/// `content_package` options are the backend's business, not read here),
/// with `extra` routes (a console) merged in beside it. `inspect` answers
/// the handle's look-ups.
pub async fn spawn_with<B: Backend>(
    backend: Arc<B>,
    inspect: Arc<dyn Inspect>,
    opts: ServerOptions,
    extra: Router,
) -> std::io::Result<ServerHandle> {
    let tls = match &opts.tls {
        Some(t) => Some(tls_acceptor(t)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(opts.bind).await?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = if addr.ip().is_loopback() && addr.is_ipv4() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let base_url = format!("{scheme}://{host}:{}{API_PREFIX}", addr.port());

    let counters = Arc::new(Counters::default());
    let faults = Arc::new(FaultControl::default());
    let reject_services = Arc::new(Mutex::new(HashSet::new()));
    let shared = Arc::new(Shared {
        backend,
        admin_token: opts.admin_token.filter(|t| !t.is_empty()),
        secrets: opts.secrets,
        shared_secret: opts.shared_secret,
        max_skew: opts.max_skew_secs,
        clock_offset: opts.clock_offset_secs,
        faults: faults.clone(),
        reject_services: reject_services.clone(),
        counters: counters.clone(),
        opening_keys: opts.opening_keys,
    });
    let issuing = shared.backend.clone();
    let issuer: Issuer = Arc::new(move |req| {
        let backend = issuing.clone();
        Box::pin(async move { issue_code(&*backend, req).await })
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
    let router = router(shared, opts.fault_injection)
        .merge(extra)
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "not_found", "no such route") });
    let (stop, mut stopped) = watch::channel(false);
    let counted = counters.clone();
    let accept_faults = faults.clone();
    let task = tokio::spawn(async move {
        let mut conns = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((tcp, peer)) = accepted else { continue };
                    // A connection beyond the limit is closed at once rather
                    // than queued: idle or slow connections cannot pile up
                    // and take the memory of the ones being served.
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        counted.connections_refused.fetch_add(1, Ordering::Relaxed);
                        drop(tcp);
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let fd = tcp.as_raw_fd();
                    let router = router.clone();
                    let faults = accept_faults.clone();
                    let tls = tls.clone();
                    conns.spawn(async move {
                        let _slot = slot;
                        match tls {
                            Some(acceptor) => {
                                if let Ok(Ok(stream)) = tokio::time::timeout(
                                    Duration::from_secs(10), acceptor.accept(tcp)).await
                                {
                                    serve_conn(stream, fd, peer, router, faults).await;
                                }
                            }
                            None => serve_conn(tcp, fd, peer, router, faults).await,
                        }
                    });
                    while conns.try_join_next().is_some() {}
                }
                _ = stopped.changed() => break,
            }
        }
        conns.abort_all();
    });
    Ok(ServerHandle {
        addr,
        base_url,
        inspect,
        issuer,
        counters,
        faults,
        reject_services,
        stop,
        task: Some(task),
    })
}

fn tls_acceptor(t: &TlsOptions) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let certs = CertificateDer::pem_slice_iter(&t.cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("certificate PEM: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(&t.key_pem).map_err(|e| bad(format!("key PEM: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn set_reset_on_close(fd: RawFd) {
    // SAFETY: the socket is still owned by the connection future, which is
    // dropped right after this call; the fd is valid here.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let _ = socket2::SockRef::from(&fd).set_linger(Some(Duration::ZERO));
}

/// The connection's peer, for the admin routes' loopback rule.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

async fn serve_conn<S>(
    io: S,
    fd: RawFd,
    peer: SocketAddr,
    router: Router,
    faults: Arc<FaultControl>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let abort = Arc::new(Notify::new());
    let ab = abort.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(Peer(peer));
        let router = TowerToHyperService::new(router.clone());
        let faults = faults.clone();
        let abort = ab.clone();
        async move {
            let fault = if req.uri().path().starts_with(API_PREFIX) {
                faults.next()
            } else {
                None
            };
            use hyper::service::Service as _;
            let resp = match fault {
                None => router.call(req).await,
                Some(Fault::Error500) => Ok(api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "injected fault",
                )),
                Some(Fault::Unavailable { retry_after_secs }) => {
                    let mut r = api_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "injected fault",
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                    Ok(r)
                }
                Some(Fault::RateLimited { retry_after_secs }) => {
                    let mut r = api_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate_limited",
                        "injected fault",
                    );
                    r.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                    Ok(r)
                }
                Some(Fault::Slow { delay_ms }) => {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    router.call(req).await
                }
                Some(Fault::Reset) => {
                    abort.notify_one();
                    std::future::pending().await
                }
                Some(Fault::DropAfterCommit) => {
                    let _ = router.call(req).await;
                    abort.notify_one();
                    std::future::pending().await
                }
            };
            resp
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = abort.notified() => set_reset_on_close(fd),
    }
}

#[derive(Clone)]
struct Terminal(String);

fn router<B: Backend>(shared: Arc<Shared<B>>, fault_injection: bool) -> Router {
    let api = Router::new()
        .route(
            &format!("{API_PREFIX}/catalogue"),
            get(|s, t, h| get_document_of(Doc::Catalogue, s, t, h)),
        )
        .route(
            &format!("{API_PREFIX}/content-package"),
            get(|s, t, h| get_document_of(Doc::ContentPackage, s, t, h)),
        )
        .route(
            &format!("{API_PREFIX}/applications/batch"),
            post(|s, t, b| batch(RecordKind::Application, s, t, b)),
        )
        .route(
            &format!("{API_PREFIX}/evaluations/batch"),
            post(|s, t, b| batch(RecordKind::Evaluation, s, t, b)),
        )
        .route(
            &format!("{API_PREFIX}/heartbeats/batch"),
            post(|s, t, b| batch(RecordKind::Heartbeat, s, t, b)),
        )
        .route(
            &format!("{API_PREFIX}/error-reports/batch"),
            post(|s, t, b| batch(RecordKind::ErrorReport, s, t, b)),
        )
        .route(
            &format!("{API_PREFIX}/applications/{{receipt_no}}/progress"),
            get(get_progress::<B>),
        )
        .route(
            &format!("{API_PREFIX}/residents/documents"),
            post(resident_documents),
        )
        .route(
            &format!("{API_PREFIX}{RESIDENT_APPLICATIONS_PATH}"),
            post(resident_applications::<B>),
        )
        .route(
            &format!("{API_PREFIX}{IDENTITY_VERIFY_PATH}"),
            post(verify_identity_code::<B>),
        )
        .route(
            &format!("{API_PREFIX}{FOLLOW_UPS_PATH}"),
            get(get_follow_ups::<B>),
        )
        .route(
            &format!("{API_PREFIX}{LOOKUP_KEY_PATH}"),
            get(get_lookup_key::<B>),
        )
        .route(&format!("{API_PREFIX}/documents/{{id}}"), get(get_document))
        .route(&format!("{API_PREFIX}/commands"), get(get_commands::<B>))
        .route(&format!("{API_PREFIX}/config"), get(get_config::<B>))
        .route(&format!("{API_PREFIX}/update"), get(get_update::<B>))
        .route(
            &format!("{API_PREFIX}/update/result"),
            post(post_update_result::<B>),
        )
        .route(
            &format!("{API_PREFIX}/config/result"),
            post(post_config_result::<B>),
        )
        .route(
            &format!("{API_PREFIX}/commands/{{id}}/result"),
            post(post_command_result::<B>),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            verify_signature::<B>,
        ));
    let admin = Router::new();
    let admin = if fault_injection {
        admin.route(
            "/admin/faults",
            post(admin_faults::<B>).delete(admin_clear_faults::<B>),
        )
    } else {
        admin
    };
    let admin = admin
        .route("/admin/stats", get(admin_stats::<B>))
        .route("/admin/progress", post(admin_progress::<B>))
        .route("/admin/identity-codes", post(admin_identity_code::<B>))
        .route(
            "/admin/content-package",
            axum::routing::put(admin_publish_content::<B>),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            guard_admin::<B>,
        ))
        .route("/healthz", get(|| async { "ok" }));
    api.merge(admin).with_state(shared)
}

/// Whether an `/admin/*` request may pass: with a token configured, only
/// when it bears that token (compared in constant time), from any peer;
/// without one, only from a loopback peer.
fn admin_allowed(
    peer: Option<IpAddr>,
    token: Option<&str>,
    authorization: Option<&str>,
) -> Result<(), (StatusCode, &'static str)> {
    match token {
        Some(expected) => {
            let presented = authorization
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            // Compared as digests, so neither the content nor the length of
            // the token shows in the time taken.
            use sha2::Digest as _;
            use subtle::ConstantTimeEq as _;
            let digest = |t: &str| sha2::Sha256::digest(t.as_bytes());
            if bool::from(digest(presented).ct_eq(&digest(expected))) {
                Ok(())
            } else {
                Err((StatusCode::UNAUTHORIZED, "admin token required"))
            }
        }
        None if peer.is_some_and(|ip| ip.to_canonical().is_loopback()) => Ok(()),
        None => Err((
            StatusCode::FORBIDDEN,
            "admin routes answer loopback only (no admin token is set)",
        )),
    }
}

async fn guard_admin<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<Peer>().map(|p| p.0.ip());
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match admin_allowed(peer, s.admin_token.as_deref(), authorization) {
        Ok(()) => next.run(req).await,
        Err((status, why)) => api_error(status, "unauthorized", why),
    }
}

/// Check a request's signature before its body is read: the signature is
/// made over the headers, which carry the body's SHA-256, so a caller
/// without the terminal's secret never makes the server read (or buffer)
/// a body. Then the nonce is remembered (a replay is refused), and only
/// then is the body read, at most [`MAX_BODY`], and its hash compared with
/// the signed one.
async fn verify_signature<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let refuse = |code: &str, message: &str| {
        s.counters.bad_signatures.fetch_add(1, Ordering::Relaxed);
        api_error(StatusCode::UNAUTHORIZED, code, message)
    };
    // Three ways to sign, from any terminal: with its secret, HMAC-SHA256
    // over a SHA-256 body hash (no X-Signature-Alg) or HMAC-SM3 over an SM3
    // body hash (X-Signature-Alg: HMAC-SM3, the 国密 suite); or, an enrolled
    // kiosk, with its own key (X-Signature-Alg: ed25519) over a SHA-256 body
    // hash.
    // An enrolled kiosk of the 国密 suite signs with its SM2 key over an SM3
    // body hash (X-Signature-Alg: SM2-SM3).
    let alg = header(sign::HDR_SIGNATURE_ALG);
    let (suite, by_enrolled_key) = match alg.as_deref() {
        None => (bianmin_platform::seal::Suite::Intl, false),
        Some(sign::ALG_HMAC_SM3) => (bianmin_platform::seal::Suite::Gm, false),
        Some(sign::ALG_ED25519) => (bianmin_platform::seal::Suite::Intl, true),
        Some(sign::ALG_SM2) => (bianmin_platform::seal::Suite::Gm, true),
        Some(_) => {
            return refuse(
                "bad_signature",
                "X-Signature-Alg must be HMAC-SM3, ed25519, SM2-SM3 or absent",
            )
        }
    };
    let (Some(terminal), Some(ts), Some(nonce), Some(body_sha256), Some(sig)) = (
        header(HDR_TERMINAL),
        header(HDR_TIMESTAMP),
        header(sign::HDR_NONCE),
        header(sign::content_hash_header(suite)),
        header(HDR_SIGNATURE),
    ) else {
        return refuse(
            "bad_signature",
            "X-Terminal-Id, X-Timestamp, X-Nonce, X-Content-SHA256 (X-Content-SM3 with HMAC-SM3) and X-Signature are required",
        );
    };
    // An enrolled kiosk signs with its own key; the others with a secret.
    let enrolled_key = if by_enrolled_key {
        match s.backend.terminal_key(&terminal).await {
            Ok(Some(key)) => Some(key),
            Ok(None) => return refuse("unknown_terminal", "terminal is not enrolled"),
            Err(e) => return backend_failed("terminal keys", e),
        }
    } else {
        None
    };
    let secret = match (
        &enrolled_key,
        s.secrets.get(&terminal).or(s.shared_secret.as_ref()),
    ) {
        (Some(_), _) => None,
        (None, Some(secret)) => Some(secret),
        (None, None) => return refuse("unknown_terminal", "terminal is not registered"),
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return refuse("bad_signature", "X-Timestamp is not unix seconds");
    };
    let now = now_secs() + s.clock_offset;
    if (now - ts).abs() > s.max_skew {
        s.counters.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return api_error_at(
            StatusCode::UNAUTHORIZED,
            "clock_skew",
            "X-Timestamp is too far from the server's clock",
            Some(now),
        );
    }
    if !sign::is_valid_nonce(&nonce) || !sign::is_valid_sha256_hex(&body_sha256) {
        return refuse(
            "bad_signature",
            "X-Nonce must be 32 to 64 and X-Content-SHA256 (X-Content-SM3) 64 lower-case hex digits",
        );
    }
    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let signed = sign::Signed {
        method: parts.method.as_str(),
        path_and_query: path,
        terminal_id: &terminal,
        timestamp: ts,
        nonce: &nonce,
        body_sha256_hex: &body_sha256,
    };
    let valid = match (&enrolled_key, secret) {
        // The stored key is of one algorithm: named the other, it fails.
        (Some(key), _) if alg.as_deref() == Some(sign::ALG_SM2) => signed.verify_sm2(key, &sig),
        (Some(key), _) => signed.verify_ed25519(key, &sig),
        (None, Some(secret)) => signed.verify_in(suite, secret.as_bytes(), &sig),
        (None, None) => false,
    };
    if !valid {
        return refuse("bad_signature", "signature does not match");
    }
    if declared_len.is_some_and(|n| n > MAX_BODY as u64) {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad_request",
            "body too large",
        );
    }
    match s
        .backend
        .remember_nonce(&terminal, &nonce, ts, now - s.max_skew)
        .await
    {
        Ok(NonceCheck::New) => {}
        Ok(NonceCheck::Replayed) => {
            s.counters.replays.fetch_add(1, Ordering::Relaxed);
            return api_error(
                StatusCode::UNAUTHORIZED,
                "replayed",
                "this request (its X-Nonce) was seen before",
            );
        }
        Ok(NonceCheck::Full) => {
            let mut r = api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "too many requests inside the replay window",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(10u32));
            return r;
        }
        Err(e) => return backend_failed("nonce store", e),
    }
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bad_request",
                "body too large",
            )
        }
    };
    if sign::body_hash_in(suite, &bytes) != body_sha256 {
        return refuse(
            "bad_signature",
            "body does not match the signed X-Content-SHA256 / X-Content-SM3",
        );
    }
    parts.extensions.insert(Terminal(terminal));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A storage failure answered: 503 with `Retry-After` when the database
/// is away (the kiosk keeps the record and retries), 500 otherwise. The
/// detail goes to the log, not to the terminal.
fn backend_failed(what: &str, e: BackendError) -> Response {
    tracing::error!(error = %e, "{what} failed");
    match e {
        BackendError::Unavailable(_) => {
            let mut r = api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "storage is unavailable; try again later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(5u32));
            r
        }
        BackendError::Internal(_) => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what} failed"),
        ),
    }
}

async fn get_document_of<B: Backend>(
    doc: Doc,
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    headers: HeaderMap,
) -> Response {
    // What this terminal is served: a platform may publish a package to
    // some stations only.
    match s.backend.published_for(doc, &terminal).await {
        Ok(Some(published)) => conditional(&published, &headers),
        Ok(None) => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {} is published", doc.as_str().replace('_', " ")),
        ),
        Err(e) => backend_failed("document look-up", e),
    }
}

/// Publish a signed content package as given (the reference server does not
/// verify it: a kiosk must refuse a bad one whatever the platform serves).
async fn admin_publish_content<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    body: Bytes,
) -> Response {
    match s.backend.publish(Doc::ContentPackage, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => backend_failed("publishing", e),
    }
}

/// A document answered with its ETag, or 304 when the client has it.
fn conditional(cat: &Published, headers: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&cat.etag).expect("hex etag");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == cat.etag || t.trim() == "*")
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        StatusCode::OK,
        [
            (header::ETAG, etag),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
        ],
        cat.body.clone(),
    )
        .into_response()
}

/// Validate one record; Ok((id, service_code)) or Err((id, reason)).
fn validate(
    kind: RecordKind,
    item: &serde_json::Value,
    terminal: &str,
    reject: &HashSet<String>,
) -> Result<(String, Option<String>), (String, String)> {
    let id_field = if kind == RecordKind::Application {
        "receipt_no"
    } else {
        "id"
    };
    let id = item
        .get(id_field)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let fail = |reason: String| Err((id.clone(), reason));
    let record_terminal = item
        .get("terminal_id")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    if record_terminal != terminal {
        return fail(format!(
            "terminal_id {record_terminal:?} does not match the signing terminal"
        ));
    }
    match kind {
        RecordKind::Application => {
            let app: ApplicationWire = match serde_json::from_value(item.clone()) {
                Ok(a) => a,
                Err(e) => return fail(format!("not an application: {e}")),
            };
            match receipt::parse(&app.receipt_no) {
                Ok(p) if p.terminal_id == terminal => {}
                Ok(_) => return fail("receipt number belongs to another terminal".into()),
                Err(e) => return fail(e.to_string()),
            }
            if app.service_code.is_empty() {
                return fail("service_code is empty".into());
            }
            if reject.contains(&app.service_code) {
                return fail(format!(
                    "事项 {} 不接受自助终端申请 (service not accepted from terminals)",
                    app.service_code
                ));
            }
            if app.applicant.name.is_empty() || app.applicant.id_number.is_empty() {
                return fail("applicant name and id_number are required".into());
            }
            Ok((id, Some(app.service_code)))
        }
        RecordKind::Evaluation => {
            let ev: EvaluationWire = match serde_json::from_value(item.clone()) {
                Ok(e) => e,
                Err(e) => return fail(format!("not an evaluation: {e}")),
            };
            if !(1..=5).contains(&ev.level) {
                return fail("level must be 1 to 5".into());
            }
            Ok((id, Some(ev.service_code)))
        }
        RecordKind::Heartbeat => match serde_json::from_value::<HeartbeatWire>(item.clone()) {
            Ok(_) => Ok((id, None)),
            Err(e) => fail(format!("not a heartbeat: {e}")),
        },
        RecordKind::ErrorReport => match serde_json::from_value::<ErrorReportWire>(item.clone()) {
            Ok(r) => Ok((id, r.service_code)),
            Err(e) => fail(format!("not an error report: {e}")),
        },
    }
    .and_then(|(id, code)| {
        if id.is_empty() {
            Err((id, format!("{id_field} is required")))
        } else {
            Ok((id, code))
        }
    })
}

async fn batch<B: Backend>(
    kind: RecordKind,
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    body: Bytes,
) -> Response {
    let doc: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("body is not JSON: {e}"),
            )
        }
    };
    let Some(items) = doc.get(kind.list_key()).and_then(|v| v.as_array()) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("expected an array {:?}", kind.list_key()),
        );
    };
    if items.len() > MAX_BATCH {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad_request",
            format!("at most {MAX_BATCH} records per batch"),
        );
    }
    let reject = s.reject_services.lock().unwrap().clone();
    // Validated first (pure), stored in one transaction: a rejected record
    // is answered with its reason and never stored.
    let mut results: Vec<RecordResult> = Vec::with_capacity(items.len());
    let mut to_store = Vec::with_capacity(items.len());
    for item in items {
        // Personal fields sealed to this platform's key are opened first,
        // bound to the signing terminal and the record's id; one that does
        // not open is refused with the reason (the kiosk keeps it, parked
        // and still sealed, for a retry once the key is in place), never
        // stored half-read.
        let mut item = item.clone();
        if let Err(reason) =
            bianmin_platform::api::open_record(kind, &mut item, &terminal, &s.opening_keys)
        {
            s.counters.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(kind = kind.as_str(), %reason, "a sealed record did not open");
            let id_field = if kind == RecordKind::Application {
                "receipt_no"
            } else {
                "id"
            };
            results.push(RecordResult {
                id: item
                    .get(id_field)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
                status: RecordStatus::Rejected,
                reason: Some(reason),
            });
            continue;
        }
        let item = &item;
        match validate(kind, item, &terminal, &reject) {
            Ok((id, service_code)) => {
                results.push(RecordResult {
                    id: id.clone(),
                    status: RecordStatus::Accepted,
                    reason: None,
                });
                to_store.push(Checked {
                    id,
                    service_code,
                    body: item.clone(),
                });
            }
            Err((id, reason)) => {
                s.counters.rejected.fetch_add(1, Ordering::Relaxed);
                results.push(RecordResult {
                    id,
                    status: RecordStatus::Rejected,
                    reason: Some(reason),
                });
            }
        }
    }
    let stored = match s
        .backend
        .store_batch(kind, &terminal, to_store, now_secs())
        .await
    {
        Ok(stored) => stored,
        Err(e) => return backend_failed("storing the batch", e),
    };
    let mut stored = stored.into_iter();
    for result in results
        .iter_mut()
        .filter(|r| r.status == RecordStatus::Accepted)
    {
        let status = stored.next().unwrap_or(RecordStatus::Accepted);
        if status == RecordStatus::Duplicate {
            s.counters.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        result.status = status;
    }
    Json(BatchResponse { results }).into_response()
}

fn rfc3339_secs(secs: i64) -> String {
    bianmin_core::time::rfc3339(secs * 1000)
}

/// The configuration the county set for the signing terminal; 304 when
/// the kiosk already has this version (`If-None-Match`).
async fn get_config<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    headers: HeaderMap,
) -> Response {
    match s.backend.remote_config(&terminal).await {
        Ok(Some(doc)) => {
            let etag = format!("\"{}\"", doc.version);
            let held = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok());
            if held == Some(etag.as_str()) {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
            }
            ([(header::ETAG, etag)], Json(doc)).into_response()
        }
        Ok(None) => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no configuration was set for this terminal",
        ),
        Err(e) => backend_failed("configuration", e),
    }
}

async fn post_config_result<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    body: Bytes,
) -> Response {
    let Ok(mut result) = serde_json::from_slice::<bianmin_platform::api::ConfigResult>(&body)
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "body is not a configuration result",
        );
    };
    result.message = result.message.chars().take(4000).collect();
    match s.backend.config_result(&terminal, result, now_secs()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => backend_failed("configuration result", e),
    }
}

/// Which version the signing terminal's station should run.
async fn get_update<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
) -> Response {
    match s.backend.update_offer(&terminal).await {
        Ok(Some(offer)) => Json(offer).into_response(),
        Ok(None) => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this platform distributes no software",
        ),
        Err(e) => backend_failed("update offer", e),
    }
}

async fn post_update_result<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    body: Bytes,
) -> Response {
    let Ok(mut report) = serde_json::from_slice::<bianmin_platform::api::UpdateReport>(&body)
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "body is not an update report",
        );
    };
    report.detail = report.detail.chars().take(4000).collect();
    report.from = report.from.chars().take(64).collect();
    report.to = report.to.chars().take(64).collect();
    match s.backend.update_report(&terminal, report, now_secs()).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => backend_failed("update report", e),
    }
}

/// The signing terminal's commands, each handed out once.
async fn get_commands<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
) -> Response {
    match s.backend.take_commands(&terminal, now_secs()).await {
        Ok(commands) => Json(bianmin_platform::api::CommandList { commands }).into_response(),
        Err(e) => backend_failed("commands", e),
    }
}

async fn post_command_result<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(mut result) = serde_json::from_slice::<bianmin_platform::api::CommandResult>(&body)
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "body is not a command result",
        );
    };
    if result.message.len() > bianmin_platform::api::MAX_COMMAND_RESULT {
        let mut end = bianmin_platform::api::MAX_COMMAND_RESULT;
        while !result.message.is_char_boundary(end) {
            end -= 1;
        }
        result.message.truncate(end);
    }
    match s
        .backend
        .finish_command(&terminal, &id, result, now_secs())
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "this terminal has no such command",
        ),
        Err(e) => backend_failed("command result", e),
    }
}

async fn get_progress<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(_)): Extension<Terminal>,
    Path(receipt_no): Path<String>,
) -> Response {
    let stored = match s.backend.application(&receipt_no).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            return api_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no application with this receipt number",
            )
        }
        Err(e) => return backend_failed("progress look-up", e),
    };
    Json(progress_of(receipt_no, stored)).into_response()
}

/// An application's progress as the kiosk shows it: submitted at the
/// terminal, received here, then each step clerks added.
fn progress_of(receipt_no: String, stored: StoredApplication) -> Progress {
    let app = stored.body;
    let received_at = stored.received_at;
    let text = |k: &str| {
        app.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut steps = vec![
        ProgressStep {
            at: text("created_at"),
            status: "submitted".into(),
            note: "自助终端已受理".into(),
        },
        ProgressStep {
            at: rfc3339_secs(received_at),
            status: "received".into(),
            note: "平台已接收".into(),
        },
    ];
    steps.extend(
        stored
            .steps
            .into_iter()
            .map(|(at, status, note)| ProgressStep {
                at: rfc3339_secs(at),
                status,
                note,
            }),
    );
    let last = steps.last().cloned().expect("two steps at least");
    Progress {
        receipt_no,
        service_code: text("service_code"),
        service_name: text("service_name"),
        status: last.status,
        updated_at: last.at,
        steps,
    }
}

/// Most applications listed for one resident.
const RESIDENT_APPLICATIONS_MAX: usize = 50;

/// Every application of one resident, at any terminal, newest first. The ID
/// number comes in the body (never in a URL) and must pass its check.
async fn resident_applications<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(_)): Extension<Terminal>,
    body: Bytes,
) -> Response {
    let Ok(q) = serde_json::from_slice::<ResidentQuery>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"id_number\": …}",
        );
    };
    let id_number = q.id_number.trim().to_uppercase();
    if bianmin_core::id_number::validate(&id_number).is_err() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "id_number fails its GB 11643 check",
        );
    }
    match s
        .backend
        .applications_of(&id_number, RESIDENT_APPLICATIONS_MAX)
        .await
    {
        Ok(found) => Json(ResidentApplications {
            applications: found
                .into_iter()
                .map(|(receipt_no, stored)| progress_of(receipt_no, stored))
                .collect(),
        })
        .into_response(),
        Err(e) => backend_failed("resident's applications", e),
    }
}

/// Spend a personal code and say whom it stands for: 404 `unknown_code`
/// (never issued, another scheme's), 410 `code_expired`, 409 `code_used`.
async fn verify_identity_code<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
    body: Bytes,
) -> Response {
    use identity::CodeRedemption;
    let Ok(q) = serde_json::from_slice::<CodeVerification>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"scheme\": \"ymtb\"|\"eid\"|\"essc\", \"token\": …}",
        );
    };
    let code = format!("{}{}", identity::prefix_of(q.scheme), q.token);
    if !matches!(
        bianmin_core::personal_code::parse(&code),
        bianmin_core::personal_code::Parsed::Code { .. }
    ) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the token is not 8 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -",
        );
    }
    let now = now_secs();
    let verdict = match s
        .backend
        .redeem_identity_code(
            &identity::token_key(&q.token),
            q.scheme.as_str(),
            &terminal,
            now,
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return backend_failed("code verification", e),
    };
    let person = match verdict {
        CodeRedemption::Unknown => {
            return api_error(
                StatusCode::NOT_FOUND,
                "unknown_code",
                "no such code was issued",
            )
        }
        CodeRedemption::Expired => {
            return api_error(StatusCode::GONE, "code_expired", "the code has expired")
        }
        CodeRedemption::Used => {
            return api_error(
                StatusCode::CONFLICT,
                "code_used",
                "the code was used before",
            )
        }
        CodeRedemption::Valid { person, expires_at } => (person, expires_at),
    };
    let (index, expires_at) = person;
    let Some(who) = identity::demo_people().get(index as usize).cloned() else {
        tracing::error!(index, "an issued code names no known person");
        return api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the code's person is unknown",
        );
    };
    tracing::info!(scheme = q.scheme.as_str(), %terminal, "personal code verified");
    Json(VerifiedIdentity {
        scheme: q.scheme,
        name: who.name.to_string(),
        id_number: who.id_number.clone(),
        address: who.address.to_string(),
        verified: identity::verified_attributes(q.scheme),
        code_expires_at: rfc3339_secs(expires_at),
    })
    .into_response()
}

/// The signing terminal's look-up key (see [`LOOKUP_KEY_PATH`]).
async fn get_lookup_key<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
) -> Response {
    match s.backend.lookup_key(&terminal).await {
        Ok(key) => Json(LookupKey {
            key: base64::engine::general_purpose::STANDARD.encode(key),
        })
        .into_response(),
        Err(e) => backend_failed("look-up key", e),
    }
}

/// Most follow-ups of each kind answered.
const FOLLOW_UPS_MAX: usize = 50;

/// The signing terminal's 办不成事 reports and 差评 of the last days, for
/// its station's clerk to call back.
async fn get_follow_ups<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Extension(Terminal(terminal)): Extension<Terminal>,
) -> Response {
    let since = now_secs() - FOLLOW_UP_DAYS * 24 * 3600;
    // Read more than answered: the filters below drop the other kinds.
    let scan = FOLLOW_UPS_MAX * 4;
    let reports = match s
        .backend
        .recent_records(RecordKind::ErrorReport, &terminal, since, scan)
        .await
    {
        Ok(r) => r,
        Err(e) => return backend_failed("follow-ups", e),
    };
    let ratings = match s
        .backend
        .recent_records(RecordKind::Evaluation, &terminal, since, scan)
        .await
    {
        Ok(r) => r,
        Err(e) => return backend_failed("follow-ups", e),
    };
    let reports = reports
        .into_iter()
        .filter_map(|v| serde_json::from_value::<ErrorReportWire>(v).ok())
        .filter(|r| r.kind == "cannot_get_done")
        .take(FOLLOW_UPS_MAX)
        .map(|r| FollowUpReport {
            id: r.id,
            at: r.at,
            service_code: r.service_code,
            message: r.message,
            callback_phone: r.callback_phone,
        })
        .collect();
    let low_ratings = ratings
        .into_iter()
        .filter_map(|v| serde_json::from_value::<EvaluationWire>(v).ok())
        .filter(|e| e.level <= LOW_RATING_MAX)
        .take(FOLLOW_UPS_MAX)
        .map(|e| LowRating {
            id: e.id,
            at: e.created_at,
            receipt_no: e.receipt_no,
            service_code: e.service_code,
            level: e.level,
            comment: e.comment,
        })
        .collect();
    Json(FollowUps {
        reports,
        low_ratings,
    })
    .into_response()
}

/// Issue a demo personal code (tests, `bianmin demo`).
async fn issue_code<B: Backend>(
    backend: &B,
    req: identity::IssueCodeRequest,
) -> Result<identity::IssuedCode, Response> {
    let people = identity::demo_people();
    let Some(who) = usize::try_from(req.person).ok().and_then(|i| people.get(i)) else {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("person must be 0 to {}", people.len() - 1),
        ));
    };
    // A negative validity makes an expired code: how tests show one.
    let ttl = req.ttl_secs.min(identity::MAX_TTL_SECS);
    let token = identity::new_token();
    let expires_at = now_secs() + ttl;
    backend
        .issue_identity_code(
            &identity::token_key(&token),
            req.scheme.as_str(),
            req.person,
            expires_at,
        )
        .await
        .map_err(|e| backend_failed("issuing a code", e))?;
    Ok(identity::IssuedCode {
        code: format!("{}{token}", identity::prefix_of(req.scheme)),
        expires_at: rfc3339_secs(expires_at),
        masked_name: bianmin_core::id_number::mask_name(who.name),
    })
}

async fn admin_identity_code<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Json(req): Json<identity::IssueCodeRequest>,
) -> Response {
    match issue_code(&*s.backend, req).await {
        Ok(issued) => Json(issued).into_response(),
        Err(refused) => refused,
    }
}

fn demo_doc_id(id_number: &str, kind: &str) -> String {
    format!("{kind}-{}", &sign::body_hash(id_number.as_bytes())[..16])
}

async fn resident_documents(Extension(Terminal(_)): Extension<Terminal>, body: Bytes) -> Response {
    let Ok(q) = serde_json::from_slice::<ResidentQuery>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "expected {\"id_number\": …}",
        );
    };
    if q.id_number.len() != 18 {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no resident with this ID number",
        );
    }
    Json(ResidentDocuments {
        certificates: vec![
            ECertificate {
                id: demo_doc_id(&q.id_number, "ECERT-ID"),
                title: "居民身份证电子证照（演示）".into(),
                issuer: "演示市公安局".into(),
                valid_until: Some("2036-01-01".into()),
            },
            ECertificate {
                id: demo_doc_id(&q.id_number, "ECERT-HK"),
                title: "居民户口簿电子证照（演示）".into(),
                issuer: "演示市公安局".into(),
                valid_until: None,
            },
        ],
        documents: vec![DocumentRef {
            id: demo_doc_id(&q.id_number, "DOC-SBCB"),
            title: "社会保险参保证明（演示）".into(),
            pages: 1,
        }],
    })
    .into_response()
}

async fn get_document(
    Extension(Terminal(_)): Extension<Terminal>,
    Path(id): Path<String>,
) -> Response {
    if !id.starts_with("DOC-") {
        return api_error(StatusCode::NOT_FOUND, "not_found", "no such document");
    }
    let text = format!(
        "社会保险参保证明（演示）\n文档编号：{id}\n本证明由便民自助终端参考平台生成，仅供演示。\n"
    );
    Json(PrintableDocument {
        id,
        title: "社会保险参保证明（演示）".into(),
        content_type: "text/plain; charset=utf-8".into(),
        content_base64: base64::engine::general_purpose::STANDARD.encode(text),
    })
    .into_response()
}

/// Body of `POST /admin/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultRequest {
    #[serde(flatten)]
    pub fault: Fault,
    /// Inject into the next `times` requests (default 1)…
    #[serde(default)]
    pub times: Option<u32>,
    /// …or into each request with this probability.
    #[serde(default)]
    pub probability: Option<f64>,
}

async fn admin_faults<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Json(req): Json<FaultRequest>,
) -> StatusCode {
    match req.probability {
        Some(p) => s.faults.set_random(req.fault, p),
        None => s.faults.inject(req.fault, req.times.unwrap_or(1)),
    }
    StatusCode::NO_CONTENT
}

async fn admin_clear_faults<B: Backend>(State(s): State<Arc<Shared<B>>>) -> StatusCode {
    s.faults.clear();
    StatusCode::NO_CONTENT
}

async fn admin_stats<B: Backend>(State(s): State<Arc<Shared<B>>>) -> Response {
    match s.backend.counts().await {
        Ok(counts) => Json(stats_of(counts, &s.counters, &s.faults)).into_response(),
        Err(e) => backend_failed("counting", e),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgressUpdate {
    pub receipt_no: String,
    pub status: String,
    #[serde(default)]
    pub note: String,
}

async fn admin_progress<B: Backend>(
    State(s): State<Arc<Shared<B>>>,
    Json(u): Json<ProgressUpdate>,
) -> Response {
    match s
        .backend
        .add_progress(&u.receipt_no, &u.status, &u.note, now_secs())
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => backend_failed("progress update", e),
    }
}

fn stats_of(counts: Counts, c: &Counters, faults: &FaultControl) -> ServerStats {
    ServerStats {
        applications: counts.applications,
        evaluations: counts.evaluations,
        heartbeats: counts.heartbeats,
        error_reports: counts.error_reports,
        duplicates: c.duplicates.load(Ordering::Relaxed),
        rejected: c.rejected.load(Ordering::Relaxed),
        bad_signatures: c.bad_signatures.load(Ordering::Relaxed),
        replays: c.replays.load(Ordering::Relaxed),
        connections_refused: c.connections_refused.load(Ordering::Relaxed),
        faults_injected: faults.injected(),
    }
}

impl ServerHandle {
    /// Base URL of the API, e.g. `http://127.0.0.1:41234/api/v1`: the kiosk's `platform.url`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn faults(&self) -> &FaultControl {
        &self.faults
    }

    pub fn stats(&self) -> ServerStats {
        stats_of(self.inspect.counts_now(), &self.counters, &self.faults)
    }

    /// Every stored application: (receipt number, times it was delivered).
    pub fn applications(&self) -> Vec<(String, u32)> {
        self.inspect.applications()
    }

    /// The stored wire JSON of one record (of any terminal; see
    /// [`ServerHandle::record_of`]).
    pub fn record(&self, kind: RecordKind, id: &str) -> Option<serde_json::Value> {
        self.inspect.record(kind, None, id)
    }

    /// The stored wire JSON of one terminal's record.
    pub fn record_of(
        &self,
        kind: RecordKind,
        terminal_id: &str,
        id: &str,
    ) -> Option<serde_json::Value> {
        self.inspect.record(kind, Some(terminal_id), id)
    }

    /// Issue a demo personal code for one of [`identity::demo_people`] (as
    /// `POST /admin/identity-codes`).
    pub async fn issue_identity_code(
        &self,
        req: identity::IssueCodeRequest,
    ) -> Result<identity::IssuedCode, String> {
        self.code_issuer().issue(req).await
    }

    /// What issues demo personal codes on this server's storage, to keep
    /// beside the handle (`bianmin demo`'s scan button).
    pub fn code_issuer(&self) -> CodeIssuer {
        CodeIssuer(self.issuer.clone())
    }

    /// Publish a signed content package (its ETag changes with its bytes).
    pub fn set_content_package(&self, body: Vec<u8>) {
        self.inspect
            .publish_now(Doc::ContentPackage, Bytes::from(body));
    }

    /// Publish a new catalogue (its ETag changes with its bytes).
    pub fn set_catalogue(&self, body: Vec<u8>) {
        self.inspect.publish_now(Doc::Catalogue, Bytes::from(body));
    }

    /// Reject applications for this service code from now on (`rejected` with a reason).
    pub fn reject_service(&self, code: &str) {
        self.reject_services
            .lock()
            .unwrap()
            .insert(code.to_string());
    }

    pub fn accept_service(&self, code: &str) {
        self.reject_services.lock().unwrap().remove(code);
    }

    /// Stop accepting and close every connection.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Issues demo personal codes (cheap to clone; see [`ServerHandle::code_issuer`]).
#[derive(Clone)]
pub struct CodeIssuer(Issuer);

impl CodeIssuer {
    pub async fn issue(
        &self,
        req: identity::IssueCodeRequest,
    ) -> Result<identity::IssuedCode, String> {
        (self.0)(req)
            .await
            .map_err(|refused| format!("HTTP {}", refused.status()))
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_routes_without_a_token_answer_loopback_only() {
        let lan: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(admin_allowed(Some("127.0.0.1".parse().unwrap()), None, None).is_ok());
        assert!(admin_allowed(Some(v6), None, None).is_ok());
        assert!(admin_allowed(Some(mapped), None, None).is_ok());
        assert_eq!(
            admin_allowed(Some(lan), None, None).unwrap_err().0,
            StatusCode::FORBIDDEN
        );
        assert!(admin_allowed(None, None, None).is_err(), "unknown peer");
        // With a token, the token decides, wherever the request comes from.
        assert!(admin_allowed(Some(lan), Some("t0k"), Some("Bearer t0k")).is_ok());
        assert_eq!(
            admin_allowed(Some(lan), Some("t0k"), Some("Bearer t0"))
                .unwrap_err()
                .0,
            StatusCode::UNAUTHORIZED
        );
        assert!(admin_allowed(Some("127.0.0.1".parse().unwrap()), Some("t0k"), None).is_err());
    }
}
