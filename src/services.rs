//! The kiosk's background services on a tokio runtime: the outbox store, the
//! sync engine and, in demo mode, the embedded reference platform. They reach
//! the UI thread only through the `Inbox`, which the UI drains on its own timer.

use bianmin_config::{Config, Secret};
use bianmin_core::catalogue::Catalogue;
use bianmin_core::form::Identity;
use bianmin_core::package::{self, Package, TrustedKey};
use bianmin_desk::{DeskDeps, DeskHandle, DeskRequest};
use bianmin_drivers::demo::{DemoDevices, DemoTiming};
use bianmin_drivers::gpio::GpioEvent;
use bianmin_drivers::id_number::{mask_id, mask_name};
use bianmin_drivers::idcard::CardEvent;
use bianmin_drivers::manager::{DeviceEvent, DeviceManager, DevicesStatus, PrinterHandle};
use bianmin_drivers::printer::Paper;
use bianmin_drivers::scanner::{CodeKind, ScanEvent};
use bianmin_platform_server::{ServerHandle, ServerOptions};
use bianmin_platform_service::cluster::TempCluster;
use bianmin_store::Store;
use bianmin_sync::{SyncHandle, SyncStatus};
use bianmin_ui::events::{Inbox, UiEvent};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The signing secret the demo's embedded platform and terminal share.
const DEMO_SECRET: &str = "bianmin-demo-secret";

/// Running background services; dropping it stops them.
pub struct Services {
    pub runtime: tokio::runtime::Runtime,
    pub store: Option<Store>,
    pub sync: Option<SyncHandle>,
    pub platform: Option<ServerHandle>,
    /// Demo mode's throwaway PostgreSQL cluster under the platform service
    /// (removed when dropped).
    pub demo_cluster: Option<TempCluster>,
    pub devices: Option<Arc<DeviceManager>>,
    /// Demo mode's simulated reader, printer and scanner on pseudo-terminals.
    pub demo_devices: Option<Arc<DemoDevices>>,
    pub printer: Option<PrinterHandle>,
    /// The resident's journeys ask the store, printer and platform through it.
    pub desk: DeskHandle,
    /// The identity read from the card now on the reader; wiped on removal
    /// and when the session ends.
    pub identity: Arc<Mutex<Option<Box<Identity>>>>,
    pub inbox: Inbox,
    /// The verified content package to show first: the stored one (else
    /// its predecessor); in demo mode the demo package. `None` in
    /// production until a valid package arrives: out of service.
    pub content: Option<Package>,
    /// Why the kiosk cannot take applications, for the out-of-service page.
    pub fault: Option<String>,
    /// Why no content package is shown (`content` is `None`).
    pub content_problem: Option<String>,
    /// Never enrolled and no secret: the page asks for an enrollment code,
    /// and scans go to enrollment.
    pub needs_enrollment: bool,
    /// Set when `needs_enrollment`: scanned and typed codes go there.
    pub enroller: Option<Arc<Enroller>>,
    /// The data directory (the updater's hold is granted there).
    pub data_dir: PathBuf,
    /// Demo mode: issues personal codes for the simulated scanner.
    pub demo_codes: Option<bianmin_platform_server::CodeIssuer>,
    /// Held for the process's life: the updater sees a kiosk is running and
    /// asks it for a moment between residents before replacing it.
    _kiosk_lock: Option<std::fs::File>,
}

/// Where demo mode keeps its data when `BIANMIN_DATA_DIR` does not say, so a
/// demo never writes into a real terminal's /var/lib/bianmin.
pub fn demo_data_dir() -> PathBuf {
    std::env::temp_dir().join("bianmin-demo")
}

/// Demo mode's platform: the platform service over a throwaway PostgreSQL
/// cluster where PostgreSQL is installed (what a county runs), else the
/// embedded reference server on SQLite — said in one line either way.
/// `BIANMIN_DEMO_PLATFORM=reference` picks the reference server.
fn start_demo_platform(
    runtime: &tokio::runtime::Runtime,
    config: &mut Config,
) -> anyhow::Result<(ServerHandle, Option<TempCluster>)> {
    let wanted_reference = std::env::var("BIANMIN_DEMO_PLATFORM").as_deref() == Ok("reference");
    if !wanted_reference && bianmin_platform_service::cluster::server_bin_dir().is_some() {
        match start_postgres_platform(runtime, config) {
            Ok((server, cluster)) => {
                println!(
                    "demo platform: the platform service on PostgreSQL at {} (console: http://{}/console/login)",
                    server.base_url(),
                    server.addr()
                );
                return Ok((server, Some(cluster)));
            }
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "the PostgreSQL platform did not start")
            }
        }
    }
    let options = ServerOptions {
        db_path: Some(config.store.data_dir.join("demo-platform.sqlite3")),
        catalogue: Catalogue::demo_json().into_bytes(),
        content_package: Some(package::DEMO_PACKAGE_JSON.as_bytes().to_vec()),
        shared_secret: Some(DEMO_SECRET.into()),
        ..ServerOptions::default()
    };
    let server = runtime.block_on(bianmin_platform_server::spawn(options))?;
    println!(
        "demo platform: the embedded reference server on SQLite at {} (PostgreSQL is not installed or did not start)",
        server.base_url()
    );
    Ok((server, None))
}

fn start_postgres_platform(
    runtime: &tokio::runtime::Runtime,
    config: &mut Config,
) -> anyhow::Result<(ServerHandle, TempCluster)> {
    use bianmin_platform_server::Doc;
    use bianmin_platform_service as service;
    let cluster = TempCluster::start()?;
    // The demo kiosk trusts the demo platform's configuration key, as an
    // enrolled kiosk trusts its county's.
    let config_key = Arc::new(service::fleet::ConfigKey::generate());
    config.platform.config_key = config_key.public();
    let svc = runtime.block_on(async {
        let conninfo = cluster.fresh_database().await?;
        let svc = service::spawn(service::ServiceOptions {
            fleet: service::fleet::FleetOptions {
                config_key,
                enroll: service::fleet::EnrollOptions {
                    content_public_key: package::DEMO_PUBLIC_KEY.into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            conninfo,
            data_key: Arc::new(service::DataKey::generate()),
            pool_size: 4,
            publishers: vec![package::TrustedKey::demo()],
            content_signer: Some(service::console::ContentSigner::demo()),
            server: ServerOptions {
                shared_secret: Some(DEMO_SECRET.into()),
                ..ServerOptions::default()
            },
        })
        .await?;
        let catalogue = Catalogue::demo_json().into_bytes();
        service::publish_if_missing(&svc.backend, Doc::Catalogue, catalogue).await?;
        let package = package::DEMO_PACKAGE_JSON.as_bytes().to_vec();
        service::publish_if_missing(&svc.backend, Doc::ContentPackage, package).await?;
        service::seed_demo_staff(&svc.backend).await?;
        service::seed_demo_station(&svc.backend).await?;
        anyhow::Ok(svc)
    })?;
    Ok((svc.handle, cluster))
}

/// Start the store, the sync engine and (demo) the embedded platform.
/// Never fails: what does not start is reported in `fault` or the log.
pub fn start(config: &mut Config, demo: bool) -> Services {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bianmin-io")
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    let inbox = Inbox::default();
    let mut platform = None;
    let mut demo_cluster = None;

    if demo {
        // Demo mode trusts the demo publisher, whose key is public: never
        // in `run`, where the configuration names the county's key.
        config.content.public_key = package::DEMO_PUBLIC_KEY.into();
        config.content.key_id = package::DEMO_KEY_ID.into();
        if let Err(err) = std::fs::create_dir_all(&config.store.data_dir) {
            tracing::warn!(%err, "cannot create the demo data directory");
        }
        match start_demo_platform(&runtime, config) {
            Ok((server, cluster)) => {
                config.platform.url = bianmin_config::HttpUrl(server.base_url().to_string());
                config.platform.secret = Some(Secret(DEMO_SECRET.into()));
                platform = Some(server);
                demo_cluster = cluster;
            }
            Err(err) => tracing::warn!(%err, "the demo platform did not start"),
        }
    }

    let (store, fault) = match Store::open(config) {
        Ok(store) => (Some(store), None),
        Err(err) => {
            tracing::error!(%err, "the outbox cannot be opened; applications are refused");
            // Shown on the out-of-service page, which has no language
            // switch: in the language the kiosk starts in.
            let english = config.ui.language == bianmin_config::Language::En;
            let said = err.resident_message();
            (None, Some(format!("{}: {err}", said.pick(english))))
        }
    };

    let keys = bianmin_sync::content_keys(config);
    let loaded = match (&store, &keys) {
        (_, Err(why)) => Err(why.clone()),
        (None, _) => Err("the store cannot be opened".to_string()),
        (Some(store), Ok(keys)) => load_content(store, keys),
    };
    let (content, content_problem) = match loaded {
        Ok(content) => (Some(content), None),
        // Demo content exists for `demo` only.
        Err(_) if demo => (Some(Package::demo()), None),
        Err(why) => {
            tracing::error!(reason = %why, "no valid content package; out of service until one arrives");
            (None, Some(why))
        }
    };
    let content_version = content
        .as_ref()
        .map(|c| c.version.clone())
        .unwrap_or_default();

    if let Some(store) = store.clone() {
        let inbox = inbox.clone();
        runtime.spawn_blocking(move || match station_popular(&store) {
            Ok(codes) => inbox.post(UiEvent::Popular(codes)),
            Err(err) => tracing::warn!(%err, "station's most-used services unknown"),
        });
    }

    let sync = store.as_ref().and_then(|store| {
        let _guard = runtime.enter();
        match bianmin_sync::spawn_without_heartbeats(config, store.clone()) {
            Ok((handle, status)) => {
                runtime.spawn(forward_status(
                    status,
                    store.clone(),
                    inbox.clone(),
                    content_version.clone(),
                    keys.clone().unwrap_or_default(),
                ));
                Some(handle)
            }
            Err(err) => {
                tracing::warn!(%err, "sync is not running; applications stay queued");
                None
            }
        }
    });

    // Never enrolled and no secret by hand: scanned codes go to enrollment
    // (demo mode has the demo secret).
    let enrollment = (!demo && !bianmin_ops::enroll::has_identity(config)).then(|| {
        Arc::new(Enroller {
            config: config.clone(),
            inbox: inbox.clone(),
            enrolling: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            runtime: runtime.handle().clone(),
        })
    });
    let needs_enrollment = enrollment.is_some();
    let identity = Arc::new(Mutex::new(None));
    let (devices, demo_devices) = start_devices(&runtime, config, demo);
    let mut devices = devices;
    let printer = devices.as_ref().map(|d| d.printer.clone());
    let desk = bianmin_desk::spawn(
        runtime.handle(),
        DeskDeps {
            store: store.clone(),
            platform: sync.as_ref().map(|s| s.client().clone()),
            printer: printer.clone(),
            identity: identity.clone(),
            answers: inbox.desk_answers(),
            station: config.station.name.clone(),
        },
    );
    if let Some(manager) = devices.as_mut() {
        let events = std::mem::replace(&mut manager.events, tokio::sync::mpsc::channel(1).1);
        runtime.spawn(forward_devices(
            events,
            manager.status.clone(),
            inbox.clone(),
            identity.clone(),
            desk.clone(),
            enrollment.clone(),
        ));
    }

    let devices = devices.map(Arc::new);
    if let Some(handle) = &sync {
        let _guard = runtime.enter();
        crate::remote::spawn(crate::remote::Remote {
            client: handle.client().clone(),
            wake_sync: handle.waker(),
            store: store.clone(),
            devices: devices.clone(),
            printer: printer.clone(),
            config: config.clone(),
            inbox: inbox.clone(),
        });
    }
    let kiosk_lock = match bianmin_ops::update::lock_exclusive(
        &config.store.data_dir.join(bianmin_ops::update::KIOSK_LOCK),
        false,
    ) {
        Ok(Some(lock)) => Some(lock),
        Ok(None) => {
            tracing::warn!("another kiosk process holds this data directory's lock");
            None
        }
        Err(err) => {
            tracing::warn!(%err, "the kiosk lock could not be taken; updates will not wait for residents");
            None
        }
    };
    {
        let _guard = runtime.enter();
        watch_update_hold(config.store.data_dir.clone(), inbox.clone());
    }
    let demo_codes = if demo {
        platform.as_ref().map(ServerHandle::code_issuer)
    } else {
        None
    };
    Services {
        runtime,
        store,
        sync,
        platform,
        demo_cluster,
        devices,
        demo_devices,
        printer,
        desk,
        identity,
        inbox,
        content,
        fault,
        content_problem,
        needs_enrollment,
        enroller: enrollment,
        data_dir: config.store.data_dir.clone(),
        demo_codes,
        _kiosk_lock: kiosk_lock,
    }
}

/// Tell the UI when the updater asks for (or gives up) a moment between
/// residents: it leaves a request file in the data directory. A request
/// older than [`STALE_HOLD`] was left by an updater that died: ignored, so
/// a kiosk never stays on its updating page for nothing.
fn watch_update_hold(data_dir: PathBuf, inbox: Inbox) {
    const STALE_HOLD: std::time::Duration = std::time::Duration::from_secs(30 * 60);
    let request = data_dir.join(bianmin_ops::update::HOLD_REQUEST);
    tokio::spawn(async move {
        let mut asked = false;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            let now = std::fs::metadata(&request)
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().unwrap_or_default() < STALE_HOLD);
            if now != asked {
                asked = now;
                inbox.post(UiEvent::UpdateHold(now));
            }
        }
    });
}

/// The stored package, verified again (the disk is trusted no more than the
/// wire); its predecessor if it no longer verifies. The reason otherwise.
pub fn load_content(store: &Store, keys: &[TrustedKey]) -> Result<Package, String> {
    use bianmin_store::PackageSlot;
    let mut reasons = Vec::new();
    if keys.is_empty() {
        reasons.push("未设置 content.public_key，不信任任何内容包 (no publisher key configured: [content] public_key)".to_string());
    }
    for slot in [PackageSlot::Current, PackageSlot::Previous] {
        match store.content_package(slot) {
            Ok(Some(cached)) => match package::open(&cached.body, keys) {
                Ok(content) => {
                    if slot == PackageSlot::Previous {
                        tracing::warn!(version = %content.version, "the current content package no longer verifies; the previous one serves");
                    }
                    return Ok(content);
                }
                Err(err) => reasons.push(err.to_string()),
            },
            Ok(None) => {}
            Err(err) => reasons.push(err.to_string()),
        }
    }
    if let Ok(Some(refusal)) = store.content_refusal() {
        reasons.push(refusal.reason);
    }
    if reasons.is_empty() {
        reasons
            .push("尚未从平台取得内容包 (no content package pulled from the platform yet)".into());
    }
    Err(reasons.join("; "))
}

/// The device manager on the configured ports, or on the demo simulators.
fn start_devices(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    demo: bool,
) -> (Option<DeviceManager>, Option<Arc<DemoDevices>>) {
    let _guard = runtime.enter();
    if demo {
        let paper = if config.devices.printer.paper_mm.0 == 58 {
            Paper::Mm58
        } else {
            Paper::Mm80
        };
        let receipts = config.store.data_dir.join("receipts");
        match DemoDevices::start(&receipts, paper, DemoTiming::realistic()) {
            Ok(simulators) => {
                tracing::info!(receipts = %receipts.display(), "demo devices started on pseudo-terminals");
                let manager = DeviceManager::start(simulators.manager_config());
                (Some(manager), Some(Arc::new(simulators)))
            }
            Err(err) => {
                tracing::warn!(%err, "demo devices did not start");
                (None, None)
            }
        }
    } else {
        let manager = DeviceManager::start(bianmin_ops::devices::manager_config(config));
        (Some(manager), None)
    }
}

/// Device events become UI events; the identity itself stays here.
async fn forward_devices(
    mut events: tokio::sync::mpsc::Receiver<DeviceEvent>,
    mut status: tokio::sync::watch::Receiver<DevicesStatus>,
    inbox: Inbox,
    identity: Arc<Mutex<Option<Box<Identity>>>>,
    desk: DeskHandle,
    enrollment: Option<Arc<Enroller>>,
) {
    loop {
        tokio::select! {
            changed = status.changed() => {
                if changed.is_err() {
                    return;
                }
                let current = status.borrow_and_update().clone();
                inbox.post(UiEvent::Devices(Box::new(current)));
            }
            event = events.recv() => {
                let Some(event) = event else { return };
                match event {
                    DeviceEvent::Card(CardEvent::Present(card)) => {
                        let masked_name = mask_name(&card.name);
                        let masked_id = mask_id(&card.id_number);
                        if let Ok(mut slot) = identity.lock() {
                            *slot = Some(Box::new(bianmin_ops::devices::core_identity(&card)));
                        }
                        inbox.post(UiEvent::CardPresent { masked_name, masked_id });
                    }
                    DeviceEvent::Card(CardEvent::Removed) => {
                        if let Ok(mut slot) = identity.lock() {
                            *slot = None;
                        }
                        inbox.post(UiEvent::CardRemoved);
                    }
                    DeviceEvent::Card(CardEvent::ReadFailed(err)) => {
                        inbox.post(UiEvent::CardFailed(err.resident_message()));
                    }
                    DeviceEvent::Scan(ScanEvent::Code(code)) if enrollment.is_some() => {
                        if let Some(enroller) = &enrollment {
                            enroller.enroll_scanned(&code.kind);
                        }
                    }
                    DeviceEvent::Scan(ScanEvent::Code(code)) => match code.kind {
                        // The scanner knows the shape; only the issuer's check
                        // character tells a misread or forged number apart.
                        CodeKind::Receipt(receipt)
                            if !bianmin_store::receipt::is_valid(&receipt.number) =>
                        {
                            inbox.post(UiEvent::UnknownCode);
                        }
                        // The UI asks the desk for its progress, tagged with
                        // the session that sees the answer.
                        CodeKind::Receipt(receipt) => {
                            inbox.post(UiEvent::ReceiptScanned(receipt.number));
                        }
                        // The UI asks the platform (through the desk, tagged
                        // with the session that will see the answer).
                        CodeKind::Service { scheme, token } => {
                            inbox.post(UiEvent::ServiceCodeScanned(Box::new(
                                bianmin_desk::PersonalCode {
                                    scheme,
                                    token: zeroize::Zeroizing::new(token),
                                },
                            )));
                        }
                        CodeKind::Url(_) | CodeKind::Unknown(_) => inbox.post(UiEvent::UnknownCode),
                    },
                    DeviceEvent::Scan(ScanEvent::Rejected(_)) => inbox.post(UiEvent::UnknownCode),
                    DeviceEvent::Gpio(GpioEvent::CallStaff) => {
                        desk.send(DeskRequest::CallStaff);
                        inbox.post(UiEvent::CallStaff);
                    }
                    DeviceEvent::Gpio(GpioEvent::Presence { present, .. }) => {
                        inbox.post(UiEvent::Presence(present));
                    }
                }
            }
        }
    }
}

/// A kiosk with no identity enrolls with a code scanned or typed on its
/// page (one at a time; once enrolled, the kiosk restarts and scans mean
/// codes again).
pub struct Enroller {
    config: Config,
    inbox: Inbox,
    enrolling: Arc<std::sync::atomic::AtomicBool>,
    runtime: tokio::runtime::Handle,
}

impl Enroller {
    pub fn enroll_scanned(&self, kind: &CodeKind) {
        let text = match kind {
            CodeKind::Unknown(t) | CodeKind::Url(t) => t.as_str(),
            CodeKind::Receipt(r) => r.number.as_str(),
            CodeKind::Service { token, .. } => token.as_str(),
        };
        self.enroll_text(text);
    }

    /// The QR code's text or the 12 characters typed on the keypad.
    pub fn enroll_text(&self, text: &str) {
        use bianmin_ops::enroll;
        use bianmin_ui::events::EnrollmentNews;
        use std::sync::atomic::Ordering;
        let Some(code) = enroll::parse_code(text) else {
            self.inbox.post(UiEvent::Enrollment(EnrollmentNews::Failed(
                bianmin_core::words::Words::fixed(
                    "这不是注册码。请扫描县运维人员打印的注册码（二维码下方有 12 位字母和数字）",
                    "This is not an enrollment code. Scan the code the county's technicians printed",
                ),
            )));
            return;
        };
        if self.enrolling.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inbox
            .post(UiEvent::Enrollment(EnrollmentNews::Checking));
        let (config, inbox, enrolling) = (
            self.config.clone(),
            self.inbox.clone(),
            self.enrolling.clone(),
        );
        self.runtime.spawn(async move {
            match enroll::enroll(&config, &code, None).await {
                Ok(done) => inbox.post(UiEvent::Enrollment(EnrollmentNews::Done {
                    terminal_id: done.terminal_id,
                    station_name: done.station_name,
                })),
                Err(err) => {
                    tracing::warn!(error = ?err, "enrollment did not happen");
                    enrolling.store(false, Ordering::SeqCst);
                    inbox.post(UiEvent::Enrollment(EnrollmentNews::Failed(err.words())));
                }
            }
        });
    }
}

impl Services {
    /// Forget the identity of the resident whose session ended.
    pub fn wipe_identity(&self) {
        if let Ok(mut slot) = self.identity.lock() {
            *slot = None;
        }
    }
}

/// Pass the sync engine's status to the UI; a newly installed content
/// package too (the controller applies it when the session ends).
async fn forward_status(
    mut status: tokio::sync::watch::Receiver<SyncStatus>,
    store: Store,
    inbox: Inbox,
    mut shown_version: String,
    keys: Vec<TrustedKey>,
) {
    loop {
        let current = status.borrow_and_update().clone();
        inbox.post(UiEvent::Link {
            link: current.link,
            queue_depth: current.queue.pending,
        });
        if let Some(version) = current.content_version.as_ref() {
            if *version != shown_version {
                let s = store.clone();
                let k = keys.clone();
                let loaded = tokio::task::spawn_blocking(move || load_content(&s, &k)).await;
                if let Ok(Ok(content)) = loaded {
                    shown_version = version.clone();
                    inbox.post(UiEvent::Content(Box::new(content)));
                }
            }
        }
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// How many recent records 本站常办 is counted over: enough to be this
/// station's habit, few enough to follow a change of season.
const POPULAR_WINDOW: usize = 2000;

/// The service codes of this station's recent applications, most used first.
fn station_popular(store: &Store) -> bianmin_store::Result<Vec<String>> {
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for record in store.list(None, POPULAR_WINDOW)? {
        if record.kind != bianmin_platform::api::RecordKind::Application {
            continue;
        }
        if let Some(code) = record.service_code {
            *counts.entry(code).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(ranked.into_iter().map(|(code, _)| code).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_presence_sensor_reaches_the_ui() {
        let (events_tx, events) = tokio::sync::mpsc::channel(4);
        let (_status_tx, status) = tokio::sync::watch::channel(DevicesStatus::default());
        let (desk_tx, _desk_rx) = tokio::sync::mpsc::unbounded_channel();
        let inbox = Inbox::default();
        let task = tokio::spawn(forward_devices(
            events,
            status,
            inbox.clone(),
            Arc::new(Mutex::new(None)),
            DeskHandle::new(desk_tx),
            None,
        ));
        for present in [true, false] {
            events_tx
                .send(DeviceEvent::Gpio(GpioEvent::Presence {
                    present,
                    screen_was_asleep: true,
                }))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen.extend(inbox.drain().into_iter().filter_map(|e| match e {
                UiEvent::Presence(p) => Some(p),
                _ => None,
            }));
            if seen.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(seen, [true, false]);
        task.abort();
    }
}
