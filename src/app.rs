//! Wiring of the kiosk: configuration, window, controller, and (as they
//! land) devices, store and sync on tokio worker threads.

use bianmin_config::{Config, ConfigError};
use bianmin_ui::controller::KioskHooks;
use bianmin_ui::{headless, AppWindow, KioskController};
use slint::ComponentHandle;
use std::process::ExitCode;

/// Exit code when the kiosk cannot open a window at all.
const EXIT_NO_DISPLAY: u8 = 3;

/// `bianmin run`: the kiosk with the configured devices. A broken
/// configuration still lights the screen with the out-of-service page.
pub fn run_kiosk(config: Result<Config, ConfigError>) -> ExitCode {
    match config {
        Ok(config) => open_kiosk(config, false, None),
        Err(err) => {
            tracing::error!(%err, "configuration refused; showing the out-of-service screen");
            eprintln!("bianmin: configuration refused: {err}");
            open_kiosk(Config::default(), false, Some(err.to_string()))
        }
    }
}

/// `bianmin demo`: simulated devices, demo catalogue.
pub fn run_demo(config: Config, large: bool) -> ExitCode {
    let mut config = config;
    if large {
        config.ui.theme = bianmin_config::Theme::Large;
    }
    if std::env::var_os("BIANMIN_DATA_DIR").is_none() {
        config.store.data_dir = crate::services::demo_data_dir();
    }
    if config.assist.staff.is_empty() {
        add_demo_clerk(&mut config);
    }
    provision_demo_pin(&config.store.data_dir);
    open_kiosk(config, true, None)
}

/// There is no factory PIN (a kiosk without a provisioned one keeps admin
/// mode shut), so the demo provisions a fresh random one at each start and
/// prints it on the console for whoever runs it.
fn provision_demo_pin(data_dir: &std::path::Path) {
    match bianmin_admin::AdminGate::provision_random(data_dir) {
        Ok((_, pin)) => println!(
            "演示模式管理员 PIN（仅本次演示，长按站点名称 5 秒进入管理模式）：{} / demo admin PIN (this run only; hold the station name for 5 s): {}",
            pin.as_str(),
            pin.as_str()
        ),
        Err(err) => {
            tracing::warn!(%err, "demo admin PIN not provisioned; admin mode stays shut");
            eprintln!("bianmin: 演示管理员 PIN 未能设置，管理模式不可用 (demo admin PIN not provisioned): {err}");
        }
    }
}

/// The demo's clerk for 帮办: staff id and PIN in README, never on a real kiosk.
pub const DEMO_CLERK: (&str, &str) = ("1001", "246813");

fn add_demo_clerk(config: &mut Config) {
    match bianmin_admin::staff::hash(DEMO_CLERK.1) {
        Ok(hash) => config.assist.staff.push(bianmin_config::StaffMember {
            id: bianmin_config::StaffId(DEMO_CLERK.0.into()),
            pin_hash: bianmin_config::PinHash(hash),
        }),
        Err(err) => tracing::warn!(%err, "demo clerk not added"),
    }
}

fn open_kiosk(mut config: Config, demo: bool, fault: Option<String>) -> ExitCode {
    if let Some(reason) = missing_display() {
        eprintln!(
            "bianmin: no display ({reason}); to see the screens without one run `bianmin screens --out shots` and open the PNGs"
        );
        return ExitCode::from(EXIT_NO_DISPLAY);
    }
    let ui = match AppWindow::new() {
        Ok(ui) => ui,
        Err(err) => {
            eprintln!(
                "bianmin: cannot open a window ({err}); to see the screens without a display run `bianmin screens --out shots`"
            );
            return ExitCode::from(EXIT_NO_DISPLAY);
        }
    };
    let size = slint::PhysicalSize::new(config.ui.width.get(), config.ui.height.get());
    ui.window().set_size(size);
    let services = crate::services::start(&mut config, demo);
    let fault = fault.or_else(|| services.fault.clone());
    let speaker = bianmin_ui::voice::EspeakSpeaker::new(&config.voice, &std::env::temp_dir());
    let config_data_dir = config.store.data_dir.clone();
    let controller = KioskController::new(
        &ui,
        config.clone(),
        services
            .content
            .clone()
            .unwrap_or_else(bianmin_core::package::Package::empty),
    );
    controller.start_inbox(services.inbox.clone());
    match speaker {
        Ok(speaker) => controller.set_speaker(std::rc::Rc::new(speaker)),
        Err(reason) => tracing::warn!(%reason, "voice guidance stays silent"),
    }
    if let Some(detail) = fault {
        controller.out_of_service(&detail);
    } else if services.needs_enrollment {
        controller.await_enrollment();
    } else if let Some(detail) = &services.content_problem {
        controller.await_content(detail);
    }
    controller.start_ticking();
    // Technician admin mode over the window; the operations monitor keeps
    // the figures it shows and sends the heartbeat through the outbox.
    let monitor = start_monitor(&services, &config);
    let admin = bianmin_ui::admin::AdminController::new(
        &ui,
        config.clone(),
        admin_config_path(demo, &config_data_dir),
    );
    admin.set_monitor(monitor);
    controller.set_hooks(kiosk_hooks_with_admin(&services, Some(admin.clone())));
    admin.set_hooks(std::rc::Rc::new(bianmin_ui::admin::devices::DeviceHooks {
        devices: services.devices.clone(),
        printer: services.printer.clone(),
        identity: services.identity.clone(),
        runtime: services.runtime.handle().clone(),
        running: std::cell::RefCell::new(config.devices.clone()),
    }));
    let _operations = start_operations();
    // --- layout dump (tests/window): BIANMIN_LAYOUT_DUMP=<path>, else nothing ---
    let _layout_dump = bianmin_ui::layout_dump::start_from_env(&ui);
    // --- end layout dump ---
    tracing::info!(demo, "kiosk window open");
    let result = ui.run();
    drop(admin);
    drop(controller);
    drop(services);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bianmin: the window closed with an error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// systemd readiness and the watchdog, fed only while the UI event loop
/// beats. (Free disk space is watched by the operations monitor, off the UI
/// thread.) The returned timer must live as long as the window.
fn start_operations() -> Vec<slint::Timer> {
    let notifier = bianmin_ops::Notifier;
    let health = bianmin_ops::LoopHealth::new();
    let beat = health.clone();
    let beat_timer = slint::Timer::default();
    beat_timer.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_secs(1),
        move || beat.beat(),
    );
    if let Some(watchdog) = bianmin_ops::Watchdog::from_env() {
        if let Err(err) = watchdog.spawn(health.clone(), notifier) {
            tracing::error!(%err, "watchdog thread not started");
        }
    }
    slint::Timer::single_shot(std::time::Duration::ZERO, move || {
        let _ = notifier.ready();
        let _ = notifier.status("运行中");
    });
    vec![beat_timer]
}

/// The operations monitor on the services' runtime: device health, queue,
/// sync, disk, and the periodic heartbeat through the outbox.
pub fn start_monitor(
    services: &crate::services::Services,
    config: &Config,
) -> bianmin_ops::OpsMonitor {
    let mut sources = bianmin_ops::OpsSources::new(
        config.store.data_dir.clone(),
        config.station.terminal_id.as_str(),
        &config.station.code.0,
    );
    sources.store = services.store.clone();
    sources.sync = services.sync.as_ref().map(|s| s.status());
    sources.sync_waker = services.sync.as_ref().map(|s| s.waker());
    if let Some(sync) = &services.sync {
        sync.hand_over_heartbeats();
    }
    sources.devices = services.devices.as_ref().map(|d| d.status.clone());
    sources.printer = services.printer.clone();
    sources.heartbeat_secs = config.platform.heartbeat_secs.get();
    let monitor = bianmin_ops::OpsMonitor::new(sources);
    monitor.spawn(services.runtime.handle());
    monitor
}

/// The file admin mode saves to: the one `run` read (`--config FILE`, else
/// the system file); a demo keeps its edits in its own data directory so it
/// never rewrites a real terminal's configuration.
fn admin_config_path(demo: bool, data_dir: &std::path::Path) -> std::path::PathBuf {
    if demo {
        return data_dir.join("kiosk.toml");
    }
    let mut args = std::env::args_os();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            if let Some(path) = args.next() {
                return path.into();
            }
        } else if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            return path.into();
        }
    }
    bianmin_config::SYSTEM_CONFIG_PATH.into()
}

/// The hooks that connect a controller to running services.
pub fn kiosk_hooks(services: &crate::services::Services) -> std::rc::Rc<dyn KioskHooks> {
    kiosk_hooks_with_admin(services, None)
}

/// The hooks, with admin mode told of the presence sensor.
fn kiosk_hooks_with_admin(
    services: &crate::services::Services,
    admin: Option<bianmin_ui::admin::AdminController>,
) -> std::rc::Rc<dyn KioskHooks> {
    std::rc::Rc::new(KioskServices {
        admin,
        demo_devices: services.demo_devices.clone(),
        identity: services.identity.clone(),
        devices: services.devices.clone(),
        desk: services.desk.clone(),
        data_dir: services.data_dir.clone(),
        enroller: services.enroller.clone(),
        demo_codes: services.demo_codes.clone(),
        runtime: services.runtime.handle().clone(),
        demo_code_turn: std::cell::Cell::new(0),
    })
}

/// What the UI asks of the devices.
struct KioskServices {
    admin: Option<bianmin_ui::admin::AdminController>,
    demo_devices: Option<std::sync::Arc<bianmin_drivers::demo::DemoDevices>>,
    identity: std::sync::Arc<std::sync::Mutex<Option<Box<bianmin_core::form::Identity>>>>,
    devices: Option<std::sync::Arc<bianmin_drivers::manager::DeviceManager>>,
    desk: bianmin_desk::DeskHandle,
    /// The kiosk's data directory: where the updater's hold is granted.
    data_dir: std::path::PathBuf,
    enroller: Option<std::sync::Arc<crate::services::Enroller>>,
    /// Demo mode: the embedded platform's issuer of personal codes.
    demo_codes: Option<bianmin_platform_server::CodeIssuer>,
    runtime: tokio::runtime::Handle,
    /// Which fictional resident and scheme the next demo code is for.
    demo_code_turn: std::cell::Cell<usize>,
}

impl KioskHooks for KioskServices {
    fn hold_identity(&self, identity: Box<bianmin_core::form::Identity>) {
        if let Ok(mut slot) = self.identity.lock() {
            *slot = Some(identity);
        }
    }

    fn demo_scanner(&self) -> bool {
        self.demo_codes.is_some() && self.demo_devices.is_some()
    }

    /// The embedded platform issues a fresh code (as a resident's phone
    /// would show it) and the simulated scanner reads it a moment later.
    fn demo_scan_code(&self) -> bool {
        use bianmin_core::personal_code::Scheme;
        let (Some(issuer), Some(devices)) = (self.demo_codes.clone(), self.demo_devices.clone())
        else {
            return false;
        };
        let turn = self.demo_code_turn.get();
        self.demo_code_turn.set(turn + 1);
        let schemes = [Scheme::Ymtb, Scheme::Eid, Scheme::Essc];
        let request = bianmin_platform_server::identity::IssueCodeRequest {
            // The two adults; the child would need the guardian path.
            person: (turn % 2) as i64,
            scheme: schemes[turn % schemes.len()],
            ttl_secs: bianmin_platform_server::identity::DEFAULT_TTL_SECS,
        };
        self.runtime.spawn(async move {
            match issuer.issue(request).await {
                Ok(issued) => devices.scan(&issued.code),
                Err(err) => tracing::warn!(%err, "the demo platform issued no code"),
            }
        });
        true
    }

    fn presence(&self, present: bool) {
        if let Some(admin) = &self.admin {
            admin.presence(present);
        }
    }

    /// A short buzz tells the clerk across the room; a no-op without GPIO.
    fn call_staff(&self) {
        if let Some(devices) = self.devices.clone() {
            devices.set_buzzer(true);
            slint::Timer::single_shot(std::time::Duration::from_millis(800), move || {
                devices.set_buzzer(false);
            });
        }
    }

    /// In demo mode nobody can put a real card down: a demo card lands on
    /// the simulated reader shortly after the resident asks to identify.
    fn identify_requested(&self) {
        if let Some(devices) = self.demo_devices.clone() {
            slint::Timer::single_shot(std::time::Duration::from_millis(1500), move || {
                devices.place_card(0);
            });
        }
    }

    fn session_ended(&self) {
        if let Ok(mut slot) = self.identity.lock() {
            *slot = None;
        }
        if let Some(devices) = &self.demo_devices {
            devices.lift_card();
        }
    }

    fn identity(&self) -> Option<bianmin_core::form::Identity> {
        let slot = self.identity.lock().ok()?;
        slot.as_deref().cloned()
    }

    fn desk(&self, session: bianmin_desk::SessionId, request: bianmin_desk::DeskRequest) {
        self.desk.send_for(session, request);
    }

    /// Enrolled, or a technician's restart: what is on screen stays a
    /// few seconds (the technician reads the terminal id), then the
    /// process ends and systemd (`Restart=always`) starts it again — with
    /// `enrolled.toml` laid over the configuration after an enrollment.
    fn enroll_typed(&self, code: &str) {
        if let Some(enroller) = &self.enroller {
            enroller.enroll_text(code);
        }
    }

    fn grant_update_hold(&self) {
        let granted = self.data_dir.join(bianmin_ops::update::HOLD_GRANTED);
        match std::fs::write(&granted, format!("{}\n", std::process::id())) {
            Ok(()) => tracing::info!("the updater may replace the software now"),
            Err(err) => tracing::error!(%err, "could not tell the updater it may go ahead"),
        }
    }

    fn restart(&self) {
        slint::Timer::single_shot(std::time::Duration::from_secs(5), || {
            tracing::info!("restarting");
            let _ = bianmin_ops::Notifier.stopping();
            let _ = slint::quit_event_loop();
        });
    }
}

/// Why no window can be opened here, if that is known before trying.
fn missing_display() -> Option<&'static str> {
    let backend = std::env::var("SLINT_BACKEND").unwrap_or_default();
    if backend.contains("linuxkms") {
        return None;
    }
    let has = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if has("DISPLAY") || has("WAYLAND_DISPLAY") {
        None
    } else {
        Some("neither DISPLAY nor WAYLAND_DISPLAY is set and SLINT_BACKEND is not linuxkms")
    }
}

/// `bianmin demo --startup-probe`: build the kiosk, render the first attract
/// frame headless, and report how long that took and how much memory the
/// idle kiosk holds. The benchmark runs this in a fresh process each time.
pub fn startup_probe(config: Config) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let window = headless::HeadlessWindow::install()?;
    window.set_size(config.ui.width.get(), config.ui.height.get());
    let ui = AppWindow::new()?;
    let _controller = KioskController::new(&ui, config, bianmin_core::package::Package::demo());
    ui.show()?;
    let frame = window.render();
    let first_frame = started.elapsed();
    // Keep the frame alive so the idle memory includes one frame buffer.
    let pixels = frame.as_bytes().len();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    println!(
        "first_frame_us={} rss_kb={} hwm_kb={} frame_bytes={}",
        first_frame.as_micros(),
        field("VmRSS:"),
        field("VmHWM:"),
        pixels
    );
    Ok(ExitCode::SUCCESS)
}
