//! Where the platform keeps what kiosks send: the HTTP layer (signatures,
//! replay refusal, validation, faults) is one, the storage behind it is a
//! [`Backend`] — the SQLite file of the reference server ([`crate::sqlite`])
//! or PostgreSQL (`bianmin-platform-service`).

use axum::body::Bytes;
use bianmin_platform::api::{RecordKind, RecordStatus};
use std::future::Future;

/// Why storage could not answer. `Unavailable` is answered 503 with
/// `Retry-After` (the kiosk keeps the record and retries); `Internal` 500.
#[derive(Debug)]
pub enum BackendError {
    /// The database cannot be reached now (restarting, network, pool empty).
    Unavailable(String),
    Internal(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            BackendError::Internal(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for BackendError {}

pub type BackendResult<T> = Result<T, BackendError>;

/// What remembering a request's nonce found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    New,
    Replayed,
    /// Too many nonces inside the window: refuse rather than forget one.
    Full,
}

/// One record of a batch that passed validation, ready to store.
#[derive(Debug, Clone)]
pub struct Checked {
    pub id: String,
    pub service_code: Option<String>,
    /// The record as the kiosk sent it.
    pub body: serde_json::Value,
}

/// A stored application and the steps clerks added to it.
#[derive(Debug, Clone)]
pub struct StoredApplication {
    pub body: serde_json::Value,
    /// Unix seconds the platform first stored it.
    pub received_at: i64,
    /// (unix seconds, status, note), oldest first.
    pub steps: Vec<(i64, String, String)>,
}

/// The documents the platform publishes to every kiosk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Doc {
    /// `GET /catalogue` (the older, catalogue-only document).
    Catalogue,
    /// `GET /content-package`: the signed content package.
    ContentPackage,
}

impl Doc {
    pub fn as_str(self) -> &'static str {
        match self {
            Doc::Catalogue => "catalogue",
            Doc::ContentPackage => "content_package",
        }
    }
}

/// A published document and its ETag.
#[derive(Debug, Clone)]
pub struct Published {
    pub body: Bytes,
    pub etag: String,
}

/// How many records of each kind are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub applications: u64,
    pub evaluations: u64,
    pub heartbeats: u64,
    pub error_reports: u64,
}

/// Storage behind the kiosk API. Every method is one transaction: a batch
/// is stored whole or not at all, so an error never half-stores it.
pub trait Backend: Send + Sync + 'static {
    /// Remember a nonce; nonces with a timestamp before `oldest` may be
    /// forgotten (their requests are refused for their time anyway).
    fn remember_nonce(
        &self,
        terminal: &str,
        nonce: &str,
        ts: i64,
        oldest: i64,
    ) -> impl Future<Output = BackendResult<NonceCheck>> + Send;

    /// Store one terminal's validated records, deduplicated forever on
    /// (kind, terminal, id): `Accepted` when new, `Duplicate` when stored
    /// before (its delivery count goes up). One status per record, in order.
    fn store_batch(
        &self,
        kind: RecordKind,
        terminal: &str,
        records: Vec<Checked>,
        now: i64,
    ) -> impl Future<Output = BackendResult<Vec<RecordStatus>>> + Send;

    /// The application with this receipt number, whatever terminal sent it.
    fn application(
        &self,
        receipt_no: &str,
    ) -> impl Future<Output = BackendResult<Option<StoredApplication>>> + Send;

    /// Add a processing step to an application's progress.
    fn add_progress(
        &self,
        receipt_no: &str,
        status: &str,
        note: &str,
        at: i64,
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// Every application of the resident with this ID number, whatever
    /// terminal sent it, newest first, at most `limit`: (receipt number,
    /// application).
    fn applications_of(
        &self,
        id_number: &str,
        limit: usize,
    ) -> impl Future<Output = BackendResult<Vec<(String, StoredApplication)>>> + Send;

    /// `terminal`'s records of `kind` received at or after `since` (unix
    /// seconds), opened, newest first, at most `limit`.
    fn recent_records(
        &self,
        kind: RecordKind,
        terminal: &str,
        since: i64,
        limit: usize,
    ) -> impl Future<Output = BackendResult<Vec<serde_json::Value>>> + Send;

    /// Keep a personal code the issuer handed out: the SHA-256 of its
    /// token (`token_key`), its scheme, whom it stands for and until when.
    fn issue_identity_code(
        &self,
        token_key: &str,
        scheme: &str,
        person: i64,
        expires_at: i64,
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// Spend a personal code for `terminal`, in one step: valid only once,
    /// before it expires, under the scheme it was issued for.
    fn redeem_identity_code(
        &self,
        token_key: &str,
        scheme: &str,
        terminal: &str,
        now: i64,
    ) -> impl Future<Output = BackendResult<crate::identity::CodeRedemption>> + Send;

    fn published(&self, doc: Doc) -> impl Future<Output = BackendResult<Option<Published>>> + Send;

    /// `terminal`'s look-up key: 32 random bytes made at its first asking
    /// and the same ever after.
    fn lookup_key(&self, terminal: &str) -> impl Future<Output = BackendResult<Vec<u8>>> + Send;

    /// What `terminal` is served of `doc`: a storage that publishes to some
    /// stations only answers by the terminal's station; by default every
    /// terminal gets the one published document.
    fn published_for(
        &self,
        doc: Doc,
        terminal: &str,
    ) -> impl Future<Output = BackendResult<Option<Published>>> + Send {
        let _ = terminal;
        self.published(doc)
    }

    fn publish(&self, doc: Doc, body: Bytes) -> impl Future<Output = BackendResult<()>> + Send;

    fn counts(&self) -> impl Future<Output = BackendResult<Counts>> + Send;

    /// The raw Ed25519 public key of an enrolled terminal (requests signed
    /// with `X-Signature-Alg: ed25519`); `None` for a terminal that never
    /// enrolled or was replaced. Storage without enrollment has none.
    fn terminal_key(
        &self,
        _terminal: &str,
    ) -> impl Future<Output = BackendResult<Option<Vec<u8>>>> + Send {
        async { Ok(None) }
    }

    /// The commands a technician sent `terminal` not handed out yet and
    /// not expired, now marked handed out (each is delivered once).
    /// Storage without a fleet console has none.
    fn take_commands(
        &self,
        _terminal: &str,
        _now: i64,
    ) -> impl Future<Output = BackendResult<Vec<bianmin_platform::api::RemoteCommand>>> + Send {
        async { Ok(Vec::new()) }
    }

    /// The configuration the county set for `terminal`, signed; `None`
    /// when there is none (storage without a console never has one).
    fn remote_config(
        &self,
        _terminal: &str,
    ) -> impl Future<Output = BackendResult<Option<bianmin_platform::api::RemoteConfig>>> + Send
    {
        async { Ok(None) }
    }

    /// Keep what `terminal` did with a configuration version.
    fn config_result(
        &self,
        _terminal: &str,
        _result: bianmin_platform::api::ConfigResult,
        _now: i64,
    ) -> impl Future<Output = BackendResult<()>> + Send {
        async { Ok(()) }
    }

    /// What `terminal`'s station should run; `None` for storage without
    /// software distribution (the reference server), answered 404.
    fn update_offer(
        &self,
        _terminal: &str,
    ) -> impl Future<Output = BackendResult<Option<bianmin_platform::api::UpdateOffer>>> + Send
    {
        async { Ok(None) }
    }

    /// Keep how `terminal`'s installation went.
    fn update_report(
        &self,
        _terminal: &str,
        _report: bianmin_platform::api::UpdateReport,
        _now: i64,
    ) -> impl Future<Output = BackendResult<()>> + Send {
        async { Ok(()) }
    }

    /// Keep the result of `terminal`'s command `id`; false when it has no
    /// such command.
    fn finish_command(
        &self,
        _terminal: &str,
        _id: &str,
        _result: bianmin_platform::api::CommandResult,
        _now: i64,
    ) -> impl Future<Output = BackendResult<bool>> + Send {
        async { Ok(false) }
    }
}

/// Blocking look-ups for tests and tools, callable from any thread (also
/// inside a runtime): what the platform stored, without going through HTTP.
pub trait Inspect: Send + Sync {
    fn counts_now(&self) -> Counts;
    /// Every stored application: (receipt number, times it was delivered).
    fn applications(&self) -> Vec<(String, u32)>;
    /// A stored record's wire JSON; of one terminal when `terminal` is given.
    fn record(
        &self,
        kind: RecordKind,
        terminal: Option<&str>,
        id: &str,
    ) -> Option<serde_json::Value>;
    fn publish_now(&self, doc: Doc, body: Bytes);
}

/// The ETag of a published document: the first half of its SHA-256.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &bianmin_platform::sign::body_hash(body)[..32])
}
