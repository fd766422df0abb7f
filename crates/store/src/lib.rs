//! The offline outbox: every application, evaluation, heartbeat and error
//! report stays here until the platform acknowledged it.
//!
//! * SQLite (bundled) in WAL mode with `synchronous=FULL`: a commit that
//!   returned survives a power cut. One transaction per state change.
//! * Versioned migrations in `PRAGMA user_version`.
//! * Sequence numbers (receipt numbers, record ids) come from the highest
//!   existing key of the day, read in the writing transaction. An enqueue
//!   writes two pages, like a bare insert: the row and the key index (no
//!   counter row, no pending index; see migration 3).
//! * Personal fields (the applicant, form contents, signature, the delivery
//!   address, comments and 办不成事 text) are sealed at enqueue to the
//!   **platform's public key** (`bianmin_platform::seal`: HPKE, or SM2 +
//!   SM4-GCM in the 国密 suite), so the kiosk cannot read back what it
//!   stored: no key in the data directory opens them. What the kiosk itself
//!   reads stays in clear and minimal: receipt number, service, time, state,
//!   the masked name, the materials' states and how the result is
//!   delivered. Look-ups by ID number compare a keyed hash (HMAC under a key
//!   derived from the terminal secret, which lives outside the data
//!   directory). Records sealed under the older local key (`outbox.key`,
//!   [`crypto`]) are resealed to the platform key when the store opens, and
//!   the local key file is then deleted.
//! * Acknowledged records lose their body `store.retention_days` after the
//!   acknowledgement, parked ones (refused by the platform) the same time
//!   after they were parked: a technician has that long to export or retry
//!   them, then the personal data goes (see [`Store::purge_expired`]).
//!
//! The store is blocking (rusqlite); async callers use `spawn_blocking`.

pub mod crypto;

use base64::Engine as _;
use bianmin_config::Config;
use bianmin_core::words::Words;
pub use bianmin_platform::api::AuditHead;
use bianmin_platform::api::{
    Applicant, ApplicationWire, Delivery, DeliveryMethod, ErrorReportWire, EvaluationWire,
    HeartbeatWire, Material, PersonalFields, RecordKind, RecordResult, RecordStatus,
    SealedApplicationWire,
};
use bianmin_platform::seal::{self, SealingKey, Suite};
use chrono::TimeZone;
use crypto::Sealer;
use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

pub const DB_FILE: &str = "outbox.sqlite3";

/// Earliest plausible wall-clock time (2026-01-01 00:00 Beijing time, unix ms).
/// A clock before it has been reset (a Raspberry Pi has no RTC battery).
pub const CLOCK_FLOOR_MS: i64 = 1_767_196_800_000;
/// A clock this far behind the newest record counts as having gone backwards.
pub const CLOCK_BACKWARDS_TOLERANCE_MS: i64 = 10 * 60 * 1000;

pub use bianmin_core::receipt;
pub use bianmin_core::time::{rfc3339, station_zone};

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The station's date of `ms`: receipt numbers count per local day.
fn day(ms: i64) -> String {
    station_zone()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_else(|| "19700101".into())
}

/// Everything that can go wrong in the store, each with words for the screen.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("申请未能保存：终端存储空间已满，请联系工作人员 (the record could not be saved: storage is full; nothing was written)")]
    Full,
    #[error("本机数据库已损坏，暂停受理，请联系运维人员 (the database is corrupted: {detail}; not taking applications)")]
    Corrupt { detail: String },
    #[error("本机加密密钥不可用 (the encryption key cannot be used: {0})")]
    Key(#[from] crypto::KeyError),
    #[error("申请未能保存：存储读写失败 (storage I/O error: {0})")]
    Io(String),
    #[error("invalid record: {0}")]
    Invalid(String),
    #[error("no such record: {0}")]
    NotFound(String),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl StoreError {
    /// One sentence for the resident (no technical detail, no personal data).
    pub fn resident_message(&self) -> Words {
        match self {
            StoreError::Full | StoreError::Io(_) | StoreError::Sqlite(_) => Words::fixed(
                "申请未能保存，请联系工作人员。您填写的内容未被提交。",
                "The application could not be saved and was not submitted. Please ask staff.",
            ),
            StoreError::Corrupt { .. } | StoreError::Key(_) => Words::fixed(
                "本机暂停受理申请，请到窗口办理或联系工作人员。",
                "This terminal is not taking applications now. Please go to a service window or ask staff.",
            ),
            StoreError::Invalid(_) | StoreError::NotFound(_) => Words::fixed(
                "申请信息不完整，请检查后重试。",
                "The application is incomplete. Please check it and try again.",
            ),
        }
    }

    /// True when the store cannot take applications at all until repaired.
    pub fn is_fatal(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::Key(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, ref msg) = e {
            match f.code {
                ErrorCode::DiskFull => return StoreError::Full,
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    return StoreError::Corrupt {
                        detail: msg.clone().unwrap_or_else(|| f.to_string()),
                    }
                }
                ErrorCode::SystemIoFailure => {
                    // ENOSPC while growing the WAL shows up as an I/O error.
                    return StoreError::Io(msg.clone().unwrap_or_else(|| f.to_string()));
                }
                _ => {}
            }
        }
        StoreError::Sqlite(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An application as the UI hands it over.
#[derive(Debug, Clone, Default)]
pub struct NewApplication {
    pub service_code: String,
    pub service_name: String,
    /// Staff id when a clerk helped (帮办代办).
    pub assisted_by: Option<String>,
    pub applicant: Applicant,
    /// 代办: who applied for the applicant (sealed with them).
    pub agent: Option<bianmin_platform::api::AgentWire>,
    pub form: serde_json::Value,
    pub materials: Vec<Material>,
    pub delivery: Delivery,
    pub signature_png: Option<Vec<u8>>,
}

/// What the receipt printer needs; returned only after the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub receipt_no: String,
    /// RFC 3339, Beijing time.
    pub created_at: String,
    pub created_at_ms: i64,
    /// The system clock looked wrong when this was taken (see [`ClockCheck`]).
    pub clock_suspect: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NewEvaluation {
    pub receipt_no: Option<String>,
    pub service_code: String,
    /// 1–5.
    pub level: u8,
    pub comment: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewHeartbeat {
    pub status: String,
    pub devices: std::collections::BTreeMap<String, String>,
    pub version: String,
    pub uptime_secs: u64,
    /// The station (区划代码) this kiosk serves.
    pub station_code: Option<String>,
    /// The admin audit log's head, when the sender knows it.
    pub audit: Option<AuditHead>,
}

#[derive(Debug, Clone, Default)]
pub struct NewErrorReport {
    pub kind: String,
    pub service_code: Option<String>,
    pub message: String,
    /// The number a resident left to be called back on (sealed).
    pub callback_phone: Option<String>,
}

/// State of an outbox record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Waiting for the platform.
    Pending,
    /// The platform acknowledged it (accepted or duplicate).
    Acked,
    /// The platform rejected it as invalid; kept with the reason until a
    /// technician retries it.
    Parked,
}

impl RecordState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordState::Pending => "pending",
            RecordState::Acked => "acked",
            RecordState::Parked => "parked",
        }
    }
    fn parse(s: &str) -> RecordState {
        match s {
            "acked" => RecordState::Acked,
            "parked" => RecordState::Parked,
            _ => RecordState::Pending,
        }
    }
}

/// Counts for the UI, `queue status` and heartbeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub pending: u64,
    pub pending_applications: u64,
    pub pending_heartbeats: u64,
    pub parked: u64,
    pub acked: u64,
    pub purged: u64,
    /// Creation time (unix ms) of the oldest pending record.
    pub oldest_pending_ms: Option<i64>,
}

/// A record's public row: never any personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    pub id: i64,
    pub kind: RecordKind,
    pub key: String,
    pub service_code: Option<String>,
    pub service_name: Option<String>,
    pub created_at_ms: i64,
    pub state: RecordState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub purged: bool,
}

/// A pending record ready to send: its decrypted wire JSON.
pub struct OutgoingRecord {
    pub id: i64,
    pub key: String,
    pub json: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for OutgoingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutgoingRecord({}, {})", self.id, self.key)
    }
}

/// The cached service catalogue (同源发布: the same document the platform serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedCatalogue {
    pub etag: Option<String>,
    pub version: Option<String>,
    pub body: String,
    pub fetched_at_ms: i64,
}

/// A signed content package as pulled (verified before it was stored, and
/// again by whoever reads it: the disk is not trusted more than the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPackage {
    pub etag: Option<String>,
    pub version: String,
    pub body: Vec<u8>,
    pub installed_at_ms: i64,
}

/// Which stored package: the one in use, or the one it replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageSlot {
    Current,
    Previous,
}

impl PackageSlot {
    fn name(self) -> &'static str {
        match self {
            PackageSlot::Current => "current",
            PackageSlot::Previous => "previous",
        }
    }
}

/// Why the last package pulled was refused (for doctor and heartbeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRefusal {
    pub etag: Option<String>,
    pub reason: String,
    pub at_ms: i64,
}

/// What the store thinks of the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockCheck {
    Ok,
    /// Before 2026-01-01: the clock was reset.
    BeforeFloor {
        now_ms: i64,
    },
    /// Behind the newest record by more than ten minutes.
    Backwards {
        now_ms: i64,
        newest_ms: i64,
    },
}

impl ClockCheck {
    pub fn is_ok(&self) -> bool {
        matches!(self, ClockCheck::Ok)
    }
    pub fn describe(&self) -> String {
        match *self {
            ClockCheck::Ok => "clock ok".into(),
            ClockCheck::BeforeFloor { now_ms } => format!(
                "系统时间错误：{}，早于 2026 年 (system clock reset; records are dated from the newest record instead)",
                rfc3339(now_ms)
            ),
            ClockCheck::Backwards { now_ms, newest_ms } => format!(
                "系统时间倒退：{} 早于最新记录 {} (clock went backwards; records are dated from the newest record)",
                rfc3339(now_ms),
                rfc3339(newest_ms)
            ),
        }
    }
}

const MIGRATIONS: &[&str] = &[
    // 1: outbox, catalogue cache, meta
    "CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          TEXT NOT NULL CHECK (kind IN ('application','evaluation','heartbeat','error_report')),
        key           TEXT NOT NULL UNIQUE,
        service_code  TEXT,
        service_name  TEXT,
        created_at    INTEGER NOT NULL,
        state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','acked','parked')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        platform_status TEXT,
        acked_at      INTEGER,
        body          BLOB,
        purged_at     INTEGER
     );
     CREATE INDEX outbox_pending ON outbox (kind, id) WHERE state = 'pending';
     CREATE TABLE catalogue (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        etag TEXT, version TEXT, body TEXT NOT NULL, fetched_at INTEGER NOT NULL
     );
     CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
    // 2: the outbox without AUTOINCREMENT. Its sqlite_sequence row was one
    // more page written and fsync'd with every enqueue; rows are never
    // deleted (a purge only clears the body), so max(id) + 1 never hands out
    // an id twice anyway.
    "CREATE TABLE outbox_v2 (
        id            INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ('application','evaluation','heartbeat','error_report')),
        key           TEXT NOT NULL UNIQUE,
        service_code  TEXT,
        service_name  TEXT,
        created_at    INTEGER NOT NULL,
        state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','acked','parked')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        platform_status TEXT,
        acked_at      INTEGER,
        body          BLOB,
        purged_at     INTEGER
     );
     INSERT INTO outbox_v2 (id, kind, key, service_code, service_name, created_at, state,
        attempts, last_error, platform_status, acked_at, body, purged_at)
       SELECT id, kind, key, service_code, service_name, created_at, state,
        attempts, last_error, platform_status, acked_at, body, purged_at FROM outbox;
     DROP TABLE outbox;
     ALTER TABLE outbox_v2 RENAME TO outbox;
     CREATE INDEX outbox_pending ON outbox (kind, id) WHERE state = 'pending';",
    // 3: no pending index. Its page was the one an enqueue wrote beyond a bare
    // insert (row + key index). Instead each kind keeps, in `meta`, an id
    // below which none of its records is pending (see `raise_pending_marks`);
    // the sender scans the rowid B-tree from there.
    "DROP INDEX outbox_pending;
     INSERT OR REPLACE INTO meta (key, value)
       SELECT 'outbox.pending_from.' || k.kind,
              CAST(COALESCE(
                (SELECT MIN(id) FROM outbox WHERE kind = k.kind AND state = 'pending'),
                (SELECT COALESCE(MAX(id), 0) + 1 FROM outbox)) AS TEXT)
       FROM (SELECT 'application' AS kind UNION ALL SELECT 'evaluation'
             UNION ALL SELECT 'heartbeat' UNION ALL SELECT 'error_report') AS k;",
    // 4: the signed content package, the one in use and the one before it
    // (for rollback), and why the last one pulled was refused.
    "CREATE TABLE content_package (
        slot TEXT PRIMARY KEY CHECK (slot IN ('current','previous')),
        etag TEXT, version TEXT NOT NULL, body BLOB NOT NULL, installed_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE content_refusal (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        etag TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL
     );",
    // 5: when a record was parked, so its personal data can be purged after
    // the retention period like an acknowledged one's. Records parked
    // before this migration count from the migration.
    "ALTER TABLE outbox ADD COLUMN parked_at INTEGER;
     UPDATE outbox SET parked_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
       WHERE state = 'parked';",
    // 6: bodies sealed to the platform's key. `fmt` says how a body is
    // stored: NULL the older local-key sealing (resealed at open), 3 the wire
    // JSON whose personal fields are sealed to platform key `seal_kid`.
    // `id_hash` is the keyed hash of an application's ID number, for
    // look-ups without opening anything (no index: an index page would be
    // one more write per enqueue; a scan of hashes is fast).
    "ALTER TABLE outbox ADD COLUMN fmt INTEGER;
     ALTER TABLE outbox ADD COLUMN seal_kid TEXT;
     ALTER TABLE outbox ADD COLUMN id_hash BLOB;",
];

/// `fmt` of a body stored as its wire JSON, personal fields sealed to the platform.
const FMT_WIRE: i64 = 3;

/// The keyed hash of an ID number (absent until the look-up key came).
type IdHash = [u8; 32];

/// The keys a store works with: the platform's public key to seal to, and
/// the key of the ID-number look-up hash. Neither opens anything sealed.
///
/// The look-up key comes from the platform (`GET /terminal/lookup-key`)
/// and is kept in memory only: nothing on the SD card — not the terminal
/// secret, not the terminal id — lets a guessed ID number be checked
/// against the hashes in the outbox. Until it has arrived (a kiosk offline
/// since it started) applications are stored without a hash: the platform
/// finds them once they are sent, this terminal does not.
#[derive(Clone)]
pub struct StoreKeys {
    sealing: SealingKey,
    lookup: Arc<Mutex<Option<Zeroizing<[u8; 32]>>>>,
}

impl std::fmt::Debug for StoreKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreKeys({:?})", self.sealing)
    }
}

impl StoreKeys {
    /// Seal to `sealing`; no look-up key yet (see [`StoreKeys::set_lookup_key`]).
    pub fn new(sealing: SealingKey) -> Self {
        StoreKeys {
            sealing,
            lookup: Arc::new(Mutex::new(None)),
        }
    }

    /// The published demo key of the international suite (tests, tools),
    /// with a look-up key derived from the terminal id — for demo and test
    /// stores only, which have no platform to ask.
    pub fn demo(terminal_id: &str) -> Self {
        let keys = StoreKeys::new(SealingKey::demo(Suite::Intl));
        keys.set_lookup_key(&Suite::Intl.hmac(
            terminal_id.as_bytes(),
            b"bianmin demo id-number look-up key",
        ));
        keys
    }

    /// The platform's look-up key for this terminal, held in memory from now
    /// on (shared by every clone).
    pub fn set_lookup_key(&self, key: &[u8; 32]) {
        let mut held = self.lookup.lock().unwrap_or_else(|p| p.into_inner());
        *held = Some(Zeroizing::new(*key));
    }

    pub fn has_lookup_key(&self) -> bool {
        self.lookup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// From `[platform] seal_public_key`/`seal_key_id` and `[crypto] suite`;
    /// an empty key is the suite's published demo key (refused in
    /// production by `config check`).
    pub fn from_config(config: &Config) -> Result<Self> {
        let suite = match config.crypto.suite {
            bianmin_config::CryptoSuite::Intl => Suite::Intl,
            bianmin_config::CryptoSuite::Gm => Suite::Gm,
        };
        let text = config.platform.seal_public_key.trim();
        let sealing = if text.is_empty() {
            if config.station.mode == bianmin_config::KioskMode::Production {
                tracing::warn!(
                    "platform.seal_public_key is not set: sealing to the published demo key"
                );
            }
            SealingKey::demo(suite)
        } else {
            let kid = config.platform.seal_key_id.trim();
            SealingKey::parse(text, if kid.is_empty() { "default" } else { kid })
                .map_err(|why| StoreError::Key(crypto::KeyError::Platform(why)))?
        };
        if sealing.suite() != suite {
            return Err(StoreError::Key(crypto::KeyError::Platform(format!(
                "platform.seal_public_key is a {} key but [crypto] suite is {}",
                sealing.suite().as_str(),
                suite.as_str()
            ))));
        }
        Ok(StoreKeys::new(sealing))
    }

    pub fn sealing(&self) -> &SealingKey {
        &self.sealing
    }

    /// The look-up hash of an ID number (trimmed, upper-case X); `None`
    /// while the platform's look-up key has not arrived.
    pub fn id_hash(&self, id_number: &str) -> Option<[u8; 32]> {
        let held = self.lookup.lock().unwrap_or_else(|p| p.into_inner());
        let key = held.as_ref()?;
        let normal = Zeroizing::new(id_number.trim().to_ascii_uppercase());
        Some(self.sealing.suite().hmac(&key[..], normal.as_bytes()))
    }
}

/// `meta` key of `kind`'s pending mark: no record of that kind with a lower
/// id is pending. Only a lower bound, so a stale (lower) mark costs a longer
/// scan, never a lost record: acknowledgements raise it, `retry` lowers it in
/// the same transaction as the state change, and enqueues never need to touch
/// it because a new id is always above every existing one.
fn pending_mark_key(kind: RecordKind) -> String {
    format!("outbox.pending_from.{}", kind.as_str())
}

fn pending_mark(conn: &Connection, kind: RecordKind) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1")?
        .query_row([pending_mark_key(kind)], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0))
}

/// Move every kind's mark up to its lowest pending id (or past the last row
/// when none is pending). Scans only rows at or above the old mark: in a
/// drain that is the batch just acknowledged.
fn raise_pending_marks(conn: &Connection) -> Result<()> {
    for kind in RecordKind::ALL {
        let from = pending_mark(conn, kind)?;
        let next: i64 = conn
            .prepare_cached(
                "SELECT COALESCE(
                   (SELECT id FROM outbox WHERE id >= ?1 AND kind = ?2 AND state = 'pending'
                    ORDER BY id LIMIT 1),
                   (SELECT COALESCE(MAX(id), 0) + 1 FROM outbox))",
            )?
            .query_row(params![from, kind.as_str()], |r| r.get(0))?;
        if next > from {
            conn.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, CAST(?2 AS TEXT))
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![pending_mark_key(kind), next])?;
        }
    }
    Ok(())
}

struct Inner {
    conn: Mutex<Connection>,
    /// The sync engine's reads of the next batch, and checkpoints. WAL lets
    /// this connection read beside the writer, so the next batch is never
    /// held up by an acknowledgement being written on `conn`, and a passive
    /// checkpoint here never holds up an enqueue.
    background: Mutex<Connection>,
    keys: StoreKeys,
    /// The older local key (`outbox.key`) while records sealed with it remain.
    legacy: Mutex<Option<Sealer>>,
    terminal_id: String,
    db_path: PathBuf,
    data_dir: PathBuf,
    newest_ms: AtomicI64,
    clock_offset_ms: AtomicI64,
    clock_suspect: AtomicBool,
    changed: tokio::sync::Notify,
}

/// Handle on the outbox; cheap to clone, shared by UI, sync and CLI.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.db_path.display())
    }
}

/// A panic while a connection was held leaves SQLite itself consistent (an
/// open transaction is rolled back when its guard drops), so carry on.
fn locked(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn apply_pragmas(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(format!("journal_mode is {mode}, not WAL")));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The bundled SQLite is built with STAT4, which re-prepares a statement
    // whenever a new value is bound to a range constraint (`id >= ?`): every
    // drain batch and every acknowledgement paid for a full parse. There are
    // no statistics to plan with anyway, so a stable plan loses nothing.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // The sync engine checkpoints after each drain (`Store::checkpoint`), off
    // the resident's path; this is only the backstop for a terminal that
    // takes applications for days without a link.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    Ok(())
}

/// Pages in the WAL before a commit checkpoints it itself (16 MB of 4 kB
/// pages; SQLite's default is 1000).
pub const WAL_AUTOCHECKPOINT_PAGES: i64 = 4000;

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt {
            detail: format!(
                "schema version {version} is newer than this program knows ({})",
                MIGRATIONS.len()
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// `PRAGMA quick_check`; Ok(()) or the first problem.
fn quick_check(conn: &Connection) -> Result<()> {
    let first: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    if first == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt { detail: first })
    }
}

impl Store {
    /// Open (creating on first start) the outbox in `config.store.data_dir`.
    /// Refuses a corrupted database with [`StoreError::Corrupt`].
    pub fn open(config: &Config) -> Result<Store> {
        Store::open_with(
            &config.store.data_dir,
            config.station.terminal_id.as_str(),
            StoreKeys::from_config(config)?,
        )
    }

    /// Open in `data_dir` for terminal `terminal_id`, sealing to the
    /// published demo key (tests and tools).
    pub fn open_at(data_dir: &Path, terminal_id: &str) -> Result<Store> {
        Store::open_with(data_dir, terminal_id, StoreKeys::demo(terminal_id))
    }

    /// Open in `data_dir` for terminal `terminal_id` with `keys`.
    pub fn open_with(data_dir: &Path, terminal_id: &str, keys: StoreKeys) -> Result<Store> {
        create_private_dir(data_dir)?;
        let db_path = data_dir.join(DB_FILE);
        let legacy = Sealer::load_existing(data_dir)?;
        let mut conn = Connection::open(&db_path)?;
        apply_pragmas(&conn)?;
        quick_check(&conn)?;
        migrate(&mut conn)?;
        let newest: Option<i64> = conn
            .query_row(
                "SELECT created_at FROM outbox ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let background = Connection::open(&db_path)?;
        apply_pragmas(&background)?;
        let store = Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                background: Mutex::new(background),
                keys,
                legacy: Mutex::new(legacy),
                terminal_id: terminal_id.to_string(),
                db_path,
                data_dir: data_dir.to_path_buf(),
                newest_ms: AtomicI64::new(newest.unwrap_or(0)),
                clock_offset_ms: AtomicI64::new(0),
                clock_suspect: AtomicBool::new(false),
                changed: tokio::sync::Notify::new(),
            }),
        };
        store.clock_check();
        store.reseal_legacy()?;
        Ok(store)
    }

    /// Reseal every body sealed under the older local key to the platform's
    /// key, then delete the local key file: from then on nothing in the data
    /// directory opens a resident's data. One transaction; a body the local
    /// key does not open is left as it was (it is parked when sent).
    fn reseal_legacy(&self) -> Result<()> {
        let mut legacy = self
            .inner
            .legacy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(sealer) = legacy.as_ref() else {
            return Ok(());
        };
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<(i64, String, String, Vec<u8>)> = tx
            .prepare(
                "SELECT id, kind, key, body FROM outbox WHERE fmt IS NULL AND body IS NOT NULL",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut left = 0usize;
        for (id, kind, key, body) in rows {
            let resealed = sealer.open(&key, &body).and_then(|json| {
                let kind = RecordKind::parse(&kind)?;
                self.reseal_wire(kind, &json).ok()
            });
            match resealed {
                Some((json, id_hash, sealed)) => {
                    tx.execute(
                        "UPDATE outbox SET body = ?2, fmt = ?3, seal_kid = ?4, id_hash = ?5 WHERE id = ?1",
                        params![
                            id,
                            &json[..],
                            FMT_WIRE,
                            sealed.then(|| self.inner.keys.sealing.kid()),
                            id_hash.as_ref().map(|h| &h[..])
                        ],
                    )?;
                }
                None => left += 1,
            }
        }
        tx.commit()?;
        drop(conn);
        if left == 0 {
            // The old bodies' pages were overwritten (secure_delete); push
            // them out of the WAL too before the key goes.
            let _ = self
                .conn()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            crypto::destroy_key_file(&self.inner.data_dir)?;
            *legacy = None;
            tracing::info!("records resealed to the platform key; the local key file was deleted");
        } else {
            tracing::warn!(
                count = left,
                "records the local key does not open were left as they are"
            );
        }
        Ok(())
    }

    /// A record's wire JSON as written before platform sealing, sealed now:
    /// (JSON, ID-number hash, whether it carries a sealed part).
    fn reseal_wire(&self, kind: RecordKind, json: &[u8]) -> Result<Resealed> {
        let bad = |e: serde_json::Error| StoreError::Invalid(e.to_string());
        Ok(match kind {
            RecordKind::Application => {
                let wire: ApplicationWire = serde_json::from_slice(json).map_err(bad)?;
                let (json, hash) = self.seal_application(wire)?;
                (json, hash, true)
            }
            RecordKind::Evaluation => {
                let wire: EvaluationWire = serde_json::from_slice(json).map_err(bad)?;
                let sealed = !wire.comment.is_empty();
                (self.seal_evaluation(wire)?, None, sealed)
            }
            RecordKind::ErrorReport => {
                let wire: ErrorReportWire = serde_json::from_slice(json).map_err(bad)?;
                (self.seal_error_report(wire)?, None, true)
            }
            RecordKind::Heartbeat => (Zeroizing::new(json.to_vec()), None, false),
        })
    }

    /// An application's stored and sent form: personal fields sealed to
    /// the platform, the rest in clear; and its ID-number hash.
    fn seal_application(
        &self,
        wire: ApplicationWire,
    ) -> Result<(Zeroizing<Vec<u8>>, Option<IdHash>)> {
        let ApplicationWire {
            receipt_no,
            terminal_id,
            service_code,
            service_name,
            created_at,
            assisted_by,
            mut applicant,
            mut agent,
            form,
            materials,
            delivery,
            signature_png,
        } = wire;
        let id_hash = self.inner.keys.id_hash(&applicant.id_number);
        let masked_name = bianmin_core::id_number::mask_name(&applicant.name);
        let agent_masked_name = agent
            .as_ref()
            .map(|a| bianmin_core::id_number::mask_name(&a.name));
        let agent_relationship = agent.as_ref().map(|a| a.relationship.clone());
        let delivery_method = DeliveryMethod::from(&delivery);
        let mut personal = PersonalFields {
            agent: agent.take(),
            applicant: std::mem::take(&mut applicant),
            form,
            delivery,
            signature_png,
        };
        let sealed = bianmin_platform::api::seal_fields(
            &self.inner.keys.sealing,
            RecordKind::Application,
            &terminal_id,
            &receipt_no,
            &personal,
        );
        wipe_applicant(&mut personal.applicant);
        if let Some(agent) = personal.agent.as_mut() {
            zeroize::Zeroize::zeroize(&mut agent.name);
            zeroize::Zeroize::zeroize(&mut agent.id_number);
        }
        if let Delivery::Post { address } = &mut personal.delivery {
            zeroize::Zeroize::zeroize(address);
        }
        let json = wire_json(&SealedApplicationWire {
            receipt_no,
            terminal_id,
            service_code,
            service_name,
            created_at,
            assisted_by,
            masked_name,
            agent_masked_name,
            agent_relationship,
            materials,
            delivery_method,
            sealed,
        })?;
        Ok((json, id_hash))
    }

    /// An evaluation with its comment (the resident's own words) sealed.
    fn seal_evaluation(&self, wire: EvaluationWire) -> Result<Zeroizing<Vec<u8>>> {
        if wire.comment.is_empty() {
            return wire_json(&wire);
        }
        #[derive(Serialize)]
        struct Comment<'a> {
            comment: &'a str,
        }
        let sealed = bianmin_platform::api::seal_fields(
            &self.inner.keys.sealing,
            RecordKind::Evaluation,
            &wire.terminal_id,
            &wire.id,
            &Comment {
                comment: &wire.comment,
            },
        );
        let mut clear = wire;
        zeroize::Zeroize::zeroize(&mut clear.comment);
        with_sealed(&clear, "comment", &sealed)
    }

    /// An error report with its message (a resident's 办不成事 text) sealed.
    fn seal_error_report(&self, wire: ErrorReportWire) -> Result<Zeroizing<Vec<u8>>> {
        #[derive(Serialize)]
        struct Message<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            callback_phone: Option<&'a str>,
        }
        let sealed = bianmin_platform::api::seal_fields(
            &self.inner.keys.sealing,
            RecordKind::ErrorReport,
            &wire.terminal_id,
            &wire.id,
            &Message {
                message: &wire.message,
                callback_phone: wire.callback_phone.as_deref(),
            },
        );
        let mut clear = wire;
        zeroize::Zeroize::zeroize(&mut clear.message);
        // The number leaves the clear part whole (never serialised there).
        if let Some(mut phone) = clear.callback_phone.take() {
            zeroize::Zeroize::zeroize(&mut phone);
        }
        with_sealed(&clear, "message", &sealed)
    }

    /// A stored body as wire JSON: as it is, or opened with the older local
    /// key (a record it does not open gives `None`).
    fn body_json(&self, fmt: Option<i64>, key: &str, body: Vec<u8>) -> Option<Zeroizing<Vec<u8>>> {
        if fmt == Some(FMT_WIRE) {
            return Some(Zeroizing::new(body));
        }
        let legacy = self
            .inner
            .legacy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        legacy.as_ref()?.open(key, &body)
    }

    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn terminal_id(&self) -> &str {
        &self.inner.terminal_id
    }

    /// Id of the platform key new records are sealed to.
    /// Hold the platform's look-up key for this terminal (memory only):
    /// applications stored from now on can be found by ID number here.
    pub fn set_lookup_key(&self, key: &[u8; 32]) {
        self.inner.keys.set_lookup_key(key);
    }

    /// Whether the look-up key has arrived since the store was opened.
    pub fn has_lookup_key(&self) -> bool {
        self.inner.keys.has_lookup_key()
    }

    pub fn sealing_key_id(&self) -> &str {
        self.inner.keys.sealing.kid()
    }

    /// Woken whenever a record is enqueued or put back to pending.
    pub fn changed(&self) -> &tokio::sync::Notify {
        &self.inner.changed
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        locked(&self.inner.conn)
    }

    fn background(&self) -> MutexGuard<'_, Connection> {
        locked(&self.inner.background)
    }

    fn system_now_ms(&self) -> i64 {
        now_ms() + self.inner.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// Test hook: pretend the system clock is off by `offset_ms`.
    #[doc(hidden)]
    pub fn debug_set_clock_offset_ms(&self, offset_ms: i64) {
        self.inner
            .clock_offset_ms
            .store(offset_ms, Ordering::Relaxed);
        self.clock_check();
    }

    /// Test hook: limit the database to `pages` pages (simulates a full disk).
    #[doc(hidden)]
    pub fn debug_set_max_page_count(&self, pages: u64) -> Result<u64> {
        let conn = self.conn();
        Ok(conn
            .pragma_update_and_check(None, "max_page_count", pages as i64, |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// Judge the system clock against the floor and the newest record.
    pub fn clock_check(&self) -> ClockCheck {
        let now = self.system_now_ms();
        let newest = self.inner.newest_ms.load(Ordering::Relaxed);
        let check = if now < CLOCK_FLOOR_MS {
            ClockCheck::BeforeFloor { now_ms: now }
        } else if newest > 0 && now + CLOCK_BACKWARDS_TOLERANCE_MS < newest {
            ClockCheck::Backwards {
                now_ms: now,
                newest_ms: newest,
            }
        } else {
            ClockCheck::Ok
        };
        let suspect = !check.is_ok();
        if suspect && !self.inner.clock_suspect.swap(true, Ordering::Relaxed) {
            tracing::warn!("{}", check.describe());
        } else if !suspect {
            self.inner.clock_suspect.store(false, Ordering::Relaxed);
        }
        check
    }

    /// Time for a new record: never before the newest record, so receipt
    /// dates and the outbox order stay monotonic when the clock jumps back.
    fn record_time(&self) -> (i64, bool) {
        let check = self.clock_check();
        let now = self.system_now_ms();
        let newest = self.inner.newest_ms.load(Ordering::Relaxed);
        (now.max(newest), !check.is_ok())
    }

    /// Next sequence number for keys starting with `day_prefix` (e.g.
    /// `BM1-T0001-20261125-`): one more than the highest such key, found
    /// through the key's unique index inside the writing transaction (keys
    /// are never deleted, so a number is never handed out twice). Reading
    /// instead of keeping a counter row saves a page write per commit.
    fn next_seq(tx: &rusqlite::Transaction<'_>, day_prefix: &str) -> Result<u32> {
        let mut upper = day_prefix.to_string();
        upper.pop();
        upper.push('.'); // '.' sorts right after '-'
        let last: Option<String> = tx
            .prepare_cached(
                "SELECT key FROM outbox WHERE key >= ?1 AND key < ?2 ORDER BY key DESC LIMIT 1",
            )?
            .query_row([day_prefix, upper.as_str()], |r| r.get(0))
            .optional()?;
        let seq = match last {
            None => 1,
            Some(key) => {
                let digits: String = key[day_prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                digits
                    .parse::<u32>()
                    .map_err(|_| StoreError::Corrupt {
                        detail: format!("unreadable key {key}"),
                    })?
                    .checked_add(1)
                    .ok_or_else(|| StoreError::Invalid("sequence overflow".into()))?
            }
        };
        if seq > 999_999 {
            return Err(StoreError::Invalid(
                "more than 999999 records in one day".into(),
            ));
        }
        Ok(seq)
    }

    /// Insert one record in its own IMMEDIATE transaction; `make` gets the
    /// record time and the day's sequence number and returns the row (its
    /// personal fields already sealed to the platform's key).
    fn insert<F>(&self, kind: RecordKind, key_prefix: &str, make: F) -> Result<(String, i64, bool)>
    where
        F: FnOnce(i64, &str, u32) -> Result<NewRow>,
    {
        let (at, suspect) = self.record_time();
        let date = day(at);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq = Self::next_seq(&tx, &format!("{key_prefix}{date}-"))?;
        let row = make(at, &date, seq)?;
        tx.prepare_cached(
            "INSERT INTO outbox (kind, key, service_code, service_name, created_at, body, fmt, seal_kid, id_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            kind.as_str(),
            row.key,
            row.service_code,
            row.service_name,
            at,
            &row.json[..],
            FMT_WIRE,
            row.sealed.then(|| self.inner.keys.sealing.kid()),
            row.id_hash.as_ref().map(|h| &h[..])
        ])?;
        tx.commit()?;
        drop(conn);
        self.inner.newest_ms.fetch_max(at, Ordering::Relaxed);
        self.inner.changed.notify_one();
        Ok((row.key, at, suspect))
    }

    /// Take an application: it is committed (fsync'd) before this returns
    /// its receipt number. Nothing is written if this fails.
    pub fn enqueue_application(&self, app: NewApplication) -> Result<Receipt> {
        if app.service_code.trim().is_empty() {
            return Err(StoreError::Invalid("service code is empty".into()));
        }
        let terminal = self.inner.terminal_id.clone();
        let mut created_at = String::new();
        let (receipt_no, at, suspect) = self.insert(
            RecordKind::Application,
            &format!("{}-{terminal}-", receipt::PREFIX),
            |at, date, seq| {
                created_at = rfc3339(at);
                let receipt_no = receipt::format(&terminal, date, seq);
                let wire = ApplicationWire {
                    receipt_no: receipt_no.clone(),
                    terminal_id: terminal.clone(),
                    service_code: app.service_code.clone(),
                    service_name: app.service_name.clone(),
                    created_at: created_at.clone(),
                    assisted_by: app.assisted_by,
                    applicant: app.applicant,
                    agent: app.agent,
                    form: app.form,
                    materials: app.materials,
                    delivery: app.delivery,
                    signature_png: app
                        .signature_png
                        .map(|png| base64::engine::general_purpose::STANDARD.encode(png)),
                };
                // Sealed here, inside the writing transaction, so the
                // sealed block is bound to the receipt number just taken.
                let (json, id_hash) = self.seal_application(wire)?;
                Ok(NewRow {
                    key: receipt_no,
                    service_code: Some(app.service_code),
                    service_name: Some(app.service_name),
                    json,
                    sealed: true,
                    id_hash,
                })
            },
        )?;
        Ok(Receipt {
            receipt_no,
            created_at,
            created_at_ms: at,
            clock_suspect: suspect,
        })
    }

    /// Queue a 好差评 evaluation (level 1–5); returns its id.
    pub fn enqueue_evaluation(&self, ev: NewEvaluation) -> Result<String> {
        if !(1..=5).contains(&ev.level) {
            return Err(StoreError::Invalid(format!(
                "evaluation level {} is not 1–5",
                ev.level
            )));
        }
        let terminal = self.inner.terminal_id.clone();
        self.insert(
            RecordKind::Evaluation,
            &format!("EV-{terminal}-"),
            |at, date, seq| {
                let id = format!("EV-{terminal}-{date}-{seq:06}");
                let wire = EvaluationWire {
                    id: id.clone(),
                    terminal_id: terminal.clone(),
                    receipt_no: ev.receipt_no,
                    service_code: ev.service_code.clone(),
                    level: ev.level,
                    comment: ev.comment,
                    created_at: rfc3339(at),
                };
                let sealed = !wire.comment.is_empty();
                Ok(NewRow {
                    key: id,
                    service_code: Some(ev.service_code),
                    service_name: None,
                    json: self.seal_evaluation(wire)?,
                    sealed,
                    id_hash: None,
                })
            },
        )
        .map(|(id, _, _)| id)
    }

    /// Queue a heartbeat (the queue, the disk and the content package's
    /// state are filled in here, from what the store knows).
    pub fn enqueue_heartbeat(&self, hb: NewHeartbeat) -> Result<String> {
        let terminal = self.inner.terminal_id.clone();
        let stats = self.stats()?;
        let depth = stats.pending;
        let oldest_pending_secs = stats
            .oldest_pending_ms
            .map(|ms| u64::try_from((now_ms() - ms) / 1000).unwrap_or(0));
        let disk = bianmin_fs::disk_space(&self.inner.data_dir).ok();
        let free = disk.map_or(0, |d| d.free_bytes);
        let content_version = self
            .content_package(PackageSlot::Current)?
            .map(|p| p.version);
        let content_refused = self.content_refusal()?.map(|r| r.reason);
        self.insert(
            RecordKind::Heartbeat,
            &format!("HB-{terminal}-"),
            |at, date, seq| {
                let id = format!("HB-{terminal}-{date}-{seq:06}");
                let wire = HeartbeatWire {
                    id: id.clone(),
                    terminal_id: terminal.clone(),
                    at: rfc3339(at),
                    status: hb.status,
                    devices: hb.devices,
                    queue_depth: depth,
                    free_disk_bytes: free,
                    version: hb.version,
                    uptime_secs: hb.uptime_secs,
                    station_code: hb.station_code,
                    oldest_pending_secs,
                    total_disk_bytes: disk.map(|d| d.total_bytes),
                    content_version,
                    content_refused,
                    config_version: bianmin_config::remote_version(&self.inner.data_dir),
                    audit: hb.audit,
                };
                Ok(NewRow {
                    key: id,
                    service_code: None,
                    service_name: None,
                    json: wire_json(&wire)?,
                    sealed: false,
                    id_hash: None,
                })
            },
        )
        .map(|(id, _, _)| id)
    }

    /// Queue an error report (办不成事 or a terminal fault).
    pub fn enqueue_error_report(&self, er: NewErrorReport) -> Result<String> {
        let terminal = self.inner.terminal_id.clone();
        self.insert(
            RecordKind::ErrorReport,
            &format!("ER-{terminal}-"),
            |at, date, seq| {
                let id = format!("ER-{terminal}-{date}-{seq:06}");
                let wire = ErrorReportWire {
                    id: id.clone(),
                    terminal_id: terminal.clone(),
                    at: rfc3339(at),
                    kind: er.kind,
                    service_code: er.service_code.clone(),
                    message: er.message,
                    callback_phone: er.callback_phone,
                };
                Ok(NewRow {
                    key: id,
                    service_code: er.service_code,
                    service_name: None,
                    json: self.seal_error_report(wire)?,
                    sealed: true,
                    id_hash: None,
                })
            },
        )
        .map(|(id, _, _)| id)
    }

    /// Oldest pending records of `kind`, decrypted, at most `limit`. A body
    /// that cannot be decrypted (wrong key, tampering) parks its record.
    pub fn next_batch(&self, kind: RecordKind, limit: usize) -> Result<Vec<OutgoingRecord>> {
        self.next_batch_after(kind, 0, limit)
    }

    /// Like [`Store::next_batch`], only records with an id above `after_id`
    /// (the sync engine reads the next batch while the previous one's
    /// acknowledgements are still being written).
    pub fn next_batch_after(
        &self,
        kind: RecordKind,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<OutgoingRecord>> {
        let rows = {
            let reads = self.background();
            let from = pending_mark(&reads, kind)?.max(after_id.saturating_add(1));
            let mut stmt = reads.prepare_cached(
                "SELECT id, key, body, fmt FROM outbox WHERE id >= ?3 AND kind = ?1 AND state = 'pending'
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![kind.as_str(), limit as i64, from], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        let mut out = Vec::with_capacity(rows.len());
        let mut broken = Vec::new();
        for (id, key, body, fmt) in rows {
            match body.and_then(|b| self.body_json(fmt, &key, b)) {
                Some(json) => out.push(OutgoingRecord { id, key, json }),
                None => broken.push(id),
            }
        }
        if !broken.is_empty() {
            let conn = self.conn();
            let mut stmt = conn.prepare_cached(
                "UPDATE outbox SET state = 'parked', last_error = ?2, parked_at = ?3 WHERE id = ?1",
            )?;
            for id in &broken {
                stmt.execute(params![
                    id,
                    "本机无法解密该记录 (body cannot be decrypted with this terminal's key)",
                    now_ms()
                ])?;
            }
            tracing::error!(
                count = broken.len(),
                "outbox records could not be decrypted; parked"
            );
        }
        Ok(out)
    }

    /// Record the platform's per-record answers in one transaction:
    /// accepted/duplicate → acked, rejected → parked with the reason.
    /// Results for unknown ids are ignored.
    ///
    /// Committed with `synchronous=NORMAL`: a power cut may forget the last
    /// acknowledgements (never a record), which only means those records are
    /// sent again and the platform answers `duplicate`. The next FULL commit
    /// (any enqueue) makes them durable too.
    pub fn apply_results(&self, results: &[RecordResult]) -> Result<()> {
        let now = now_ms();
        let mut accepted = Vec::with_capacity(results.len());
        let mut duplicate = Vec::new();
        let mut rejected = Vec::new();
        for r in results {
            match r.status {
                RecordStatus::Accepted => accepted.push(r.id.as_str()),
                RecordStatus::Duplicate => duplicate.push(r.id.as_str()),
                RecordStatus::Rejected => rejected.push(r),
            }
        }
        let mut conn = self.conn();
        relaxed(&mut conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                // One statement per answer rather than per record: a batch's
                // acknowledgement is a single pass over the key index.
                let mut ack = tx.prepare_cached(
                    "UPDATE outbox SET state = 'acked', acked_at = ?2, platform_status = ?3,
                     attempts = attempts + 1, last_error = NULL
                     WHERE key IN (SELECT value FROM json_each(?1)) AND state = 'pending'",
                )?;
                for (keys, status) in [(&accepted, "accepted"), (&duplicate, "duplicate")] {
                    if !keys.is_empty() {
                        let list = serde_json::to_string(keys)
                            .map_err(|e| StoreError::Invalid(e.to_string()))?;
                        ack.execute(params![list, now, status])?;
                    }
                }
                let mut park = tx.prepare_cached(
                    "UPDATE outbox SET state = 'parked', attempts = attempts + 1, last_error = ?2,
                     platform_status = 'rejected', parked_at = ?3 WHERE key = ?1 AND state = 'pending'",
                )?;
                for r in rejected {
                    park.execute(params![
                        r.id,
                        r.reason.as_deref().unwrap_or("rejected by the platform"),
                        now
                    ])?;
                }
            }
            if !results.is_empty() {
                raise_pending_marks(&tx)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Note a failed delivery attempt (the records stay pending).
    pub fn note_failure(&self, ids: &[i64], reason: &str) -> Result<()> {
        let mut conn = self.conn();
        relaxed(&mut conn, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                )?;
                for id in ids {
                    stmt.execute(params![id, reason])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Park one record with a reason (the platform refused it as a whole).
    pub fn park(&self, id: i64, reason: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE outbox SET state = 'parked', attempts = attempts + 1, last_error = ?2,
             parked_at = ?3 WHERE id = ?1 AND state = 'pending'",
            params![id, reason, now_ms()],
        )?;
        Ok(())
    }

    /// Put a parked record back in the queue (`bianmin queue retry ID`).
    /// `id_or_key` is the numeric id or the receipt number / record id.
    pub fn retry(&self, id_or_key: &str) -> Result<RecordSummary> {
        let n = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let reopened: Vec<(i64, String)> = tx
                .prepare(
                    "UPDATE outbox SET state = 'pending', last_error = NULL, parked_at = NULL
                     WHERE (key = ?1 OR CAST(id AS TEXT) = ?1) AND state = 'parked' AND body IS NOT NULL
                     RETURNING id, kind",
                )?
                .query_map([id_or_key], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (id, kind) in &reopened {
                // The record is pending again below its kind's mark: lower it
                // in the same commit, or the sender would never see it.
                tx.execute(
                    "UPDATE meta SET value = CAST(?2 AS TEXT)
                     WHERE key = ?1 AND CAST(value AS INTEGER) > ?2",
                    params![
                        RecordKind::parse(kind)
                            .map(pending_mark_key)
                            .unwrap_or_default(),
                        id
                    ],
                )?;
            }
            tx.commit()?;
            reopened.len()
        };
        let summary = self
            .find(id_or_key)?
            .ok_or_else(|| StoreError::NotFound(id_or_key.to_string()))?;
        if n == 0 && summary.state == RecordState::Parked && summary.purged {
            return Err(StoreError::Invalid(format!(
                "record {} was parked longer than the retention period and its personal fields were purged: nothing is left to send",
                summary.key
            )));
        }
        if n == 0 && summary.state != RecordState::Pending {
            return Err(StoreError::Invalid(format!(
                "record {} is {}, only parked records can be retried",
                summary.key,
                summary.state.as_str()
            )));
        }
        self.inner.changed.notify_one();
        Ok(summary)
    }

    fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordSummary> {
        let kind: String = r.get(1)?;
        let state: String = r.get(6)?;
        Ok(RecordSummary {
            id: r.get(0)?,
            kind: RecordKind::parse(&kind).unwrap_or(RecordKind::Application),
            key: r.get(2)?,
            service_code: r.get(3)?,
            service_name: r.get(4)?,
            created_at_ms: r.get(5)?,
            state: RecordState::parse(&state),
            attempts: r.get::<_, i64>(7)? as u32,
            last_error: r.get(8)?,
            purged: r.get::<_, Option<i64>>(9)?.is_some(),
        })
    }

    const SUMMARY_COLS: &'static str = "id, kind, key, service_code, service_name, created_at, state, attempts, last_error, purged_at";

    /// One record by numeric id or key.
    pub fn find(&self, id_or_key: &str) -> Result<Option<RecordSummary>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {} FROM outbox WHERE key = ?1 OR CAST(id AS TEXT) = ?1 LIMIT 1",
            Self::SUMMARY_COLS
        );
        Ok(conn
            .query_row(&sql, [id_or_key], Self::summary_row)
            .optional()?)
    }

    /// Newest first; `state` filters.
    pub fn list(&self, state: Option<RecordState>, limit: usize) -> Result<Vec<RecordSummary>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {} FROM outbox WHERE (?1 IS NULL OR state = ?1) ORDER BY id DESC LIMIT ?2",
            Self::SUMMARY_COLS
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map(
                params![state.map(|s| s.as_str()), limit as i64],
                Self::summary_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn stats(&self) -> Result<QueueStats> {
        let conn = self.conn();
        let mut s = QueueStats::default();
        let mut stmt = conn.prepare_cached(
            "SELECT state, kind, COUNT(*), MIN(created_at), SUM(purged_at IS NOT NULL)
             FROM outbox GROUP BY state, kind",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let state: String = r.get(0)?;
            let kind: String = r.get(1)?;
            let n = r.get::<_, i64>(2)? as u64;
            let oldest: Option<i64> = r.get(3)?;
            s.purged += r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64;
            match state.as_str() {
                "pending" => {
                    s.pending += n;
                    match kind.as_str() {
                        "application" => s.pending_applications += n,
                        "heartbeat" => s.pending_heartbeats += n,
                        _ => {}
                    }
                    s.oldest_pending_ms = match (s.oldest_pending_ms, oldest) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                "parked" => s.parked += n,
                _ => s.acked += n,
            }
        }
        Ok(s)
    }

    /// Copy the WAL's committed pages into the database file without
    /// waiting for, or holding up, any writer (a passive checkpoint on the
    /// background connection). The sync engine calls it after each drain
    /// attempt. Returns the WAL's frames and how many of them are now in the
    /// database file (fewer when a reader still needs older pages).
    pub fn checkpoint(&self) -> Result<(u64, u64)> {
        let (frames, copied): (i64, i64) =
            self.background()
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(1)?, r.get(2)?))
                })?;
        Ok((frames.max(0) as u64, copied.max(0) as u64))
    }

    /// Drop the body of records acknowledged more than `retention_days`
    /// ago (the platform has them). Returns how many. A parked record's
    /// body is kept: its personal fields are sealed to the platform's key,
    /// which nothing on the kiosk opens, so it waits for a technician's
    /// retry (after a key mix-up, say) without anyone here able to read it;
    /// only a parked body still under the older local key is dropped after
    /// the retention period. A purged record keeps its receipt number,
    /// service, times, state and the platform's reason.
    pub fn purge_expired(&self, retention_days: u32) -> Result<usize> {
        let now = now_ms();
        let cutoff = now - i64::from(retention_days) * 86_400_000;
        let n = self.conn().execute(
            "UPDATE outbox SET body = NULL, purged_at = ?1
             WHERE body IS NOT NULL
               AND ((state = 'acked' AND acked_at <= ?2)
                 OR (state = 'parked' AND parked_at <= ?2 AND fmt IS NULL))",
            params![now, cutoff],
        )?;
        if n > 0 {
            // Push the overwritten pages out of the WAL too.
            let _ = self
                .conn()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        Ok(n)
    }

    /// One record's wire JSON as it is sent (personal fields sealed to the
    /// platform: the kiosk reads only the clear part). `None` once purged.
    pub fn record_json(&self, id_or_key: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let row: Option<(String, Option<Vec<u8>>, Option<i64>)> = self
            .conn()
            .query_row(
                "SELECT key, body, fmt FROM outbox WHERE key = ?1 OR CAST(id AS TEXT) = ?1",
                [id_or_key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((key, body, fmt)) = row else {
            return Err(StoreError::NotFound(id_or_key.to_string()));
        };
        Ok(body.and_then(|b| self.body_json(fmt, &key, b)))
    }

    /// Every receipt number of an application in any state (tests, audits).
    pub fn application_keys(&self) -> Result<Vec<(String, RecordState)>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT key, state FROM outbox WHERE kind = 'application' ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    RecordState::parse(&r.get::<_, String>(1)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Export every record not yet acknowledged (pending and parked) to
    /// `path`: the records as they are sent, their personal fields sealed
    /// to the platform's key, so the file needs no key of its own (see
    /// docs/platform-api.yaml, "Offline export"). Returns the record count.
    pub fn export(&self, path: &Path) -> Result<usize> {
        // (kind, key, body, fmt)
        type Row = (String, String, Option<Vec<u8>>, Option<i64>);
        let rows: Vec<Row> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(
                "SELECT kind, key, body, fmt FROM outbox WHERE state IN ('pending','parked') ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows
        };
        let mut doc = Zeroizing::new(Vec::new());
        doc.extend_from_slice(b"[");
        let mut n = 0;
        for (kind, _key, body, fmt) in rows {
            // Only bodies sealed to the platform: one the older local key
            // still holds would go out in clear.
            let (Some(json), Some(FMT_WIRE)) = (body, fmt) else {
                continue;
            };
            if n > 0 {
                doc.push(b',');
            }
            doc.extend_from_slice(format!("{{\"kind\":\"{kind}\",\"record\":").as_bytes());
            doc.extend_from_slice(&json);
            doc.push(b'}');
            n += 1;
        }
        doc.push(b']');
        let mut file = Vec::with_capacity(doc.len() + 64);
        file.extend_from_slice(EXPORT_MAGIC.as_bytes());
        file.extend_from_slice(self.inner.terminal_id.as_bytes());
        file.push(b'\n');
        file.extend_from_slice(&doc);
        bianmin_fs::write_atomic(path, &file, 0o600, None)
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(n)
    }

    /// Read an export file: its records, personal fields still sealed.
    pub fn read_export(&self, path: &Path) -> Result<serde_json::Value> {
        let data = std::fs::read(path).map_err(|e| StoreError::Io(e.to_string()))?;
        let nl = data
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| StoreError::Invalid("not an export file".into()))?;
        let header = std::str::from_utf8(&data[..nl])
            .map_err(|_| StoreError::Invalid("not an export file".into()))?;
        if !header.starts_with(EXPORT_MAGIC) {
            return Err(StoreError::Invalid("not an export file".into()));
        }
        let _ = header;
        serde_json::from_slice(&data[nl + 1..]).map_err(|e| StoreError::Invalid(e.to_string()))
    }

    /// Cached catalogue, if any.
    pub fn catalogue(&self) -> Result<Option<CachedCatalogue>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT etag, version, body, fetched_at FROM catalogue WHERE id = 1",
                [],
                |r| {
                    Ok(CachedCatalogue {
                        etag: r.get(0)?,
                        version: r.get(1)?,
                        body: r.get(2)?,
                        fetched_at_ms: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Replace the cached catalogue in one transaction (readers see the old
    /// one or the new one, never a mix). The body must be a JSON document.
    pub fn replace_catalogue(&self, etag: Option<&str>, body: &str) -> Result<()> {
        let value: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| StoreError::Invalid(format!("catalogue is not JSON: {e}")))?;
        let version = value
            .get("version")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        self.conn().execute(
            "INSERT INTO catalogue (id, etag, version, body, fetched_at) VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET etag = excluded.etag, version = excluded.version,
               body = excluded.body, fetched_at = excluded.fetched_at",
            params![etag, version, body, now_ms()],
        )?;
        Ok(())
    }

    /// A stored content package.
    pub fn content_package(&self, slot: PackageSlot) -> Result<Option<CachedPackage>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT etag, version, body, installed_at FROM content_package WHERE slot = ?1",
                [slot.name()],
                |r| {
                    Ok(CachedPackage {
                        etag: r.get(0)?,
                        version: r.get(1)?,
                        body: r.get(2)?,
                        installed_at_ms: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Make a verified package current; the current one becomes the
    /// previous (the one before is dropped), and any refusal is cleared. One
    /// transaction: a crash leaves the old pair or the new pair.
    pub fn install_content_package(
        &self,
        etag: Option<&str>,
        version: &str,
        body: &[u8],
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let same: bool = tx
            .query_row(
                "SELECT body = ?1 FROM content_package WHERE slot = 'current'",
                [body],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false);
        if same {
            // The platform went back to what we show: keep the rollback copy.
            tx.execute(
                "UPDATE content_package SET etag = ?1 WHERE slot = 'current'",
                [etag],
            )?;
        } else {
            tx.execute("DELETE FROM content_package WHERE slot = 'previous'", [])?;
            tx.execute(
                "UPDATE content_package SET slot = 'previous' WHERE slot = 'current'",
                [],
            )?;
            tx.execute(
                "INSERT INTO content_package (slot, etag, version, body, installed_at)
                 VALUES ('current', ?1, ?2, ?3, ?4)",
                params![etag, version, body, now_ms()],
            )?;
        }
        tx.execute("DELETE FROM content_refusal", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Remember why a pulled package was refused; what is stored stays.
    pub fn refuse_content_package(&self, etag: Option<&str>, reason: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO content_refusal (id, etag, reason, at) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET etag = excluded.etag, reason = excluded.reason,
               at = excluded.at",
            params![etag, reason, now_ms()],
        )?;
        Ok(())
    }

    /// Why the last package pulled was refused, if it was.
    pub fn content_refusal(&self) -> Result<Option<PackageRefusal>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT etag, reason, at FROM content_refusal WHERE id = 1",
                [],
                |r| {
                    Ok(PackageRefusal {
                        etag: r.get(0)?,
                        reason: r.get(1)?,
                        at_ms: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Full `PRAGMA integrity_check` (for `doctor`).
    pub fn integrity_check(&self) -> Result<()> {
        let first: String = self
            .conn()
            .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))?;
        if first == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt { detail: first })
        }
    }

    /// This terminal's applications whose applicant has `id_number`,
    /// newest first, at most `limit`, and how many applications have been
    /// purged (whose applicant can no longer be told). Read-only: compares
    /// the keyed hash of the ID number, opens nothing.
    pub fn applications_of(&self, id_number: &str, limit: usize) -> Result<ResidentApplications> {
        let mut found = ResidentApplications::default();
        if id_number.trim().is_empty() {
            return Ok(found);
        }
        let Some(wanted) = self.inner.keys.id_hash(id_number) else {
            found.unsearchable = true;
            return Ok(found);
        };
        let conn = self.conn();
        found.purged = conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'application' AND body IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64;
        let sql = format!(
            "SELECT {} FROM outbox WHERE kind = 'application' AND body IS NOT NULL AND id_hash = ?1
             ORDER BY id DESC LIMIT ?2",
            Self::SUMMARY_COLS
        );
        let mut stmt = conn.prepare(&sql)?;
        found.records = stmt
            .query_map(params![&wanted[..], limit as i64], Self::summary_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(found)
    }
}

/// What [`Store::applications_of`] found for one resident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResidentApplications {
    /// Newest first; no personal data.
    pub records: Vec<RecordSummary>,
    /// Applications of anyone whose personal fields were purged after the
    /// retention period: they may include this resident's older ones.
    pub purged: u64,
    /// This terminal has no look-up key yet (it has not reached the
    /// platform since it started): its records cannot be searched.
    pub unsearchable: bool,
}

/// Version 2: records as sent, personal fields sealed to the platform
/// (version 1 sealed the whole file with the terminal's local key).
const EXPORT_MAGIC: &str = "BIANMIN-EXPORT-2 ";

/// A record's wire JSON, written into one buffer sized for a typical
/// application: a growing `Vec` would leave copies of the personal fields in
/// freed memory that `Zeroizing` never sees.
fn wire_json(wire: &impl Serialize) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(2048));
    serde_json::to_writer(&mut *buf, wire).map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(buf)
}

/// `record`'s wire JSON with `field` (emptied) replaced by `sealed`.
fn with_sealed(
    record: &impl Serialize,
    field: &str,
    sealed: &seal::Envelope,
) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |e: serde_json::Error| StoreError::Invalid(e.to_string());
    let mut value = serde_json::to_value(record).map_err(bad)?;
    if let Some(object) = value.as_object_mut() {
        object.remove(field);
        object.insert("sealed".into(), serde_json::to_value(sealed).map_err(bad)?);
    }
    wire_json(&value)
}

/// Overwrite the applicant's fields in memory once they are sealed.
fn wipe_applicant(applicant: &mut Applicant) {
    use zeroize::Zeroize as _;
    applicant.name.zeroize();
    applicant.id_number.zeroize();
    applicant.phone.zeroize();
    applicant.address.zeroize();
}

/// A record's body resealed to the platform: (JSON, ID-number hash,
/// whether it carries a sealed part).
type Resealed = (Zeroizing<Vec<u8>>, Option<[u8; 32]>, bool);

/// One row as an enqueue writes it.
struct NewRow {
    key: String,
    service_code: Option<String>,
    service_name: Option<String>,
    json: Zeroizing<Vec<u8>>,
    /// The body carries fields sealed to the platform key.
    sealed: bool,
    id_hash: Option<[u8; 32]>,
}

/// Run `f` with `synchronous=NORMAL`, FULL again afterwards. Only for
/// writes whose loss is harmless (acknowledgements, attempt counts).
fn relaxed<T>(conn: &mut Connection, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let out = f(conn);
    if let Err(e) = conn.pragma_update(None, "synchronous", "FULL") {
        tracing::error!("could not restore synchronous=FULL: {e}");
        return Err(e.into());
    }
    out
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(StoreError::Io(format!("{}: {e}", dir.display()))),
    }
}

/// Free bytes on the filesystem holding `dir` (0 if unknown).
pub fn free_disk_bytes(dir: &Path) -> u64 {
    bianmin_fs::disk_space(dir).map_or(0, |space| space.free_bytes)
}

#[cfg(test)]
mod tests;
