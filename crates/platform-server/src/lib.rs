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
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Notify};

/// Largest accepted request body. Read only after the signature (made over
/// the headers, which carry the body's hash) was checked.
pub const MAX_BODY: usize = 32 * 1024 * 1024;
/// Default largest number of open connections; more are closed at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Nonces remembered at most; beyond it requests are answered 503 rather
/// than forgetting nonces still inside the time window (fail closed).
pub const MAX_NONCES: u64 = 2_000_000;
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

struct Catalogue {
    body: Bytes,
    etag: String,
}

struct Shared {
    db: Mutex<Connection>,
    /// Nonces seen inside the time window; a connection of its own (same file,
    /// `synchronous=NORMAL`) so remembering one costs no fsync per request.
    nonces: Mutex<Connection>,
    nonce_count: AtomicU64,
    nonces_purged_at: AtomicI64,
    admin_token: Option<String>,
    catalogue: RwLock<Catalogue>,
    content_package: RwLock<Option<Catalogue>>,
    secrets: HashMap<String, String>,
    shared_secret: Option<String>,
    max_skew: i64,
    clock_offset: i64,
    faults: Arc<FaultControl>,
    reject_services: Mutex<HashSet<String>>,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    bad_signatures: AtomicU64,
    replays: AtomicU64,
    connections_refused: AtomicU64,
}

/// A running server; dropping it stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    base_url: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &sign::body_hash(body)[..32])
}

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

/// Records are keyed by the terminal that signed them too: an id is one
/// terminal's idempotency key, so another kiosk sending the same id first
/// cannot make this terminal's real record look like a duplicate.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, id TEXT NOT NULL, terminal_id TEXT NOT NULL,
    service_code TEXT, body TEXT NOT NULL, received_at INTEGER NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (kind, terminal_id, id)
);
CREATE TABLE IF NOT EXISTS progress (
    receipt_no TEXT NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL, note TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS progress_receipt ON progress (receipt_no);
CREATE INDEX IF NOT EXISTS records_id ON records (kind, id);
";

const NONCE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nonces (
    terminal_id TEXT NOT NULL, nonce TEXT NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_ts ON nonces (ts);
";

/// Schema version in `PRAGMA user_version`: 1 keys records by terminal too.
const SCHEMA_VERSION: i64 = 1;

/// Bring a database of an older server up to [`SCHEMA`]: version 0 keyed
/// records by (kind, id) alone.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let old: bool = tx.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'records'",
        [],
        |r| r.get(0),
    )?;
    if old {
        tx.execute_batch("ALTER TABLE records RENAME TO records_v0;")?;
    }
    tx.execute_batch(SCHEMA)?;
    if old {
        tx.execute_batch(
            "INSERT INTO records SELECT kind, id, terminal_id, service_code, body, received_at, deliveries FROM records_v0;
             DROP TABLE records_v0;",
        )?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// Start the server; it runs on the current tokio runtime until the handle
/// is dropped or [`ServerHandle::shutdown`] is called.
pub async fn spawn(opts: ServerOptions) -> std::io::Result<ServerHandle> {
    let io = |e: rusqlite::Error| std::io::Error::other(e.to_string());
    let conn = match &opts.db_path {
        Some(p) => Connection::open(p).map_err(io)?,
        None => Connection::open_in_memory().map_err(io)?,
    };
    if opts.db_path.is_some() {
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(io)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(io)?;
    }
    let mut conn = conn;
    migrate(&mut conn).map_err(io)?;
    conn.execute_batch(SCHEMA).map_err(io)?;
    let nonces = match &opts.db_path {
        Some(p) => {
            let n = Connection::open(p).map_err(io)?;
            n.busy_timeout(Duration::from_secs(5)).map_err(io)?;
            // A power cut may forget the last nonces (not fsynced): a replay
            // of a request captured just before it stays possible until its
            // timestamp leaves the window. Worth not doubling every
            // request's fsyncs.
            n.pragma_update(None, "synchronous", "NORMAL").map_err(io)?;
            n
        }
        None => Connection::open_in_memory().map_err(io)?,
    };
    conn.busy_timeout(Duration::from_secs(5)).map_err(io)?;
    nonces.execute_batch(NONCE_SCHEMA).map_err(io)?;
    let nonce_count: i64 = nonces
        .query_row("SELECT COUNT(*) FROM nonces", [], |r| r.get(0))
        .map_err(io)?;

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

    let shared = Arc::new(Shared {
        db: Mutex::new(conn),
        nonces: Mutex::new(nonces),
        nonce_count: AtomicU64::new(nonce_count.max(0) as u64),
        nonces_purged_at: AtomicI64::new(0),
        admin_token: opts.admin_token.filter(|t| !t.is_empty()),
        catalogue: RwLock::new(Catalogue {
            etag: etag_of(&opts.catalogue),
            body: Bytes::from(opts.catalogue),
        }),
        content_package: RwLock::new(opts.content_package.map(|body| Catalogue {
            etag: etag_of(&body),
            body: Bytes::from(body),
        })),
        secrets: opts.secrets,
        shared_secret: opts.shared_secret,
        max_skew: opts.max_skew_secs,
        clock_offset: opts.clock_offset_secs,
        faults: Arc::new(FaultControl::default()),
        reject_services: Mutex::new(HashSet::new()),
        duplicates: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        bad_signatures: AtomicU64::new(0),
        replays: AtomicU64::new(0),
        connections_refused: AtomicU64::new(0),
    });
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
    let router = router(shared.clone());
    let (stop, mut stopped) = watch::channel(false);
    let faults = shared.faults.clone();
    let counted = shared.clone();
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
                    let faults = faults.clone();
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
        shared,
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

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route(&format!("{API_PREFIX}/catalogue"), get(get_catalogue))
        .route(
            &format!("{API_PREFIX}/content-package"),
            get(get_content_package),
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
            get(get_progress),
        )
        .route(
            &format!("{API_PREFIX}/residents/documents"),
            post(resident_documents),
        )
        .route(&format!("{API_PREFIX}/documents/{{id}}"), get(get_document))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            verify_signature,
        ));
    let admin = Router::new()
        .route(
            "/admin/faults",
            post(admin_faults).delete(admin_clear_faults),
        )
        .route("/admin/stats", get(admin_stats))
        .route("/admin/progress", post(admin_progress))
        .route(
            "/admin/content-package",
            axum::routing::put(admin_publish_content),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            guard_admin,
        ))
        .route("/healthz", get(|| async { "ok" }));
    api.merge(admin)
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(shared)
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

async fn guard_admin(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
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
async fn verify_signature(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let refuse = |code: &str, message: &str| {
        s.bad_signatures.fetch_add(1, Ordering::Relaxed);
        api_error(StatusCode::UNAUTHORIZED, code, message)
    };
    let (Some(terminal), Some(ts), Some(nonce), Some(body_sha256), Some(sig)) = (
        header(HDR_TERMINAL),
        header(HDR_TIMESTAMP),
        header(sign::HDR_NONCE),
        header(sign::HDR_CONTENT_SHA256),
        header(HDR_SIGNATURE),
    ) else {
        return refuse(
            "bad_signature",
            "X-Terminal-Id, X-Timestamp, X-Nonce, X-Content-SHA256 and X-Signature are required",
        );
    };
    let Some(secret) = s.secrets.get(&terminal).or(s.shared_secret.as_ref()) else {
        return refuse("unknown_terminal", "terminal is not registered");
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return refuse("bad_signature", "X-Timestamp is not unix seconds");
    };
    let now = now_secs() + s.clock_offset;
    if (now - ts).abs() > s.max_skew {
        s.bad_signatures.fetch_add(1, Ordering::Relaxed);
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
            "X-Nonce must be 32 to 64 and X-Content-SHA256 64 lower-case hex digits",
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
    if !signed.verify(secret.as_bytes(), &sig) {
        return refuse("bad_signature", "signature does not match");
    }
    if declared_len.is_some_and(|n| n > MAX_BODY as u64) {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad_request",
            "body too large",
        );
    }
    match remember_nonce(&s, &terminal, &nonce, ts, now) {
        Ok(NonceCheck::New) => {}
        Ok(NonceCheck::Replayed) => {
            s.replays.fetch_add(1, Ordering::Relaxed);
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
        Err(e) => {
            tracing::error!(error = %e, "nonce store failed");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "nonce store failed",
            );
        }
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
    if sign::body_hash(&bytes) != body_sha256 {
        return refuse(
            "bad_signature",
            "body does not match the signed X-Content-SHA256",
        );
    }
    parts.extensions.insert(Terminal(terminal));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

enum NonceCheck {
    New,
    Replayed,
    /// [`MAX_NONCES`] inside the window: refuse rather than forget one.
    Full,
}

/// Remember a nonce for as long as its timestamp is inside the window.
fn remember_nonce(
    s: &Shared,
    terminal: &str,
    nonce: &str,
    ts: i64,
    now: i64,
) -> rusqlite::Result<NonceCheck> {
    let db = s.nonces.lock().unwrap();
    // A nonce older than the window can go: its request would be refused
    // for its timestamp anyway. Purged at most every 10 s.
    let last = s.nonces_purged_at.load(Ordering::Relaxed);
    if now - last >= 10 || s.nonce_count.load(Ordering::Relaxed) >= MAX_NONCES {
        s.nonces_purged_at.store(now, Ordering::Relaxed);
        db.execute("DELETE FROM nonces WHERE ts < ?1", [now - s.max_skew])?;
        let left: i64 = db.query_row("SELECT COUNT(*) FROM nonces", [], |r| r.get(0))?;
        s.nonce_count.store(left.max(0) as u64, Ordering::Relaxed);
    }
    if s.nonce_count.load(Ordering::Relaxed) >= MAX_NONCES {
        return Ok(NonceCheck::Full);
    }
    let added = db.execute(
        "INSERT INTO nonces (terminal_id, nonce, ts) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![terminal, nonce, ts],
    )?;
    if added == 1 {
        s.nonce_count.fetch_add(1, Ordering::Relaxed);
        Ok(NonceCheck::New)
    } else {
        Ok(NonceCheck::Replayed)
    }
}

async fn get_catalogue(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let cat = s.catalogue.read().unwrap();
    conditional(&cat, &headers)
}

async fn get_content_package(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match s.content_package.read().unwrap().as_ref() {
        Some(published) => conditional(published, &headers),
        None => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no content package is published",
        ),
    }
}

/// Publish a signed content package as given (the reference server does not
/// verify it: a kiosk must refuse a bad one whatever the platform serves).
async fn admin_publish_content(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *s.content_package.write().unwrap() = Some(Catalogue {
        etag: etag_of(&body),
        body,
    });
    StatusCode::NO_CONTENT
}

/// A document answered with its ETag, or 304 when the client has it.
fn conditional(cat: &Catalogue, headers: &HeaderMap) -> Response {
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

async fn batch(
    kind: RecordKind,
    State(s): State<Arc<Shared>>,
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
    let now = now_secs();
    let mut results = Vec::with_capacity(items.len());
    let mut db = s.db.lock().unwrap();
    let outcome = (|| -> rusqlite::Result<()> {
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (kind, id, terminal_id, service_code, body, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, terminal_id, id) DO NOTHING",
            )?;
            let mut again = tx.prepare_cached(
                "UPDATE records SET deliveries = deliveries + 1
                 WHERE kind = ?1 AND terminal_id = ?2 AND id = ?3",
            )?;
            for item in items {
                match validate(kind, item, &terminal, &reject) {
                    Ok((id, code)) => {
                        let n = insert.execute(params![
                            kind.as_str(),
                            id,
                            terminal,
                            code,
                            item.to_string(),
                            now
                        ])?;
                        let status = if n == 1 {
                            RecordStatus::Accepted
                        } else {
                            again.execute(params![kind.as_str(), terminal, id])?;
                            s.duplicates.fetch_add(1, Ordering::Relaxed);
                            RecordStatus::Duplicate
                        };
                        results.push(RecordResult {
                            id,
                            status,
                            reason: None,
                        });
                    }
                    Err((id, reason)) => {
                        s.rejected.fetch_add(1, Ordering::Relaxed);
                        results.push(RecordResult {
                            id,
                            status: RecordStatus::Rejected,
                            reason: Some(reason),
                        });
                    }
                }
            }
        }
        tx.commit()
    })();
    drop(db);
    match outcome {
        Ok(()) => Json(BatchResponse { results }).into_response(),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

fn rfc3339_secs(secs: i64) -> String {
    bianmin_core::time::rfc3339(secs * 1000)
}

async fn get_progress(
    State(s): State<Arc<Shared>>,
    Extension(Terminal(_)): Extension<Terminal>,
    Path(receipt_no): Path<String>,
) -> Response {
    let db = s.db.lock().unwrap();
    let row: Option<(String, i64)> = db
        .query_row(
            "SELECT body, received_at FROM records WHERE kind = 'application' AND id = ?1",
            [&receipt_no],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .unwrap_or(None);
    let Some((body, received_at)) = row else {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no application with this receipt number",
        );
    };
    let app: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
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
    if let Ok(mut stmt) =
        db.prepare("SELECT at, status, note FROM progress WHERE receipt_no = ?1 ORDER BY rowid")
    {
        if let Ok(rows) = stmt.query_map([&receipt_no], |r| {
            Ok(ProgressStep {
                at: rfc3339_secs(r.get(0)?),
                status: r.get(1)?,
                note: r.get(2)?,
            })
        }) {
            steps.extend(rows.flatten());
        }
    }
    let last = steps.last().cloned().expect("two steps at least");
    Json(Progress {
        receipt_no,
        service_code: text("service_code"),
        service_name: text("service_name"),
        status: last.status,
        updated_at: last.at,
        steps,
    })
    .into_response()
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

async fn admin_faults(State(s): State<Arc<Shared>>, Json(req): Json<FaultRequest>) -> StatusCode {
    match req.probability {
        Some(p) => s.faults.set_random(req.fault, p),
        None => s.faults.inject(req.fault, req.times.unwrap_or(1)),
    }
    StatusCode::NO_CONTENT
}

async fn admin_clear_faults(State(s): State<Arc<Shared>>) -> StatusCode {
    s.faults.clear();
    StatusCode::NO_CONTENT
}

async fn admin_stats(State(s): State<Arc<Shared>>) -> Json<ServerStats> {
    Json(stats_of(&s))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProgressUpdate {
    pub receipt_no: String,
    pub status: String,
    #[serde(default)]
    pub note: String,
}

async fn admin_progress(State(s): State<Arc<Shared>>, Json(u): Json<ProgressUpdate>) -> StatusCode {
    let db = s.db.lock().unwrap();
    match db.execute(
        "INSERT INTO progress (receipt_no, at, status, note) VALUES (?1, ?2, ?3, ?4)",
        params![u.receipt_no, now_secs(), u.status, u.note],
    ) {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn stats_of(s: &Shared) -> ServerStats {
    let db = s.db.lock().unwrap();
    let count = |kind: &str| -> u64 {
        db.query_row(
            "SELECT COUNT(*) FROM records WHERE kind = ?1",
            [kind],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0) as u64
    };
    ServerStats {
        applications: count("application"),
        evaluations: count("evaluation"),
        heartbeats: count("heartbeat"),
        error_reports: count("error_report"),
        duplicates: s.duplicates.load(Ordering::Relaxed),
        rejected: s.rejected.load(Ordering::Relaxed),
        bad_signatures: s.bad_signatures.load(Ordering::Relaxed),
        replays: s.replays.load(Ordering::Relaxed),
        connections_refused: s.connections_refused.load(Ordering::Relaxed),
        faults_injected: s.faults.injected(),
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
        &self.shared.faults
    }

    pub fn stats(&self) -> ServerStats {
        stats_of(&self.shared)
    }

    /// Every stored application: (receipt number, times it was delivered).
    pub fn applications(&self) -> Vec<(String, u32)> {
        let db = self.shared.db.lock().unwrap();
        let mut stmt = db
            .prepare("SELECT id, deliveries FROM records WHERE kind = 'application' ORDER BY id")
            .expect("static SQL");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u32)))
            .expect("static SQL")
            .flatten()
            .collect()
    }

    /// The stored wire JSON of one record (of any terminal; see
    /// [`ServerHandle::record_of`]).
    pub fn record(&self, kind: RecordKind, id: &str) -> Option<serde_json::Value> {
        let db = self.shared.db.lock().unwrap();
        db.query_row(
            "SELECT body FROM records WHERE kind = ?1 AND id = ?2 ORDER BY rowid LIMIT 1",
            params![kind.as_str(), id],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_str(&b).ok())
    }

    /// The stored wire JSON of one terminal's record.
    pub fn record_of(
        &self,
        kind: RecordKind,
        terminal_id: &str,
        id: &str,
    ) -> Option<serde_json::Value> {
        let db = self.shared.db.lock().unwrap();
        db.query_row(
            "SELECT body FROM records WHERE kind = ?1 AND terminal_id = ?2 AND id = ?3",
            params![kind.as_str(), terminal_id, id],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_str(&b).ok())
    }

    /// Publish a signed content package (its ETag changes with its bytes).
    pub fn set_content_package(&self, body: Vec<u8>) {
        *self.shared.content_package.write().unwrap() = Some(Catalogue {
            etag: etag_of(&body),
            body: Bytes::from(body),
        });
    }

    /// Publish a new catalogue (its ETag changes with its bytes).
    pub fn set_catalogue(&self, body: Vec<u8>) {
        *self.shared.catalogue.write().unwrap() = Catalogue {
            etag: etag_of(&body),
            body: Bytes::from(body),
        };
    }

    /// Reject applications for this service code from now on (`rejected` with a reason).
    pub fn reject_service(&self, code: &str) {
        self.shared
            .reject_services
            .lock()
            .unwrap()
            .insert(code.to_string());
    }

    pub fn accept_service(&self, code: &str) {
        self.shared.reject_services.lock().unwrap().remove(code);
    }

    /// Stop accepting and close every connection.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
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

    #[test]
    fn an_old_database_is_migrated_to_per_terminal_ids() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE records (
                kind TEXT NOT NULL, id TEXT NOT NULL, terminal_id TEXT NOT NULL,
                service_code TEXT, body TEXT NOT NULL, received_at INTEGER NOT NULL,
                deliveries INTEGER NOT NULL DEFAULT 1,
                PRIMARY KEY (kind, id));
             INSERT INTO records (kind, id, terminal_id, body, received_at)
                VALUES ('evaluation', 'EV-1', 'T0002', '{}', 1);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO records (kind, id, terminal_id, body, received_at)
             VALUES ('evaluation', 'EV-1', 'T0001', '{}', 2)",
            [],
        )
        .expect("the same id from another terminal is its own record");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }
}
