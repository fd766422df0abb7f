//! The terminal's state as one snapshot, kept fresh by a background task, and
//! the periodic heartbeat built from it.
//!
//! The operations screen must never wait on SQLite or statvfs (the UI thread
//! does no I/O), and the heartbeat must report the same figures a technician
//! sees on site, so both read the snapshot this task refreshes. Free space is
//! checked here too: a change of level is logged and shown in
//! `systemctl status` (a full disk is what silently kills kiosks), and the
//! heartbeat carries it to the province.

use super::disk::{DiskLevel, DiskSpace, DiskThresholds};
use super::heartbeat::{DeviceHealth, DeviceState, Heartbeat, PaperState};
use super::notify::Notifier;
use super::uptime::ProcessClock;
use bianmin_drivers::manager::{DeviceStatus, DevicesStatus, PrinterHandle};
use bianmin_drivers::printer::PrinterState;
use bianmin_store::{QueueStats, Store};
use bianmin_sync::SyncStatus;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};

/// How often the snapshot is refreshed: fresh enough for a technician
/// watching the screen, rare enough to cost nothing on a Pi.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Everything the operations screen and the heartbeat report.
#[derive(Debug, Clone, Default)]
pub struct OpsSnapshot {
    pub devices: Option<DevicesStatus>,
    /// The printer's own answer to a status request (paper near-end).
    pub printer: Option<PrinterState>,
    pub sync: Option<SyncStatus>,
    pub queue: Option<QueueStats>,
    pub disk: Option<DiskSpace>,
    pub disk_level: Option<DiskLevel>,
    /// Plain words while free space is low, for the screen.
    pub disk_warning: Option<bianmin_core::words::Words>,
    pub uptime: Duration,
    pub system_uptime: Option<Duration>,
    pub catalogue_version: Option<String>,
    /// Outbox key and time of the last heartbeat queued.
    pub last_heartbeat: Option<(String, SystemTime)>,
    /// Why the last heartbeat could not be queued.
    pub heartbeat_error: Option<String>,
}

/// Where the monitor reads from. Everything is optional: a kiosk whose
/// store did not open still reports its devices and disk.
pub struct OpsSources {
    pub store: Option<Store>,
    pub sync: Option<watch::Receiver<SyncStatus>>,
    pub sync_waker: Option<Arc<Notify>>,
    pub devices: Option<watch::Receiver<DevicesStatus>>,
    pub printer: Option<PrinterHandle>,
    pub data_dir: PathBuf,
    pub terminal_id: String,
    pub station_code: String,
    pub heartbeat_secs: u32,
    pub clock: ProcessClock,
    pub thresholds: DiskThresholds,
    /// statvfs in production; a test passes a disk that fills up.
    pub disk_probe: DiskProbe,
}

pub type DiskProbe = Arc<dyn Fn(&Path) -> std::io::Result<DiskSpace> + Send + Sync>;

impl OpsSources {
    /// Sources with the real disk probe and nothing else attached.
    pub fn new(data_dir: PathBuf, terminal_id: &str, station_code: &str) -> OpsSources {
        OpsSources {
            store: None,
            sync: None,
            sync_waker: None,
            devices: None,
            printer: None,
            data_dir,
            terminal_id: terminal_id.into(),
            station_code: station_code.into(),
            heartbeat_secs: 300,
            clock: ProcessClock::start(),
            thresholds: DiskThresholds::default(),
            disk_probe: Arc::new(|p: &Path| super::disk::disk_space(p)),
        }
    }
}

struct Inner {
    sources: OpsSources,
    snapshot: Mutex<OpsSnapshot>,
    heartbeat_secs: AtomicU64,
    /// Wakes the heartbeat loop when its interval changes.
    interval_changed: Notify,
    notifier: Notifier,
}

/// Shared handle; cheap to clone, usable from the UI thread (reads only).
#[derive(Clone)]
pub struct OpsMonitor {
    inner: Arc<Inner>,
}

impl OpsMonitor {
    pub fn new(sources: OpsSources) -> OpsMonitor {
        let secs = u64::from(sources.heartbeat_secs.max(1));
        OpsMonitor {
            inner: Arc::new(Inner {
                sources,
                snapshot: Mutex::new(OpsSnapshot::default()),
                heartbeat_secs: AtomicU64::new(secs),
                interval_changed: Notify::new(),
                notifier: Notifier,
            }),
        }
    }

    /// Start the refresh and heartbeat loops on `runtime`; they end with it.
    pub fn spawn(&self, runtime: &tokio::runtime::Handle) {
        let this = self.clone();
        runtime.spawn(async move {
            loop {
                this.refresh().await;
                tokio::time::sleep(REFRESH_EVERY).await;
            }
        });
        let this = self.clone();
        runtime.spawn(async move {
            // The first heartbeat shortly after start: a restart is news.
            tokio::time::sleep(REFRESH_EVERY * 2).await;
            loop {
                this.refresh().await;
                let beat = this.clone();
                let _ = tokio::task::spawn_blocking(move || beat.heartbeat_now()).await;
                let wait = this.heartbeat_interval();
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = this.inner.interval_changed.notified() => {}
                }
            }
        });
    }

    pub fn snapshot(&self) -> OpsSnapshot {
        self.lock().clone()
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.inner.heartbeat_secs.load(Ordering::Relaxed))
    }

    /// Applied live when a technician saves `platform.heartbeat_secs`.
    pub fn set_heartbeat_interval(&self, secs: u32) {
        self.inner
            .heartbeat_secs
            .store(u64::from(secs.max(1)), Ordering::Relaxed);
        self.inner.interval_changed.notify_one();
    }

    /// Ask the sync engine to try now. False when sync is not running.
    pub fn sync_now(&self) -> bool {
        match &self.inner.sources.sync_waker {
            Some(waker) => {
                waker.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn store(&self) -> Option<&Store> {
        self.inner.sources.store.as_ref()
    }

    pub fn terminal_id(&self) -> &str {
        &self.inner.sources.terminal_id
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.sources.data_dir
    }

    /// Gather every figure once. Blocking calls (SQLite, statvfs) run on
    /// the blocking pool so the runtime's workers keep serving sync.
    pub async fn refresh(&self) {
        let src = &self.inner.sources;
        let devices = src.devices.as_ref().map(|d| d.borrow().clone());
        let sync = src.sync.as_ref().map(|s| s.borrow().clone());
        let printer = match (&src.printer, &devices) {
            (Some(p), Some(d)) if d.printer != DeviceStatus::Disabled => Some(p.status().await),
            _ => None,
        };
        let this = self.clone();
        let (queue, catalogue_version, disk) = tokio::task::spawn_blocking(move || {
            let src = &this.inner.sources;
            let queue = src.store.as_ref().and_then(|s| s.stats().ok());
            let catalogue = src
                .store
                .as_ref()
                .and_then(|s| s.catalogue().ok().flatten())
                .and_then(|c| bianmin_core::catalogue::Catalogue::from_json(&c.body).ok())
                .map(|c| c.version);
            let disk = (src.disk_probe)(&src.data_dir);
            (queue, catalogue, disk)
        })
        .await
        .unwrap_or((None, None, Err(std::io::Error::other("probe panicked"))));
        self.apply(devices, printer, sync, queue, catalogue_version, disk);
    }

    fn apply(
        &self,
        devices: Option<DevicesStatus>,
        printer: Option<PrinterState>,
        sync: Option<SyncStatus>,
        queue: Option<QueueStats>,
        catalogue_version: Option<String>,
        disk: std::io::Result<DiskSpace>,
    ) {
        let thresholds = self.inner.sources.thresholds;
        let mut snap = self.lock();
        let previous_level = snap.disk_level;
        match disk {
            Ok(space) => {
                snap.disk = Some(space);
                snap.disk_level = Some(thresholds.level(space));
                snap.disk_warning = thresholds.warning(space);
            }
            Err(err) => {
                tracing::warn!(%err, "free disk space unknown");
                snap.disk = None;
                snap.disk_level = None;
                snap.disk_warning = None;
            }
        }
        if snap.disk_level != previous_level {
            self.report_disk(previous_level, &snap);
        }
        snap.devices = devices;
        snap.printer = printer;
        snap.catalogue_version = sync
            .as_ref()
            .and_then(|s| s.catalogue_version.clone())
            .or(catalogue_version);
        snap.sync = sync;
        snap.queue = queue;
        snap.uptime = self.inner.sources.clock.uptime();
        snap.system_uptime = super::uptime::system_uptime();
    }

    /// A change of disk level goes to the journal and to `systemctl status`.
    fn report_disk(&self, previous: Option<DiskLevel>, snap: &OpsSnapshot) {
        let notifier = self.inner.notifier;
        match (&snap.disk_warning, snap.disk) {
            (Some(warning), Some(space)) => {
                tracing::warn!(free_bytes = space.free_bytes, "{}", warning.zh());
                let _ = notifier.status(warning.zh());
            }
            (None, Some(space)) if previous.is_some_and(|l| l != DiskLevel::Ok) => {
                tracing::info!(free_bytes = space.free_bytes, "free disk space recovered");
                let _ = notifier.status("运行中");
            }
            _ => {}
        }
    }

    /// The heartbeat from the current snapshot.
    pub fn heartbeat(&self, now: SystemTime) -> Heartbeat {
        let src = &self.inner.sources;
        build_heartbeat(
            &self.snapshot(),
            &src.terminal_id,
            &src.station_code,
            now,
            &src.thresholds,
        )
    }

    /// Queue a heartbeat in the outbox now (the sync engine sends it).
    /// Blocking (one SQLite transaction): call from a worker, not the UI.
    pub fn heartbeat_now(&self) -> Option<String> {
        let now = SystemTime::now();
        let mut heartbeat = self.heartbeat(now);
        // The admin audit log's head travels with every heartbeat: read
        // here (a few hundred KiB at most, every few minutes) rather than
        // kept in memory, so a line appended by any process counts.
        let audit = bianmin_admin::audit_log::AuditLog::open(&self.inner.sources.data_dir);
        match audit.verify() {
            Ok(report) => heartbeat = heartbeat.audit(&report).finish(),
            Err(err) => {
                tracing::warn!(%err, "audit log unreadable; heartbeat sent without its head")
            }
        }
        let store = self.inner.sources.store.as_ref()?;
        // Offline for days must not fill the outbox with heartbeats.
        let pending = store.stats().map(|q| q.pending_heartbeats).unwrap_or(0);
        if pending >= bianmin_sync::MAX_PENDING_HEARTBEATS {
            tracing::debug!(pending, "heartbeat skipped: enough are waiting");
            return None;
        }
        let result = store.enqueue_heartbeat(heartbeat.to_outbox());
        let mut snap = self.lock();
        match result {
            Ok(key) => {
                tracing::debug!(key, warnings = ?heartbeat.warnings, "heartbeat queued");
                snap.last_heartbeat = Some((key.clone(), now));
                snap.heartbeat_error = None;
                Some(key)
            }
            Err(err) => {
                tracing::warn!(%err, "heartbeat not queued");
                snap.heartbeat_error = Some(err.to_string());
                None
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpsSnapshot> {
        self.inner
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Device health as the heartbeat reports it. The printer's paper sensor
/// is read from its own status answer when there is one.
pub fn device_health(devices: &DevicesStatus, printer: Option<PrinterState>) -> Vec<DeviceHealth> {
    let one = |name: &str, status: &DeviceStatus| match status {
        DeviceStatus::Disabled => DeviceHealth::new(name, DeviceState::Disabled),
        DeviceStatus::Starting => {
            DeviceHealth::new(name, DeviceState::Absent).with_detail("starting")
        }
        DeviceStatus::Ok => DeviceHealth::new(name, DeviceState::Ok),
        DeviceStatus::Degraded { detail, .. } => {
            DeviceHealth::new(name, DeviceState::Error).with_detail(detail)
        }
        DeviceStatus::Absent { detail } => {
            DeviceHealth::new(name, DeviceState::Absent).with_detail(detail)
        }
    };
    let mut printer_health = one("printer", &devices.printer);
    match printer {
        Some(PrinterState::PaperNearEnd) => {
            // Near-end still prints: the printer is fine, the paper is not.
            printer_health.state = DeviceState::Ok;
            printer_health.paper = Some(PaperState::NearEnd);
        }
        Some(PrinterState::PaperEnd) => {
            // The printer answers; only its paper is gone. Reported as a
            // device error it reached the platform as "error" and the
            // county's 缺纸 alert never opened: paper out is its own state.
            printer_health.state = DeviceState::Ok;
            printer_health.paper = Some(PaperState::Out);
        }
        Some(PrinterState::Ok) => printer_health.paper = Some(PaperState::Ok),
        _ => {}
    }
    vec![
        one("id_card", &devices.id_card),
        printer_health,
        one("scanner", &devices.scanner),
        one("gpio", &devices.gpio),
    ]
}

/// A heartbeat from a snapshot (pure: tested without a runtime).
pub fn build_heartbeat(
    snap: &OpsSnapshot,
    terminal_id: &str,
    station_code: &str,
    now: SystemTime,
    thresholds: &DiskThresholds,
) -> Heartbeat {
    let mut hb = Heartbeat::new(terminal_id, station_code, now, snap.uptime);
    hb.system_uptime_secs = snap.system_uptime.map(|d| d.as_secs());
    if let Some(space) = snap.disk {
        hb = hb.disk(space, thresholds);
    }
    if let Some(queue) = &snap.queue {
        let now_ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let oldest = queue
            .oldest_pending_ms
            .map(|t| Duration::from_millis(now_ms.saturating_sub(t).max(0) as u64));
        hb = hb.queue(queue.pending, oldest);
    }
    if let Some(sync) = &snap.sync {
        hb.last_sync_at = sync.last_success_ms.map(bianmin_store::rfc3339);
    }
    hb.catalogue_version = snap.catalogue_version.clone();
    if let Some(devices) = &snap.devices {
        for health in device_health(devices, snap.printer) {
            hb = hb.device(health);
        }
    }
    hb.finish()
}
