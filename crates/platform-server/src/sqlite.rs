//! The reference server's storage: one SQLite file (or memory), records
//! keyed by (kind, terminal, id), nonces on a connection of their own, the
//! published documents in memory.

use crate::backend::*;
use axum::body::Bytes;
use bianmin_platform::api::{RecordKind, RecordStatus};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Nonces remembered at most; beyond it requests are answered 503 rather
/// than forgetting nonces still inside the time window (fail closed).
pub const MAX_NONCES: u64 = 2_000_000;

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
CREATE TABLE IF NOT EXISTS lookup_keys (
    terminal_id TEXT PRIMARY KEY, key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS identity_codes (
    token_key TEXT PRIMARY KEY, scheme TEXT NOT NULL, person INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, used_at INTEGER, used_by TEXT
);
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
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
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

pub struct SqliteBackend {
    db: Mutex<Connection>,
    /// Nonces seen inside the time window; a connection of its own (same file,
    /// `synchronous=NORMAL`) so remembering one costs no fsync per request.
    nonces: Mutex<Connection>,
    nonce_count: AtomicU64,
    nonces_purged_at: AtomicI64,
    documents: RwLock<HashMap<Doc, Published>>,
}

fn internal(e: rusqlite::Error) -> BackendError {
    BackendError::Internal(e.to_string())
}

impl SqliteBackend {
    /// Open (or create) the file, or keep everything in memory with `None`.
    pub fn open(path: Option<&Path>) -> std::io::Result<SqliteBackend> {
        let io = |e: rusqlite::Error| std::io::Error::other(e.to_string());
        let mut conn = match path {
            Some(p) => Connection::open(p).map_err(io)?,
            None => Connection::open_in_memory().map_err(io)?,
        };
        if path.is_some() {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
                .map_err(io)?;
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(io)?;
        }
        migrate(&mut conn).map_err(io)?;
        conn.execute_batch(SCHEMA).map_err(io)?;
        let nonces = match path {
            Some(p) => {
                let n = Connection::open(p).map_err(io)?;
                n.busy_timeout(Duration::from_secs(5)).map_err(io)?;
                // A power cut may forget the last nonces (not fsynced): a
                // replay of a request captured just before it stays possible
                // until its timestamp leaves the window. Worth not doubling
                // every request's fsyncs.
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
        Ok(SqliteBackend {
            db: Mutex::new(conn),
            nonces: Mutex::new(nonces),
            nonce_count: AtomicU64::new(nonce_count.max(0) as u64),
            nonces_purged_at: AtomicI64::new(0),
            documents: RwLock::new(HashMap::new()),
        })
    }

    fn nonce(
        &self,
        terminal: &str,
        nonce: &str,
        ts: i64,
        oldest: i64,
    ) -> rusqlite::Result<NonceCheck> {
        let db = self.nonces.lock().unwrap();
        // Purged at most every 10 s (`oldest` moves with the clock), or at
        // once when full.
        let last = self.nonces_purged_at.load(Ordering::Relaxed);
        if oldest - last >= 10 || self.nonce_count.load(Ordering::Relaxed) >= MAX_NONCES {
            self.nonces_purged_at.store(oldest, Ordering::Relaxed);
            db.execute("DELETE FROM nonces WHERE ts < ?1", [oldest])?;
            let left: i64 = db.query_row("SELECT COUNT(*) FROM nonces", [], |r| r.get(0))?;
            self.nonce_count
                .store(left.max(0) as u64, Ordering::Relaxed);
        }
        if self.nonce_count.load(Ordering::Relaxed) >= MAX_NONCES {
            return Ok(NonceCheck::Full);
        }
        let added = db.execute(
            "INSERT INTO nonces (terminal_id, nonce, ts) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![terminal, nonce, ts],
        )?;
        if added == 1 {
            self.nonce_count.fetch_add(1, Ordering::Relaxed);
            Ok(NonceCheck::New)
        } else {
            Ok(NonceCheck::Replayed)
        }
    }

    fn batch(
        &self,
        kind: RecordKind,
        terminal: &str,
        records: Vec<Checked>,
        now: i64,
    ) -> rusqlite::Result<Vec<RecordStatus>> {
        let mut db = self.db.lock().unwrap();
        let tx = db.transaction()?;
        let mut out = Vec::with_capacity(records.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO records (kind, id, terminal_id, service_code, body, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, terminal_id, id) DO NOTHING",
            )?;
            let mut again = tx.prepare_cached(
                "UPDATE records SET deliveries = deliveries + 1
                 WHERE kind = ?1 AND terminal_id = ?2 AND id = ?3",
            )?;
            for r in records {
                let n = insert.execute(params![
                    kind.as_str(),
                    r.id,
                    terminal,
                    r.service_code,
                    r.body.to_string(),
                    now
                ])?;
                out.push(if n == 1 {
                    RecordStatus::Accepted
                } else {
                    again.execute(params![kind.as_str(), terminal, r.id])?;
                    RecordStatus::Duplicate
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn load_application(&self, receipt_no: &str) -> rusqlite::Result<Option<StoredApplication>> {
        let db = self.db.lock().unwrap();
        let row: Option<(String, i64)> = db
            .query_row(
                "SELECT body, received_at FROM records WHERE kind = 'application' AND id = ?1",
                [receipt_no],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((body, received_at)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredApplication {
            body: serde_json::from_str(&body).unwrap_or_default(),
            received_at,
            steps: steps_of(&db, receipt_no)?,
        }))
    }

    fn load_applications_of(
        &self,
        id_number: &str,
        limit: usize,
    ) -> rusqlite::Result<Vec<(String, StoredApplication)>> {
        let db = self.db.lock().unwrap();
        let mut stmt = db.prepare_cached(
            "SELECT id, body, received_at FROM records
             WHERE kind = 'application' AND json_extract(body, '$.applicant.id_number') = ?1
             ORDER BY received_at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![id_number, limit as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, body, received_at)| {
                let steps = steps_of(&db, &id)?;
                Ok((
                    id,
                    StoredApplication {
                        body: serde_json::from_str(&body).unwrap_or_default(),
                        received_at,
                        steps,
                    },
                ))
            })
            .collect()
    }

    fn load_recent(
        &self,
        kind: RecordKind,
        terminal: &str,
        since: i64,
        limit: usize,
    ) -> rusqlite::Result<Vec<serde_json::Value>> {
        let db = self.db.lock().unwrap();
        let mut stmt = db.prepare_cached(
            "SELECT body FROM records WHERE kind = ?1 AND terminal_id = ?2 AND received_at >= ?3
             ORDER BY received_at DESC, id DESC LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(params![kind.as_str(), terminal, since, limit as i64], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .iter()
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect())
    }

    fn redeem(
        &self,
        token_key: &str,
        scheme: &str,
        terminal: &str,
        now: i64,
    ) -> rusqlite::Result<crate::identity::CodeRedemption> {
        use crate::identity::CodeRedemption;
        let mut db = self.db.lock().unwrap();
        let tx = db.transaction()?;
        let row: Option<(i64, i64, Option<i64>)> = tx
            .query_row(
                "SELECT person, expires_at, used_at FROM identity_codes
                 WHERE token_key = ?1 AND scheme = ?2",
                params![token_key, scheme],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let verdict = match row {
            None => CodeRedemption::Unknown,
            Some((_, _, Some(_))) => CodeRedemption::Used,
            Some((_, expires_at, None)) if expires_at <= now => CodeRedemption::Expired,
            Some((person, expires_at, None)) => {
                tx.execute(
                    "UPDATE identity_codes SET used_at = ?2, used_by = ?3 WHERE token_key = ?1",
                    params![token_key, now, terminal],
                )?;
                CodeRedemption::Valid { person, expires_at }
            }
        };
        tx.commit()?;
        Ok(verdict)
    }

    fn count_all(&self) -> Counts {
        let db = self.db.lock().unwrap();
        let count = |kind: &str| -> u64 {
            db.query_row(
                "SELECT COUNT(*) FROM records WHERE kind = ?1",
                [kind],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0) as u64
        };
        Counts {
            applications: count("application"),
            evaluations: count("evaluation"),
            heartbeats: count("heartbeat"),
            error_reports: count("error_report"),
        }
    }
}

/// The processing steps of one application, oldest first.
fn steps_of(db: &Connection, receipt_no: &str) -> rusqlite::Result<Vec<(i64, String, String)>> {
    let mut stmt = db.prepare_cached(
        "SELECT at, status, note FROM progress WHERE receipt_no = ?1 ORDER BY rowid",
    )?;
    let steps = stmt
        .query_map([receipt_no], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(steps)
}

impl Backend for SqliteBackend {
    async fn applications_of(
        &self,
        id_number: &str,
        limit: usize,
    ) -> BackendResult<Vec<(String, StoredApplication)>> {
        self.load_applications_of(id_number, limit)
            .map_err(internal)
    }

    async fn recent_records(
        &self,
        kind: RecordKind,
        terminal: &str,
        since: i64,
        limit: usize,
    ) -> BackendResult<Vec<serde_json::Value>> {
        self.load_recent(kind, terminal, since, limit)
            .map_err(internal)
    }

    async fn issue_identity_code(
        &self,
        token_key: &str,
        scheme: &str,
        person: i64,
        expires_at: i64,
    ) -> BackendResult<()> {
        let db = self.db.lock().unwrap();
        db.execute(
            "INSERT INTO identity_codes (token_key, scheme, person, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_key, scheme, person, expires_at],
        )
        .map(|_| ())
        .map_err(internal)
    }

    async fn lookup_key(&self, terminal: &str) -> BackendResult<Vec<u8>> {
        let fresh: [u8; 32] = rand::random();
        let db = self.db.lock().unwrap();
        db.execute(
            "INSERT OR IGNORE INTO lookup_keys (terminal_id, key) VALUES (?1, ?2)",
            params![terminal, &fresh[..]],
        )
        .and_then(|_| {
            db.query_row(
                "SELECT key FROM lookup_keys WHERE terminal_id = ?1",
                [terminal],
                |r| r.get(0),
            )
        })
        .map_err(internal)
    }

    async fn redeem_identity_code(
        &self,
        token_key: &str,
        scheme: &str,
        terminal: &str,
        now: i64,
    ) -> BackendResult<crate::identity::CodeRedemption> {
        self.redeem(token_key, scheme, terminal, now)
            .map_err(internal)
    }

    async fn remember_nonce(
        &self,
        terminal: &str,
        nonce: &str,
        ts: i64,
        oldest: i64,
    ) -> BackendResult<NonceCheck> {
        self.nonce(terminal, nonce, ts, oldest).map_err(internal)
    }

    async fn store_batch(
        &self,
        kind: RecordKind,
        terminal: &str,
        records: Vec<Checked>,
        now: i64,
    ) -> BackendResult<Vec<RecordStatus>> {
        self.batch(kind, terminal, records, now).map_err(internal)
    }

    async fn application(&self, receipt_no: &str) -> BackendResult<Option<StoredApplication>> {
        self.load_application(receipt_no).map_err(internal)
    }

    async fn add_progress(
        &self,
        receipt_no: &str,
        status: &str,
        note: &str,
        at: i64,
    ) -> BackendResult<()> {
        let db = self.db.lock().unwrap();
        db.execute(
            "INSERT INTO progress (receipt_no, at, status, note) VALUES (?1, ?2, ?3, ?4)",
            params![receipt_no, at, status, note],
        )
        .map(|_| ())
        .map_err(internal)
    }

    async fn published(&self, doc: Doc) -> BackendResult<Option<Published>> {
        Ok(self.documents.read().unwrap().get(&doc).cloned())
    }

    async fn publish(&self, doc: Doc, body: Bytes) -> BackendResult<()> {
        self.publish_now(doc, body);
        Ok(())
    }

    async fn counts(&self) -> BackendResult<Counts> {
        Ok(self.count_all())
    }
}

impl Inspect for SqliteBackend {
    fn counts_now(&self) -> Counts {
        self.count_all()
    }

    fn applications(&self) -> Vec<(String, u32)> {
        let db = self.db.lock().unwrap();
        let mut stmt = db
            .prepare("SELECT id, deliveries FROM records WHERE kind = 'application' ORDER BY id")
            .expect("static SQL");
        stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u32)))
            .expect("static SQL")
            .flatten()
            .collect()
    }

    fn record(
        &self,
        kind: RecordKind,
        terminal: Option<&str>,
        id: &str,
    ) -> Option<serde_json::Value> {
        let db = self.db.lock().unwrap();
        let body: Option<String> = match terminal {
            Some(t) => db.query_row(
                "SELECT body FROM records WHERE kind = ?1 AND terminal_id = ?2 AND id = ?3",
                params![kind.as_str(), t, id],
                |r| r.get(0),
            ),
            None => db.query_row(
                "SELECT body FROM records WHERE kind = ?1 AND id = ?2 ORDER BY rowid LIMIT 1",
                params![kind.as_str(), id],
                |r| r.get(0),
            ),
        }
        .optional()
        .ok()
        .flatten();
        body.and_then(|b| serde_json::from_str(&b).ok())
    }

    fn publish_now(&self, doc: Doc, body: Bytes) {
        self.documents.write().unwrap().insert(
            doc,
            Published {
                etag: etag_of(&body),
                body,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
