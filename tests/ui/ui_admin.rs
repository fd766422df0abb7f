//! Technician admin mode through Slint's testing backend, on the real kiosk
//! window: the hidden 5-second hold on the station name, the PIN pad (with
//! the real Argon2id gate on its worker thread), a device setting changed,
//! saved and found both live and on disk, a bad value refused with its
//! reason, the lock-out after five wrong PINs (persisted), the admin
//! session's time-out, the dimming of an idle attract screen and its waking
//! by the presence sensor. A saved printer port is proven live with the real
//! device hooks: the test page comes out of the simulated printer on the new
//! pseudo-terminal.

use super::support::{buttons, seconds, tap, type_keys, wait_until};
use bianmin_admin::pin::{AdminGate, NOT_PROVISIONED};
use bianmin_admin::{AuditLog, Change};
use bianmin_config::{Config, REFERENCE_CONFIG};
use bianmin_core::words::Words;
use bianmin_drivers::manager::{Backoff, DeviceManager, ManagerConfig};
use bianmin_drivers::printer::sim::VirtualPrinter;
use bianmin_drivers::printer::{Paper, TextEncoding};
use bianmin_ui::admin::devices::DeviceHooks;
use bianmin_ui::admin::{AdminController, AdminHooks, DeviceTest, TestReply};
use bianmin_ui::events::UiEvent;
use bianmin_ui::{Admin, AdminPage, AppWindow, Kiosk, KioskController};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::platform::{PointerEventButton, WindowEvent};
use slint::{ComponentHandle, LogicalPosition, Model};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const PIN: &str = "258036";

#[derive(Default)]
struct Recorder {
    applied: RefCell<Vec<(Config, Vec<Change>)>>,
    tests: RefCell<Vec<DeviceTest>>,
    restarts: RefCell<u32>,
}

struct Hooks(Rc<Recorder>);

impl AdminHooks for Hooks {
    fn apply(&self, config: &Config, changes: &[Change]) {
        self.0
            .applied
            .borrow_mut()
            .push((config.clone(), changes.to_vec()));
    }
    fn test(&self, test: DeviceTest, config: &Config, reply: TestReply) {
        self.0.tests.borrow_mut().push(test);
        // Answer from another thread, as the real device tests do.
        let port = config.devices.printer.port.clone();
        std::thread::spawn(move || {
            reply.send(Ok(Words::new(
                format!("测试页已打印（{port}）"),
                format!("Test page printed ({port})"),
            )))
        });
    }
    fn restart(&self) {
        *self.0.restarts.borrow_mut() += 1;
    }
}

struct Kit {
    ui: AppWindow,
    _kiosk: KioskController,
    admin: AdminController,
    recorder: Rc<Recorder>,
    config_path: PathBuf,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

/// A kiosk whose configuration file has the printer on /dev/ttyUSB0 and
/// whose admin PIN the technician provisioned (unless `fresh`: a fresh
/// install has none).
fn kit(fresh: bool) -> Kit {
    kit_with_printer(fresh, "/dev/ttyUSB0")
}

fn kit_with_printer(fresh: bool, printer_port: &str) -> Kit {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config_path = dir.path().join("kiosk.toml");
    let text = REFERENCE_CONFIG.replace(
        "port = \"/dev/bianmin-printer\"",
        &format!("port = \"{printer_port}\""),
    );
    std::fs::write(&config_path, &text).unwrap();
    let mut config = Config::from_file(&config_path).unwrap();
    assert_eq!(config.devices.printer.port, printer_port);
    config.store.data_dir = data_dir.clone();
    if !fresh {
        AdminGate::provision(&data_dir, PIN).unwrap();
    }

    let ui = AppWindow::new().unwrap();
    let kiosk = KioskController::new(&ui, config.clone(), bianmin_core::package::Package::demo());
    let admin = AdminController::new(&ui, config, config_path.clone());
    let recorder = Rc::new(Recorder::default());
    admin.set_hooks(Rc::new(Hooks(recorder.clone())));
    ui.show().unwrap();
    Kit {
        ui,
        _kiosk: kiosk,
        admin,
        recorder,
        config_path,
        data_dir,
        _dir: dir,
    }
}

fn admin(ui: &AppWindow) -> Admin<'_> {
    ui.global::<Admin>()
}

fn type_pin(ui: &AppWindow, pin: &str) {
    for d in pin.chars() {
        tap(ui, &d.to_string());
    }
    tap(ui, "确定");
}

/// Press on the station name, keep the finger there for `hold`, lift it.
fn hold_station_name(ui: &AppWindow, hold: Duration) {
    let name = ui.global::<Kiosk>().get_station_name();
    let text = ElementHandle::find_by_accessible_label(ui, &name)
        .next()
        .expect("station name on the attract screen");
    let (p, s) = (text.absolute_position(), text.size());
    let position = LogicalPosition::new(p.x + s.width / 2.0, p.y + s.height / 2.0);
    ui.window().dispatch_event(WindowEvent::PointerPressed {
        position,
        button: PointerEventButton::Left,
    });
    i_slint_backend_testing::mock_elapsed_time(hold);
    ui.window().dispatch_event(WindowEvent::PointerReleased {
        position,
        button: PointerEventButton::Left,
    });
}

fn enter(kit: &Kit) {
    hold_station_name(&kit.ui, Duration::from_millis(5100));
    assert!(admin(&kit.ui).get_active());
    type_pin(&kit.ui, PIN);
    wait_until("settings page", || {
        admin(&kit.ui).get_page() == AdminPage::Settings
    });
}

#[test]
fn pin_entry_then_printer_port_saved_live_and_on_disk() {
    let kit = kit(false);
    let ui = &kit.ui;

    // A short press does nothing; residents never stumble into admin mode.
    hold_station_name(ui, Duration::from_secs(2));
    seconds(5);
    assert!(!admin(ui).get_active());

    enter(&kit);
    tap(ui, "打印机串口");
    assert_eq!(admin(ui).get_selected_value(), "/dev/ttyUSB0");
    tap(ui, "/dev/bianmin-printer");
    assert!(admin(ui).get_dirty());
    // Not saved yet: neither live nor on disk.
    assert_eq!(kit.admin.live_config().devices.printer.port, "/dev/ttyUSB0");

    // The test print uses the edited value and shows its result.
    tap(ui, "打印测试页");
    wait_until("test result", || {
        admin(ui).get_message().contains("测试页已打印")
    });
    assert!(admin(ui).get_message().contains("/dev/bianmin-printer"));
    assert_eq!(*kit.recorder.tests.borrow(), [DeviceTest::Print]);

    tap(ui, "保存");
    wait_until("saved", || admin(ui).get_message().starts_with("已保存"));
    assert!(!admin(ui).get_message_error());

    // Live: admin mode's running configuration and what the kiosk was told.
    assert_eq!(
        kit.admin.live_config().devices.printer.port,
        "/dev/bianmin-printer"
    );
    let applied = kit.recorder.applied.borrow();
    let (config, changes) = applied.last().expect("applied");
    assert_eq!(config.devices.printer.port, "/dev/bianmin-printer");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "devices.printer.port");
    // A device setting needs no restart: the device manager moves the
    // printer (proven on real pseudo-terminals below).
    assert!(kit.admin.restart_pending().is_empty());
    assert_eq!(admin(ui).get_message(), "已保存 1 项设置，已生效");

    // On disk, the previous version kept, the comments untouched.
    let on_disk = Config::from_file(&kit.config_path).unwrap();
    assert_eq!(on_disk.devices.printer.port, "/dev/bianmin-printer");
    let text = std::fs::read_to_string(&kit.config_path).unwrap();
    assert!(text.contains("# Paper width"), "comments kept");
    let prev = Config::from_file(&kit.config_path.with_extension("toml.prev")).unwrap();
    assert_eq!(prev.devices.printer.port, "/dev/ttyUSB0");

    // Audited: entry, the test and the change with old and new value.
    wait_until("audit", || {
        AuditLog::open(&kit.data_dir)
            .read_current()
            .unwrap()
            .iter()
            .any(|e| e.action == "config-change")
    });
    let log = AuditLog::open(&kit.data_dir).read_current().unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["enter", "test-print", "config-change"]);
    let change = &log[2];
    assert_eq!(change.key.as_deref(), Some("devices.printer.port"));
    assert_eq!(change.old.as_deref(), Some("\"/dev/ttyUSB0\""));
    assert_eq!(change.new.as_deref(), Some("\"/dev/bianmin-printer\""));
}

/// The printer port changed in admin mode is live: with the real device
/// hooks and device manager, the test page printed after saving comes out
/// of the printer on the new pseudo-terminal, not the old one.
#[test]
fn a_saved_printer_port_is_live_the_test_page_prints_on_the_new_printer() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let old = VirtualPrinter::new(Paper::Mm80, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    let new = VirtualPrinter::new(Paper::Mm80, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    // The ptys' own /dev/pts/N names: a saved port must lie under /dev/.
    let dev_path = |link: &std::path::Path| {
        std::fs::read_link(link)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let (old_path, new_path) = (dev_path(old.path()), dev_path(new.path()));
    let kit = kit_with_printer(false, &old_path);
    let ui = &kit.ui;
    let manager = {
        let _guard = runtime.enter();
        let config = bianmin_ops::devices::manager_config(&kit.admin.live_config());
        Arc::new(DeviceManager::start(ManagerConfig {
            printer: config.printer,
            backoff: Backoff {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(100),
            },
            ..ManagerConfig::default()
        }))
    };
    kit.admin.set_hooks(Rc::new(DeviceHooks {
        printer: Some(manager.printer.clone()),
        devices: Some(manager.clone()),
        identity: Default::default(),
        runtime: runtime.handle().clone(),
        running: RefCell::new(kit.admin.live_config().devices),
    }));
    let printer_ok = || manager.status.borrow().printer.is_ok();
    wait_until("printer ok on the old port", printer_ok);

    enter(&kit);
    tap(ui, "打印机串口");
    assert_eq!(admin(ui).get_selected_value(), old_path.as_str());
    // A pseudo-terminal is not in the serial-port listing, so the value is
    // chosen through the callback the listed port buttons call.
    admin(ui).invoke_choose(new_path.as_str().into());
    assert!(admin(ui).get_dirty());
    tap(ui, "保存");
    wait_until("saved", || admin(ui).get_message().starts_with("已保存"));
    assert_eq!(admin(ui).get_message(), "已保存 1 项设置，已生效");
    assert!(kit.admin.restart_pending().is_empty());

    // On disk and live in the device manager.
    let on_disk = Config::from_file(&kit.config_path).unwrap();
    assert_eq!(on_disk.devices.printer.port, new_path);
    assert_eq!(manager.printer_settings().unwrap().port, new_path);
    wait_until("printer ok on the new port", printer_ok);

    tap(ui, "打印测试页");
    wait_until("test result", || admin(ui).get_message().contains("测试页"));
    assert_eq!(admin(ui).get_message(), "测试页已打印");
    assert!(!admin(ui).get_message_error());
    assert_eq!(new.device().receipts.len(), 1, "printed on the new port");
    assert!(old.device().receipts.is_empty(), "nothing on the old port");
    drop(kit);
    drop(manager);
    runtime.shutdown_background();
}

#[test]
fn an_invalid_value_is_refused_with_its_reason_before_saving() {
    let kit = kit(false);
    let ui = &kit.ui;
    enter(&kit);
    let before = std::fs::read_to_string(&kit.config_path).unwrap();
    tap(ui, "站点与平台");
    tap(ui, "站点区划代码");
    assert!(admin(ui).get_text_entry());
    tap(ui, "删除");
    assert_eq!(admin(ui).get_selected_value(), "11010100100");
    tap(ui, "保存");
    wait_until("refusal", || admin(ui).get_message_error());
    let message = admin(ui).get_message().to_string();
    assert!(message.contains("站点区划代码"), "{message}");
    assert!(message.contains("12 digits"), "{message}");
    assert_eq!(std::fs::read_to_string(&kit.config_path).unwrap(), before);
    // Typing the digit back makes it valid again.
    tap(ui, "1");
    assert!(!admin(ui).get_dirty(), "back to the saved value");
}

#[test]
fn five_wrong_pins_lock_admin_entry_even_after_a_restart() {
    let kit = kit(false);
    let ui = &kit.ui;
    hold_station_name(ui, Duration::from_millis(5100));
    for attempt in 1..=5u32 {
        type_pin(ui, "999999");
        wait_until("answer", || {
            !admin(ui).get_busy() && admin(ui).get_pin_message() != ""
        });
        let message = admin(ui).get_pin_message().to_string();
        if attempt < 5 {
            assert_eq!(message, format!("PIN 错误，还可尝试 {} 次", 5 - attempt));
            assert!(!admin(ui).get_locked());
        } else {
            assert_eq!(message, "已锁定，请 15 分钟后再试");
            assert!(admin(ui).get_locked());
        }
        if attempt < 5 {
            // Clear the message so the next answer is seen.
            admin(ui).set_pin_message("".into());
        }
    }
    // The keys are dead while locked; the right PIN cannot even be typed.
    let one = buttons(ui, "1");
    assert!(!one.is_empty() && one.iter().all(|b| b.accessible_enabled() == Some(false)));
    tap(ui, "取消");
    assert!(!admin(ui).get_active());

    // A restarted kiosk (a new controller on the same data) is still locked,
    // and says so as soon as the pad opens.
    let config_path = kit.config_path.clone();
    let data_dir = kit.data_dir.clone();
    let mut config = Config::from_file(&config_path).unwrap();
    config.store.data_dir = data_dir.clone();
    let ui2 = AppWindow::new().unwrap();
    let _kiosk2 =
        KioskController::new(&ui2, config.clone(), bianmin_core::package::Package::demo());
    let admin2 = AdminController::new(&ui2, config, config_path);
    ui2.show().unwrap();
    admin2.open_pad();
    wait_until("lock shown", || admin(&ui2).get_locked());
    assert!(admin(&ui2).get_pin_message().contains("分钟后再试"));

    let log = AuditLog::open(&data_dir).read_current().unwrap();
    let wrong = log.iter().filter(|e| e.action == "pin-wrong").count();
    let locked = log.iter().filter(|e| e.action == "pin-locked").count();
    assert_eq!((wrong, locked), (4, 1));
    assert!(log.iter().all(|e| e.actor == "unknown"));
    assert!(!log.iter().any(|e| e.action == "enter"));
}

#[test]
fn a_fresh_install_keeps_admin_mode_shut_until_a_pin_is_provisioned() {
    let kit = kit(true);
    let ui = &kit.ui;
    hold_station_name(ui, Duration::from_millis(5100));
    // The pad says why, and no PIN opens it — the old factory PIN least.
    wait_until("not provisioned", || {
        admin(ui).get_pin_message() == NOT_PROVISIONED.zh()
    });
    assert!(admin(ui).get_locked());
    for pin in ["123456", PIN] {
        type_pin(ui, pin);
        assert_ne!(admin(ui).get_page(), AdminPage::Settings);
    }
    assert!(AdminGate::open(&kit.data_dir)
        .unwrap()
        .try_enter(PIN, SystemTime::now())
        .is_err());
}

#[test]
fn admin_mode_times_out_to_the_attract_screen_and_screens_are_big_enough() {
    let kit = kit(false);
    let ui = &kit.ui;
    // The kiosk is in large mode when the technician arrives: admin mode
    // shows in standard sizes, and large mode is back afterwards.
    ui.global::<bianmin_ui::Theme>().set_large(true);
    enter(&kit);
    assert!(!ui.global::<bianmin_ui::Theme>().get_large());

    // Every admin control is a finger-sized target, on both pages.
    check_targets(ui);
    tap(ui, "运行状态");
    assert_eq!(admin(ui).get_page(), AdminPage::Operations);
    assert!(admin(ui)
        .get_figures()
        .iter()
        .any(|f| f.label == "软件版本"));
    check_targets(ui);

    // A tap keeps the session alive; five idle minutes end it.
    seconds(240);
    tap(ui, "设备设置");
    seconds(240);
    assert!(admin(ui).get_active());
    seconds(61);
    assert!(!admin(ui).get_active());
    assert!(ui.global::<bianmin_ui::Theme>().get_large());
    assert_eq!(
        ui.global::<Kiosk>().get_screen(),
        bianmin_ui::Screen::Attract
    );
    wait_until("audit", || {
        AuditLog::open(&kit.data_dir)
            .read_current()
            .unwrap()
            .iter()
            .any(|e| e.action == "leave-timeout")
    });
}

#[test]
fn an_idle_attract_screen_dims_and_the_waking_touch_presses_nothing() {
    let kit = kit(false);
    let ui = &kit.ui;
    seconds(299);
    assert!(!admin(ui).get_dimmed());
    seconds(2);
    assert!(admin(ui).get_dimmed());

    // Tap where "找服务" is: the scrim takes it, the screen wakes, and the
    // resident stays on the attract screen.
    let button = buttons(ui, "找服务").remove(0);
    let (p, s) = (button.absolute_position(), button.size());
    let position = LogicalPosition::new(p.x + s.width / 2.0, p.y + s.height / 2.0);
    for event in [
        WindowEvent::PointerPressed {
            position,
            button: PointerEventButton::Left,
        },
        WindowEvent::PointerReleased {
            position,
            button: PointerEventButton::Left,
        },
    ] {
        ui.window().dispatch_event(event);
    }
    i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(50));
    assert!(!admin(ui).get_dimmed());
    assert_eq!(
        ui.global::<Kiosk>().get_screen(),
        bianmin_ui::Screen::Attract
    );

    // The next tap is a real one.
    for event in [
        WindowEvent::PointerPressed {
            position,
            button: PointerEventButton::Left,
        },
        WindowEvent::PointerReleased {
            position,
            button: PointerEventButton::Left,
        },
    ] {
        ui.window().dispatch_event(event);
    }
    assert_eq!(
        ui.global::<Kiosk>().get_screen(),
        bianmin_ui::Screen::Catalogue
    );
    // Away from the attract screen nothing dims.
    seconds(400);
    assert!(!admin(ui).get_dimmed());
}

/// What `bianmin run` gives the kiosk controller: the presence sensor's
/// event goes on to admin mode.
struct PresenceToAdmin(AdminController);

impl bianmin_ui::controller::KioskHooks for PresenceToAdmin {
    fn presence(&self, present: bool) {
        self.0.presence(present);
    }
}

#[test]
fn the_presence_sensor_wakes_the_dimmed_screen() {
    let kit = kit(false);
    let ui = &kit.ui;
    kit._kiosk
        .set_hooks(Rc::new(PresenceToAdmin(kit.admin.clone())));
    seconds(301);
    assert!(admin(ui).get_dimmed());
    // Someone leaving does not light the screen up.
    kit._kiosk.handle(UiEvent::Presence(false));
    assert!(admin(ui).get_dimmed());
    kit._kiosk.handle(UiEvent::Presence(true));
    assert!(!admin(ui).get_dimmed());
    assert_eq!(
        ui.global::<Kiosk>().get_screen(),
        bianmin_ui::Screen::Attract
    );
    // Someone standing there keeps it lit: the dimming count starts again.
    seconds(200);
    kit._kiosk.handle(UiEvent::Presence(true));
    seconds(200);
    assert!(!admin(ui).get_dimmed());
    seconds(101);
    assert!(admin(ui).get_dimmed());
}

fn check_targets(ui: &AppWindow) {
    let overlay = ElementHandle::find_by_element_type_name(ui, "AdminOverlay")
        .next()
        .expect("admin overlay");
    let mut n = 0;
    for e in overlay.query_descendants().find_all() {
        if e.accessible_role() != Some(AccessibleRole::Button) {
            continue;
        }
        let size = e.size();
        let label = e.accessible_label().unwrap_or_default();
        assert!(
            size.width >= 44.0 && size.height >= 44.0,
            "{label}: {}×{}",
            size.width,
            size.height
        );
        n += 1;
    }
    assert!(n >= 5, "only {n} buttons");
}

#[test]
fn operations_screen_shows_the_queue_exports_it_and_the_logs_and_restarts() {
    let kit = kit(false);
    let ui = &kit.ui;
    let store = bianmin_store::Store::open_at(&kit.data_dir, "T0001").unwrap();
    store
        .enqueue_heartbeat(bianmin_store::NewHeartbeat::default())
        .unwrap();
    let mut sources = bianmin_ops::OpsSources::new(kit.data_dir.clone(), "T0001", "110101001001");
    sources.store = Some(store.clone());
    let monitor = bianmin_ops::OpsMonitor::new(sources);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(monitor.refresh());
    kit.admin.set_monitor(monitor);

    enter(&kit);
    tap(ui, "运行状态");
    let figure = |label: &str| {
        admin(ui)
            .get_figures()
            .iter()
            .find(|f| f.label == label)
            .map(|f| f.value.to_string())
            .unwrap_or_else(|| panic!("no figure {label}"))
    };
    assert!(
        figure("待上报").starts_with("1 条（申请 0，心跳 1）"),
        "{}",
        figure("待上报")
    );
    assert!(
        figure("存储空间").starts_with("剩余 "),
        "{}",
        figure("存储空间")
    );

    // Export into the data directory (the last place offered after any sticks).
    let exports = kit.data_dir.join("exports");
    wait_until("mounts listed", || admin(ui).get_export_target() != "");
    for _ in 0..10 {
        if admin(ui).get_export_target() == exports.display().to_string() {
            break;
        }
        tap(ui, "换一个位置");
    }
    assert_eq!(admin(ui).get_export_target(), exports.display().to_string());
    tap(ui, "导出待上报数据");
    wait_until("queue export", || {
        !admin(ui).get_message().starts_with("正在导出")
    });
    let message = admin(ui).get_message().to_string();
    assert!(message.starts_with("已导出 1 条待上报记录"), "{message}");
    let file = std::fs::read_dir(&exports)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "bmx"))
        .expect("export file");
    assert_eq!(
        store.read_export(&file).unwrap().as_array().unwrap().len(),
        1
    );

    tap(ui, "导出日志");
    wait_until("log export", || {
        !admin(ui).get_message().starts_with("正在导出")
    });
    let message = admin(ui).get_message().to_string();
    assert!(
        message.starts_with("日志已导出（个人信息已遮蔽）"),
        "{message}"
    );
    let log = std::fs::read_dir(&exports)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "txt"))
        .expect("log file");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(text.contains("待上报: 1 条"), "{text}");
    assert!(text.contains("\"action\":\"enter\""), "audit log included");

    // No sync engine in this kit: said so, not pretended.
    tap(ui, "立即同步");
    assert!(admin(ui).get_message_error());

    tap(ui, "重启终端");
    wait_until("restart", || *kit.recorder.restarts.borrow() == 1);
    let actions: Vec<String> = AuditLog::open(&kit.data_dir)
        .read_current()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "enter",
            "export-queue",
            "export-logs",
            "force-sync",
            "restart"
        ]
    );
}

/// Pick `wanted` among the pinyin candidates, turning 下一组 until it shows.
fn pick_candidate(ui: &AppWindow, wanted: &str) {
    for _ in 0..20 {
        if admin(ui).get_candidates().iter().any(|c| c == wanted) {
            tap(ui, wanted);
            return;
        }
        assert!(
            admin(ui).get_candidates_next(),
            "{wanted} not among the candidates for {}",
            admin(ui).get_composing()
        );
        tap(ui, "下一组");
    }
    panic!("{wanted} not found within 20 groups");
}

#[test]
fn the_station_name_is_typed_in_chinese_through_pinyin_and_saved() {
    let kit = kit(false);
    let ui = &kit.ui;
    enter(&kit);
    tap(ui, "站点与平台");
    tap(ui, "站点名称");
    assert!(admin(ui).get_takes_chinese());
    assert!(admin(ui).get_pinyin(), "a name starts in pinyin");
    while !admin(ui).get_selected_value().is_empty() {
        tap(ui, "删除");
    }

    // 删除 takes back a letter being composed before it takes a character.
    type_keys(ui, "x");
    assert_eq!(admin(ui).get_composing(), "x");
    tap(ui, "删除");
    assert_eq!(admin(ui).get_composing(), "");
    assert_eq!(admin(ui).get_selected_value(), "");

    type_keys(ui, "cheng");
    assert_eq!(admin(ui).get_composing(), "cheng");
    pick_candidate(ui, "城");
    assert_eq!(admin(ui).get_selected_value(), "城");
    type_keys(ui, "guan");
    pick_candidate(ui, "关");
    // Letters that spell nothing say so and type nothing.
    type_keys(ui, "vv");
    assert_eq!(admin(ui).get_candidates().row_count(), 0);
    tap(ui, "删除");
    tap(ui, "删除");
    type_keys(ui, "zhen");
    pick_candidate(ui, "镇");
    // Latin letters for the rest: the 字母 key switches the keys, and 拼音
    // switches back.
    tap(ui, "字母");
    assert!(!admin(ui).get_pinyin());
    tap(ui, "拼音");
    assert!(admin(ui).get_pinyin());
    tap(ui, "字母");
    type_keys(ui, "A");
    assert_eq!(admin(ui).get_selected_value(), "城关镇A");
    tap(ui, "保存");
    wait_until("saved", || !admin(ui).get_dirty());
    assert!(
        !admin(ui).get_message_error(),
        "{}",
        admin(ui).get_message()
    );
    let saved = Config::from_file(&kit.config_path).unwrap();
    assert_eq!(saved.station.name, "城关镇A");
}
