//! The sync engine: drains the outbox to the platform, oldest first, in
//! batches; retries with capped full-jitter back-off; honours `Retry-After`;
//! never gives up on a retryable record; parks records the platform rejected
//! (with the reason) so they never block the queue; pulls the catalogue with
//! ETag; sends heartbeats; purges old personal data. Its state reaches the UI
//! through a `tokio::sync::watch` channel.

pub mod backoff;

use bianmin_config::Config;
use bianmin_core::package::TrustedKey;
use bianmin_platform::api::{
    BatchResponse, Progress, RecordKind, RecordResult, RecordStatus, ResidentDocuments,
};
use bianmin_platform::client::{CatalogueFetch, PlatformClient, PlatformError};
use bianmin_store::{NewHeartbeat, OutgoingRecord, PackageSlot, QueueStats, Store, StoreError};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// The link as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Not yet tried.
    Starting,
    /// Last exchange failed; retrying after `next_retry_ms`.
    Offline,
    /// Records are being sent now.
    Syncing,
    /// Last exchange succeeded and nothing is waiting.
    Online,
}

/// Published on every change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncStatus {
    pub link: Link,
    pub queue: QueueStats,
    /// Unix ms of the last successful exchange.
    pub last_success_ms: Option<i64>,
    /// Plain-words reason of the last failure (no personal data).
    pub last_error: Option<String>,
    /// Milliseconds until the next attempt while offline.
    pub next_retry_ms: Option<u64>,
    /// Consecutive failed attempts.
    pub failures: u32,
    /// The system clock looks wrong (store check or platform `clock_skew`).
    pub clock_suspect: bool,
    pub catalogue_version: Option<String>,
    /// Version of the content package in use (verified and stored).
    pub content_version: Option<String>,
    /// Why the last package pulled was refused (the previous keeps serving).
    pub content_refused: Option<String>,
}

impl Default for SyncStatus {
    fn default() -> Self {
        SyncStatus {
            link: Link::Starting,
            queue: QueueStats::default(),
            last_success_ms: None,
            last_error: None,
            next_retry_ms: None,
            failures: 0,
            clock_suspect: false,
            catalogue_version: None,
            content_version: None,
            content_refused: None,
        }
    }
}

/// Tunables, normally from the configuration.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub batch_size: usize,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Heartbeat, catalogue pull and purge period.
    pub housekeeping_every: Duration,
    pub retention_days: u32,
    pub send_heartbeats: bool,
    /// Publisher keys a content package must be signed with.
    pub content_keys: Vec<TrustedKey>,
}

/// The publisher keys of the configuration; none when `[content]
/// public_key` is empty or not a key (then every package is refused, and
/// the reason says why).
pub fn content_keys(config: &Config) -> Result<Vec<TrustedKey>, String> {
    let text = config.content.public_key.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    TrustedKey::parse(text, config.content.key_id.trim())
        .map(|k| vec![k])
        .map_err(|why| format!("content.public_key 无效 (invalid): {why}"))
}

impl SyncOptions {
    pub fn from_config(config: &Config) -> SyncOptions {
        SyncOptions {
            batch_size: config.platform.batch_size.get() as usize,
            retry_base: Duration::from_millis(u64::from(config.platform.retry_base_ms.get())),
            retry_cap: Duration::from_secs(u64::from(config.platform.retry_cap_secs.get())),
            housekeeping_every: Duration::from_secs(u64::from(
                config.platform.heartbeat_secs.get(),
            )),
            retention_days: config.store.retention_days.get(),
            send_heartbeats: true,
            content_keys: content_keys(config).unwrap_or_default(),
        }
    }
}

/// What one drain delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DrainReport {
    pub accepted: u64,
    pub duplicates: u64,
    pub parked: u64,
    pub batches: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Platform(p) => p.retry_after(),
            SyncError::Store(_) => None,
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(format!("store task failed: {e}"))))
}

fn batch_body(kind: RecordKind, records: &[bianmin_store::OutgoingRecord]) -> Vec<u8> {
    let len: usize = records.iter().map(|r| r.json.len() + 1).sum();
    let mut body = Vec::with_capacity(len + 32);
    body.extend_from_slice(b"{\"");
    body.extend_from_slice(kind.list_key().as_bytes());
    body.extend_from_slice(b"\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&r.json);
    }
    body.extend_from_slice(b"]}");
    body
}

/// Send everything pending, oldest first: applications, evaluations, error
/// reports, heartbeats. Stops at the first retryable failure (the records
/// stay pending). A request the platform refuses as a whole (4xx) is split
/// until the one bad record is found and parked.
pub async fn drain_once(
    client: &PlatformClient,
    store: &Store,
    batch_size: usize,
    mut on_batch: impl FnMut(&DrainReport),
) -> Result<DrainReport, SyncError> {
    let mut report = DrainReport::default();
    let batch_size = batch_size.max(1);
    // Records are read a few batches at a time, and answers handed to the
    // writer a few batches at a time: every hand-over between threads is a
    // context switch, which on a small board costs as much as the work.
    let chunk = batch_size * READ_AHEAD_BATCHES;
    let reader = Reader::start(store.clone(), chunk);
    for kind in RecordKind::ALL {
        let mut n = batch_size;
        // Read, not yet sent (or sent and refused, waiting to be split).
        let mut buffer: std::collections::VecDeque<OutgoingRecord> = Default::default();
        // The highest id read into the buffer: reads go on from there, so
        // they never wait for the acknowledgements of what was sent.
        let mut read_to: i64 = 0;
        // The next chunk, read and decrypted while batches are on the wire:
        // on loopback the round trip, not the store, should set the pace.
        let mut prefetch: Option<Fetch> = None;
        let mut acks = AckWriter::new(store.clone());
        let mut answered: Vec<RecordResult> = Vec::new();
        let result: Result<(), SyncError> = loop {
            if buffer.len() < n {
                let fetched = match prefetch.take() {
                    Some(h) => h,
                    None => reader.read_after(kind, read_to),
                };
                let fetched = fetched.await.unwrap_or_else(|_| Err(reader_gone()));
                match fetched {
                    Ok(records) => {
                        if let Some(last) = records.last() {
                            read_to = last.id;
                        }
                        buffer.extend(records);
                    }
                    Err(e) => break Err(e.into()),
                }
            }
            if buffer.is_empty() {
                break Ok(());
            }
            let records: Vec<OutgoingRecord> = buffer.drain(..n.min(buffer.len())).collect();
            if prefetch.is_none() && buffer.len() < 2 * batch_size {
                prefetch = Some(reader.read_after(kind, read_to));
            }
            let body = batch_body(kind, &records);
            let answer = client.post_batch(kind, body).await;
            match answer {
                Ok(BatchResponse { results }) => {
                    let sent: std::collections::HashSet<&str> =
                        records.iter().map(|r| r.key.as_str()).collect();
                    let known: Vec<_> = results
                        .into_iter()
                        .filter(|r| sent.contains(r.id.as_str()))
                        .collect();
                    let answered_keys: std::collections::HashSet<&str> =
                        known.iter().map(|r| r.id.as_str()).collect();
                    let missing: Vec<i64> = records
                        .iter()
                        .filter(|r| !answered_keys.contains(r.key.as_str()))
                        .map(|r| r.id)
                        .collect();
                    for r in &known {
                        match r.status {
                            RecordStatus::Accepted => report.accepted += 1,
                            RecordStatus::Duplicate => report.duplicates += 1,
                            RecordStatus::Rejected => {
                                tracing::warn!(id = %r.id, reason = r.reason.as_deref().unwrap_or(""), "platform rejected a record; parked");
                                report.parked += 1
                            }
                        }
                    }
                    answered.extend(known);
                    if !missing.is_empty() {
                        // Never loop on records the platform did not answer for:
                        // back off like any other failure.
                        let e = PlatformError::Protocol(format!(
                            "batch answer is missing {} of the records sent",
                            missing.len()
                        ));
                        let s = store.clone();
                        let reason = e.to_string();
                        if let Err(e) = blocking(move || s.note_failure(&missing, &reason)).await {
                            break Err(e.into());
                        }
                        break Err(e.into());
                    }
                    n = batch_size;
                    if answered.len() >= batch_size * ACK_EVERY_BATCHES {
                        if let Err(e) = acks.send(std::mem::take(&mut answered)).await {
                            break Err(e.into());
                        }
                    }
                    report.batches += 1;
                    on_batch(&report);
                }
                Err(e) if !e.is_retryable() => {
                    if records.len() > 1 {
                        // Split the refused batch: its first half goes next.
                        n = (records.len() / 2).max(1);
                        for r in records.into_iter().rev() {
                            buffer.push_front(r);
                        }
                        continue;
                    }
                    let s = store.clone();
                    let id = records[0].id;
                    let reason = e.to_string();
                    tracing::warn!(key = %records[0].key, %reason, "platform refused a record; parked");
                    if let Err(e) = blocking(move || s.park(id, &reason)).await {
                        break Err(e.into());
                    }
                    report.parked += 1;
                    on_batch(&report);
                }
                Err(e) => {
                    let s = store.clone();
                    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
                    let reason = e.to_string();
                    let _ = blocking(move || s.note_failure(&ids, &reason)).await;
                    break Err(e.into());
                }
            }
        };
        // Whatever happened, the answers received are written before returning.
        let handed = acks.send(answered).await;
        let settled = acks.finish().await;
        discard(&mut prefetch).await;
        result?;
        handed?;
        settled?;
    }
    Ok(report)
}

/// Batches read ahead in one go (see `drain_once`).
const READ_AHEAD_BATCHES: usize = 4;

/// Batches answered before their acknowledgements go to the writer in one
/// transaction (see `drain_once`; a crash forgets at most these, which are
/// then sent again and answered `duplicate`).
const ACK_EVERY_BATCHES: usize = 4;

type Fetch = tokio::sync::oneshot::Receiver<Result<Vec<OutgoingRecord>, StoreError>>;

fn reader_gone() -> StoreError {
    StoreError::Io("outbox reader stopped".into())
}

/// Wait for an unneeded read to finish (it may have parked records it could
/// not decrypt), so nothing of this drain runs on after it returned.
async fn discard(prefetch: &mut Option<Fetch>) {
    if let Some(h) = prefetch.take() {
        let _ = h.await;
    }
}

/// How much lower than the rest of the kiosk the drain's store work runs
/// (nice value). It is never urgent: on a two-core board it would otherwise
/// take the core that the next request, or the resident's screen, waits for.
/// Measured on the loopback bench: at nice 0 or 10 the drain was slower.
const STORE_WORK_NICENESS: libc::c_int = 19;

/// Run `work` on a thread of its own at [`STORE_WORK_NICENESS`]. Not on the
/// blocking pool: a lowered priority cannot be raised again, and the pool's
/// threads also run residents' writes.
fn spawn_background(name: &str, work: impl FnOnce() + Send + 'static) -> bool {
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // SAFETY: gettid and setpriority take plain integers and touch no
            // memory. A failure only leaves the thread at normal priority.
            unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, STORE_WORK_NICENESS);
            }
            work()
        });
    match spawned {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, thread = name, "cannot start an outbox thread");
            false
        }
    }
}

/// Reads (and decrypts) the drain's records on a thread of its own, one
/// request at a time, while batches are on the wire. One per drain, for
/// every kind: most drains find little or nothing to send.
struct Reader {
    requests: Option<std::sync::mpsc::Sender<(RecordKind, i64, FetchReply)>>,
}

type FetchReply = tokio::sync::oneshot::Sender<Result<Vec<OutgoingRecord>, StoreError>>;

impl Reader {
    fn start(store: Store, chunk: usize) -> Reader {
        let (requests, incoming) = std::sync::mpsc::channel::<(RecordKind, i64, FetchReply)>();
        let started = spawn_background("outbox-reads", move || {
            for (kind, after_id, reply) in incoming {
                let _ = reply.send(store.next_batch_after(kind, after_id, chunk));
            }
        });
        Reader {
            requests: started.then_some(requests),
        }
    }

    /// The next `chunk` pending records of `kind` above `after_id`.
    fn read_after(&self, kind: RecordKind, after_id: i64) -> Fetch {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if let Some(requests) = &self.requests {
            // A failed send drops `reply`, which the caller sees as an error.
            let _ = requests.send((kind, after_id, reply));
        }
        answer
    }
}

/// Writes the platform's answers to the store on its own thread, so the
/// drain never waits for an acknowledgement before sending the next batch.
/// Answers that arrive while a write is in progress are written together in
/// the next transaction. That is safe because an acknowledgement is only a
/// note that a record need not be sent again: one lost in a crash makes the
/// record go again, and the platform answers `duplicate`.
/// Its thread starts with the first answers, so a kind with nothing to send
/// costs no thread.
struct AckWriter {
    /// Until the thread is started.
    store: Option<Store>,
    sender: Option<tokio::sync::mpsc::Sender<Vec<RecordResult>>>,
    writer: Option<tokio::sync::oneshot::Receiver<Result<(), StoreError>>>,
}

/// Answers waiting to be written, in batches; bounded so a slow disk slows
/// the drain instead of piling answers up in memory.
const ACK_BACKLOG: usize = 8;

/// At most this many answers (plus one hand-over) in one transaction: about
/// two milliseconds of a small board's time holding the store.
const ACKS_PER_TRANSACTION: usize = 400;

impl AckWriter {
    fn new(store: Store) -> AckWriter {
        AckWriter {
            store: Some(store),
            sender: None,
            writer: None,
        }
    }

    fn start(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<RecordResult>>(ACK_BACKLOG);
        let (done, writer) = tokio::sync::oneshot::channel();
        let started = spawn_background("outbox-acks", move || {
            let written = (|| {
                while let Some(mut results) = receiver.blocking_recv() {
                    // Bounded, because a resident's enqueue waits for this
                    // low-priority thread to let go of the store.
                    while results.len() < ACKS_PER_TRANSACTION {
                        match receiver.try_recv() {
                            Ok(more) => results.extend(more),
                            Err(_) => break,
                        }
                    }
                    // On failure the receiver is dropped, which the drain sees
                    // as a failed send; the error itself comes out of `finish`.
                    store.apply_results(&results)?;
                }
                Ok(())
            })();
            let _ = done.send(written);
        });
        if started {
            self.sender = Some(sender);
            self.writer = Some(writer);
        }
    }

    async fn send(&mut self, results: Vec<RecordResult>) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        self.start();
        let delivered = match &self.sender {
            Some(sender) => sender.send(results).await.is_ok(),
            None => false,
        };
        if delivered {
            Ok(())
        } else {
            self.finish()
                .await
                .and(Err(StoreError::Io("acknowledgement writer stopped".into())))
        }
    }

    /// Wait until every answer sent so far is written.
    async fn finish(&mut self) -> Result<(), StoreError> {
        self.sender = None;
        match self.writer.take() {
            Some(writer) => writer
                .await
                .unwrap_or_else(|_| Err(StoreError::Io("acknowledgement writer failed".into()))),
            None => Ok(()),
        }
    }
}

/// Conditional catalogue pull; on a new document, replace the cache
/// atomically. Returns the cached version afterwards.
pub async fn pull_catalogue(
    client: &PlatformClient,
    store: &Store,
) -> Result<Option<String>, SyncError> {
    let s = store.clone();
    let cached = blocking(move || s.catalogue()).await?;
    let etag = cached.as_ref().and_then(|c| c.etag.clone());
    match client.catalogue(etag.as_deref()).await? {
        CatalogueFetch::NotModified => Ok(cached.and_then(|c| c.version)),
        CatalogueFetch::New { etag, body } => {
            let s = store.clone();
            blocking(move || {
                s.replace_catalogue(etag.as_deref(), &body)?;
                Ok(s.catalogue()?.and_then(|c| c.version))
            })
            .await
            .map_err(Into::into)
        }
    }
}

/// Where the content package stands after a pull.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentPull {
    /// Version of the package in use.
    pub version: Option<String>,
    /// Why the newest package pulled was refused.
    pub refused: Option<String>,
}

/// Ask the platform for this terminal's look-up key and hold it in the
/// store's memory; a failure is only logged (asked again next round).
pub async fn fetch_lookup_key(client: &PlatformClient, store: &Store) -> bool {
    match client.lookup_key().await {
        Ok(key) => {
            store.set_lookup_key(&key);
            tracing::info!("look-up key received; applications can be found by ID number here");
            true
        }
        Err(err) => {
            tracing::debug!(%err, "look-up key not received yet");
            false
        }
    }
}

/// Conditional pull of the signed content package. A new one is verified
/// (signature, then consistency) before it is stored; a refused one is
/// remembered with its reason and the package in use stays. A platform with
/// no package published (404) is not a failure of the link.
pub async fn pull_content(
    client: &PlatformClient,
    store: &Store,
    keys: &[TrustedKey],
) -> Result<ContentPull, SyncError> {
    let s = store.clone();
    let (current, refusal) = blocking(move || {
        Ok((
            s.content_package(PackageSlot::Current)?,
            s.content_refusal()?,
        ))
    })
    .await?;
    // Asking with the refused package's tag: the same bad package is not
    // downloaded and checked again every round.
    let etag = refusal
        .as_ref()
        .and_then(|r| r.etag.clone())
        .or_else(|| current.as_ref().and_then(|c| c.etag.clone()));
    let unchanged = ContentPull {
        version: current.as_ref().map(|c| c.version.clone()),
        refused: refusal.map(|r| r.reason),
    };
    let (etag, body) = match client.content_package(etag.as_deref()).await {
        Ok(CatalogueFetch::New { etag, body }) => (etag, body),
        Ok(CatalogueFetch::NotModified) | Err(PlatformError::NotFound) => return Ok(unchanged),
        Err(err) => return Err(err.into()),
    };
    let keys = keys.to_vec();
    let s = store.clone();
    blocking(move || {
        match bianmin_core::package::open(body.as_bytes(), &keys) {
            Ok(package) => {
                s.install_content_package(etag.as_deref(), &package.version, body.as_bytes())?;
                tracing::info!(version = %package.version, "content package installed; shown from the next session");
                Ok(ContentPull {
                    version: Some(package.version),
                    refused: None,
                })
            }
            Err(err) => {
                let reason = err.to_string();
                tracing::warn!(%reason, "content package refused; the one in use keeps serving");
                s.refuse_content_package(etag.as_deref(), &reason)?;
                Ok(ContentPull {
                    version: unchanged.version,
                    refused: Some(reason),
                })
            }
        }
    })
    .await
    .map_err(Into::into)
}

/// Heartbeats kept while offline; older ones still go out, newer ones are
/// skipped until the platform is reached again.
pub const MAX_PENDING_HEARTBEATS: u64 = 288;

/// Running engine. Dropping it stops the engine.
pub struct SyncHandle {
    client: Arc<PlatformClient>,
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    status: watch::Receiver<SyncStatus>,
    builtin_heartbeats: Arc<std::sync::atomic::AtomicBool>,
}

impl SyncHandle {
    /// Stop queueing the engine's own minimal heartbeats: the kiosk's
    /// operations monitor sends fuller ones (devices, paper, disk) instead.
    pub fn hand_over_heartbeats(&self) {
        self.builtin_heartbeats
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// The engine's published status, for the operations screen and heartbeats.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// A cloneable "try now" for callers that cannot hold the handle.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Try now, skipping any back-off wait (technician "force sync").
    pub fn sync_now(&self) {
        self.wake.notify_one();
    }

    pub fn client(&self) -> &Arc<PlatformClient> {
        &self.client
    }

    /// Live progress lookup (needs the network).
    pub async fn progress(&self, receipt_no: &str) -> Result<Progress, PlatformError> {
        self.client.progress(receipt_no).await
    }

    /// Live lookup of a resident's e-certificates and printable documents.
    pub async fn resident_documents(
        &self,
        id_number: &str,
    ) -> Result<ResidentDocuments, PlatformError> {
        self.client.resident_documents(id_number).await
    }

    /// Stop after the current exchange (an in-flight request is abandoned;
    /// its records stay pending and are deduped on the next send).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Start the engine on the current tokio runtime.
pub fn spawn(
    config: &Config,
    store: Store,
) -> Result<(SyncHandle, watch::Receiver<SyncStatus>), PlatformError> {
    let client = Arc::new(PlatformClient::from_config(config)?);
    Ok(spawn_with(client, store, SyncOptions::from_config(config)))
}

/// Start the engine for the kiosk, whose operations monitor sends the
/// heartbeats (with devices, paper and disk): the engine queues none, not
/// even one at boot before the monitor is up.
pub fn spawn_without_heartbeats(
    config: &Config,
    store: Store,
) -> Result<(SyncHandle, watch::Receiver<SyncStatus>), PlatformError> {
    let client = Arc::new(PlatformClient::from_config(config)?);
    let opts = SyncOptions {
        send_heartbeats: false,
        ..SyncOptions::from_config(config)
    };
    Ok(spawn_with(client, store, opts))
}

/// Start the engine with an explicit client and options.
pub fn spawn_with(
    client: Arc<PlatformClient>,
    store: Store,
    opts: SyncOptions,
) -> (SyncHandle, watch::Receiver<SyncStatus>) {
    let (tx, rx) = watch::channel(SyncStatus::default());
    let wake = Arc::new(Notify::new());
    let (stop, stopped) = watch::channel(false);
    let builtin_heartbeats = Arc::new(std::sync::atomic::AtomicBool::new(opts.send_heartbeats));
    let task = tokio::spawn(run(
        client.clone(),
        store,
        opts,
        tx,
        wake.clone(),
        stopped,
        builtin_heartbeats.clone(),
    ));
    (
        SyncHandle {
            client,
            wake,
            stop,
            task: Some(task),
            status: rx.clone(),
            builtin_heartbeats,
        },
        rx,
    )
}

async fn run(
    client: Arc<PlatformClient>,
    store: Store,
    opts: SyncOptions,
    tx: watch::Sender<SyncStatus>,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
    builtin_heartbeats: Arc<std::sync::atomic::AtomicBool>,
) {
    let started = Instant::now();
    let mut failures: u32 = 0;
    let mut next_housekeeping = Instant::now();
    let mut catalogue_stale = true;
    let mut status = SyncStatus::default();
    let refresh = |status: &mut SyncStatus, store: &Store| {
        if let Ok(q) = store.stats() {
            status.queue = q;
        }
        status.clock_suspect =
            !store.clock_check().is_ok() || client.clock_offset_secs().abs() > 300;
    };
    loop {
        if *stopped.borrow() {
            break;
        }
        let mut result: Result<(), SyncError> = Ok(());
        if Instant::now() >= next_housekeeping {
            next_housekeeping = Instant::now() + opts.housekeeping_every;
            catalogue_stale = true;
            // Offline for days must not fill the outbox with heartbeats.
            let room = store
                .stats()
                .map(|q| q.pending_heartbeats < MAX_PENDING_HEARTBEATS)
                .unwrap_or(false);
            let send = builtin_heartbeats.load(std::sync::atomic::Ordering::Relaxed);
            if send && room {
                let s = store.clone();
                let uptime = started.elapsed().as_secs();
                let _ = blocking(move || {
                    s.enqueue_heartbeat(NewHeartbeat {
                        status: "ok".into(),
                        devices: Default::default(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        uptime_secs: uptime,
                        station_code: None,
                        audit: None,
                    })
                })
                .await;
            }
            let s = store.clone();
            let days = opts.retention_days;
            if let Ok(n) = blocking(move || s.purge_expired(days)).await {
                if n > 0 {
                    tracing::info!(
                        records = n,
                        "purged personal fields of acknowledged and parked records"
                    );
                }
            }
        }
        if catalogue_stale {
            match pull_catalogue(&client, &store).await {
                Ok(v) => {
                    status.catalogue_version = v;
                    catalogue_stale = false;
                }
                Err(e) => result = Err(e),
            }
            match pull_content(&client, &store, &opts.content_keys).await {
                Ok(pull) => {
                    status.content_version = pull.version;
                    status.content_refused = pull.refused;
                }
                Err(e) => {
                    catalogue_stale = true;
                    result = Err(e);
                }
            }
        }
        // The outbox drains whether or not the catalogue could be pulled: a
        // catalogue the platform serves broken (or a catalogue endpoint that
        // is down) must never hold residents' applications back. A failed
        // pull still counts as a failed round (back-off, offline status), so
        // it is retried and shown.
        {
            refresh(&mut status, &store);
            if status.queue.pending > 0 {
                status.link = Link::Syncing;
                tx.send_replace(status.clone());
            }
            let base = status.clone();
            let tx2 = &tx;
            let drained = drain_once(&client, &store, opts.batch_size, |r| {
                let mut s = base.clone();
                s.queue.pending = base
                    .queue
                    .pending
                    .saturating_sub(r.accepted + r.duplicates + r.parked);
                tx2.send_replace(s);
            })
            .await
            .map(|_| ());
            // The drain's failure is the one that matters more (records
            // wait); otherwise the catalogue's stands.
            if drained.is_err() || result.is_ok() {
                result = drained;
            }
        }
        // The look-up key lives in memory only: asked for after a round
        // that reached the platform, once per start (again each round until
        // it has come). Last in the round, so it never stands between the
        // kiosk and its uploads.
        if result.is_ok() && !store.has_lookup_key() {
            fetch_lookup_key(&client, &store).await;
        }
        // Whether or not the link is up: the WAL holds this round's
        // acknowledgements and the enqueues since the last round.
        let s = store.clone();
        if let Err(e) = blocking(move || s.checkpoint()).await {
            tracing::warn!("WAL checkpoint failed: {e}");
        }
        refresh(&mut status, &store);
        let wait = match &result {
            Ok(()) => {
                failures = 0;
                status.link = Link::Online;
                status.last_success_ms = Some(bianmin_store::now_ms());
                status.last_error = None;
                status.next_retry_ms = None;
                status.failures = 0;
                None
            }
            Err(e) => {
                let delay = backoff::next_delay(
                    failures,
                    opts.retry_base,
                    opts.retry_cap,
                    e.retry_after(),
                    rand::random(),
                );
                failures = failures.saturating_add(1);
                status.link = Link::Offline;
                status.last_error = Some(e.to_string());
                status.next_retry_ms = Some(delay.as_millis() as u64);
                status.failures = failures;
                tracing::info!(
                    failures,
                    delay_ms = delay.as_millis() as u64,
                    "platform unreachable: {e}"
                );
                Some(delay)
            }
        };
        if status.queue.pending > 0 && wait.is_none() {
            // More arrived while draining: go again at once.
            tx.send_replace(status.clone());
            continue;
        }
        tx.send_replace(status.clone());
        match wait {
            Some(delay) => {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = wake.notified() => {}
                    _ = stopped.changed() => break,
                }
            }
            None => {
                let until = tokio::time::Instant::from_std(next_housekeeping);
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = store.changed().notified() => {}
                    _ = wake.notified() => {}
                    _ = stopped.changed() => break,
                }
            }
        }
    }
}
