//! The kiosk's UI controller: owns the view models behind the `Kiosk` global,
//! turns the resident's taps into navigation, and wipes resident data when a
//! session ends. Runs on the Slint event-loop thread only.

mod assist;
mod enroll;
mod journey;
mod station;

use crate::prompts;
use crate::voice::{Silent, Speaker};
use crate::{
    AppWindow, CategoryItem, GuideData, Kiosk, MaterialItem, NetworkState, Screen, ServiceItem,
    TermRow, Theme,
};
use bianmin_config::{Config, Language};
use bianmin_core::bundle::BundleCatalogue;
use bianmin_core::catalogue::{Catalogue, Service};
use bianmin_core::form::{FormLibrary, Identity};
use bianmin_core::glossary::Term;
use bianmin_core::package::Package;
use bianmin_core::search::SearchIndex;
use bianmin_core::session::{EndReason, IdlePolicy, Session, SessionEvent};
use bianmin_core::words::Words;
use bianmin_desk::{DeskAnswer, DeskEvent, DeskRequest, SessionId};
use bianmin_journey::paging::{pages, turn, PageWindow};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// A code read character by character: letters and digits apart, each
/// dash a pause ("BM1-T0001" → "B M 1，T 0 0 0 1").
fn spell_out(code: &str) -> String {
    code.split('-')
        .filter(|group| !group.is_empty())
        .map(|group| {
            group
                .chars()
                .map(String::from)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("，")
}

/// Most search matches counted and paged; beyond this the resident should
/// type more letters.
const MAX_SEARCH_RESULTS: usize = 40;
/// Longest search text the on-screen keyboard accepts; longer input is noise.
const MAX_SEARCH_LEN: usize = 24;

/// Codes of the pseudo-categories and of bundles in the service lists.
const BUNDLES_CATEGORY: &str = "bundles";
const POPULAR_CATEGORY: &str = "popular";
const BUNDLE_PREFIX: &str = "bundle:";
/// How many items "本站常办" lists.
const POPULAR_COUNT: usize = 8;

/// Things the controller asks the rest of the kiosk to do.
pub trait KioskHooks {
    /// The resident pressed "呼叫工作人员": sound the buzzer, notify staff.
    fn call_staff(&self) {}
    /// The resident is on the "put your card down" screen.
    fn identify_requested(&self) {}
    /// The session ended: forget the identity held off screen.
    fn session_ended(&self) {}
    /// The identity read from the card now on the reader, for prefilling.
    fn identity(&self) -> Option<Identity> {
        None
    }
    /// A journey needs the store, printer or platform; `session` comes
    /// back with the answer (see [`DeskAnswer`]).
    fn desk(&self, _session: SessionId, _request: DeskRequest) {}
    /// The presence sensor saw someone arrive (`true`) or leave; admin mode
    /// wakes a dimmed screen.
    fn presence(&self, _present: bool) {}
    /// Start the kiosk's process again (it enrolled, or a technician sent
    /// "restart"); called between residents only.
    fn restart(&self) {}
    /// The kiosk shows its updating page and starts no session: tell the
    /// updater it may replace the software now.
    fn grant_update_hold(&self) {}
    /// A technician typed an enrollment code on the 本终端尚未注册 page: enroll
    /// with it as with a scanned one (what became of it comes back as
    /// `UiEvent::Enrollment`).
    fn enroll_typed(&self, _code: &str) {}
    /// The platform vouched for a scanned personal code: hold this identity
    /// for the session as a card's would be held (wiped at its end).
    // Boxed as the slot holds it: moved in whole, never copied (a copy of
    // personal data on the stack would outlive the session's wipe).
    #[allow(clippy::boxed_local)]
    fn hold_identity(&self, _identity: Box<Identity>) {}
    /// Demo mode: the platform issues a personal code for a fictional
    /// resident and the simulated scanner scans it. `false` where there is
    /// nothing to do it with (a real kiosk).
    fn demo_scan_code(&self) -> bool {
        false
    }
    /// Whether [`KioskHooks::demo_scan_code`] can do anything: its button
    /// shows only then.
    fn demo_scanner(&self) -> bool {
        false
    }
}

/// The page of a kiosk with no identity.
const NOT_ENROLLED: bianmin_core::words::Words = bianmin_core::words::Words::fixed(
    "本终端尚未注册：请运维人员扫描注册码",
    "This terminal is not enrolled: a technician scans its enrollment code",
);

struct NoHooks;
impl KioskHooks for NoHooks {}

struct State {
    hooks: Rc<dyn KioskHooks>,
    speaker: Rc<dyn Speaker>,
    config: Config,
    catalogue: Catalogue,
    index: SearchIndex,
    language: Language,
    session: Session,
    back_stack: Vec<Screen>,
    category: Option<String>,
    category_page: usize,
    service_page: usize,
    search_text: String,
    search_page: usize,
    guide_code: Option<String>,
    /// Masked identity of the resident in session; the full identity lives
    /// in the journey layer and is wiped with the session.
    resident_masked: String,
    /// A content package that arrived mid-session, applied when the
    /// session ends: catalogue, forms and bundles change together.
    pending_content: Option<Package>,
    /// Version of the package shown (receipts and records carry it).
    content_version: String,
    /// Out of service only because no valid package is there yet: the
    /// first one that arrives opens the kiosk.
    awaiting_content: bool,
    /// The updater holds the kiosk (its "updating" page) or waits for the
    /// resident in session to finish.
    updating: bool,
    update_hold_pending: bool,
    /// No identity: the page asks for an enrollment code (scanned or typed).
    awaiting_enrollment: bool,
    /// The enrollment code typed on the keypad so far.
    enrollment_typed: String,
    /// A technician asked for a restart while a resident was served: it
    /// happens when their session ends.
    restart_pending: bool,
    /// Out of service for a fault only a technician can clear (a broken
    /// configuration or store). Sticky: no card, scan, touch or session
    /// end leaves the out-of-service page; a restart after repair does.
    broken: bool,
    /// The session desk requests are tagged with; a new one after every
    /// wipe, so an answer to an ended session is recognised and dropped.
    session_id: SessionId,
    forms: FormLibrary,
    bundles: BundleCatalogue,
    /// The package's 告知承诺 texts and 办不成事反映 topics.
    commitments: std::collections::BTreeMap<String, bianmin_core::package::Text>,
    feedback_topics: Vec<bianmin_core::package::Topic>,
    /// 帮办: the clerk helping this resident.
    assisted_by: Option<String>,
    /// The station clerk's view, while it is open.
    station: Option<station::StationState>,
    assist: assist::AssistEntry,
    assist_attempts: bianmin_admin::staff::Attempts,
    /// This station's most-used services, most first (from its outbox).
    station_popular: Vec<String>,
}

/// Cheap to clone: all clones drive the same window.
#[derive(Clone)]
pub struct KioskController {
    ui: slint::Weak<AppWindow>,
    state: Rc<RefCell<State>>,
    /// The application journey: its own state, its own screens.
    journey: journey::JourneyController,
    ticker: Rc<RefCell<Option<slint::Timer>>>,
    inbox_timer: Rc<RefCell<Option<slint::Timer>>>,
    /// Polls the check of a clerk's PIN while it runs.
    assist_timer: Rc<RefCell<Option<slint::Timer>>>,
}

impl KioskController {
    /// `content` is the verified package to show (`Package::empty()` while
    /// there is none: the caller then shows the out-of-service page).
    pub fn new(ui: &AppWindow, config: Config, content: Package) -> KioskController {
        let large = config.ui.theme == bianmin_config::Theme::Large;
        let language = config.ui.language;
        let policy = idle_policy(&config, large);
        // This station's selection of the county's items.
        let content = content.for_station(&config.station.code.0);
        let Package {
            version: content_version,
            catalogue,
            forms,
            bundles,
            commitments,
            feedback_topics,
            ..
        } = content;
        let index = SearchIndex::build(&catalogue);
        // A clerk's failed PINs and the lock survive a restart.
        let assist_attempts = bianmin_admin::staff::Attempts::open(&config.store.data_dir);
        let controller = KioskController {
            ui: ui.as_weak(),
            state: Rc::new(RefCell::new(State {
                hooks: Rc::new(NoHooks),
                speaker: Rc::new(Silent),
                config,
                catalogue,
                index,
                language,
                session: Session::new(policy),
                back_stack: Vec::new(),
                category: None,
                category_page: 0,
                service_page: 0,
                search_text: String::new(),
                search_page: 0,
                guide_code: None,
                resident_masked: String::new(),
                pending_content: None,
                content_version,
                awaiting_content: false,
                updating: false,
                update_hold_pending: false,
                awaiting_enrollment: false,
                enrollment_typed: String::new(),
                restart_pending: false,
                broken: false,
                session_id: SessionId(1),
                forms,
                bundles,
                commitments,
                feedback_topics,
                assisted_by: None,
                station: None,
                assist: assist::AssistEntry::default(),
                assist_attempts,
                station_popular: Vec::new(),
            })),
            journey: journey::JourneyController::new(ui),
            assist_timer: Rc::new(RefCell::new(None)),
            ticker: Rc::new(RefCell::new(None)),
            inbox_timer: Rc::new(RefCell::new(None)),
        };
        ui.global::<Theme>().set_large(large);
        controller.select_language(language);
        controller.wire_callbacks(ui);
        crate::wrap::warm_up();
        controller.journey.wire(&controller, ui);
        controller.wire_assist(ui);
        controller.wire_station(ui);
        controller.refresh_all();
        controller
    }

    pub fn set_hooks(&self, hooks: Rc<dyn KioskHooks>) {
        let demo_scanner = hooks.demo_scanner();
        self.state.borrow_mut().hooks = hooks;
        self.kiosk(|k| k.set_demo_scanner(demo_scanner));
    }

    /// Where spoken prompts go; silent until set.
    pub fn set_speaker(&self, speaker: Rc<dyn Speaker>) {
        self.state.borrow_mut().speaker = speaker;
    }

    /// Prompts play by themselves in large mode (and in normal mode when configured).
    fn speaks_automatically(&self) -> bool {
        self.large() || self.state.borrow().config.voice.auto_in_normal_mode
    }

    fn say(&self, text: &str) {
        let (speaker, language) = {
            let state = self.state.borrow();
            (state.speaker.clone(), state.language)
        };
        speaker.speak(text, language);
    }

    /// Read the current screen's prompt (or the countdown) aloud.
    pub fn announce(&self) {
        let english = self.state.borrow().language == Language::En;
        let (screen, countdown, seconds) = self.kiosk(|k| {
            (
                k.get_screen(),
                k.get_countdown_visible(),
                k.get_countdown_seconds(),
            )
        });
        if countdown {
            self.say(&prompts::countdown_prompt(seconds, english));
        } else {
            let prompt = prompts::screen_prompt(screen, english);
            // Before signing, 朗读 reads what is signed: the summary, or
            // the commitment text itself; on a guide, the guide; on the
            // receipt, what the resident must keep and still owes.
            let more = match screen {
                Screen::Guide => Some(self.spoken_guide(english)),
                Screen::Receipt => Some(self.spoken_receipt(english)),
                _ => self.journey.spoken(self, screen),
            };
            match more.filter(|m| !m.is_empty()) {
                Some(more) => self.say(&format!("{prompt}{more}")),
                None => self.say(prompt),
            }
        }
    }

    /// The guide on screen, read out: what it is, what to bring, how long
    /// it takes, what it costs.
    fn spoken_guide(&self, english: bool) -> String {
        use slint::Model as _;
        let guide = self.kiosk(|k| k.get_guide());
        let (stop, list) = if english {
            (". ", ", ")
        } else {
            ("。", "、")
        };
        let mut parts = vec![guide.name.to_string()];
        if !guide.summary.is_empty() {
            parts.push(guide.summary.trim_end_matches('。').to_string());
        }
        let materials: Vec<String> = guide.materials.iter().map(|m| m.name.to_string()).collect();
        if !materials.is_empty() {
            parts.push(self.tr(
                &format!("需要带：{}", materials.join(list)),
                &format!("Bring: {}", materials.join(list)),
            ));
        }
        if !guide.time_limit.is_empty() {
            parts.push(self.tr(
                &format!("办理时限：{}", guide.time_limit),
                &format!("Time limit: {}", guide.time_limit),
            ));
        }
        if !guide.fee.is_empty() {
            parts.push(self.tr(
                &format!("费用：{}", guide.fee),
                &format!("Fee: {}", guide.fee),
            ));
        }
        let steps: Vec<String> = guide.process.iter().map(|s| s.to_string()).collect();
        if !steps.is_empty() {
            parts.push(self.tr(
                &format!("办理流程：{}", steps.join(list)),
                &format!("Steps: {}", steps.join(list)),
            ));
        }
        parts.extend(guide.details.iter().map(|d| d.to_string()));
        if !guide.unavailable.is_empty() {
            parts.push(guide.unavailable.to_string());
        }
        parts.join(stop) + stop.trim_end()
    }

    /// The receipt read out: what was applied for, its number character by
    /// character (an elder writes it down or repeats it on the phone), and
    /// what is still owed.
    fn spoken_receipt(&self, english: bool) -> String {
        use slint::Model as _;
        let ui = self.ui();
        let journey = ui.global::<crate::Journey>();
        let receipt = journey.get_receipt_no().to_string();
        if receipt.is_empty() {
            return String::new();
        }
        let (stop, list) = if english {
            (". ", "; ")
        } else {
            ("。", "；")
        };
        let mut parts = Vec::new();
        let title = journey.get_title().to_string();
        if !title.is_empty() {
            parts.push(self.tr(&format!("事项：{title}"), &format!("Service: {title}")));
        }
        parts.push(self.tr(
            &format!("受理编号：{}", spell_out(&receipt)),
            &format!("Receipt number: {}", spell_out(&receipt)),
        ));
        let owed: Vec<String> = journey.get_owed().iter().map(|o| o.to_string()).collect();
        if !owed.is_empty() {
            parts.push(self.tr(
                &format!("还需补交：{}", owed.join(list)),
                &format!("Still owed: {}", owed.join(list)),
            ));
        }
        parts.join(stop) + stop.trim_end()
    }

    fn show(&self, screen: Screen) {
        if screen != Screen::OutOfService && !self.serving() {
            tracing::debug!(?screen, "out of service: navigation refused");
            return;
        }
        self.kiosk(|k| k.set_screen(screen));
        if self.speaks_automatically() {
            self.announce();
        }
    }

    /// The window this controller drives (screenshots and the admin overlay
    /// reach its other globals through it).
    pub fn window(&self) -> AppWindow {
        self.ui()
    }

    fn ui(&self) -> AppWindow {
        self.ui
            .upgrade()
            .expect("the window outlives its controller")
    }

    fn kiosk<R>(&self, f: impl FnOnce(&Kiosk<'_>) -> R) -> R {
        let ui = self.ui();
        let kiosk = ui.global::<Kiosk>();
        f(&kiosk)
    }

    /// Start the one-second timer that drives the clock and the idle time-out.
    pub fn start_ticking(&self) {
        let this = self.clone();
        let timer = slint::Timer::default();
        timer.start(
            slint::TimerMode::Repeated,
            Duration::from_secs(1),
            move || this.tick(),
        );
        *self.ticker.borrow_mut() = Some(timer);
    }

    /// Take what the background services reported, every 100 ms.
    pub fn start_inbox(&self, inbox: crate::events::Inbox) {
        let this = self.clone();
        let timer =
            inbox.deliver_on_ui(Duration::from_millis(100), move |event| this.handle(event));
        *self.inbox_timer.borrow_mut() = Some(timer);
    }

    pub fn handle(&self, event: crate::events::UiEvent) {
        use crate::events::UiEvent;
        use bianmin_sync::Link;
        // Out of service, a card or a scan starts nothing: the page stays
        // until the kiosk is repaired (or its first content package comes).
        let starts_something = matches!(
            event,
            UiEvent::CardPresent { .. }
                | UiEvent::CardFailed(_)
                | UiEvent::ReceiptScanned(_)
                | UiEvent::ServiceCodeScanned(_)
                | UiEvent::UnknownCode
        );
        if starts_something && !self.serving() {
            tracing::debug!("out of service: card or scan ignored");
            return;
        }
        match event {
            UiEvent::Link { link, queue_depth } => {
                let state = match link {
                    Link::Online => NetworkState::Online,
                    Link::Syncing => NetworkState::Syncing,
                    Link::Offline | Link::Starting => NetworkState::Offline,
                };
                self.set_network(state, queue_depth as usize);
            }
            UiEvent::Content(content) => self.set_content(*content),
            UiEvent::Enrollment(news) => self.enrollment(news),
            UiEvent::RestartRequested => {
                let in_session = self.state.borrow().session.is_active();
                if in_session {
                    tracing::info!("restart requested; after this resident's session");
                    self.state.borrow_mut().restart_pending = true;
                } else {
                    let hooks = self.state.borrow().hooks.clone();
                    hooks.restart();
                }
            }
            UiEvent::UpdateHold(wanted) => self.update_hold(wanted),
            UiEvent::Popular(codes) => {
                self.state.borrow_mut().station_popular = codes;
                self.refresh_categories();
            }
            UiEvent::CardPresent {
                masked_name,
                masked_id,
            } => self.identified(&masked_name, &masked_id, None),
            UiEvent::CardRemoved => {
                if self.journey.on_principal_step(self) {
                    // 代办: the agent lifts their card to put the
                    // applicant's down; the session goes on.
                    tracing::debug!("card lifted while naming the applicant; session kept");
                    return;
                }
                if !self.state.borrow().resident_masked.is_empty() {
                    self.end_session(EndReason::CardRemoved);
                }
            }
            UiEvent::CardFailed(message) => {
                self.activity();
                self.show_notice(&self.pick(&message));
            }
            UiEvent::ReceiptScanned(receipt_no) => {
                self.activity();
                self.journey.progress_for_receipt(self, receipt_no);
            }
            UiEvent::ServiceCodeScanned(code) => {
                self.activity();
                if !self.state.borrow().resident_masked.is_empty() {
                    // One resident per session: someone else's code is not
                    // taken over the identity already in use.
                    self.show_notice(&self.tr(
                        "已确认过身份。如要用另一个人的码，请先按“首页”结束本次办理。",
                        "You are already identified. To use another person's code, press Home to finish first.",
                    ));
                    return;
                }
                let scheme = code.scheme;
                self.show_notice(&self.tr(
                    &format!("正在核验{}，请稍候……", scheme.label_zh()),
                    &format!("Checking your {}, please wait…", scheme.label_en()),
                ));
                self.desk(DeskRequest::VerifyCode(code));
            }
            UiEvent::UnknownCode => {
                self.activity();
                self.show_notice(&self.tr(
                    "无法识别这个二维码。请扫描本终端打印的回执二维码。",
                    "This code is not recognised. Scan the QR code on a receipt printed here.",
                ));
            }
            UiEvent::CallStaff => self.call_staff(),
            UiEvent::Desk(DeskAnswer {
                event: DeskEvent::StoreBroken { detail },
                ..
            }) => self.store_broken(&detail),
            UiEvent::Desk(DeskAnswer { session, event }) => {
                if session != self.state.borrow().session_id {
                    // The resident who asked has gone: what came back (a
                    // progress list, documents, a receipt number) is not
                    // for the next one. A stored application is safe in
                    // the outbox whatever happens here.
                    tracing::info!(
                        answer = event.kind(),
                        "desk answer for an ended session dropped"
                    );
                    return;
                }
                let event = match event {
                    DeskEvent::CodeChecked(checked) => {
                        self.code_checked(checked);
                        return;
                    }
                    DeskEvent::StationView(view) => {
                        self.station_answered(*view);
                        return;
                    }
                    other => other,
                };
                let submitted = match &event {
                    bianmin_desk::DeskEvent::Submitted { printed, .. } => Some(*printed),
                    _ => None,
                };
                self.journey.on_desk(self, event);
                if let Some(printed) = submitted {
                    self.refresh_next_step();
                    if !printed {
                        // Stored but not printed: a clerk must reprint. Call
                        // one now rather than leave an elder to find the
                        // button; the receipt screen says so.
                        tracing::info!("receipt not printed; staff called");
                        self.desk(DeskRequest::CallStaff);
                        let hooks = self.state.borrow().hooks.clone();
                        hooks.call_staff();
                    }
                }
            }
            UiEvent::Presence(present) => {
                let hooks = self.state.borrow().hooks.clone();
                hooks.presence(present);
            }
            UiEvent::Devices(status) => {
                tracing::debug!(
                    id_card = status.id_card.label(),
                    printer = status.printer.label(),
                    scanner = status.scanner.label(),
                    "device status"
                );
            }
        }
    }

    /// The resident is known — by the card on the reader, or by a personal
    /// code the platform vouched for (`code`: its scheme) — and the journey
    /// goes on as it would with either.
    fn identified(
        &self,
        masked_name: &str,
        masked_id: &str,
        code: Option<bianmin_core::personal_code::Scheme>,
    ) {
        if code.is_none() && self.journey.on_principal_step(self) {
            // 代办: the card put down now is the applicant's.
            self.set_resident(&format!("{masked_name} {masked_id}"));
            self.journey.principal_card(self);
            return;
        }
        self.set_resident(&format!("{masked_name} {masked_id}"));
        if self.journey.resume_pending_apply(self) {
            return;
        }
        match self.kiosk(|k| k.get_screen()) {
            // Asked to identify (or scanning on purpose): on to the services.
            Screen::Scan if code.is_some() => self.open_catalogue(),
            Screen::Identify => self.open_catalogue(),
            Screen::Progress => {
                self.journey.open_progress(self);
                return;
            }
            _ => {}
        }
        let notice = match code {
            None => self.tr(
                &format!("已确认身份：{masked_name}。请选择要办理的事项，办完取走身份证即退出。"),
                &format!("Identified: {masked_name}. Choose a service; lift the card to finish."),
            ),
            Some(scheme) => self.tr(
                &format!(
                    "已通过{}确认身份：{masked_name}。请选择要办理的事项，办完请按“首页”结束。",
                    scheme.label_zh()
                ),
                &format!(
                    "Identified by your {}: {masked_name}. Choose a service; press Home when you are done.",
                    scheme.label_en()
                ),
            ),
        };
        self.show_notice(&notice);
    }

    /// What the platform said of a scanned personal code.
    fn code_checked(&self, checked: Result<Box<Identity>, bianmin_core::words::Words>) {
        match checked {
            Ok(identity) => {
                if !self.state.borrow().resident_masked.is_empty() {
                    // A card went down while the code was being checked:
                    // the card decides.
                    return;
                }
                let masked_name = bianmin_core::id_number::mask_name(&identity.name);
                let masked_id = bianmin_core::id_number::mask_id(&identity.id_number);
                let scheme = match identity.source {
                    bianmin_core::form::IdentitySource::Code(scheme) => scheme,
                    // The desk builds it from a code; nothing else comes here.
                    bianmin_core::form::IdentitySource::IdCard
                    | bianmin_core::form::IdentitySource::Typed => {
                        bianmin_core::personal_code::Scheme::Ymtb
                    }
                };
                let hooks = self.state.borrow().hooks.clone();
                hooks.hold_identity(identity);
                self.identified(&masked_name, &masked_id, Some(scheme));
            }
            Err(words) => self.show_notice(&self.pick(&words)),
        }
    }

    /// Demo mode's "scan a personal code" button.
    pub fn demo_scan_code(&self) {
        self.activity();
        let hooks = self.state.borrow().hooks.clone();
        if !hooks.demo_scan_code() {
            tracing::warn!("no demo scanner: nothing scanned");
        }
    }

    /// A new content package from the platform (already verified). Applied
    /// between sessions only, so a resident reading a guide or filling a
    /// form never sees it change under their finger.
    pub fn set_content(&self, content: Package) {
        let mut state = self.state.borrow_mut();
        let content = content.for_station(&state.config.station.code.0);
        if state.session.is_active() {
            state.pending_content = Some(content);
            return;
        }
        state.index = SearchIndex::build(&content.catalogue);
        state.bundles = content.bundles;
        state.forms = content.forms;
        state.commitments = content.commitments;
        state.feedback_topics = content.feedback_topics;
        state.catalogue = content.catalogue;
        state.content_version = content.version;
        // A package opens a kiosk that was only waiting for one, never one
        // whose store or configuration is broken.
        let opens = std::mem::take(&mut state.awaiting_content) && !state.broken;
        drop(state);
        self.refresh_all();
        if opens {
            tracing::info!("a valid content package arrived; in service");
            self.kiosk(|k| {
                k.set_fault_title(SharedString::new());
                k.set_fault_code(SharedString::new());
                k.set_fault_detail(SharedString::new());
                k.set_screen(Screen::Attract);
            });
        }
    }

    /// The updater wants to replace the software: between residents the
    /// kiosk shows "本终端正在更新软件" and grants it; with a resident in
    /// session it waits for the session's end. Released (`false`) without a
    /// restart — the update was called off — the kiosk serves again.
    fn update_hold(&self, wanted: bool) {
        const UPDATING: bianmin_core::words::Words = bianmin_core::words::Words::fixed(
            "本终端正在更新软件，请稍候几分钟",
            "This terminal is updating its software; please wait a few minutes",
        );
        if !wanted {
            let mut state = self.state.borrow_mut();
            state.update_hold_pending = false;
            let was = std::mem::take(&mut state.updating);
            drop(state);
            if was && self.serving() {
                tracing::info!("the updater released the kiosk; in service");
                self.kiosk(|k| {
                    k.set_fault_title(SharedString::new());
                    k.set_fault_code(SharedString::new());
                    k.set_fault_detail(SharedString::new());
                    k.set_screen(Screen::Attract);
                });
            }
            return;
        }
        if self.state.borrow().session.is_active() {
            tracing::info!("update waiting for the resident's session to end");
            self.state.borrow_mut().update_hold_pending = true;
            return;
        }
        if self.state.borrow().broken {
            // Already out of service for good: the update may go ahead.
            let hooks = self.state.borrow().hooks.clone();
            hooks.grant_update_hold();
            return;
        }
        self.state.borrow_mut().updating = true;
        self.show_fault(Some(&UPDATING), "software update in progress");
        let hooks = self.state.borrow().hooks.clone();
        hooks.grant_update_hold();
    }

    /// Out of service until a valid content package arrives: the page says
    /// "本终端正在准备服务内容"; `detail` (why none is valid) goes to the log
    /// and the technician's views, never demo items to residents.
    pub fn await_content(&self, detail: &str) {
        const PREPARING: bianmin_core::words::Words = bianmin_core::words::Words::fixed(
            "本终端正在准备服务内容",
            "This terminal is preparing its services",
        );
        self.state.borrow_mut().awaiting_content = true;
        self.show_fault(Some(&PREPARING), detail);
    }

    /// A kiosk with no identity (never enrolled, no secret): out of
    /// service, the page telling the technician to scan the enrollment
    /// code from the county's console. Cards and scans start nothing.
    pub fn await_enrollment(&self) {
        self.state.borrow_mut().broken = true;
        self.state.borrow_mut().awaiting_enrollment = true;
        self.kiosk(|k| k.set_enrollment_allowed(true));
        self.show_fault(
            Some(&NOT_ENROLLED),
            "not enrolled: no terminal key and no BIANMIN_PLATFORM_SECRET; scan an enrollment code from the county's console or run `bianmin enroll CODE`",
        );
    }

    /// What became of an enrollment code, on the same page.
    fn enrollment(&self, news: crate::events::EnrollmentNews) {
        use crate::events::EnrollmentNews;
        use bianmin_core::words::Words;
        if !self.state.borrow().broken {
            return;
        }
        let (title, detail) = match news {
            EnrollmentNews::Checking => (
                Words::fixed("正在注册，请稍候……", "Enrolling, please wait…"),
                "enrolling".to_string(),
            ),
            EnrollmentNews::Done {
                terminal_id,
                station_name,
            } => {
                let hooks = self.state.borrow().hooks.clone();
                hooks.restart();
                (
                    Words::new(
                        format!("注册成功：{station_name}，终端 {terminal_id}。正在重新启动……"),
                        format!("Enrolled at {station_name} as {terminal_id}. Restarting…"),
                    ),
                    format!("enrolled as {terminal_id}"),
                )
            }
            EnrollmentNews::Failed(why) => (
                Words::new(
                    format!("注册未成功：{}", why.zh()),
                    format!("Not enrolled: {}", why.en()),
                ),
                "enrollment failed".to_string(),
            ),
        };
        self.show_fault(Some(&title), &detail);
    }

    /// In service: neither broken nor waiting for content.
    pub fn serving(&self) -> bool {
        let state = self.state.borrow();
        !state.broken && !state.awaiting_content && !state.updating
    }

    /// The session the desk's answers must carry to be shown.
    pub fn session_id(&self) -> SessionId {
        self.state.borrow().session_id
    }

    /// The desk found the store broken (corrupt database, unusable key):
    /// out of service now, for good. The resident in session is wiped —
    /// nothing more can be stored for them — and answers still on their
    /// way are dropped with their session.
    fn store_broken(&self, detail: &str) {
        self.out_of_service(detail);
        if self.state.borrow().session.is_active() {
            self.end_session(EndReason::Finished);
        }
    }

    /// Version of the content package on screen now.
    pub fn content_version(&self) -> String {
        self.state.borrow().content_version.clone()
    }

    /// One second passed.
    pub fn tick(&self) {
        self.refresh_clock();
        let event = self.state.borrow_mut().session.tick();
        if let Some(event) = event {
            self.on_session_event(event);
        }
    }

    fn wire_callbacks(&self, ui: &AppWindow) {
        let kiosk = ui.global::<Kiosk>();
        kiosk.on_keep_words(|text| crate::wrap::keep_words(&text).into());
        self.wire_enrollment(ui);
        let this = self.clone();
        kiosk.on_user_activity(move || this.activity());
        let this = self.clone();
        kiosk.on_go_home(move || this.end_session(EndReason::Finished));
        let this = self.clone();
        kiosk.on_go_back(move || this.back());
        let this = self.clone();
        kiosk.on_toggle_large(move || this.toggle_large());
        let this = self.clone();
        kiosk.on_toggle_language(move || {
            let next = match this.state.borrow().language {
                Language::Zh => Language::En,
                Language::En => Language::Zh,
            };
            this.set_language(next);
        });
        let this = self.clone();
        kiosk.on_call_staff(move || {
            // The on-screen button; the physical one is reported by the
            // services before the UI hears of it.
            this.desk(DeskRequest::CallStaff);
            this.call_staff();
        });
        let this = self.clone();
        kiosk.on_explain(move |ids| this.explain(&ids));
        let this = self.clone();
        kiosk.on_speak_again(move || this.announce());
        let this = self.clone();
        kiosk.on_start_identify(move || this.start_identify());
        let this = self.clone();
        kiosk.on_start_scan(move || this.navigate(Screen::Scan));
        let this = self.clone();
        kiosk.on_demo_scan_code(move || this.demo_scan_code());
        let this = self.clone();
        kiosk.on_open_progress(move || this.journey.open_progress(&this));
        let this = self.clone();
        kiosk.on_open_catalogue(move || this.open_catalogue());
        let this = self.clone();
        kiosk.on_open_search(move || this.open_search());
        let this = self.clone();
        kiosk.on_open_category(move |code| this.open_category(&code));
        let this = self.clone();
        kiosk.on_open_service(move |code| this.open_service(&code));
        let this = self.clone();
        kiosk.on_page_categories(move |step| this.page_categories(step));
        let this = self.clone();
        kiosk.on_page_services(move |step| this.page_services(step));
        let this = self.clone();
        kiosk.on_search_key(move |key| this.search_key(&key));
        let this = self.clone();
        kiosk.on_page_search(move |step| this.page_search(step));
        let this = self.clone();
        kiosk.on_search_backspace(move || this.search_backspace());
        let this = self.clone();
        kiosk.on_search_clear(move || this.set_search(String::new()));
        let this = self.clone();
        kiosk.on_continue_session(move || this.activity());
        let this = self.clone();
        kiosk.on_dismiss_notice(move || this.kiosk(|k| k.set_notice(SharedString::new())));
        let this = self.clone();
        kiosk.on_apply(move |code| this.apply(&code));
        let this = self.clone();
        kiosk.on_apply_for_other(move |code| this.apply_as(&code, true));
        let this = self.clone();
        kiosk.on_print_guide(move |code| this.print_guide(&code));
    }

    // --- session -------------------------------------------------------

    /// Any touch: starts a session from idle, cancels the countdown.
    pub fn activity(&self) {
        let event = self.state.borrow_mut().session.touch();
        self.kiosk(|k| k.set_countdown_visible(false));
        if let Some(event) = event {
            self.on_session_event(event);
        }
    }

    fn on_session_event(&self, event: SessionEvent) {
        match event {
            SessionEvent::Started => tracing::debug!("session started"),
            SessionEvent::WarningShown { remaining } => {
                self.kiosk(|k| {
                    k.set_countdown_seconds(remaining as i32);
                    k.set_countdown_visible(true);
                });
                if self.speaks_automatically() {
                    self.announce();
                }
            }
            SessionEvent::WarningTick { remaining } => {
                self.kiosk(|k| k.set_countdown_seconds(remaining as i32));
            }
            SessionEvent::Ended(reason) => self.wipe(reason),
        }
    }

    /// Jump to the countdown as if the resident had walked away: for
    /// screenshots and tests, which should not wait out the idle time.
    pub fn force_countdown(&self) {
        self.activity();
        while !self.kiosk(|k| k.get_countdown_visible()) {
            let event = self.state.borrow_mut().session.tick();
            if let Some(event) = event {
                self.on_session_event(event);
            }
        }
    }

    /// End the session now ("结束办理", 首页, card lifted).
    pub fn end_session(&self, reason: EndReason) {
        let event = self.state.borrow_mut().session.end(reason);
        self.on_session_event(event);
    }

    /// Clear every view model that could hold what this resident saw or
    /// typed, and return to the attract screen.
    fn wipe(&self, reason: EndReason) {
        tracing::debug!(?reason, "session ended; resident data wiped");
        let (speaker, hooks) = {
            let state = self.state.borrow();
            (state.speaker.clone(), state.hooks.clone())
        };
        speaker.hush();
        hooks.session_ended();
        {
            let mut state = self.state.borrow_mut();
            state.back_stack.clear();
            state.category = None;
            state.category_page = 0;
            state.service_page = 0;
            state.search_text.clear();
            state.search_page = 0;
            state.guide_code = None;
            state.resident_masked.clear();
            // Whatever this session asked of the desk and is still on
            // its way will be dropped on arrival.
            state.session_id = SessionId(state.session_id.0 + 1);
        }
        self.journey.wipe();
        self.wipe_station();
        self.state.borrow_mut().assisted_by = None;
        self.close_assist();
        self.kiosk(|k| k.set_assisted_by(SharedString::new()));
        self.kiosk(|k| {
            k.set_countdown_visible(false);
            k.set_notice(SharedString::new());
            k.set_resident(SharedString::new());
            k.set_search_text(SharedString::new());
            k.set_search_results(ModelRc::default());
            k.set_services(ModelRc::default());
            k.set_list_title(SharedString::new());
            k.set_guide(GuideData::default());
            k.set_receipt_next(SharedString::new());
        });
        // Out of service stays out of service across session ends.
        let screen = if self.serving() {
            Screen::Attract
        } else {
            Screen::OutOfService
        };
        self.kiosk(|k| k.set_screen(screen));
        let pending = self.state.borrow_mut().pending_content.take();
        match pending {
            Some(content) => self.set_content(content),
            None => self.refresh_categories(),
        }
        if std::mem::take(&mut self.state.borrow_mut().update_hold_pending) {
            self.update_hold(true);
        }
        if std::mem::take(&mut self.state.borrow_mut().restart_pending) {
            tracing::info!("the resident's session ended; restarting as requested");
            hooks.restart();
        }
    }

    /// The masked identity of the resident now in session (张*三).
    pub fn set_resident(&self, masked: &str) {
        self.activity();
        self.state.borrow_mut().resident_masked = masked.to_string();
        self.kiosk(|k| k.set_resident(masked.into()));
    }

    // --- navigation ------------------------------------------------------

    pub fn navigate(&self, screen: Screen) {
        let current = self.kiosk(|k| k.get_screen());
        if current != screen {
            let mut state = self.state.borrow_mut();
            if current != Screen::OutOfService {
                state.back_stack.push(current);
            }
        }
        self.show(screen);
    }

    pub fn back(&self) {
        let previous = self.state.borrow_mut().back_stack.pop();
        match previous {
            Some(Screen::Attract) | None => self.end_session(EndReason::Finished),
            Some(screen) => self.show(screen),
        }
    }

    pub fn start_identify(&self) {
        self.navigate(Screen::Identify);
        let hooks = self.state.borrow().hooks.clone();
        hooks.identify_requested();
    }

    pub fn open_catalogue(&self) {
        self.state.borrow_mut().category_page = 0;
        self.refresh_categories();
        self.navigate(Screen::Catalogue);
    }

    pub fn open_category(&self, code: &str) {
        {
            let mut state = self.state.borrow_mut();
            let known = code == BUNDLES_CATEGORY
                || code == POPULAR_CATEGORY
                || state.catalogue.category(code).is_some();
            if !known {
                return;
            }
            state.category = Some(code.to_string());
            state.service_page = 0;
        }
        self.refresh_services();
        self.navigate(Screen::ServiceList);
    }

    pub fn open_service(&self, code: &str) {
        let known = {
            let state = self.state.borrow();
            match code.strip_prefix(BUNDLE_PREFIX) {
                Some(id) => state.bundles.bundle(id).is_some(),
                None => state.catalogue.service(code).is_some(),
            }
        };
        if !known {
            return;
        }
        self.state.borrow_mut().guide_code = Some(code.to_string());
        self.refresh_guide();
        self.navigate(Screen::Guide);
    }

    pub fn open_search(&self) {
        self.set_search(String::new());
        self.navigate(Screen::Search);
    }

    /// 打印这份指南: the guide's text to the receipt printer.
    pub fn print_guide(&self, code: &str) {
        self.activity();
        let guide = self
            .state
            .borrow()
            .catalogue
            .service(code)
            .map(|s| (s.name.clone(), s.guide_text(), s.code.clone()));
        let Some((title, body, reference)) = guide else {
            return;
        };
        self.show_notice(&self.tr("正在打印，请稍候……", "Printing…"));
        self.desk(DeskRequest::PrintGuide {
            title,
            body,
            reference,
        });
    }

    /// 我要办理 on a guide (`proxy`: 为家人或他人代办).
    pub fn apply(&self, code: &str) {
        self.apply_as(code, false);
    }

    pub fn apply_as(&self, code: &str, proxy: bool) {
        // Never start what this terminal cannot finish (the guide says so
        // and greys 我要办理 out; this holds whoever asks).
        let reason = {
            let state = self.state.borrow();
            state
                .catalogue
                .service(code)
                .map(|s| unavailable_here(s, state.language == Language::En))
                .unwrap_or_default()
        };
        if !reason.is_empty() {
            self.show_notice(&reason);
            return;
        }
        if proxy {
            self.journey.begin_proxy(self, code);
        } else {
            self.journey.begin(self, code);
        }
    }

    /// A journey needs the store, printer or platform.
    fn desk(&self, request: DeskRequest) {
        let (hooks, session) = {
            let state = self.state.borrow();
            (state.hooks.clone(), state.session_id)
        };
        hooks.desk(session, request);
    }

    /// "下一步：…" on the receipt screen: from the chosen delivery, the
    /// service's time limit and whether materials are still owed (the
    /// printed receipt says the same, worded by the desk).
    fn refresh_next_step(&self) {
        use crate::{DeliveryWay, Journey};
        use bianmin_core::catalogue::Delivery;
        use slint::Model;
        let ui = self.ui();
        let journey = ui.global::<Journey>();
        let way = journey
            .get_deliveries()
            .iter()
            .find(|row| row.selected)
            .map(|row| match row.way {
                DeliveryWay::Station => Delivery::Station,
                DeliveryWay::Mail => Delivery::Mail,
                DeliveryWay::Electronic => Delivery::Electronic,
            })
            .unwrap_or(Delivery::Station);
        let owes = journey.get_owed().row_count() > 0;
        let words = bianmin_core::application::next_step(way, &journey.get_time_limit(), owes);
        let text = self.pick(&words);
        self.kiosk(|k| k.set_receipt_next(text.into()));
    }

    fn call_staff(&self) {
        tracing::info!("call staff pressed");
        let hooks = self.state.borrow().hooks.clone();
        hooks.call_staff();
        self.show_notice(&self.tr(
            "已通知工作人员，请在终端前稍候",
            "Staff have been called; please wait at the terminal",
        ));
    }

    pub fn show_notice(&self, text: &str) {
        self.kiosk(|k| k.set_notice(text.into()));
    }

    pub fn toggle_large(&self) {
        let large = !self.ui().global::<Theme>().get_large();
        self.set_large(large);
    }

    pub fn set_large(&self, large: bool) {
        self.ui().global::<Theme>().set_large(large);
        {
            let mut state = self.state.borrow_mut();
            let policy = idle_policy(&state.config, large);
            state.session.set_policy(policy);
            state.category_page = 0;
            state.service_page = 0;
            state.search_page = 0;
        }
        self.refresh_categories();
        self.refresh_services();
        self.refresh_search();
    }

    pub fn set_language(&self, language: Language) {
        self.state.borrow_mut().language = language;
        self.select_language(language);
        self.refresh_all();
    }

    fn select_language(&self, language: Language) {
        if let Err(err) = slint::select_bundled_translation(language.slint_code()) {
            tracing::warn!(%err, "translation not available; staying with Chinese");
        }
        let english = language == Language::En;
        let row = |term: Term| TermRow {
            id: term.id().into(),
            name: term.name().pick(english).into(),
            plain: term.plain().pick(english).into(),
        };
        self.kiosk(|k| {
            k.set_term_tolerant(row(Term::Tolerant));
            k.set_term_e_certificate(row(Term::ECertificate));
            k.set_term_pending_verification(row(Term::PendingVerification));
            k.set_term_commitment(row(Term::Commitment));
            k.set_term_key_material(row(Term::KeyMaterial));
            k.set_term_rating(row(Term::Rating));
            k.set_term_cannot_be_done(row(Term::CannotBeDone));
        });
    }

    /// 这些词是什么意思？: the explanations of the terms named (ids,
    /// comma-separated), in a notice; unknown ids are skipped.
    fn explain(&self, ids: &str) {
        let english = self.english();
        let text: Vec<String> = ids
            .split(',')
            .filter_map(|id| Term::from_id(id.trim()))
            .map(|term| term.explain().pick(english).to_string())
            .collect();
        if !text.is_empty() {
            self.activity();
            self.show_notice(&text.join("\n\n"));
            if self.speaks_automatically() {
                self.say(&text.join(" "));
            }
        }
    }

    /// The platform link and queue depth, as the sync engine reports them.
    pub fn set_network(&self, state: NetworkState, queue_depth: usize) {
        self.kiosk(|k| {
            k.set_network(state);
            k.set_queue_depth(queue_depth as i32);
        });
    }

    /// Show the out-of-service page. The technician's `detail` (a file
    /// path, a parser message) goes to the log under a short code; the public
    /// page shows only the code, the station's phone and a call-staff button.
    /// It stays up until the process restarts.
    pub fn out_of_service(&self, detail: &str) {
        self.state.borrow_mut().broken = true;
        self.show_fault(None, detail);
    }

    /// The out-of-service page as a broken kiosk shows it, without making
    /// it sticky: for `screens` and the UI audit, which go on to the next
    /// screen with the same window.
    pub fn preview_out_of_service(&self, detail: &str) {
        self.kiosk(|k| {
            k.set_enrollment_allowed(false);
            k.set_enrollment_typing(false);
        });
        self.show_fault(None, detail);
    }

    /// The enrollment page as a kiosk without identity shows it — with the
    /// keypad open and `typed` on it when given — without making it sticky
    /// (for `screens` and the UI audit).
    pub fn preview_enrollment(&self, typed: Option<&str>) {
        self.kiosk(|k| {
            k.set_enrollment_allowed(true);
            k.set_enrollment_typing(typed.is_some());
            k.set_enrollment_typed(typed.unwrap_or_default().into());
        });
        self.show_fault(Some(&NOT_ENROLLED), "not enrolled");
    }

    /// The out-of-service page with the kiosk's own words on why, like
    /// "本终端正在准备服务内容" while no valid content package is there.
    fn show_fault(&self, title: Option<&bianmin_core::words::Words>, detail: &str) {
        let english = self.state.borrow().language == Language::En;
        let title = title
            .map(|t| t.pick(english).to_string())
            .unwrap_or_default();
        self.kiosk(|k| k.set_fault_title(title.into()));
        let code = fault_code(detail);
        tracing::error!(code = %code, %detail, "out of service");
        self.kiosk(|k| {
            k.set_fault_detail(detail.into());
            k.set_fault_code(code.into());
            k.set_screen(Screen::OutOfService);
        });
    }

    // --- paging and search -------------------------------------------------

    fn large(&self) -> bool {
        self.ui().global::<Theme>().get_large()
    }

    fn categories_per_page(&self) -> usize {
        if self.large() {
            4
        } else {
            8
        }
    }

    fn services_per_page(&self) -> usize {
        // Large rows keep their summary and wrap their names: fewer fit.
        if self.large() {
            3
        } else {
            6
        }
    }

    /// Rows of results above the letter keyboard: each keeps its summary,
    /// the count and the pager say how many more there are.
    fn search_results_shown(&self) -> usize {
        if self.large() {
            1
        } else {
            3
        }
    }

    fn page_categories(&self, step: i32) {
        let pages = pages(
            category_tiles(&self.state.borrow()).len(),
            self.categories_per_page(),
        );
        {
            let mut state = self.state.borrow_mut();
            state.category_page = turn(state.category_page, step, pages);
        }
        self.refresh_categories();
    }

    fn page_services(&self, step: i32) {
        let count = {
            let state = self.state.borrow();
            state
                .category
                .as_deref()
                .map(|c| service_list(&state, c).1.len())
                .unwrap_or(0)
        };
        let pages = pages(count, self.services_per_page());
        {
            let mut state = self.state.borrow_mut();
            state.service_page = turn(state.service_page, step, pages);
        }
        self.refresh_services();
    }

    fn search_key(&self, key: &str) {
        let mut text = self.state.borrow().search_text.clone();
        if text.chars().count() < MAX_SEARCH_LEN {
            text.extend(
                key.chars()
                    .filter(|c| c.is_ascii_alphabetic() || !c.is_ascii()),
            );
        }
        self.set_search(text);
    }

    fn search_backspace(&self) {
        let mut text = self.state.borrow().search_text.clone();
        text.pop();
        self.set_search(text);
    }

    /// Replace the search text (from the keyboard, or typed hanzi).
    pub fn set_search(&self, text: String) {
        {
            let mut state = self.state.borrow_mut();
            state.search_text = text;
            state.search_page = 0;
        }
        self.refresh_search();
    }

    // --- view models -----------------------------------------------------------

    fn refresh_all(&self) {
        let (station, phone, demo) = {
            let state = self.state.borrow();
            (
                state.config.station.name.clone(),
                bianmin_core::phone::group(&state.config.station.phone),
                state.catalogue.demo_data,
            )
        };
        let english = self.state.borrow().language == Language::En;
        self.kiosk(|k| {
            k.set_station_name(station.into());
            k.set_station_phone(phone.into());
            k.set_demo_data(demo);
            k.set_english(english);
        });
        self.refresh_clock();
        self.refresh_categories();
        self.refresh_services();
        self.refresh_search();
        self.refresh_guide();
    }

    fn refresh_clock(&self) {
        let english = self.state.borrow().language == Language::En;
        let (clock, date) = clock_text(chrono::Utc::now(), english);
        self.kiosk(|k| {
            k.set_clock(clock.into());
            k.set_date(date.into());
        });
    }

    fn refresh_categories(&self) {
        let per_page = self.categories_per_page();
        let (items, page, page_count) = {
            let state = self.state.borrow();
            let tiles = category_tiles(&state);
            let window = PageWindow::of(tiles.len(), state.category_page, per_page);
            let items: Vec<CategoryItem> = window.items(tiles).collect();
            (items, window.page, window.pages)
        };
        self.kiosk(|k| {
            k.set_categories(ModelRc::new(VecModel::from(items)));
            k.set_category_page(page as i32);
            k.set_category_pages(page_count as i32);
        });
    }

    fn refresh_services(&self) {
        let per_page = self.services_per_page();
        let (title, items, page, page_count, count) = {
            let state = self.state.borrow();
            let Some(code) = state.category.as_deref() else {
                return;
            };
            let (title, list) = service_list(&state, code);
            let count = list.len();
            let window = PageWindow::of(count, state.service_page, per_page);
            let items: Vec<ServiceItem> = window.items(list).collect();
            (title, items, window.page, window.pages, count)
        };
        self.kiosk(|k| {
            k.set_service_count(count as i32);
            k.set_list_title(title.into());
            k.set_services(ModelRc::new(VecModel::from(items)));
            k.set_service_page(page as i32);
            k.set_service_pages(page_count as i32);
        });
    }

    /// Every match (up to [`MAX_SEARCH_RESULTS`]) counted, one page shown.
    fn search_matches(state: &State) -> Vec<ServiceItem> {
        let english = state.language == Language::En;
        state
            .index
            .search(&state.search_text, MAX_SEARCH_RESULTS)
            .iter()
            .filter_map(|hit| state.catalogue.service(&hit.code))
            .map(|s| service_item(&state.catalogue, s, english))
            .collect()
    }

    fn refresh_search(&self) {
        let per_page = self.search_results_shown();
        let (text, items, count, page, page_count) = {
            let state = self.state.borrow();
            let all = Self::search_matches(&state);
            let count = all.len();
            let window = PageWindow::of(count, state.search_page, per_page);
            let items: Vec<ServiceItem> = window.items(all).collect();
            (
                state.search_text.clone(),
                items,
                count,
                window.page,
                window.pages,
            )
        };
        self.kiosk(|k| {
            k.set_search_text(text.into());
            k.set_search_results(ModelRc::new(VecModel::from(items)));
            k.set_search_count(count as i32);
            k.set_search_page(page as i32);
            k.set_search_pages(page_count as i32);
        });
    }

    fn page_search(&self, step: i32) {
        let count = Self::search_matches(&self.state.borrow()).len();
        let pages = pages(count, self.search_results_shown());
        {
            let mut state = self.state.borrow_mut();
            state.search_page = turn(state.search_page, step, pages);
        }
        self.refresh_search();
    }

    fn refresh_guide(&self) {
        let guide = {
            let state = self.state.borrow();
            let Some(code) = state.guide_code.as_deref() else {
                return;
            };
            let english = state.language == Language::En;
            match code.strip_prefix(BUNDLE_PREFIX) {
                Some(id) => match state.bundles.bundle(id) {
                    Some(bundle) => bundle_guide(&state, bundle, english),
                    None => return,
                },
                None => match state.catalogue.service(code) {
                    Some(service) => guide_data(service, english),
                    None => return,
                },
            }
        };
        self.kiosk(|k| k.set_guide(guide));
    }

    fn english(&self) -> bool {
        self.state.borrow().language == Language::En
    }

    fn tr(&self, zh: &str, en: &str) -> String {
        match self.state.borrow().language {
            Language::Zh => zh.to_string(),
            Language::En => en.to_string(),
        }
    }

    /// What a lower layer (desk, core, drivers) worded, in the screen's language.
    fn pick(&self, words: &Words) -> String {
        words.pick(self.english()).to_string()
    }
}

/// The screen clock and date of `now` in the station's zone: the same time
/// the receipts print, whatever the system's zone.
fn clock_text(now: chrono::DateTime<chrono::Utc>, english: bool) -> (String, String) {
    use chrono::Datelike;
    let now = now.with_timezone(&bianmin_core::time::station_zone());
    let date = if english {
        now.format("%A, %-d %B %Y").to_string()
    } else {
        const WEEKDAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
        format!(
            "{} 星期{}",
            now.format("%Y年%-m月%-d日"),
            WEEKDAYS[now.weekday().num_days_from_monday() as usize]
        )
    };
    (now.format("%H:%M").to_string(), date)
}

/// Why this terminal cannot complete `service` (it needs what the kiosk
/// lacks), and where to go instead; empty when it can.
fn unavailable_here(service: &Service, english: bool) -> String {
    let lacking: Vec<_> = service
        .needs
        .iter()
        .filter(|c| !bianmin_ops::devices::KIOSK_CAPABILITIES.contains(c))
        .collect();
    if lacking.is_empty() {
        return String::new();
    }
    let names = |en: bool| {
        lacking
            .iter()
            .map(|c| if en { c.label_en() } else { c.label_zh() })
            .collect::<Vec<_>>()
            .join(if en { ", " } else { "、" })
    };
    Words::new(
        format!(
            "本终端暂不能办理（需要{}），可到{}的服务窗口办理。",
            names(false),
            service.department
        ),
        format!(
            "This terminal cannot do this ({} needed); please go to a service window of {}.",
            names(true),
            service.department
        ),
    )
    .pick(english)
    .to_string()
}

/// A short code for a fault, the same for the same detail: the resident or
/// clerk reads it off the public page, the technician finds it in the log
/// next to the full detail ("E" and four hex digits of an FNV-1a hash).
pub fn fault_code(detail: &str) -> String {
    let hash = detail.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("E{:04X}", (hash >> 16) ^ (hash & 0xffff))
}

/// The tiles of the catalogue screen: 一件事 and 本站常办 first, then the
/// platform's categories.
fn category_tiles(state: &State) -> Vec<CategoryItem> {
    let english = state.language == Language::En;
    let mut tiles = Vec::with_capacity(state.catalogue.categories.len() + 2);
    if !state.bundles.bundles.is_empty() {
        tiles.push(CategoryItem {
            code: BUNDLES_CATEGORY.into(),
            name: if english {
                "One-stop bundles"
            } else {
                "一件事 一次办"
            }
            .into(),
            glyph: own_glyph("一", english),
            count: state.bundles.bundles.len() as i32,
        });
    }
    let popular = popular_here(state).len();
    if popular > 0 {
        tiles.push(CategoryItem {
            code: POPULAR_CATEGORY.into(),
            name: if english {
                "Popular here"
            } else {
                "本站常办"
            }
            .into(),
            glyph: own_glyph("常", english),
            count: popular as i32,
        });
    }
    tiles.extend(state.catalogue.categories.iter().map(|c| CategoryItem {
        code: c.code.as_str().into(),
        name: c.display_name(english).into(),
        glyph: c.glyph.as_str().into(),
        count: state.catalogue.service_count(&c.code) as i32,
    }));
    tiles
}

/// The glyph of one of the kiosk's own tiles: a Chinese character as an icon
/// says nothing to an English reader, so English mode shows none.
/// (Category glyphs are the catalogue's and stay as it gives them.)
fn own_glyph(glyph: &str, english: bool) -> SharedString {
    if english {
        SharedString::new()
    } else {
        glyph.into()
    }
}

/// 本站常办: what this station applied for most, then the catalogue's
/// province-wide favourites to fill the list on a new terminal.
fn popular_here(state: &State) -> Vec<&Service> {
    let mut list: Vec<&Service> = state
        .station_popular
        .iter()
        .filter_map(|code| state.catalogue.service(code))
        .take(POPULAR_COUNT)
        .collect();
    for service in state.catalogue.popular(POPULAR_COUNT) {
        if list.len() >= POPULAR_COUNT {
            break;
        }
        if !list.iter().any(|s| s.code == service.code) {
            list.push(service);
        }
    }
    list
}

/// The title and the items of one tile of the catalogue screen.
fn service_list(state: &State, code: &str) -> (String, Vec<ServiceItem>) {
    let english = state.language == Language::En;
    match code {
        BUNDLES_CATEGORY => (
            if english {
                "One-stop bundles"
            } else {
                "一件事 一次办"
            }
            .to_string(),
            state
                .bundles
                .bundles
                .iter()
                .map(|b| ServiceItem {
                    code: format!("{BUNDLE_PREFIX}{}", b.id).into(),
                    name: if english && !b.name_en.is_empty() {
                        b.name_en.as_str()
                    } else {
                        b.name.as_str()
                    }
                    .into(),
                    summary: b.summary.as_str().into(),
                    time_limit: SharedString::new(),
                    category_name: if english { "Bundle" } else { "一件事" }.into(),
                })
                .collect(),
        ),
        POPULAR_CATEGORY => (
            if english {
                "Popular here"
            } else {
                "本站常办"
            }
            .to_string(),
            popular_here(state)
                .into_iter()
                .map(|s| service_item(&state.catalogue, s, english))
                .collect(),
        ),
        _ => (
            state
                .catalogue
                .category(code)
                .map(|c| c.display_name(english).to_string())
                .unwrap_or_default(),
            state
                .catalogue
                .services_in(code)
                .into_iter()
                .map(|s| service_item(&state.catalogue, s, english))
                .collect(),
        ),
    }
}

/// A 一件事 bundle as a guide: what it covers, and every material any of its
/// items may ask for (the questionnaire narrows it down).
fn bundle_guide(state: &State, bundle: &bianmin_core::bundle::Bundle, english: bool) -> GuideData {
    let merged = bianmin_core::bundle::merge(&bianmin_core::bundle::item_forms(
        &bundle.items,
        &state.catalogue,
        &state.forms,
    ));
    let services: Vec<&Service> = bundle
        .items
        .iter()
        .filter_map(|c| state.catalogue.service(c))
        .collect();
    let mut delivery: Vec<String> = Vec::new();
    for service in &services {
        for d in &service.delivery {
            let label = if english { d.label_en() } else { d.label_zh() }.to_string();
            if !delivery.contains(&label) {
                delivery.push(label);
            }
        }
    }
    GuideData {
        code: format!("{BUNDLE_PREFIX}{}", bundle.id).into(),
        name: if english && !bundle.name_en.is_empty() {
            bundle.name_en.as_str()
        } else {
            bundle.name.as_str()
        }
        .into(),
        department: services
            .iter()
            .map(|s| s.department.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join("、")
            .into(),
        summary: bundle.summary.as_str().into(),
        conditions: strings(services.iter().map(|s| {
            if english {
                format!("Can be applied for together: {}", s.display_name(english))
            } else {
                format!("可一次办理：{}", s.display_name(english))
            }
        })),
        materials: ModelRc::new(VecModel::from(
            merged
                .materials
                .iter()
                .map(|m| MaterialItem {
                    name: m.material.name.as_str().into(),
                    copies: m.material.copies.as_str().into(),
                    key: m.material.key,
                    e_cert: m.material.e_cert,
                    note: m.material.note.as_str().into(),
                })
                .collect::<Vec<_>>(),
        )),
        time_limit: services
            .iter()
            .map(|s| {
                let colon = if english { ": " } else { "：" };
                format!("{}{colon}{}", s.display_name(english), s.time_limit)
            })
            .collect::<Vec<_>>()
            .join("；")
            .into(),
        fee: {
            let mut fees: Vec<&str> = services.iter().map(|s| s.fee.as_str()).collect();
            fees.dedup();
            fees.join("；").into()
        },
        basis: strings(services.iter().flat_map(|s| s.basis.iter().cloned())),
        // Each item's particulars are on its own guide.
        details: ModelRc::default(),
        process: ModelRc::default(),
        printable: false,
        delivery: strings(delivery),
        commitment: services.iter().any(|s| s.commitment),
        tolerant: services.iter().all(|s| s.tolerant),
        e_cert: services
            .iter()
            .any(|s| s.materials.iter().any(|m| m.e_cert)),
        // A bundle is as doable here as its least doable item.
        unavailable: services
            .iter()
            .map(|s| unavailable_here(s, english))
            .find(|reason| !reason.is_empty())
            .unwrap_or_default()
            .into(),
    }
}

fn idle_policy(config: &Config, large: bool) -> IdlePolicy {
    IdlePolicy {
        idle_secs: config.idle_timeout_secs(large),
        countdown_secs: config.session.countdown_secs.get(),
    }
}

fn service_item(catalogue: &Catalogue, service: &Service, english: bool) -> ServiceItem {
    ServiceItem {
        code: service.code.as_str().into(),
        name: service.display_name(english).into(),
        summary: service.summary.as_str().into(),
        time_limit: service.time_limit.as_str().into(),
        category_name: catalogue
            .category(&service.category)
            .map(|c| c.name.as_str())
            .unwrap_or_default()
            .into(),
    }
}

fn strings(items: impl IntoIterator<Item = String>) -> ModelRc<SharedString> {
    ModelRc::new(VecModel::from(
        items
            .into_iter()
            .map(SharedString::from)
            .collect::<Vec<_>>(),
    ))
}

/// The 办事指南's particulars as "label：value" lines, those the guide gives.
fn guide_details(service: &Service, english: bool) -> Vec<String> {
    let colon = if english { ": " } else { "：" };
    let mut lines = Vec::new();
    let mut add = |zh: &str, en: &str, value: &str| {
        if !value.trim().is_empty() {
            lines.push(format!(
                "{}{colon}{}",
                if english { en } else { zh },
                value.trim()
            ));
        }
    };
    add("事项编码", "Item code", &service.item_code);
    add("法定时限", "Legal time limit", &service.legal_time_limit);
    add(
        "承诺时限",
        "Promised time limit",
        if service.legal_time_limit.trim().is_empty() {
            ""
        } else {
            &service.time_limit
        },
    );
    add("办理地点", "Where", &service.place);
    add("办理时间", "Opening hours", &service.hours);
    add(
        "咨询电话",
        "Enquiries",
        &bianmin_core::phone::group(&service.consult_phone),
    );
    add(
        "监督投诉电话",
        "Complaints",
        &bianmin_core::phone::group(&service.complaint_phone),
    );
    if let Some(visits) = service.visits {
        let value = match (visits, english) {
            (0, false) => "零跑动（全程网办或在终端办完）".to_string(),
            (0, true) => "none (done online or here)".to_string(),
            (n, false) => format!("{n} 次"),
            (n, true) => format!("{n}"),
        };
        add("到现场次数", "Visits in person", &value);
    }
    lines
}

fn guide_data(service: &Service, english: bool) -> GuideData {
    GuideData {
        code: service.code.as_str().into(),
        name: service.display_name(english).into(),
        department: service.department.as_str().into(),
        summary: service.summary.as_str().into(),
        conditions: strings(service.conditions.iter().cloned()),
        materials: ModelRc::new(VecModel::from(
            service
                .materials
                .iter()
                .map(|m| MaterialItem {
                    name: m.name.as_str().into(),
                    copies: m.copies.as_str().into(),
                    key: m.key,
                    e_cert: m.e_cert,
                    note: m.note.as_str().into(),
                })
                .collect::<Vec<_>>(),
        )),
        details: strings(guide_details(service, english)),
        process: strings(service.process.iter().cloned()),
        printable: true,
        time_limit: service.time_limit.as_str().into(),
        fee: service.fee.as_str().into(),
        basis: strings(service.basis.iter().cloned()),
        delivery: strings(
            service
                .delivery
                .iter()
                .map(|d| if english { d.label_en() } else { d.label_zh() }.to_string()),
        ),
        commitment: service.commitment,
        tolerant: service.tolerant,
        e_cert: service.materials.iter().any(|m| m.e_cert),
        unavailable: unavailable_here(service, english).into(),
    }
}

#[cfg(test)]
mod clock_tests {
    use super::clock_text;
    use chrono::TimeZone;

    /// The walkthrough's evening at 17:50 UTC is 01:50 the next morning at
    /// the station, on the screen as on the receipt.
    #[test]
    fn the_screen_clock_shows_the_stations_time_not_the_systems() {
        let evening = chrono::Utc
            .with_ymd_and_hms(2026, 12, 4, 17, 50, 0)
            .unwrap();
        let (clock, date) = clock_text(evening, false);
        assert_eq!(clock, "01:50");
        assert_eq!(date, "2026年12月5日 星期六");
        let printed = bianmin_core::time::rfc3339(evening.timestamp_millis());
        assert!(printed.starts_with("2026-12-05T01:50"), "{printed}");
        assert_eq!(clock_text(evening, true).1, "Saturday, 5 December 2026");
    }
}
