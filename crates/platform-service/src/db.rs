//! PostgreSQL: the pool, versioned migrations applied at start, and the
//! kiosk API's storage ([`PgBackend`]). Nothing is kept in the process, so
//! any number of instances can serve the same kiosks from one database.

use crate::seal::{row_of, DataKey};
use anyhow::Context as _;
use axum::body::Bytes;
use bianmin_platform::api::{RecordKind, RecordStatus};
use bianmin_platform_server::{
    etag_of, Backend, BackendError, BackendResult, Checked, Counts, Doc, Inspect, NonceCheck,
    Published, StoredApplication,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// The migrations, in order; each runs once (the pending ones in one
/// transaction, so a failure leaves the database as it was).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "kiosk API",
        include_str!("../migrations/0001_kiosk_api.sql"),
    ),
    (2, "console", include_str!("../migrations/0002_console.sql")),
    (3, "fleet", include_str!("../migrations/0003_fleet.sql")),
    (4, "updates", include_str!("../migrations/0004_updates.sql")),
    (
        5,
        "identity",
        include_str!("../migrations/0005_identity.sql"),
    ),
    (
        6,
        "audit alert, content drafts",
        include_str!("../migrations/0006_audit_drafts.sql"),
    ),
];

/// A pool over `conninfo` (libpq key=value or a `postgresql://` URL).
/// Waiting for a connection is bounded, so a database that is away is
/// answered 503 within seconds instead of holding the kiosk's request.
pub fn pool(conninfo: &str, size: usize) -> anyhow::Result<Pool> {
    let mut config: tokio_postgres::Config = conninfo.parse()?;
    config.connect_timeout(Duration::from_secs(5));
    config.application_name("bianmin-platform");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .build()?)
}

/// Apply the migrations not applied yet. Two instances starting at once
/// take turns (an advisory lock), so each migration runs exactly once.
pub async fn migrate(pool: &Pool) -> anyhow::Result<Vec<i32>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Any constant: the lock is only between instances of this service.
    tx.execute("SELECT pg_advisory_xact_lock(87000001)", &[])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql)
            .await
            .map_err(|e| anyhow::anyhow!("migration {version} ({name}): {e}"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        applied.push(*version);
    }
    tx.commit().await?;
    Ok(applied)
}

/// Whether an error means "the database is away now" (retry later) rather
/// than a fault of ours.
pub fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
            ]
            .contains(code);
    }
    // No SQLSTATE: the connection itself failed (an I/O error underneath).
    std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

pub fn pg_error(e: tokio_postgres::Error) -> BackendError {
    if is_unavailable(&e) {
        BackendError::Unavailable(e.to_string())
    } else {
        BackendError::Internal(e.to_string())
    }
}

pub fn pool_error(e: PoolError) -> BackendError {
    match e {
        PoolError::Backend(e) => pg_error(e),
        other => BackendError::Unavailable(other.to_string()),
    }
}

/// What queues and statistics may read without the key: everything but
/// personal data (applicant, form, signature, addresses, free text of
/// reports).
pub fn facts_of(kind: RecordKind, body: &serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    let get = |k: &str| body.get(k).cloned().unwrap_or(serde_json::Value::Null);
    match kind {
        RecordKind::Application => json!({
            "service_code": get("service_code"),
            "service_name": get("service_name"),
            "created_at": get("created_at"),
            "assisted_by": get("assisted_by"),
            // 代办 (who acted stays sealed; that someone did is a fact).
            "proxy": body.get("agent").is_some_and(|a| !a.is_null()),
            "materials": get("materials"),
            "delivery": body.pointer("/delivery/method").cloned().unwrap_or(serde_json::Value::Null),
        }),
        RecordKind::Evaluation => json!({
            "service_code": get("service_code"),
            "receipt_no": get("receipt_no"),
            "level": get("level"),
            "comment": get("comment"),
            "created_at": get("created_at"),
        }),
        RecordKind::Heartbeat => body.clone(),
        RecordKind::ErrorReport => json!({
            "kind": get("kind"),
            "service_code": get("service_code"),
            "at": get("at"),
        }),
    }
}

pub struct PgBackend {
    pool: Pool,
    key: Arc<DataKey>,
    conninfo: String,
    nonces_purged_at: AtomicI64,
    /// Signs the remote configurations kiosks fetch.
    config_key: Arc<crate::fleet::ConfigKey>,
    /// The APT repository; without it no software is offered.
    apt: Option<Arc<crate::updates::AptRepo>>,
}

impl PgBackend {
    pub fn new(pool: Pool, key: Arc<DataKey>, conninfo: &str) -> PgBackend {
        PgBackend {
            pool,
            key,
            conninfo: conninfo.to_string(),
            nonces_purged_at: AtomicI64::new(0),
            config_key: Arc::new(crate::fleet::ConfigKey::generate()),
            apt: None,
        }
    }

    /// Offer the releases of `repo` to kiosks.
    pub fn with_apt(mut self, repo: Option<Arc<crate::updates::AptRepo>>) -> PgBackend {
        self.apt = repo;
        self
    }

    pub fn apt(&self) -> Option<&Arc<crate::updates::AptRepo>> {
        self.apt.as_ref()
    }

    /// Sign remote configurations with `key` (the one kiosks were told).
    pub fn with_config_key(mut self, key: Arc<crate::fleet::ConfigKey>) -> PgBackend {
        self.config_key = key;
        self
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn key(&self) -> &Arc<DataKey> {
        &self.key
    }

    /// Seal every record kept under an older data key again under the
    /// current one (and its look-up hash with it), `batch` rows a
    /// transaction; afterwards the older keys can leave the key file. Rows
    /// are locked while they are resealed, so it runs beside a serving
    /// instance. Then give applications stored before look-up hashes
    /// existed (migration 0005) theirs. Returns how many rows changed.
    pub async fn rekey(&self, batch: i64) -> anyhow::Result<u64> {
        let resealed = self.reseal(batch).await?;
        Ok(resealed + self.backfill_resident_keys(batch).await?)
    }

    /// Applications without a look-up hash get one (by the ID number in
    /// their sealed body), in pages of `batch` by primary key.
    async fn backfill_resident_keys(&self, batch: i64) -> anyhow::Result<u64> {
        let mut done = 0u64;
        let mut after = (String::new(), String::new());
        loop {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT terminal_id, id, sealed FROM records
                     WHERE kind = 'application' AND resident_key IS NULL
                       AND (terminal_id, id) > ($1, $2)
                     ORDER BY terminal_id, id LIMIT $3",
                    &[&after.0, &after.1, &batch],
                )
                .await?;
            let Some(last) = rows.last() else {
                return Ok(done);
            };
            after = (last.get(0), last.get(1));
            for row in &rows {
                let (terminal, id): (String, String) = (row.get(0), row.get(1));
                let sealed: Vec<u8> = row.get(2);
                let key = self
                    .open_record("application", &terminal, &id, &sealed)
                    .and_then(|body| {
                        body.pointer("/applicant/id_number")
                            .and_then(|v| v.as_str())
                            .map(|n| self.key.resident_key(n))
                    });
                if let Some(key) = key {
                    done += client
                        .execute(
                            "UPDATE records SET resident_key = $3
                             WHERE kind = 'application' AND terminal_id = $1 AND id = $2
                               AND resident_key IS NULL",
                            &[&terminal, &id, &key],
                        )
                        .await?;
                }
            }
        }
    }

    async fn reseal(&self, batch: i64) -> anyhow::Result<u64> {
        let mut done = 0u64;
        loop {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let rows = tx
                .query(
                    "SELECT kind, terminal_id, id, sealed FROM records WHERE key_id <> $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED",
                    &[&self.key.id(), &batch],
                )
                .await?;
            if rows.is_empty() {
                return Ok(done);
            }
            for row in &rows {
                let (kind, terminal, id): (String, String, String) =
                    (row.get(0), row.get(1), row.get(2));
                let sealed: Vec<u8> = row.get(3);
                let place = row_of(&kind, &terminal, &id);
                let plain = self.key.open(&place, &sealed).with_context(|| {
                    format!("record {kind} {terminal} {id} opens with no key of the key file")
                })?;
                let resident_key = (kind == "application")
                    .then(|| serde_json::from_slice::<serde_json::Value>(&plain).ok())
                    .flatten()
                    .and_then(|body| {
                        body.pointer("/applicant/id_number")
                            .and_then(|v| v.as_str())
                            .map(|n| self.key.resident_key(n))
                    });
                tx.execute(
                    "UPDATE records SET sealed = $4, key_id = $5,
                         resident_key = COALESCE($6, resident_key)
                     WHERE kind = $1 AND terminal_id = $2 AND id = $3",
                    &[
                        &kind,
                        &terminal,
                        &id,
                        &self.key.seal(&place, &plain),
                        &self.key.id(),
                        &resident_key,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            done += rows.len() as u64;
        }
    }

    /// A record's wire JSON, opened with the data key.
    pub fn open_record(
        &self,
        kind: &str,
        terminal: &str,
        id: &str,
        sealed: &[u8],
    ) -> Option<serde_json::Value> {
        let plain = self.key.open(&row_of(kind, terminal, id), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }

    /// Run `f` on a client of a connection of its own, on a thread of its
    /// own: the blocking look-ups of [`Inspect`] work from any thread, also
    /// one inside a runtime.
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(tokio_postgres::Client) -> BoxedFuture<T> + Send + 'static,
    ) -> Option<T> {
        let conninfo = self.conninfo.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&conninfo, NoTls).await.ok()?;
                tokio::spawn(conn);
                Some(f(client).await)
            })
        })
        .join()
        .ok()
        .flatten()
    }
}

/// A boxed future (the blocking look-ups' queries).
pub type BoxedFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl Backend for PgBackend {
    async fn remote_config(
        &self,
        terminal: &str,
    ) -> BackendResult<Option<bianmin_platform::api::RemoteConfig>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        // The newest document of the kiosk's station, then its own.
        let newest = |scope: &'static str| {
            let client = &client;
            async move {
                let target: &str = terminal;
                let sql = if scope == "kiosk" {
                    "SELECT seq, body FROM config_documents WHERE scope = 'kiosk' AND target = $1
                     ORDER BY seq DESC LIMIT 1"
                } else {
                    "SELECT seq, body FROM config_documents WHERE scope = 'station' AND target =
                         COALESCE((SELECT station_code FROM terminals WHERE terminal_id = $1),
                                  (SELECT station_code FROM kiosks WHERE terminal_id = $1))
                     ORDER BY seq DESC LIMIT 1"
                };
                client
                    .query_opt(sql, &[&target])
                    .await
                    .map(|row| row.map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1))))
            }
        };
        let station = newest("station").await.map_err(pg_error)?;
        let kiosk = newest("kiosk").await.map_err(pg_error)?;
        let version = match (&station, &kiosk) {
            (None, None) => return Ok(None),
            (Some((s, _)), None) => format!("s{s}"),
            (None, Some((k, _))) => format!("c{k}"),
            (Some((s, _)), Some((k, _))) => format!("s{s}-c{k}"),
        };
        let text = crate::fleet::layered_config(
            station.as_ref().map(|(_, b)| b.as_str()),
            kiosk.as_ref().map(|(_, b)| b.as_str()),
        )
        .map_err(BackendError::Internal)?;
        Ok(Some(self.config_key.sign(&version, &text)))
    }

    async fn config_result(
        &self,
        terminal: &str,
        result: bianmin_platform::api::ConfigResult,
        now: i64,
    ) -> BackendResult<()> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO kiosk_config_state (terminal_id, version, ok, message, at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (terminal_id) DO UPDATE SET version = EXCLUDED.version,
                     ok = EXCLUDED.ok, message = EXCLUDED.message, at = EXCLUDED.at",
                &[
                    &terminal,
                    &result.version,
                    &result.ok,
                    &result.message,
                    &now,
                ],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn update_offer(
        &self,
        terminal: &str,
    ) -> BackendResult<Option<bianmin_platform::api::UpdateOffer>> {
        if self.apt.is_none() {
            return Ok(None);
        }
        let client = self.pool.get().await.map_err(pool_error)?;
        // The station an enrolled terminal belongs to, else the one its
        // heartbeats name; a kiosk of no station follows stable.
        let station = client
            .query_opt(
                "SELECT channel, window_start, window_end FROM stations WHERE code =
                     COALESCE((SELECT station_code FROM terminals WHERE terminal_id = $1),
                              (SELECT station_code FROM kiosks WHERE terminal_id = $1))",
                &[&terminal],
            )
            .await
            .map_err(pg_error)?;
        let (channel, window) = match station {
            Some(row) => {
                let window = match (row.get::<_, Option<String>>(1), row.get(2)) {
                    (Some(start), Some(end)) => {
                        Some(bianmin_platform::api::MaintenanceWindow { start, end })
                    }
                    _ => None,
                };
                (row.get::<_, String>(0), window)
            }
            None => ("stable".to_string(), None),
        };
        let version = crate::updates::newest_in(&client, &channel)
            .await
            .map_err(pg_error)?;
        Ok(Some(bianmin_platform::api::UpdateOffer {
            channel,
            version,
            window,
        }))
    }

    async fn update_report(
        &self,
        terminal: &str,
        report: bianmin_platform::api::UpdateReport,
        now: i64,
    ) -> BackendResult<()> {
        use bianmin_platform::api::UpdateOutcome;
        let outcome = crate::updates::outcome_name(report.outcome);
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.execute(
            "INSERT INTO update_reports (terminal_id, from_version, to_version, outcome, detail, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&terminal, &report.from, &report.to, &outcome, &report.detail, &now],
        )
        .await
        .map_err(pg_error)?;
        tx.execute(
            "UPDATE kiosks SET update_version = $2, update_from = $3, update_outcome = $4,
                 update_detail = $5, update_at = $6
             WHERE terminal_id = $1",
            &[
                &terminal,
                &report.to,
                &report.from,
                &outcome,
                &report.detail,
                &now,
            ],
        )
        .await
        .map_err(pg_error)?;
        let short: String = report.detail.chars().take(200).collect();
        match report.outcome {
            UpdateOutcome::RolledBack | UpdateOutcome::Failed => {
                let enabled = tx
                    .query_opt(
                        "SELECT 1 FROM alert_rules WHERE rule = 'update_failed' AND enabled",
                        &[],
                    )
                    .await
                    .map_err(pg_error)?
                    .is_some();
                if enabled {
                    let detail = if report.outcome == UpdateOutcome::RolledBack {
                        format!(
                            "{} 安装后不正常，已回滚到 {}：{short}",
                            report.to, report.from
                        )
                    } else {
                        format!("{} 未能安装，仍运行 {}：{short}", report.to, report.from)
                    };
                    crate::fleet::open_alert(&tx, terminal, "update_failed", &detail, now)
                        .await
                        .map_err(pg_error)?;
                }
            }
            UpdateOutcome::Healthy => {
                crate::fleet::close_alert(&tx, terminal, "update_failed", now)
                    .await
                    .map_err(pg_error)?;
            }
            UpdateOutcome::Downloaded => {}
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(())
    }

    async fn take_commands(
        &self,
        terminal: &str,
        now: i64,
    ) -> BackendResult<Vec<bianmin_platform::api::RemoteCommand>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let rows = client
            .query(
                "UPDATE kiosk_commands SET delivered_at = $2
                 WHERE terminal_id = $1 AND delivered_at IS NULL AND expires_at > $2
                 RETURNING id, kind, issued_at, expires_at",
                &[&terminal, &now],
            )
            .await
            .map_err(pg_error)?;
        let time = |secs: i64| bianmin_core::time::rfc3339(secs * 1000);
        let mut commands: Vec<_> = rows
            .iter()
            .map(|r| bianmin_platform::api::RemoteCommand {
                id: r.get::<_, i64>(0).to_string(),
                kind: r.get(1),
                issued_at: time(r.get(2)),
                expires_at: time(r.get(3)),
            })
            .collect();
        commands.sort_by_key(|c| c.id.parse::<i64>().unwrap_or(0));
        Ok(commands)
    }

    async fn finish_command(
        &self,
        terminal: &str,
        id: &str,
        result: bianmin_platform::api::CommandResult,
        now: i64,
    ) -> BackendResult<bool> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let client = self.pool.get().await.map_err(pool_error)?;
        let n = client
            .execute(
                "UPDATE kiosk_commands SET done_at = $3, ok = $4, result = $5
                 WHERE id = $1 AND terminal_id = $2 AND delivered_at IS NOT NULL",
                &[&id, &terminal, &now, &result.ok, &result.message],
            )
            .await
            .map_err(pg_error)?;
        Ok(n == 1)
    }

    async fn terminal_key(&self, terminal: &str) -> BackendResult<Option<Vec<u8>>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        Ok(client
            .query_opt(
                "SELECT public_key FROM terminals WHERE terminal_id = $1 AND replaced_by IS NULL",
                &[&terminal],
            )
            .await
            .map_err(pg_error)?
            .map(|r| r.get(0)))
    }

    async fn remember_nonce(
        &self,
        terminal: &str,
        nonce: &str,
        ts: i64,
        oldest: i64,
    ) -> BackendResult<NonceCheck> {
        let client = self.pool.get().await.map_err(pool_error)?;
        // Old nonces are purged by one instance at a time, at most every
        // 10 s each (`oldest` moves with the clock).
        let last = self.nonces_purged_at.load(Ordering::Relaxed);
        if oldest - last >= 10 {
            self.nonces_purged_at.store(oldest, Ordering::Relaxed);
            client
                .execute("DELETE FROM nonces WHERE ts < $1", &[&oldest])
                .await
                .map_err(pg_error)?;
        }
        let added = client
            .execute(
                "INSERT INTO nonces (terminal_id, nonce, ts) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&terminal, &nonce, &ts],
            )
            .await
            .map_err(pg_error)?;
        Ok(if added == 1 {
            NonceCheck::New
        } else {
            NonceCheck::Replayed
        })
    }

    async fn store_batch(
        &self,
        kind: RecordKind,
        terminal: &str,
        records: Vec<Checked>,
        now: i64,
    ) -> BackendResult<Vec<RecordStatus>> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let insert = tx
            .prepare(
                "INSERT INTO records (kind, terminal_id, id, service_code, received_at, sealed, key_id, facts, resident_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (kind, terminal_id, id) DO NOTHING",
            )
            .await
            .map_err(pg_error)?;
        let again = tx
            .prepare(
                "UPDATE records SET deliveries = deliveries + 1
                 WHERE kind = $1 AND terminal_id = $2 AND id = $3",
            )
            .await
            .map_err(pg_error)?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let sealed = self.key.seal(
                &row_of(kind.as_str(), terminal, &r.id),
                r.body.to_string().as_bytes(),
            );
            let facts = facts_of(kind, &r.body);
            // Applications can be found by their applicant's ID number
            // (progress across stations) through a keyed hash only.
            let resident_key = (kind == RecordKind::Application)
                .then(|| r.body.pointer("/applicant/id_number"))
                .flatten()
                .and_then(|v| v.as_str())
                .map(|id| self.key.resident_key(id));
            let n = tx
                .execute(
                    &insert,
                    &[
                        &kind.as_str(),
                        &terminal,
                        &r.id,
                        &r.service_code,
                        &now,
                        &sealed,
                        &self.key.id(),
                        &facts,
                        &resident_key,
                    ],
                )
                .await
                .map_err(pg_error)?;
            if n == 1 && kind == RecordKind::Heartbeat {
                crate::fleet::observe_heartbeat(&tx, terminal, &r.body, now)
                    .await
                    .map_err(pg_error)?;
            }
            out.push(if n == 1 {
                RecordStatus::Accepted
            } else {
                tx.execute(&again, &[&kind.as_str(), &terminal, &r.id])
                    .await
                    .map_err(pg_error)?;
                RecordStatus::Duplicate
            });
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(out)
    }

    async fn application(&self, receipt_no: &str) -> BackendResult<Option<StoredApplication>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_opt(
                "SELECT terminal_id, sealed, received_at FROM records
                 WHERE kind = 'application' AND id = $1 ORDER BY received_at LIMIT 1",
                &[&receipt_no],
            )
            .await
            .map_err(pg_error)?;
        let Some(row) = row else { return Ok(None) };
        let terminal: String = row.get(0);
        let sealed: Vec<u8> = row.get(1);
        let body = self
            .open_record("application", &terminal, receipt_no, &sealed)
            .ok_or_else(|| {
                BackendError::Internal(format!("application {receipt_no} does not open"))
            })?;
        let steps = steps_of(&client, receipt_no).await?;
        Ok(Some(StoredApplication {
            body,
            received_at: row.get(2),
            steps,
        }))
    }

    async fn applications_of(
        &self,
        id_number: &str,
        limit: usize,
    ) -> BackendResult<Vec<(String, StoredApplication)>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let rows = client
            .query(
                "SELECT terminal_id, id, sealed, received_at FROM records
                 WHERE kind = 'application' AND resident_key = ANY ($1)
                 ORDER BY received_at DESC, id DESC LIMIT $2",
                &[&self.key.resident_keys(id_number), &(limit as i64)],
            )
            .await
            .map_err(pg_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let terminal: String = row.get(0);
            let receipt_no: String = row.get(1);
            let sealed: Vec<u8> = row.get(2);
            let Some(body) = self.open_record("application", &terminal, &receipt_no, &sealed)
            else {
                tracing::error!(%receipt_no, "an application does not open; left out of the resident's list");
                continue;
            };
            let steps = steps_of(&client, &receipt_no).await?;
            out.push((
                receipt_no,
                StoredApplication {
                    body,
                    received_at: row.get(3),
                    steps,
                },
            ));
        }
        Ok(out)
    }

    async fn recent_records(
        &self,
        kind: RecordKind,
        terminal: &str,
        since: i64,
        limit: usize,
    ) -> BackendResult<Vec<serde_json::Value>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let rows = client
            .query(
                "SELECT id, sealed FROM records
                 WHERE kind = $1 AND terminal_id = $2 AND received_at >= $3
                 ORDER BY received_at DESC, id DESC LIMIT $4",
                &[&kind.as_str(), &terminal, &since, &(limit as i64)],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let id: String = row.get(0);
                let sealed: Vec<u8> = row.get(1);
                self.open_record(kind.as_str(), terminal, &id, &sealed)
            })
            .collect())
    }

    async fn issue_identity_code(
        &self,
        token_key: &str,
        scheme: &str,
        person: i64,
        expires_at: i64,
    ) -> BackendResult<()> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO identity_codes (token_key, scheme, person, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[&token_key, &scheme, &person, &expires_at],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn redeem_identity_code(
        &self,
        token_key: &str,
        scheme: &str,
        terminal: &str,
        now: i64,
    ) -> BackendResult<bianmin_platform_server::identity::CodeRedemption> {
        use bianmin_platform_server::identity::CodeRedemption;
        let client = self.pool.get().await.map_err(pool_error)?;
        // Spent in one statement: of two instances asked at once, one
        // spends it and the other finds it used.
        let spent = client
            .query_opt(
                "UPDATE identity_codes SET used_at = $3, used_by = $4
                 WHERE token_key = $1 AND scheme = $2 AND used_at IS NULL AND expires_at > $3
                 RETURNING person, expires_at",
                &[&token_key, &scheme, &now, &terminal],
            )
            .await
            .map_err(pg_error)?;
        if let Some(row) = spent {
            return Ok(CodeRedemption::Valid {
                person: row.get(0),
                expires_at: row.get(1),
            });
        }
        let row = client
            .query_opt(
                "SELECT used_at IS NOT NULL FROM identity_codes WHERE token_key = $1 AND scheme = $2",
                &[&token_key, &scheme],
            )
            .await
            .map_err(pg_error)?;
        Ok(match row {
            None => CodeRedemption::Unknown,
            Some(r) if r.get::<_, bool>(0) => CodeRedemption::Used,
            Some(_) => CodeRedemption::Expired,
        })
    }

    async fn add_progress(
        &self,
        receipt_no: &str,
        status: &str,
        note: &str,
        at: i64,
    ) -> BackendResult<()> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO progress (receipt_no, at, status, note) VALUES ($1, $2, $3, $4)",
                &[&receipt_no, &at, &status, &note],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn published(&self, doc: Doc) -> BackendResult<Option<Published>> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_opt(
                "SELECT body, etag FROM documents WHERE name = $1",
                &[&doc.as_str()],
            )
            .await
            .map_err(pg_error)?;
        Ok(row.map(|r| Published {
            body: Bytes::from(r.get::<_, Vec<u8>>(0)),
            etag: r.get(1),
        }))
    }

    async fn lookup_key(&self, terminal: &str) -> BackendResult<Vec<u8>> {
        let fresh: [u8; 32] = rand::random();
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO terminal_lookup_keys (terminal_id, key) VALUES ($1, $2)
                 ON CONFLICT (terminal_id) DO NOTHING",
                &[&terminal, &&fresh[..]],
            )
            .await
            .map_err(pg_error)?;
        client
            .query_one(
                "SELECT key FROM terminal_lookup_keys WHERE terminal_id = $1",
                &[&terminal],
            )
            .await
            .map(|r| r.get(0))
            .map_err(pg_error)
    }

    async fn published_for(&self, doc: Doc, terminal: &str) -> BackendResult<Option<Published>> {
        if doc != Doc::ContentPackage {
            return self.published(doc).await;
        }
        let client = self.pool.get().await.map_err(pool_error)?;
        // The newest publication to the terminal's station (enrolled, else
        // as its heartbeats say), unless one to every station came after
        // it; only then is its body read.
        let targeted = client
            .query_opt(
                "SELECT v.body FROM content_versions v
                 WHERE v.stations IS NOT NULL AND COALESCE(
                     (SELECT station_code FROM terminals WHERE terminal_id = $1),
                     (SELECT station_code FROM kiosks WHERE terminal_id = $1)) = ANY (v.stations)
                   AND v.published_at >= COALESCE(
                     (SELECT updated_at FROM documents WHERE name = $2), 0)
                 ORDER BY v.seq DESC LIMIT 1",
                &[&terminal, &doc.as_str()],
            )
            .await
            .map_err(pg_error)?;
        drop(client);
        match targeted {
            Some(row) => {
                let body: Vec<u8> = row.get(0);
                Ok(Some(Published {
                    etag: etag_of(&body),
                    body: Bytes::from(body),
                }))
            }
            None => self.published(doc).await,
        }
    }

    async fn publish(&self, doc: Doc, body: Bytes) -> BackendResult<()> {
        let client = self.pool.get().await.map_err(pool_error)?;
        publish_on(&client, doc, &body).await.map_err(pg_error)
    }

    async fn counts(&self) -> BackendResult<Counts> {
        let client = self.pool.get().await.map_err(pool_error)?;
        count_on(&client).await.map_err(pg_error)
    }
}

/// The processing steps of one application, oldest first.
async fn steps_of(
    client: &tokio_postgres::Client,
    receipt_no: &str,
) -> BackendResult<Vec<(i64, String, String)>> {
    Ok(client
        .query(
            "SELECT at, status, note FROM progress WHERE receipt_no = $1 ORDER BY seq",
            &[&receipt_no],
        )
        .await
        .map_err(pg_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Replace a published document (its ETag follows its bytes).
pub async fn publish_on(
    client: &tokio_postgres::Client,
    doc: Doc,
    body: &[u8],
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO documents (name, body, etag, updated_at)
             VALUES ($1, $2, $3, extract(epoch from now())::bigint)
             ON CONFLICT (name) DO UPDATE
             SET body = excluded.body, etag = excluded.etag, updated_at = excluded.updated_at",
            &[&doc.as_str(), &body, &etag_of(body)],
        )
        .await
        .map(|_| ())
}

async fn count_on(client: &tokio_postgres::Client) -> Result<Counts, tokio_postgres::Error> {
    let mut counts = Counts::default();
    for row in client
        .query("SELECT kind, count(*) FROM records GROUP BY kind", &[])
        .await?
    {
        let n = row.get::<_, i64>(1).max(0) as u64;
        match row.get::<_, &str>(0) {
            "application" => counts.applications = n,
            "evaluation" => counts.evaluations = n,
            "heartbeat" => counts.heartbeats = n,
            "error_report" => counts.error_reports = n,
            _ => {}
        }
    }
    Ok(counts)
}

impl Inspect for PgBackend {
    fn counts_now(&self) -> Counts {
        self.blocking(|c| Box::pin(async move { count_on(&c).await.unwrap_or_default() }))
            .unwrap_or_default()
    }

    fn applications(&self) -> Vec<(String, u32)> {
        self.blocking(|c| {
            Box::pin(async move {
                c.query(
                    "SELECT id, deliveries FROM records WHERE kind = 'application' ORDER BY id",
                    &[],
                )
                .await
                .map(|rows| {
                    rows.iter()
                        .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1).max(0) as u32))
                        .collect()
                })
                .unwrap_or_default()
            })
        })
        .unwrap_or_default()
    }

    fn record(
        &self,
        kind: RecordKind,
        terminal: Option<&str>,
        id: &str,
    ) -> Option<serde_json::Value> {
        let (kind_s, terminal_s, id_s) = (
            kind.as_str().to_string(),
            terminal.map(str::to_string),
            id.to_string(),
        );
        let row: Option<(String, Vec<u8>)> = self
            .blocking(move |c| {
                Box::pin(async move {
                    c.query_opt(
                        "SELECT terminal_id, sealed FROM records
                         WHERE kind = $1 AND id = $2 AND ($3::text IS NULL OR terminal_id = $3)
                         ORDER BY received_at LIMIT 1",
                        &[&kind_s, &id_s, &terminal_s],
                    )
                    .await
                    .ok()
                    .flatten()
                    .map(|r| (r.get(0), r.get(1)))
                })
            })
            .flatten();
        let (terminal, sealed) = row?;
        self.open_record(kind.as_str(), &terminal, id, &sealed)
    }

    fn publish_now(&self, doc: Doc, body: Bytes) {
        self.blocking(move |c| {
            Box::pin(async move {
                publish_on(&c, doc, &body)
                    .await
                    .expect("publishing to the database");
            })
        })
        .expect("publishing to the database");
    }
}
