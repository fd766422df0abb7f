//! Technician admin mode behind the `Admin` global: the hidden entry (hold
//! the station name for 5 s), the PIN pad, device settings with tests, the
//! operations screen, the admin session's time-out, and the dimming of an
//! idle attract screen.
//!
//! Everything slow or touching the disk (Argon2id, fsync of a save or an
//! audit entry, listing ports, exports) runs on one admin worker thread, in
//! order; its answers come back through a mailbox the UI drains on a timer,
//! so the event loop never waits and the watchdog keeps being fed.

use crate::{
    AdminChoice, AdminField, AdminFigure, AdminOp, AdminPage, AppWindow, Kiosk, PinMode, Screen,
    Theme,
};
use bianmin_admin::audit_log::AuditEntry;
use bianmin_admin::config_store::{record_changes, Change, ConfigStore};
use bianmin_admin::pin::{
    check_new_pin, AdminError, AdminGate, AdminSession, PinGate, SESSION_IDLE,
};
use bianmin_admin::AuditLog;
use bianmin_config::{Config, BAUD_RATES};
use bianmin_core::words::{count_en, Words};
use bianmin_drivers::gpio::WakeGuard;
use bianmin_drivers::serial::PortDescription;
use bianmin_journey::typing::{Backspace, PinyinComposer};
use bianmin_ops::OpsMonitor;
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

pub mod devices;

/// How long the station name must be held.
pub const HOLD_TO_ENTER: Duration = Duration::from_secs(5);
/// The PIN pad closes after this long untouched.
pub const PAD_IDLE: Duration = Duration::from_secs(60);
const PIN_MAX_DIGITS: usize = 12;

/// A device test the settings screen offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceTest {
    ReadCard,
    Print,
    Scan,
    Led,
    Buzzer,
}

impl DeviceTest {
    fn parse(s: &str) -> Option<DeviceTest> {
        Some(match s {
            "read-card" => DeviceTest::ReadCard,
            "print" => DeviceTest::Print,
            "scan" => DeviceTest::Scan,
            "led" => DeviceTest::Led,
            "buzzer" => DeviceTest::Buzzer,
            _ => return None,
        })
    }

    fn audit_name(self) -> &'static str {
        match self {
            DeviceTest::ReadCard => "test-read-card",
            DeviceTest::Print => "test-print",
            DeviceTest::Scan => "test-scan",
            DeviceTest::Led => "test-led",
            DeviceTest::Buzzer => "test-buzzer",
        }
    }
}

/// The answer of a device test: `Ok` = passed, both in plain words (in
/// both languages: the screen picks when it shows them).
pub type TestResult = Result<Words, Words>;

/// Where a test posts its result; callable from any thread.
#[derive(Clone)]
pub struct TestReply(Mailbox);

impl TestReply {
    pub fn send(&self, result: TestResult) {
        self.0.post(Event::Message(result));
    }
}

/// What admin mode asks of the rest of the kiosk.
pub trait AdminHooks {
    /// A saved configuration: apply what can be applied to the running kiosk.
    fn apply(&self, _config: &Config, _changes: &[Change]) {}
    /// Run a device test with the edited settings and answer through `reply`;
    /// must not block the UI thread.
    fn test(&self, _test: DeviceTest, _config: &Config, reply: TestReply) {
        reply.send(Err(Words::fixed(
            "此终端没有连接设备",
            "No devices are connected to this terminal",
        )));
    }
    /// Exit so systemd starts the kiosk afresh (`Restart=always`).
    fn restart(&self) {}
}

struct NoHooks;
impl AdminHooks for NoHooks {}

/// Answers from the worker thread and device tests.
enum Event {
    Gate(Result<PinGate, AdminError>),
    Entered(Result<AdminSession, AdminError>),
    PinChanged(Result<AdminSession, AdminError>),
    Ports(Vec<PortDescription>),
    Mounts(Vec<PathBuf>),
    Saved(Box<Result<(Config, Vec<Change>), Words>>),
    Message(TestResult),
    /// The restart's audit entry is on disk.
    Restart,
}

/// Answers of admin mode's worker and device tests, for the UI thread.
type Mailbox = crate::mailbox::Mailbox<Event>;

type Job = Box<dyn FnOnce() + Send>;

/// The admin worker: one thread, jobs in order.
#[derive(Clone)]
struct Worker(mpsc::Sender<Job>);

impl Worker {
    fn start() -> Worker {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("admin".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            });
        if let Err(err) = spawned {
            tracing::error!(%err, "admin worker thread not started");
        }
        Worker(tx)
    }

    fn run(&self, job: impl FnOnce() + Send + 'static) {
        if self.0.send(Box::new(job)).is_err() {
            tracing::error!("admin worker is gone; admin action dropped");
        }
    }
}

/// One editable setting.
struct FieldSpec {
    key: &'static str,
    label: Words,
    group: usize,
    kind: FieldKind,
}

#[derive(Clone, Copy)]
enum FieldKind {
    Port,
    Baud,
    /// (value as TOML, label)
    Choice(&'static [(&'static str, Words)]),
    Seconds(&'static [u32]),
    Text(Keys),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    Digits,
    UpperAlnum,
    Url,
    /// Names (the station's): Latin letters, or Chinese typed in pinyin
    /// with the resident keyboard's composer.
    Any,
}

impl Keys {
    /// The keys on screen; `pinyin`: the letters spell pinyin (lower case
    /// only, the composer folds case anyway).
    fn keys(self, pinyin: bool) -> Vec<String> {
        let digits = ('0'..='9').map(String::from);
        match self {
            Keys::Digits => digits.collect(),
            Keys::UpperAlnum => digits.chain(('A'..='Z').map(String::from)).collect(),
            Keys::Url => digits
                .chain(('a'..='z').map(String::from))
                .chain([".", ":", "/", "-", "_"].map(String::from))
                .collect(),
            Keys::Any if pinyin => digits
                .chain(('a'..='z').map(String::from))
                .chain(["-", SPACE_KEY].map(String::from))
                .collect(),
            Keys::Any => digits
                .chain(('A'..='Z').map(String::from))
                .chain(('a'..='z').map(String::from))
                .chain(["-", SPACE_KEY].map(String::from))
                .collect(),
        }
    }

    /// Chinese can be typed into the field (in pinyin).
    fn takes_chinese(self) -> bool {
        self == Keys::Any
    }
}

/// Pinyin candidates shown at once on the admin keyboard.
const CANDIDATES_PER_PAGE: usize = 6;

/// The space bar's label; a blank key would have no accessible name.
const SPACE_KEY: &str = "␣";

/// The key that switches a name's keys to Latin letters, and back to
/// pinyin: a key of the grid (as 中/英 on a phone), so the keyboard is no
/// taller than before in large mode.
const TO_LETTERS: Words = Words::fixed("字母", "ABC");
const TO_PINYIN: Words = Words::fixed("拼音", "Pinyin");

const GROUPS: [Words; 5] = [
    Words::fixed("打印机", "Printer"),
    Words::fixed("读卡器与扫码器", "Card reader and scanner"),
    Words::fixed("站点与平台", "Station and platform"),
    Words::fixed("时间", "Times"),
    Words::fixed("显示", "Display"),
];

static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        key: "devices.printer.port",
        label: Words::fixed("打印机串口", "Printer port"),
        group: 0,
        kind: FieldKind::Port,
    },
    FieldSpec {
        key: "devices.printer.baud",
        label: Words::fixed("打印机波特率", "Printer baud rate"),
        group: 0,
        kind: FieldKind::Baud,
    },
    FieldSpec {
        key: "devices.printer.paper_mm",
        label: Words::fixed("纸宽", "Paper width"),
        group: 0,
        kind: FieldKind::Choice(&[
            ("58", Words::fixed("58 毫米", "58 mm")),
            ("80", Words::fixed("80 毫米", "80 mm")),
        ]),
    },
    FieldSpec {
        key: "devices.printer.encoding",
        label: Words::fixed("打印编码", "Print encoding"),
        group: 0,
        kind: FieldKind::Choice(&[
            ("\"gb18030\"", Words::fixed("GB18030", "GB18030")),
            ("\"utf8\"", Words::fixed("UTF-8", "UTF-8")),
        ]),
    },
    FieldSpec {
        key: "devices.printer.fs_and",
        label: Words::fixed("汉字模式 FS &", "Chinese character mode FS &"),
        group: 0,
        kind: FieldKind::Choice(&[
            ("true", Words::fixed("发送 FS &", "Send FS &")),
            ("false", Words::fixed("不发送", "Do not send")),
        ]),
    },
    FieldSpec {
        key: "devices.id_card.port",
        label: Words::fixed("读卡器串口", "Card reader port"),
        group: 1,
        kind: FieldKind::Port,
    },
    FieldSpec {
        key: "devices.id_card.baud",
        label: Words::fixed("读卡器波特率", "Card reader baud rate"),
        group: 1,
        kind: FieldKind::Baud,
    },
    FieldSpec {
        key: "devices.scanner.port",
        label: Words::fixed("扫码器串口", "Scanner port"),
        group: 1,
        kind: FieldKind::Port,
    },
    FieldSpec {
        key: "devices.scanner.baud",
        label: Words::fixed("扫码器波特率", "Scanner baud rate"),
        group: 1,
        kind: FieldKind::Baud,
    },
    FieldSpec {
        key: "station.name",
        label: Words::fixed("站点名称", "Station name"),
        group: 2,
        kind: FieldKind::Text(Keys::Any),
    },
    FieldSpec {
        key: "station.code",
        label: Words::fixed("站点区划代码", "Station region code"),
        group: 2,
        kind: FieldKind::Text(Keys::Digits),
    },
    FieldSpec {
        key: "station.terminal_id",
        label: Words::fixed("终端编号", "Terminal ID"),
        group: 2,
        kind: FieldKind::Text(Keys::UpperAlnum),
    },
    FieldSpec {
        key: "platform.url",
        label: Words::fixed("平台地址", "Platform address"),
        group: 2,
        kind: FieldKind::Text(Keys::Url),
    },
    FieldSpec {
        key: "session.idle_timeout_secs",
        label: Words::fixed("无操作提醒（标准）", "Idle warning (standard)"),
        group: 3,
        kind: FieldKind::Seconds(&[60, 90, 120, 180, 300]),
    },
    FieldSpec {
        key: "session.idle_timeout_large_secs",
        label: Words::fixed("无操作提醒（大字）", "Idle warning (large text)"),
        group: 3,
        kind: FieldKind::Seconds(&[120, 180, 240, 300, 600]),
    },
    FieldSpec {
        key: "platform.heartbeat_secs",
        label: Words::fixed("心跳间隔", "Heartbeat interval"),
        group: 3,
        kind: FieldKind::Seconds(&[60, 300, 600, 1800, 3600]),
    },
    FieldSpec {
        key: "ui.dim_after_secs",
        label: Words::fixed("待机变暗", "Dim when idle"),
        group: 3,
        kind: FieldKind::Seconds(&[0, 120, 300, 600, 1800]),
    },
    FieldSpec {
        key: "ui.theme",
        label: Words::fixed("默认字号", "Default text size"),
        group: 4,
        kind: FieldKind::Choice(&[
            ("\"normal\"", Words::fixed("标准", "Standard")),
            ("\"large\"", Words::fixed("大字模式", "Large text")),
        ]),
    },
    FieldSpec {
        key: "ui.language",
        label: Words::fixed("默认语言", "Default language"),
        group: 4,
        kind: FieldKind::Choice(&[
            ("\"zh\"", Words::fixed("简体中文", "Simplified Chinese")),
            ("\"en\"", Words::fixed("English", "English")),
        ]),
    },
];

/// Settings the running kiosk takes over at once (the serial devices are
/// moved by the device manager, see [`devices::DeviceHooks`]); the rest are
/// read at start-up by their owners (sync client, kiosk controller).
pub fn applies_live(key: &str) -> bool {
    matches!(key, "platform.heartbeat_secs" | "ui.dim_after_secs")
        || ["devices.printer.", "devices.id_card.", "devices.scanner."]
            .iter()
            .any(|device| key.starts_with(device))
}

struct State {
    hooks: Rc<dyn AdminHooks>,
    monitor: Option<OpsMonitor>,
    store: ConfigStore,
    audit: AuditLog,
    data_dir: PathBuf,
    gate: Arc<Mutex<Option<AdminGate>>>,
    live: Config,
    /// Edits not yet saved, by key, as TOML values.
    pending: BTreeMap<String, toml::Value>,
    session: Option<AdminSession>,
    pin: Zeroizing<String>,
    new_pin: Option<Zeroizing<String>>,
    group: usize,
    selected: Option<usize>,
    ports: Vec<PortDescription>,
    mounts: Vec<PathBuf>,
    target: usize,
    /// The technician picked the export place; a later listing keeps it.
    target_chosen: bool,
    /// Sticks have been looked for since the operations page opened.
    mounts_known: bool,
    idle: Duration,
    attract_idle: Duration,
    seen: (Screen, bool, bool),
    wake: WakeGuard,
    restart_pending: Vec<String>,
    /// The resident-facing theme while admin mode shows in standard sizes.
    resident_large: Option<bool>,
    /// Pinyin typed for the selected text field and not yet picked.
    composer: PinyinComposer,
    /// Letter keys spell pinyin (in a field that takes Chinese).
    pinyin: bool,
}

/// The admin mode of one kiosk window.
#[derive(Clone)]
pub struct AdminController {
    ui: slint::Weak<AppWindow>,
    state: Rc<RefCell<State>>,
    mailbox: Mailbox,
    worker: Worker,
    timers: Rc<Vec<slint::Timer>>,
    hold: Rc<slint::Timer>,
}

impl AdminController {
    /// `config_path` is the file saves go to; `live` the configuration the
    /// kiosk runs on (environment values included).
    pub fn new(ui: &AppWindow, live: Config, config_path: PathBuf) -> AdminController {
        let data_dir = live.store.data_dir.clone();
        let state = State {
            hooks: Rc::new(NoHooks),
            monitor: None,
            store: ConfigStore::new(config_path),
            audit: AuditLog::open(&data_dir).chained_with(
                bianmin_admin::audit_log::ChainHash::of_suite(live.crypto.suite),
            ),
            data_dir,
            gate: Arc::new(Mutex::new(None)),
            live,
            pending: BTreeMap::new(),
            session: None,
            pin: Zeroizing::new(String::new()),
            new_pin: None,
            group: 0,
            selected: None,
            ports: Vec::new(),
            mounts: Vec::new(),
            target: 0,
            target_chosen: false,
            mounts_known: false,
            idle: Duration::ZERO,
            attract_idle: Duration::ZERO,
            seen: (Screen::Attract, false, false),
            wake: WakeGuard::default(),
            restart_pending: Vec::new(),
            resident_large: None,
            composer: PinyinComposer::new(CANDIDATES_PER_PAGE),
            pinyin: true,
        };
        let this = AdminController {
            ui: ui.as_weak(),
            state: Rc::new(RefCell::new(state)),
            mailbox: Mailbox::default(),
            worker: Worker::start(),
            timers: Rc::new(Vec::new()),
            hold: Rc::new(slint::Timer::default()),
        };
        let stale = this.state.borrow().store.clean_stale_temps();
        if stale > 0 {
            tracing::info!(
                stale,
                "removed temporary files of an interrupted config save"
            );
        }
        this.bind();
        this.start_timers()
    }

    pub fn set_hooks(&self, hooks: Rc<dyn AdminHooks>) {
        self.state.borrow_mut().hooks = hooks;
    }

    pub fn set_monitor(&self, monitor: OpsMonitor) {
        self.state.borrow_mut().monitor = Some(monitor);
    }

    /// The configuration the kiosk runs on as admin mode knows it.
    pub fn live_config(&self) -> Config {
        self.state.borrow().live.clone()
    }

    /// Keys saved since start that take effect after a restart.
    pub fn restart_pending(&self) -> Vec<String> {
        self.state.borrow().restart_pending.clone()
    }

    fn ui(&self) -> AppWindow {
        self.ui.upgrade().expect("the window outlives admin mode")
    }

    /// Admin mode speaks the kiosk's current language (chosen on the attract
    /// screen, where admin mode is entered).
    fn english(&self) -> bool {
        self.ui().global::<Kiosk>().get_english()
    }

    fn start_timers(mut self) -> AdminController {
        let poll = slint::Timer::default();
        let this = self.clone();
        poll.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(100),
            move || {
                this.drain();
            },
        );
        let tick = slint::Timer::default();
        let this = self.clone();
        tick.start(
            slint::TimerMode::Repeated,
            Duration::from_secs(1),
            move || {
                this.tick(Duration::from_secs(1));
            },
        );
        self.timers = Rc::new(vec![poll, tick]);
        self
    }

    fn bind(&self) {
        let ui = self.ui();
        let admin = ui.global::<crate::Admin>();
        let this = self.clone();
        admin.on_station_hold(move |down| this.station_hold(down));
        let this = self.clone();
        admin.on_activity(move || this.state.borrow_mut().idle = Duration::ZERO);
        let this = self.clone();
        admin.on_pin_key(move |d| this.pin_key(&d));
        let this = self.clone();
        admin.on_pin_backspace(move || {
            this.state.borrow_mut().pin.pop();
            this.refresh_pin();
        });
        let this = self.clone();
        admin.on_pin_submit(move || this.pin_submit());
        let this = self.clone();
        admin.on_cancel(move || this.leave("cancel"));
        let this = self.clone();
        admin.on_show(move |page| this.show(page));
        let this = self.clone();
        admin.on_show_group(move |g| {
            {
                let mut s = this.state.borrow_mut();
                s.group = (g.max(0) as usize).min(GROUPS.len() - 1);
                s.selected = None;
                s.composer.clear();
            }
            this.refresh_settings();
        });
        let this = self.clone();
        admin.on_select(move |i| {
            {
                let mut s = this.state.borrow_mut();
                s.selected = usize::try_from(i).ok();
                s.composer.clear();
            }
            this.refresh_settings();
        });
        let this = self.clone();
        admin.on_choose(move |v| this.choose(&v));
        let this = self.clone();
        admin.on_key(move |k| this.type_key(Some(&k)));
        let this = self.clone();
        admin.on_backspace(move || this.type_key(None));
        let this = self.clone();
        admin.on_pick(move |i| this.pick(i));
        let this = self.clone();
        admin.on_turn_candidates(move |step| {
            {
                let mut s = this.state.borrow_mut();
                if step < 0 {
                    s.composer.previous_page();
                } else {
                    s.composer.next_page();
                }
            }
            this.refresh_settings();
        });
        let this = self.clone();
        admin.on_save(move || this.save());
        let this = self.clone();
        admin.on_revert(move || {
            {
                let mut s = this.state.borrow_mut();
                s.pending.clear();
                s.composer.clear();
            }
            this.message(Ok(Words::fixed(
                "已撤销未保存的修改",
                "Unsaved changes discarded",
            )));
            this.refresh_settings();
        });
        let this = self.clone();
        admin.on_test(move |t| {
            if let Some(test) = DeviceTest::parse(&t) {
                this.run_test(test);
            }
        });
        let this = self.clone();
        admin.on_op(move |op| this.op(op));
        let this = self.clone();
        admin.on_leave(move || this.leave("leave"));
        let this = self.clone();
        admin.on_wake(move || this.wake());
    }

    // --- entry ---------------------------------------------------------------

    /// Press (true) or release (false) on the station name.
    pub fn station_hold(&self, down: bool) {
        let ui = self.ui();
        if !down || ui.global::<crate::Admin>().get_active() {
            self.hold.stop();
            return;
        }
        if ui.global::<Kiosk>().get_screen() != Screen::Attract {
            return;
        }
        let this = self.clone();
        self.hold
            .start(slint::TimerMode::SingleShot, HOLD_TO_ENTER, move || {
                this.open_pad()
            });
    }

    /// Show the PIN pad (what the 5-second hold does).
    pub fn open_pad(&self) {
        {
            let mut s = self.state.borrow_mut();
            s.pin = Zeroizing::new(String::new());
            s.new_pin = None;
            s.idle = Duration::ZERO;
        }
        // Technicians get the standard sizes (everything fits one screen);
        // the resident's large mode comes back on leaving.
        let ui = self.ui();
        let theme = ui.global::<Theme>();
        if self.state.borrow().resident_large.is_none() {
            self.state.borrow_mut().resident_large = Some(theme.get_large());
        }
        theme.set_large(false);
        self.with_admin(|a| {
            a.set_active(true);
            a.set_page(AdminPage::Pin);
            a.set_pin_mode(PinMode::Enter);
            a.set_pin_message("".into());
            a.set_locked(false);
            a.set_busy(false);
            a.set_message("".into());
        });
        self.refresh_pin();
        let (gate, dir, mail) = self.gate_parts();
        self.worker.run(move || {
            let result = with_gate(&gate, &dir, |g| Ok(g.status(SystemTime::now())));
            mail.post(Event::Gate(result));
        });
    }

    fn gate_parts(&self) -> (Arc<Mutex<Option<AdminGate>>>, PathBuf, Mailbox) {
        let s = self.state.borrow();
        (s.gate.clone(), s.data_dir.clone(), self.mailbox.clone())
    }

    fn pin_key(&self, digit: &str) {
        {
            let mut s = self.state.borrow_mut();
            if s.pin.len() < PIN_MAX_DIGITS
                && digit.len() == 1
                && digit.bytes().all(|b| b.is_ascii_digit())
            {
                s.pin.push_str(digit);
            }
        }
        self.refresh_pin();
    }

    fn refresh_pin(&self) {
        let n = self.state.borrow().pin.len();
        self.with_admin(|a| a.set_pin_dots("●".repeat(n).into()));
    }

    fn pin_submit(&self) {
        let mode = self.with_admin(|a| a.get_pin_mode());
        let pin = std::mem::replace(
            &mut self.state.borrow_mut().pin,
            Zeroizing::new(String::new()),
        );
        self.refresh_pin();
        match mode {
            PinMode::Enter => {
                self.with_admin(|a| a.set_busy(true));
                let (gate, dir, mail) = self.gate_parts();
                self.worker.run(move || {
                    let result = with_gate(&gate, &dir, |g| g.try_enter(&pin, SystemTime::now()));
                    mail.post(Event::Entered(result));
                });
            }
            PinMode::NewPin => match check_new_pin(&pin) {
                Ok(()) => {
                    self.state.borrow_mut().new_pin = Some(pin);
                    self.with_admin(|a| {
                        a.set_pin_mode(PinMode::Confirm);
                        a.set_pin_message("".into());
                    });
                }
                Err(err) => {
                    let message = err.words().pick(self.english()).to_string();
                    self.with_admin(|a| a.set_pin_message(message.into()))
                }
            },
            PinMode::Confirm => {
                let first = self.state.borrow_mut().new_pin.take();
                if first.as_deref().map(|s| s.as_str()) != Some(pin.as_str()) {
                    let message = Words::fixed(
                        "两次输入的 PIN 不一致，请重新设置",
                        "The two PINs differ; set the new PIN again",
                    )
                    .pick(self.english())
                    .to_string();
                    self.with_admin(|a| {
                        a.set_pin_mode(PinMode::NewPin);
                        a.set_pin_message(message.into());
                    });
                    return;
                }
                let Some(mut session) = self.state.borrow().session.clone() else {
                    self.leave("expired");
                    return;
                };
                self.with_admin(|a| a.set_busy(true));
                let (gate, dir, mail) = self.gate_parts();
                self.worker.run(move || {
                    let result = with_gate(&gate, &dir, |g| {
                        g.change_pin(&mut session, &pin, SystemTime::now())
                    })
                    .map(|()| session);
                    mail.post(Event::PinChanged(result));
                });
            }
        }
    }

    fn entered(&self, result: Result<AdminSession, AdminError>) {
        self.with_admin(|a| a.set_busy(false));
        match result {
            Ok(session) => {
                self.audit(AuditEntry::action(
                    SystemTime::now(),
                    session.actor(),
                    "enter",
                ));
                self.state.borrow_mut().session = Some(session);
                self.show(AdminPage::Settings);
            }
            Err(err) => {
                let (locked, action) = match err {
                    AdminError::Locked { .. } => (true, "pin-locked"),
                    AdminError::NotProvisioned => (true, "pin-not-provisioned"),
                    _ => (false, "pin-wrong"),
                };
                self.audit(AuditEntry::action(SystemTime::now(), "unknown", action));
                let message = err.words().pick(self.english()).to_string();
                self.with_admin(|a| {
                    a.set_locked(locked);
                    a.set_pin_message(message.into());
                });
            }
        }
    }

    // --- pages ----------------------------------------------------------------

    fn show(&self, page: AdminPage) {
        if self.state.borrow().session.is_none() {
            return;
        }
        self.with_admin(|a| {
            a.set_page(page);
            a.set_message("".into());
        });
        match page {
            AdminPage::Settings => {
                self.refresh_settings();
                let mail = self.mailbox.clone();
                self.worker.run(move || {
                    let ports = bianmin_drivers::serial::list_ports().unwrap_or_else(|err| {
                        tracing::warn!(%err, "serial ports not listed");
                        Vec::new()
                    });
                    mail.post(Event::Ports(ports));
                });
            }
            AdminPage::Operations => {
                {
                    let mut s = self.state.borrow_mut();
                    s.target_chosen = false;
                    s.mounts_known = false;
                }
                self.refresh_operations();
                let mail = self.mailbox.clone();
                self.worker
                    .run(move || mail.post(Event::Mounts(bianmin_ops::export::mounted_sticks())));
            }
            AdminPage::Pin => {}
        }
    }

    /// Leave admin mode for the attract screen; `why` goes to the audit log.
    pub fn leave(&self, why: &str) {
        self.hold.stop();
        let session = {
            let mut s = self.state.borrow_mut();
            s.pending.clear();
            s.pin = Zeroizing::new(String::new());
            s.new_pin = None;
            s.selected = None;
            s.composer.clear();
            s.session.take()
        };
        if let Some(session) = session {
            let action = if why == "timeout" {
                "leave-timeout"
            } else {
                "leave"
            };
            self.audit(AuditEntry::action(
                SystemTime::now(),
                session.actor(),
                action,
            ));
        }
        self.with_admin(|a| {
            a.set_active(false);
            a.set_page(AdminPage::Pin);
            a.set_busy(false);
            a.set_message("".into());
        });
        let large = self.state.borrow_mut().resident_large.take();
        if let Some(large) = large {
            self.ui().global::<Theme>().set_large(large);
        }
        self.state.borrow_mut().attract_idle = Duration::ZERO;
    }

    // --- settings ---------------------------------------------------------------

    fn fields_of_group(&self) -> Vec<&'static FieldSpec> {
        let group = self.state.borrow().group;
        FIELDS.iter().filter(|f| f.group == group).collect()
    }

    fn current_value(&self, key: &str) -> Option<toml::Value> {
        let s = self.state.borrow();
        s.pending.get(key).cloned().or_else(|| {
            bianmin_admin::config_store::flatten(&s.live)
                .get(key)
                .cloned()
        })
    }

    fn refresh_settings(&self) {
        let english = self.english();
        let fields = self.fields_of_group();
        let (selected, group, dirty) = {
            let s = self.state.borrow();
            (
                s.selected.filter(|&i| i < fields.len()),
                s.group,
                !s.pending.is_empty(),
            )
        };
        let rows: Vec<AdminField> = fields
            .iter()
            .map(|f| AdminField {
                key: f.key.into(),
                label: f.label.pick(english).into(),
                value: self
                    .current_value(f.key)
                    .map(|v| shown(f, &v, english))
                    .unwrap_or_default()
                    .into(),
                restart: !applies_live(f.key) && self.state.borrow().pending.contains_key(f.key),
            })
            .collect();
        let pinyin_on = self.state.borrow().pinyin;
        let (label, value, choices, text_entry, keys, chinese) = match selected.map(|i| fields[i]) {
            Some(f) => {
                let value = self.current_value(f.key);
                let raw = value.as_ref().map(raw_value).unwrap_or_default();
                let (choices, keys, chinese) = match f.kind {
                    FieldKind::Text(keys) => {
                        let chinese = keys.takes_chinese();
                        let mut shown = keys.keys(chinese && pinyin_on);
                        if chinese {
                            let switch = if pinyin_on { TO_LETTERS } else { TO_PINYIN };
                            shown.push(switch.pick(english).to_string());
                        }
                        (Vec::new(), shown, chinese)
                    }
                    _ => (self.choices(f, english), Vec::new(), false),
                };
                let is_text = matches!(f.kind, FieldKind::Text(_));
                (f.label.pick(english), raw, choices, is_text, keys, chinese)
            }
            None => ("", String::new(), Vec::new(), false, Vec::new(), false),
        };
        let (composing, candidates, previous, next) = {
            let s = self.state.borrow();
            (
                s.composer.composing().to_string(),
                s.composer.page(),
                s.composer.has_previous(),
                s.composer.has_next(),
            )
        };
        self.with_admin(|a| {
            a.set_groups(model(
                GROUPS
                    .iter()
                    .map(|g| SharedString::from(g.pick(english)))
                    .collect(),
            ));
            a.set_group(group as i32);
            a.set_fields(model(rows));
            a.set_selected(selected.map(|i| i as i32).unwrap_or(-1));
            a.set_selected_label(label.into());
            a.set_selected_value(value.into());
            a.set_choices(model(choices));
            a.set_text_entry(text_entry);
            a.set_keys(model(keys.into_iter().map(SharedString::from).collect()));
            a.set_takes_chinese(chinese);
            a.set_pinyin(chinese && pinyin_on);
            a.set_composing(composing.into());
            a.set_candidates(model(
                candidates.into_iter().map(SharedString::from).collect(),
            ));
            a.set_candidates_previous(previous);
            a.set_candidates_next(next);
            a.set_dirty(dirty);
        });
    }

    fn choices(&self, field: &FieldSpec, english: bool) -> Vec<AdminChoice> {
        let choice = |value: String, label: String| AdminChoice {
            value: value.into(),
            label: label.into(),
        };
        match field.kind {
            FieldKind::Port => {
                let s = self.state.borrow();
                let mut out: Vec<AdminChoice> = s
                    .ports
                    .iter()
                    .map(|p| choice(p.path.clone(), port_label(p)))
                    .collect();
                // The udev rules' stable names, and whatever is set now.
                let current = self.current_value(field.key).map(|v| raw_value(&v));
                let stable = bianmin_config::Config::default();
                let defaults = bianmin_admin::config_store::flatten(&stable);
                for path in [current, defaults.get(field.key).map(raw_value)]
                    .into_iter()
                    .flatten()
                {
                    if !path.is_empty() && !out.iter().any(|c| c.value == path.as_str()) {
                        out.push(choice(path.clone(), path));
                    }
                }
                out
            }
            FieldKind::Baud => BAUD_RATES
                .iter()
                .map(|b| choice(b.to_string(), format!("{b} bps")))
                .collect(),
            FieldKind::Choice(options) => options
                .iter()
                .map(|(v, l)| choice(raw_value(&parse_toml(v)), l.pick(english).into()))
                .collect(),
            FieldKind::Seconds(options) => options
                .iter()
                .map(|&n| choice(n.to_string(), seconds_label(n, english)))
                .collect(),
            FieldKind::Text(_) => Vec::new(),
        }
    }

    fn selected_field(&self) -> Option<&'static FieldSpec> {
        let fields = self.fields_of_group();
        let i = self.state.borrow().selected?;
        fields.get(i).copied()
    }

    /// Pick one of the offered values for the selected field.
    fn choose(&self, raw: &str) {
        let Some(field) = self.selected_field() else {
            return;
        };
        let value = match field.kind {
            FieldKind::Port => toml::Value::String(raw.into()),
            FieldKind::Baud | FieldKind::Seconds(_) => match raw.parse::<i64>() {
                Ok(n) => toml::Value::Integer(n),
                Err(_) => return,
            },
            FieldKind::Choice(_) => {
                // Choices are shown by their raw value; strings unquoted.
                match field.kind {
                    FieldKind::Choice(options)
                        if options.iter().any(|(v, _)| v.starts_with('"')) =>
                    {
                        toml::Value::String(raw.into())
                    }
                    _ => parse_toml(raw),
                }
            }
            FieldKind::Text(_) => toml::Value::String(raw.into()),
        };
        self.set_pending(field.key, value);
    }

    /// Type a key (`Some`) or delete the last character (`None`). In a
    /// field that takes Chinese with pinyin on, letters go to the composer
    /// and 删除 takes a letter back before it takes a character.
    fn type_key(&self, key: Option<&str>) {
        let Some(field) = self.selected_field() else {
            return;
        };
        let chinese = matches!(field.kind, FieldKind::Text(keys) if keys.takes_chinese());
        if chinese {
            let switch = [(TO_LETTERS, false), (TO_PINYIN, true)]
                .into_iter()
                .find(|(w, _)| key == Some(w.zh()) || key == Some(w.en()));
            if let Some((_, on)) = switch {
                {
                    let mut s = self.state.borrow_mut();
                    s.pinyin = on;
                    s.composer.clear();
                }
                self.refresh_settings();
                return;
            }
        }
        let pinyin = chinese && self.state.borrow().pinyin;
        if pinyin {
            let mut s = self.state.borrow_mut();
            let composed = match key {
                Some(k) if k.len() == 1 && k.bytes().all(|b| b.is_ascii_lowercase()) => {
                    s.composer.key(k);
                    true
                }
                None => s.composer.backspace() == Backspace::RemovedLetter,
                Some(_) => false,
            };
            drop(s);
            if composed {
                self.refresh_settings();
                return;
            }
        }
        let mut text = self
            .current_value(field.key)
            .map(|v| raw_value(&v))
            .unwrap_or_default();
        match key {
            Some(SPACE_KEY) if text.chars().count() < 200 => text.push(' '),
            Some(k) if text.chars().count() < 200 => text.push_str(k),
            Some(_) => return,
            None => {
                text.pop();
            }
        }
        self.set_pending(field.key, toml::Value::String(text));
    }

    /// Pick the `index`-th pinyin candidate shown: its characters join the
    /// field's text; letters it did not spell stay composing.
    fn pick(&self, index: i32) {
        let Some(field) = self.selected_field() else {
            return;
        };
        let Ok(index) = usize::try_from(index) else {
            return;
        };
        let Some(chosen) = self.state.borrow_mut().composer.pick(index) else {
            return;
        };
        let mut text = self
            .current_value(field.key)
            .map(|v| raw_value(&v))
            .unwrap_or_default();
        if text.chars().count() + chosen.chars().count() <= 200 {
            text.push_str(&chosen);
        }
        self.set_pending(field.key, toml::Value::String(text));
    }

    fn set_pending(&self, key: &str, value: toml::Value) {
        {
            let mut s = self.state.borrow_mut();
            let live = bianmin_admin::config_store::flatten(&s.live)
                .get(key)
                .cloned();
            if live.as_ref() == Some(&value) {
                s.pending.remove(key);
            } else {
                s.pending.insert(key.into(), value);
            }
        }
        self.refresh_settings();
    }

    /// The live configuration with the pending edits, or why an edit is
    /// refused (the parser's reason is English in both languages).
    pub fn edited_config(&self) -> Result<Config, Words> {
        let s = self.state.borrow();
        let mut config = s.live.clone();
        for (key, value) in &s.pending {
            config = with_value(&config, key, value.clone()).map_err(|reason| {
                let label = field_label(key);
                Words::new(
                    format!("「{}」的值不可用：{reason}", label.zh()),
                    format!("“{}” cannot take this value: {reason}", label.en()),
                )
            })?;
        }
        Ok(config)
    }

    /// Check and write the edits (on the worker); refuse with a reason.
    pub fn save(&self) {
        let edited = match self.edited_config() {
            Ok(c) => c,
            Err(reason) => return self.message(Err(reason)),
        };
        let (live, store, audit, actor) = {
            let s = self.state.borrow();
            let Some(session) = &s.session else { return };
            (
                s.live.clone(),
                s.store.clone(),
                s.audit.clone(),
                session.actor().to_string(),
            )
        };
        if let Err(err) = bianmin_admin::config_store::validate(&edited) {
            return self.message(Err(err.words()));
        }
        let mail = self.mailbox.clone();
        self.worker.run(move || {
            let result = store
                .save(&live, &edited)
                .map_err(|e| e.words())
                .and_then(|changes| {
                    record_changes(&audit, &actor, &changes, SystemTime::now()).map_err(|e| {
                        Words::new(
                            format!("设置已保存，但审计日志写入失败：{e}"),
                            format!("Settings saved, but the audit log was not written: {e}"),
                        )
                    })?;
                    Ok((edited, changes))
                });
            mail.post(Event::Saved(Box::new(result)));
        });
    }

    fn saved(&self, result: Result<(Config, Vec<Change>), Words>) {
        let (config, changes) = match result {
            Ok(ok) => ok,
            Err(reason) => return self.message(Err(reason)),
        };
        let hooks = {
            let mut s = self.state.borrow_mut();
            s.live = config.clone();
            s.pending.clear();
            // Letters not picked before saving are not part of what was saved.
            s.composer.clear();
            for c in &changes {
                if !applies_live(&c.key) && !s.restart_pending.contains(&c.key) {
                    s.restart_pending.push(c.key.clone());
                }
            }
            s.hooks.clone()
        };
        if let Some(monitor) = &self.state.borrow().monitor {
            monitor.set_heartbeat_interval(config.platform.heartbeat_secs.get());
        }
        hooks.apply(&config, &changes);
        let later: Vec<Words> = changes
            .iter()
            .filter(|c| !applies_live(&c.key))
            .map(|c| field_label(&c.key))
            .collect();
        let count = changes.len();
        let text = if changes.is_empty() {
            Words::fixed("没有需要保存的修改", "Nothing to save")
        } else if later.is_empty() {
            saved_now(count)
        } else {
            let zh: Vec<&str> = later.iter().map(Words::zh).collect();
            let en: Vec<&str> = later.iter().map(Words::en).collect();
            Words::new(
                format!(
                    "已保存 {count} 项设置；{} 在重启终端后生效（“运行状态”页可重启）",
                    zh.join("、")
                ),
                format!(
                    "Saved {}; after a restart these take effect: {} (the Status page can restart)",
                    count_en(count, "setting", "settings"),
                    en.join(", ")
                ),
            )
        };
        self.message(Ok(text));
        self.refresh_settings();
    }

    fn run_test(&self, test: DeviceTest) {
        let config = match self.edited_config() {
            Ok(c) => c,
            Err(reason) => return self.message(Err(reason)),
        };
        let (hooks, actor) = {
            let s = self.state.borrow();
            (
                s.hooks.clone(),
                s.session.as_ref().map(|x| x.actor().to_string()),
            )
        };
        let Some(actor) = actor else { return };
        self.audit(AuditEntry::action(
            SystemTime::now(),
            &actor,
            test.audit_name(),
        ));
        self.message(Ok(Words::fixed("正在测试…", "Testing…")));
        hooks.test(test, &config, TestReply(self.mailbox.clone()));
    }

    // --- screenshots --------------------------------------------------------------

    /// Show `page` as a technician sees it, for `bianmin screens` and the UI
    /// audit: no PIN check, no session, nothing written. `detail` picks the
    /// settings page's variant: a port's choices, or the station name's keys.
    fn preview(&self, page: AdminPage, detail: PreviewDetail) {
        {
            let mut s = self.state.borrow_mut();
            s.pending.clear();
            s.pin = Zeroizing::new(String::new());
        }
        self.with_admin(|a| {
            a.set_active(true);
            a.set_page(page);
            a.set_pin_mode(PinMode::Enter);
            a.set_pin_message("".into());
            a.set_locked(false);
            a.set_busy(false);
            a.set_message("".into());
            a.set_message_error(false);
        });
        match page {
            AdminPage::Pin => {
                self.state.borrow_mut().pin = Zeroizing::new("2580".into());
                self.refresh_pin();
            }
            AdminPage::Settings => {
                let (group, field) = match detail {
                    PreviewDetail::Keyboard => (2, 0),
                    PreviewDetail::Choices => (0, 0),
                };
                {
                    let mut s = self.state.borrow_mut();
                    s.group = group;
                    s.selected = Some(field);
                    s.pinyin = true;
                    s.composer.clear();
                    // The station name half typed in pinyin: the
                    // candidates a technician picks from.
                    if detail == PreviewDetail::Keyboard {
                        for letter in "chengguan".chars() {
                            s.composer.letter(letter);
                        }
                    }
                }
                self.refresh_settings();
                if detail == PreviewDetail::Choices {
                    self.message(Ok(saved_now(1)));
                }
            }
            AdminPage::Operations => self.refresh_operations(),
        }
    }

    /// Close what [`AdminController::preview`] opened.
    fn close_preview(&self) {
        self.with_admin(|a| {
            a.set_active(false);
            a.set_page(AdminPage::Pin);
            a.set_message("".into());
        });
        let mut s = self.state.borrow_mut();
        s.selected = None;
        s.group = 0;
        s.pin = Zeroizing::new(String::new());
        s.composer.clear();
    }

    // --- operations ---------------------------------------------------------------

    fn refresh_operations(&self) {
        let snapshot = self.state.borrow().monitor.as_ref().map(|m| m.snapshot());
        let english = self.english();
        let figures: Vec<AdminFigure> = figures(snapshot.as_ref(), SystemTime::now())
            .into_iter()
            .map(|f| f.shown(english))
            .collect();
        let target = if self.state.borrow().mounts_known {
            self.export_dir().display().to_string()
        } else {
            String::new()
        };
        self.with_admin(|a| {
            a.set_figures(model(figures));
            a.set_export_target(target.into());
        });
    }

    fn export_dir(&self) -> PathBuf {
        let s = self.state.borrow();
        s.mounts
            .get(s.target)
            .cloned()
            .unwrap_or_else(|| s.data_dir.join("exports"))
    }

    fn op(&self, op: AdminOp) {
        let (actor, monitor, audit) = {
            let s = self.state.borrow();
            let Some(session) = &s.session else { return };
            (
                session.actor().to_string(),
                s.monitor.clone(),
                s.audit.clone(),
            )
        };
        let now = SystemTime::now();
        match op {
            AdminOp::NextTarget => {
                {
                    let mut s = self.state.borrow_mut();
                    s.target = (s.target + 1) % (s.mounts.len() + 1);
                    s.target_chosen = true;
                }
                self.refresh_operations();
            }
            AdminOp::Sync => {
                self.audit(AuditEntry::action(now, &actor, "force-sync"));
                match monitor.as_ref().map(|m| m.sync_now()) {
                    Some(true) => self.message(Ok(Words::fixed(
                        "已请求立即同步，结果见“最近同步成功”",
                        "Sync requested; see “Last successful sync” for the result",
                    ))),
                    _ => self.message(Err(Words::fixed(
                        "同步服务没有运行，请检查平台设置",
                        "The sync service is not running; check the platform settings",
                    ))),
                }
            }
            AdminOp::ExportQueue | AdminOp::ExportLogs => {
                let Some(monitor) = monitor else {
                    return self.message(Err(Words::fixed(
                        "数据服务没有运行，无法导出",
                        "The data service is not running; nothing can be exported",
                    )));
                };
                let dir = self.export_dir();
                let logs = op == AdminOp::ExportLogs;
                let action = if logs { "export-logs" } else { "export-queue" };
                self.audit(AuditEntry::action(now, &actor, action));
                self.message(Ok(Words::new(
                    format!("正在导出到 {} …", dir.display()),
                    format!("Exporting to {} …", dir.display()),
                )));
                // The exported status is read by the operations team: Chinese.
                let status = figures(Some(&monitor.snapshot()), now)
                    .iter()
                    .map(|f| format!("{}: {}", f.label.zh(), f.value.zh()))
                    .collect::<Vec<_>>()
                    .join("\n");
                let mail = self.mailbox.clone();
                self.worker.run(move || {
                    let result = export(&monitor, &dir, logs, &status, &audit);
                    mail.post(Event::Message(result));
                });
            }
            AdminOp::Restart => {
                self.audit(AuditEntry::action(now, &actor, "restart"));
                self.message(Ok(Words::fixed(
                    "正在重启终端…",
                    "Restarting the terminal…",
                )));
                // Jobs run in order: once this one runs, the audit entry is on disk.
                let mail = self.mailbox.clone();
                self.worker.run(move || mail.post(Event::Restart));
            }
        }
    }

    // --- time, dimming, mailbox -------------------------------------------------

    /// One second (or `step`) passed: admin session time-out, refreshed
    /// figures, dimming of an idle attract screen.
    pub fn tick(&self, step: Duration) {
        let ui = self.ui();
        let active = ui.global::<crate::Admin>().get_active();
        if active {
            let (idle, in_session) = {
                let mut s = self.state.borrow_mut();
                s.idle += step;
                (s.idle, s.session.is_some())
            };
            let limit = if in_session { SESSION_IDLE } else { PAD_IDLE };
            if idle >= limit {
                self.leave("timeout");
                return;
            }
            if ui.global::<crate::Admin>().get_page() == AdminPage::Operations {
                self.refresh_operations();
            }
            return;
        }
        let kiosk = ui.global::<Kiosk>();
        let seen = (
            kiosk.get_screen(),
            ui.global::<Theme>().get_large(),
            kiosk.get_english(),
        );
        let dim_after =
            Duration::from_secs(u64::from(self.state.borrow().live.ui.dim_after_secs.get()));
        let dim = {
            let mut s = self.state.borrow_mut();
            if seen != s.seen || seen.0 != Screen::Attract {
                s.seen = seen;
                s.attract_idle = Duration::ZERO;
            } else {
                s.attract_idle += step;
            }
            !dim_after.is_zero() && s.attract_idle >= dim_after
        };
        if dim && !ui.global::<crate::Admin>().get_dimmed() {
            self.state.borrow_mut().wake.on_sleep();
            ui.global::<crate::Admin>().set_dimmed(true);
        } else if !dim && ui.global::<crate::Admin>().get_dimmed() {
            ui.global::<crate::Admin>().set_dimmed(false);
        }
    }

    /// A touch on the dimmed screen: it only wakes the screen.
    pub fn wake(&self) {
        let swallowed = self.state.borrow_mut().wake.swallow_touch(Instant::now());
        tracing::debug!(swallowed, "screen woken by touch");
        self.undim();
    }

    /// The presence sensor saw someone (or left): wake on arrival.
    pub fn presence(&self, present: bool) {
        let was_asleep = {
            let mut s = self.state.borrow_mut();
            matches!(
                s.wake.on_presence(present, Instant::now()),
                bianmin_drivers::gpio::GpioEvent::Presence {
                    screen_was_asleep: true,
                    ..
                }
            )
        };
        if present && was_asleep {
            self.undim();
        } else if present {
            self.state.borrow_mut().attract_idle = Duration::ZERO;
        }
    }

    fn undim(&self) {
        self.state.borrow_mut().attract_idle = Duration::ZERO;
        self.with_admin(|a| a.set_dimmed(false));
    }

    /// Handle everything the worker and the tests answered.
    pub fn drain(&self) {
        for event in self.mailbox.drain() {
            match event {
                Event::Gate(Ok(gate)) => {
                    // No PIN provisioned, or locked out: the pad stays shut.
                    if let Some(words) = gate.words() {
                        let message = words.pick(self.english()).to_string();
                        self.with_admin(|a| {
                            a.set_locked(true);
                            a.set_pin_message(message.into());
                        })
                    }
                }
                Event::Gate(Err(err)) => {
                    let message = err.words().pick(self.english()).to_string();
                    self.with_admin(|a| {
                        a.set_locked(true);
                        a.set_pin_message(message.into())
                    });
                }
                Event::Entered(result) => self.entered(result),
                Event::PinChanged(result) => {
                    self.with_admin(|a| a.set_busy(false));
                    match result {
                        Ok(session) => {
                            self.audit(AuditEntry::action(
                                SystemTime::now(),
                                session.actor(),
                                "pin-change",
                            ));
                            self.state.borrow_mut().session = Some(session);
                            self.show(AdminPage::Settings);
                            self.message(Ok(Words::fixed("新的 PIN 已设置", "New PIN set")));
                        }
                        Err(err) => {
                            let message = err.words().pick(self.english()).to_string();
                            self.with_admin(|a| {
                                a.set_pin_mode(PinMode::NewPin);
                                a.set_pin_message(message.into());
                            })
                        }
                    }
                }
                Event::Ports(ports) => {
                    self.state.borrow_mut().ports = ports;
                    self.refresh_settings();
                }
                Event::Mounts(mounts) => {
                    let chosen = self.export_dir();
                    {
                        let mut s = self.state.borrow_mut();
                        s.mounts = mounts;
                        s.mounts_known = true;
                        // A stick by default; the technician's own pick if made.
                        s.target = if s.target_chosen {
                            s.mounts
                                .iter()
                                .position(|m| *m == chosen)
                                .unwrap_or(s.mounts.len())
                        } else {
                            0
                        };
                    }
                    self.refresh_operations();
                }
                Event::Saved(result) => self.saved(*result),
                Event::Message(result) => self.message(result),
                Event::Restart => {
                    let hooks = self.state.borrow().hooks.clone();
                    hooks.restart();
                }
            }
        }
    }

    fn message(&self, result: TestResult) {
        let (text, error) = match result {
            Ok(t) => (t, false),
            Err(t) => (t, true),
        };
        let text = text.pick(self.english()).to_string();
        self.with_admin(|a| {
            a.set_message(text.into());
            a.set_message_error(error);
        });
    }

    fn audit(&self, entry: AuditEntry) {
        let audit = self.state.borrow().audit.clone();
        self.worker.run(move || {
            if let Err(err) = audit.append(&entry) {
                tracing::error!(%err, action = entry.action, "audit entry not written");
            }
        });
    }

    fn with_admin<R>(&self, f: impl FnOnce(&crate::Admin<'_>) -> R) -> R {
        let ui = self.ui();
        let admin = ui.global::<crate::Admin>();
        f(&admin)
    }
}

/// Run `f` on the gate, opening it on first use (that may hash the default PIN).
fn with_gate<T>(
    gate: &Mutex<Option<AdminGate>>,
    dir: &std::path::Path,
    f: impl FnOnce(&mut AdminGate) -> Result<T, AdminError>,
) -> Result<T, AdminError> {
    let mut slot = gate.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        *slot = Some(AdminGate::open(dir)?);
    }
    match slot.as_mut() {
        Some(g) => f(g),
        None => Err(AdminError::Storage {
            detail: "no gate".into(),
        }),
    }
}

fn export(
    monitor: &OpsMonitor,
    dir: &std::path::Path,
    logs: bool,
    status: &str,
    audit: &AuditLog,
) -> TestResult {
    std::fs::create_dir_all(dir).map_err(|e| {
        Words::new(
            format!("无法写入 {}：{e}", dir.display()),
            format!("Cannot write to {}: {e}", dir.display()),
        )
    })?;
    let (text, path) = export_into(monitor, dir, logs, status, audit)?;
    // Exports kept on the kiosk's own card must not fill it over the years;
    // the one just written always stays.
    if dir == monitor.data_dir().join("exports") {
        if let Ok(trimmed) = bianmin_ops::bound_dir(dir, LOCAL_EXPORTS_MAX_BYTES, &[&path]) {
            if !trimmed.removed.is_empty() {
                tracing::info!(removed = trimmed.removed.len(), "old local exports removed");
            }
        }
    }
    Ok(text)
}

/// Room for local exports when no stick is plugged in.
const LOCAL_EXPORTS_MAX_BYTES: u64 = 64 * 1024 * 1024;

fn export_into(
    monitor: &OpsMonitor,
    dir: &std::path::Path,
    logs: bool,
    status: &str,
    audit: &AuditLog,
) -> Result<(Words, PathBuf), Words> {
    if logs {
        let files = audit.files();
        let what = bianmin_ops::export::LogExport {
            terminal_id: monitor.terminal_id(),
            status,
            audit_files: &files,
            journal_lines: 20_000,
        };
        let path = bianmin_ops::export::export_logs(dir, &what).map_err(|e| {
            Words::new(
                format!("日志导出失败：{e}"),
                format!("The logs were not exported: {e}"),
            )
        })?;
        Ok((
            Words::new(
                format!("日志已导出（个人信息已遮蔽）：{}", path.display()),
                format!("Logs exported (personal data masked): {}", path.display()),
            ),
            path,
        ))
    } else {
        let store = monitor.store().ok_or(Words::fixed(
            "数据库没有打开，无法导出",
            "The database is not open; nothing can be exported",
        ))?;
        let path = dir.join(bianmin_ops::export::export_name(
            "queue",
            monitor.terminal_id(),
            "bmx",
        ));
        let n = store
            .export(&path)
            .map_err(|e| Words::new(format!("导出失败：{e}"), format!("The export failed: {e}")))?;
        let text = Words::new(
            format!("已导出 {n} 条待上报记录（已加密）：{}", path.display()),
            format!(
                "Exported {} waiting for upload (encrypted): {}",
                count_en(n, "record", "records"),
                path.display()
            ),
        );
        Ok((text, path))
    }
}

/// One figure of the operations screen, in both languages.
struct Figure {
    label: Words,
    value: Words,
    warn: bool,
}

impl Figure {
    fn shown(self, english: bool) -> AdminFigure {
        AdminFigure {
            label: self.label.pick(english).into(),
            value: self.value.pick(english).into(),
            warn: self.warn,
        }
    }
}

/// Words that read the same in both languages: numbers, paths, times and
/// the technical details of errors.
fn same(text: String) -> Words {
    Words::new(text.clone(), text)
}

/// The figures of the operations screen.
fn figures(snap: Option<&bianmin_ops::OpsSnapshot>, now: SystemTime) -> Vec<Figure> {
    let fig = |label: Words, value: Words, warn: bool| Figure { label, value, warn };
    let unknown = || Words::fixed("未知", "Unknown");
    let mut out = vec![fig(
        Words::fixed("软件版本", "Software version"),
        same(env!("CARGO_PKG_VERSION").to_string()),
        false,
    )];
    let Some(snap) = snap else {
        out.push(fig(
            Words::fixed("状态", "Status"),
            Words::fixed(
                "后台服务没有运行",
                "The background services are not running",
            ),
            true,
        ));
        return out;
    };
    let uptime = bianmin_ops::uptime::uptime_words(snap.uptime);
    let system = snap
        .system_uptime
        .map(bianmin_ops::uptime::uptime_words)
        .unwrap_or_else(unknown);
    out.push(fig(
        Words::fixed("运行时间", "Uptime"),
        Words::new(
            format!("本次 {}；系统 {}", uptime.zh(), system.zh()),
            format!("this run {}; system {}", uptime.en(), system.en()),
        ),
        false,
    ));
    if let Some(d) = &snap.devices {
        let dev = |s: &bianmin_drivers::manager::DeviceStatus| -> (Words, bool) {
            use bianmin_drivers::manager::DeviceStatus as S;
            match s {
                S::Disabled => (Words::fixed("未启用", "Disabled"), false),
                S::Starting => (Words::fixed("正在连接", "Connecting"), false),
                S::Ok => (Words::fixed("正常", "OK"), false),
                S::Degraded { reason, detail } => (
                    Words::new(
                        format!("{}（{detail}）", reason.zh()),
                        format!("{} ({detail})", reason.en()),
                    ),
                    true,
                ),
                S::Absent { detail } => (
                    Words::new(
                        format!("未连接（{detail}）"),
                        format!("Not connected ({detail})"),
                    ),
                    true,
                ),
            }
        };
        for (label, status) in [
            (Words::fixed("身份证读卡器", "ID card reader"), &d.id_card),
            (Words::fixed("打印机", "Printer"), &d.printer),
            (Words::fixed("扫码器", "Scanner"), &d.scanner),
            (Words::fixed("指示灯/蜂鸣器", "LED/buzzer"), &d.gpio),
        ] {
            let (text, warn) = dev(status);
            out.push(fig(label, text, warn));
        }
    }
    if let Some(q) = &snap.queue {
        let now_ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let oldest = q
            .oldest_pending_ms
            .map(|t| {
                let age = Duration::from_millis(now_ms.saturating_sub(t).max(0) as u64);
                let age = bianmin_ops::uptime::uptime_words(age);
                Words::new(
                    format!("，最早一条已等待 {}", age.zh()),
                    format!(", the oldest waiting for {}", age.en()),
                )
            })
            .unwrap_or_default();
        out.push(fig(
            Words::fixed("待上报", "Waiting for upload"),
            Words::new(
                format!(
                    "{} 条（申请 {}，心跳 {}）{}；被退回 {}",
                    q.pending,
                    q.pending_applications,
                    q.pending_heartbeats,
                    oldest.zh(),
                    q.parked
                ),
                format!(
                    "{} ({}, {}){}; returned: {}",
                    q.pending,
                    count_en(
                        q.pending_applications as usize,
                        "application",
                        "applications"
                    ),
                    count_en(q.pending_heartbeats as usize, "heartbeat", "heartbeats"),
                    oldest.en(),
                    q.parked
                ),
            ),
            q.parked > 0,
        ));
    }
    match &snap.sync {
        Some(sync) => {
            let last = sync
                .last_success_ms
                .map(|ms| same(bianmin_store::rfc3339(ms)))
                .unwrap_or(Words::fixed("尚未成功", "Not yet"));
            // The sync error is the platform client's technical detail.
            let err = sync
                .last_error
                .clone()
                .map(|e| Words::new(format!("；上次失败：{e}"), format!("; last failure: {e}")))
                .unwrap_or_default();
            out.push(fig(
                Words::fixed("最近同步成功", "Last successful sync"),
                Words::new(
                    format!("{}{}", last.zh(), err.zh()),
                    format!("{}{}", last.en(), err.en()),
                ),
                sync.last_error.is_some(),
            ));
        }
        None => out.push(fig(
            Words::fixed("同步", "Sync"),
            Words::fixed("没有运行", "Not running"),
            true,
        )),
    }
    out.push(fig(
        Words::fixed("服务目录版本", "Catalogue version"),
        snap.catalogue_version
            .clone()
            .map(same)
            .unwrap_or(Words::fixed("内置演示目录", "Built-in demo catalogue")),
        false,
    ));
    let storage = Words::fixed("存储空间", "Storage");
    match snap.disk {
        Some(space) => {
            let (free, total) = (
                space.free_bytes / (1024 * 1024),
                space.total_bytes / (1024 * 1024),
            );
            out.push(fig(
                storage,
                snap.disk_warning.clone().unwrap_or_else(|| {
                    Words::new(
                        format!("剩余 {free} MB / 共 {total} MB"),
                        format!("{free} MB free of {total} MB"),
                    )
                }),
                snap.disk_warning.is_some(),
            ))
        }
        None => out.push(fig(storage, unknown(), true)),
    }
    let heartbeat = match (&snap.last_heartbeat, &snap.heartbeat_error) {
        (_, Some(err)) => (
            Words::new(format!("未能排队：{err}"), format!("Not queued: {err}")),
            true,
        ),
        (Some((_, at)), None) => {
            let ms = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            (same(bianmin_store::rfc3339(ms)), false)
        }
        (None, None) => (Words::fixed("尚未发送", "Not sent yet"), false),
    };
    out.push(fig(
        Words::fixed("最近心跳", "Last heartbeat"),
        heartbeat.0,
        heartbeat.1,
    ));
    out
}

fn model<T: Clone + 'static>(items: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(items))
}

fn port_label(p: &PortDescription) -> String {
    let ids = match (p.vid, p.pid) {
        (Some(v), Some(d)) => format!(" · USB {v:04x}:{d:04x}"),
        _ => String::new(),
    };
    let name = [p.manufacturer.as_deref(), p.product.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        String::new()
    } else {
        format!(" {name}")
    };
    format!("{}{ids}{name}", p.path)
}

fn seconds_label(n: u32, english: bool) -> String {
    let words = match n {
        0 => Words::fixed("从不", "Never"),
        n if n % 60 == 0 => Words::new(format!("{} 分钟", n / 60), format!("{} min", n / 60)),
        n => Words::new(format!("{n} 秒"), format!("{n} s")),
    };
    words.pick(english).to_string()
}

/// A setting's label, or its key for one admin mode does not list.
fn field_label(key: &str) -> Words {
    FIELDS
        .iter()
        .find(|f| f.key == key)
        .map(|f| f.label.clone())
        .unwrap_or_else(|| Words::new(key.to_string(), key.to_string()))
}

fn saved_now(count: usize) -> Words {
    Words::new(
        format!("已保存 {count} 项设置，已生效"),
        format!(
            "Saved {}; in effect now",
            count_en(count, "setting", "settings")
        ),
    )
}

fn parse_toml(text: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.into()))
}

/// A value as typed or chosen: strings without quotes.
fn raw_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as shown in the list.
fn shown(field: &FieldSpec, v: &toml::Value, english: bool) -> String {
    let raw = raw_value(v);
    match field.kind {
        FieldKind::Choice(options) => options
            .iter()
            .find(|(o, _)| raw_value(&parse_toml(o)) == raw)
            .map(|(_, l)| l.pick(english).to_string())
            .unwrap_or(raw),
        FieldKind::Seconds(_) => raw
            .parse()
            .map(|n| seconds_label(n, english))
            .unwrap_or(raw),
        FieldKind::Baud => format!("{raw} bps"),
        _ => raw,
    }
}

/// `config` with one dotted key set, checked by the same deserialiser the
/// start-up uses, so a bad value is refused with its reason.
pub fn with_value(config: &Config, key: &str, value: toml::Value) -> Result<Config, String> {
    let mut root = toml::Value::try_from(config).map_err(|e| e.to_string())?;
    let mut parts: Vec<&str> = key.split('.').collect();
    let leaf = parts.pop().ok_or("empty key")?;
    let mut table = &mut root;
    for part in parts {
        table = table
            .get_mut(part)
            .ok_or_else(|| format!("no setting {key}"))?;
    }
    table
        .as_table_mut()
        .ok_or_else(|| format!("no setting {key}"))?
        .insert(leaf.into(), value);
    let mut out: Config = root
        .try_into()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    // Never in the file, so not in the TOML round trip either.
    out.platform.secret = config.platform.secret.clone();
    Ok(out)
}

/// Which variant of the settings page a screenshot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviewDetail {
    /// A serial port selected: its choices, and a saved-setting message.
    Choices,
    /// The station name selected: the on-screen keyboard.
    Keyboard,
}

thread_local! {
    /// The admin mode behind screenshots, one per window of this thread.
    static PREVIEW: RefCell<Option<AdminController>> = const { RefCell::new(None) };
}

fn preview_controller(ui: &AppWindow) -> AdminController {
    PREVIEW.with(|slot| {
        let mut slot = slot.borrow_mut();
        let same_window = slot.as_ref().is_some_and(|admin| {
            admin
                .ui
                .upgrade()
                .is_some_and(|shown| std::ptr::eq(shown.window(), ui.window()))
        });
        if !same_window {
            // Never the real data directory: nothing is written, but a
            // screenshot must not even look at a terminal's PIN or files.
            let mut config = Config::default();
            config.store.data_dir = std::env::temp_dir().join("bianmin-admin-preview");
            let path = config.store.data_dir.join("kiosk.toml");
            *slot = Some(AdminController::new(ui, config, path));
        }
        slot.clone().expect("just made")
    })
}

/// Show an admin page over `ui` for screenshots and the UI audit.
pub fn preview(ui: &AppWindow, page: AdminPage, detail: PreviewDetail) {
    preview_controller(ui).preview(page, detail);
}

/// Take a screenshot's admin page away again (no-op if none is shown).
pub fn close_preview(ui: &AppWindow) {
    let shown = PREVIEW.with(|slot| slot.borrow().clone());
    if let Some(admin) = shown {
        if admin
            .ui
            .upgrade()
            .is_some_and(|w| std::ptr::eq(w.window(), ui.window()))
        {
            admin.close_preview();
        }
    }
}
