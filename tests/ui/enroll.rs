//! A kiosk from nothing: with an empty data directory and no secret it
//! shows "本终端尚未注册" and ignores what is not an enrollment code; the
//! technician scans the code from the county's console on the kiosk's own
//! (simulated, on a pty) scanner; it enrolls with the platform service on
//! PostgreSQL and says so. After its restart — the configuration loaded as
//! `bianmin run` loads it — it syncs an application signed with its own
//! key.

use crate::support::*;
use bianmin::services;
use bianmin_config::Config;
use bianmin_drivers::scanner::sim::ScannerSim;
use bianmin_drivers::scanner::Suffix;
use bianmin_platform::api::RecordKind;
use bianmin_platform_server::ServerOptions;
use bianmin_ui::{AppWindow, Kiosk, KioskController, Screen};
use slint::ComponentHandle;
use std::time::{Duration, Instant};

fn fault_title(ui: &AppWindow) -> String {
    ui.global::<Kiosk>().get_fault_title().to_string()
}

/// Pass the services' events to the controller until `done` holds.
fn pump_until(
    services: &services::Services,
    controller: &KioskController,
    what: &str,
    done: impl Fn() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        for event in services.inbox.drain() {
            controller.handle(event);
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The platform service with the station 城关镇便民服务站 and one of its
/// enrollment codes.
fn platform_with_a_code(
    rt: &tokio::runtime::Runtime,
) -> (bianmin_platform_service::Service, String) {
    let svc = rt.block_on(bianmin_testkit::postgres_service(ServerOptions::default()));
    let code = rt.block_on(async {
        let db = svc.backend.pool().get().await.unwrap();
        db.execute(
            "INSERT INTO stations (code, name, address, created_at, created_by)
             VALUES ('110101001001', '城关镇便民服务站', '', 0, 'technician')",
            &[],
        )
        .await
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        bianmin_platform_service::enroll::make_codes(
            &svc.backend,
            "110101001001",
            1,
            "technician",
            now,
        )
        .await
        .unwrap()
        .remove(0)
    });
    (svc, code)
}

#[test]
fn a_blank_kiosk_enrolls_from_its_scanner_and_after_restarting_signs_with_its_own_key() {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (svc, code) = platform_with_a_code(&rt);
    let scanner = ScannerSim::new(Suffix::Cr).start(None).unwrap();

    // The kiosk's file as a technician installs it: devices, no identity.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let kiosk_toml = dir.path().join("kiosk.toml");
    std::fs::write(
        &kiosk_toml,
        format!(
            "[station]\nmode = \"test\"\n\n[store]\ndata_dir = {data:?}\n\n\
             [devices.id_card]\nenabled = false\n\n[devices.printer]\nenabled = false\n\n\
             [devices.scanner]\nport = {port:?}\nbaud = 9600\nsuffix = \"cr\"\n",
            data = data_dir.display().to_string(),
            port = scanner.path().display().to_string(),
        ),
    )
    .unwrap();
    let mut config = Config::load(Some(&kiosk_toml)).unwrap();
    let services = services::start(&mut config, false);
    assert!(services.needs_enrollment);
    let ui = AppWindow::new().unwrap();
    let controller =
        KioskController::new(&ui, config.clone(), bianmin_core::package::Package::empty());
    controller.set_hooks(bianmin::app::kiosk_hooks(&services));
    ui.show().unwrap();
    controller.await_enrollment();
    assert_eq!(screen(&ui), Screen::OutOfService);
    assert_eq!(fault_title(&ui), "本终端尚未注册：请运维人员扫描注册码");

    // The scanner's port is open before anything is scanned (a code sent
    // to a pty nobody reads yet is lost, as on a real serial line).
    let status = services.devices.as_ref().expect("devices").status.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while status.borrow().scanner != bianmin_drivers::manager::DeviceStatus::Ok {
        assert!(Instant::now() < deadline, "the scanner never came up");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A receipt's code is not an enrollment code: said, nothing else.
    scanner.device().scan("BM1-T0001-20261204-0001-7");
    pump_until(&services, &controller, "the refusal", || {
        fault_title(&ui).contains("这不是注册码")
    });
    assert_eq!(screen(&ui), Screen::OutOfService);

    // The console's QR code: enrolled, and the page says as whom.
    scanner
        .device()
        .scan(&format!("BMENROLL1:{code}:{}", svc.handle.base_url()));
    pump_until(&services, &controller, "the enrollment", || {
        fault_title(&ui).starts_with("注册成功")
    });
    assert_eq!(
        fault_title(&ui),
        "注册成功：城关镇便民服务站，终端 T11010100100101。正在重新启动……"
    );
    drop(controller);
    drop(services);

    // The restart: `run` loads the same file, enrolled.toml laid over it.
    let mut config = Config::load(Some(&kiosk_toml)).unwrap();
    assert_eq!(config.station.terminal_id.as_str(), "T11010100100101");
    assert!(config.platform.secret.is_none(), "no secret: its own key");
    let services = services::start(&mut config, false);
    assert!(!services.needs_enrollment);
    let store = services.store.clone().unwrap();
    let receipt = store
        .enqueue_application(bianmin_testkit::app(1))
        .unwrap()
        .receipt_no;
    let deadline = Instant::now() + Duration::from_secs(30);
    while svc
        .handle
        .record_of(RecordKind::Application, "T11010100100101", &receipt)
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the application did not reach the platform"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(services);
}

#[test]
fn a_technician_types_the_enrollment_code_when_the_scanner_cannot_read_it() {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (svc, code) = platform_with_a_code(&rt);
    // No scanner at all; the county's image names the platform.
    let dir = tempfile::tempdir().unwrap();
    let kiosk_toml = dir.path().join("kiosk.toml");
    std::fs::write(
        &kiosk_toml,
        format!(
            "[station]\nmode = \"test\"\n\n[store]\ndata_dir = {data:?}\n\n\
             [platform]\nurl = {url:?}\n\n\
             [devices.id_card]\nenabled = false\n\n[devices.printer]\nenabled = false\n\n\
             [devices.scanner]\nenabled = false\n",
            data = dir.path().join("data").display().to_string(),
            url = svc.handle.base_url(),
        ),
    )
    .unwrap();
    let mut config = Config::load(Some(&kiosk_toml)).unwrap();
    let services = services::start(&mut config, false);
    assert!(services.needs_enrollment);
    let ui = AppWindow::new().unwrap();
    let controller =
        KioskController::new(&ui, config.clone(), bianmin_core::package::Package::empty());
    controller.set_hooks(bianmin::app::kiosk_hooks(&services));
    ui.show().unwrap();
    controller.await_enrollment();
    let kiosk = ui.global::<Kiosk>();

    pressed(bianmin_ui::press::press(&ui, "输入注册码"));
    assert!(kiosk.get_enrollment_typing());
    // Letters the console never prints are not on the keypad.
    for absent in ["0", "1", "I", "L", "O"] {
        assert!(
            bianmin_ui::press::press(&ui, absent).is_err(),
            "{absent} is on the keypad"
        );
    }
    // Too short: said on the keypad, nothing sent.
    for key in code.chars().take(5) {
        pressed(bianmin_ui::press::press(&ui, &key.to_string()));
    }
    pressed(bianmin_ui::press::press(&ui, "确定注册"));
    assert_eq!(
        kiosk.get_enrollment_message(),
        "注册码共 12 位，已输入 5 位"
    );
    // 删除 takes back the last one; then the whole code.
    pressed(bianmin_ui::press::press(&ui, "删除"));
    for key in code.chars().skip(4) {
        pressed(bianmin_ui::press::press(&ui, &key.to_string()));
    }
    assert_eq!(
        kiosk.get_enrollment_typed(),
        format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..])
    );
    pressed(bianmin_ui::press::press(&ui, "确定注册"));
    assert!(!kiosk.get_enrollment_typing());
    pump_until(&services, &controller, "the enrollment", || {
        fault_title(&ui).starts_with("注册成功")
    });
    let mut config = Config::load(Some(&kiosk_toml)).unwrap();
    assert_eq!(config.station.terminal_id.as_str(), "T11010100100101");
    drop(controller);
    drop(services);
    let services = services::start(&mut config, false);
    assert!(
        !services.needs_enrollment,
        "after the restart it has its identity"
    );
}

struct RestartRecorder(std::rc::Rc<std::cell::Cell<u32>>);

impl bianmin_ui::controller::KioskHooks for RestartRecorder {
    fn restart(&self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn a_technicians_restart_waits_until_the_resident_in_session_is_done() {
    let (ui, controller) = kiosk();
    let restarts = std::rc::Rc::new(std::cell::Cell::new(0));
    controller.set_hooks(std::rc::Rc::new(RestartRecorder(restarts.clone())));
    controller.set_resident("张*");
    controller.open_catalogue();
    controller.handle(bianmin_ui::events::UiEvent::RestartRequested);
    assert_eq!(restarts.get(), 0, "not while a resident is served");
    assert_eq!(screen(&ui), Screen::Catalogue);
    controller.end_session(bianmin_core::session::EndReason::Finished);
    assert_eq!(restarts.get(), 1, "as soon as the session ended");
    // With nobody served, at once.
    controller.handle(bianmin_ui::events::UiEvent::RestartRequested);
    assert_eq!(restarts.get(), 2);
}

/// Counts the updater's holds the kiosk granted.
struct HoldRecorder(std::rc::Rc<std::cell::Cell<u32>>);

impl bianmin_ui::controller::KioskHooks for HoldRecorder {
    fn grant_update_hold(&self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn the_updater_gets_its_moment_only_between_residents() {
    use bianmin_ui::events::UiEvent;
    let (ui, controller) = kiosk();
    let granted = std::rc::Rc::new(std::cell::Cell::new(0));
    controller.set_hooks(std::rc::Rc::new(HoldRecorder(granted.clone())));
    controller.set_resident("张*");
    controller.open_catalogue();
    controller.handle(UiEvent::UpdateHold(true));
    assert_eq!(granted.get(), 0, "not while a resident is served");
    assert_eq!(screen(&ui), Screen::Catalogue);
    controller.end_session(bianmin_core::session::EndReason::Finished);
    assert_eq!(granted.get(), 1, "as soon as the session ended");
    assert_eq!(screen(&ui), Screen::OutOfService);
    assert_eq!(fault_title(&ui), "本终端正在更新软件，请稍候几分钟");
    assert!(
        !controller.serving(),
        "no session starts while the software is replaced"
    );
    // The updater called it off (or the new version did not start): the
    // kiosk serves again.
    controller.handle(UiEvent::UpdateHold(false));
    assert!(controller.serving());
    assert_eq!(screen(&ui), Screen::Attract);
}
