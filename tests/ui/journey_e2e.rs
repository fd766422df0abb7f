//! A resident's whole journey through the real UI (Slint's testing backend),
//! the demo's simulated devices on pseudo-terminals and the reference
//! platform on loopback: card down → 社保卡 found by `sbk` → form prefilled →
//! a photo owed under 容缺 → submitted while the platform is unreachable →
//! receipt printed, its QR decoded → link back → the platform holds the
//! application exactly once, the photo still owed → rating bound to the
//! receipt → progress by scanning the receipt shows the platform's state →
//! card lifted and nothing of the resident left on screen. The second test
//! does the same for a 一件事 bundle: the merged form asks each shared field
//! once, one material is owed under 容缺 and another replaced by 告知承诺.
//!
//! Every step the resident takes is a press of what the screen shows, found
//! by its accessible label (`support::tap`, `bianmin_ui::press`): keys on
//! the keypad and the pinyin keyboard, page buttons, a material card's
//! option buttons, the finger on the signature pad. The view models are
//! only read, to check what the screen says and to know which label to press.

use super::support::{press, pressed, tap, type_keys};
use bianmin::services::{self, Services};
use bianmin_config::Config;
use bianmin_platform::api::RecordKind;
use bianmin_platform_server::Fault;
use bianmin_store::RecordState;
use bianmin_ui::{
    AppWindow, Editor, Journey, Kiosk, KioskController, MaterialRow, MaterialWay, Screen,
};
use slint::{ComponentHandle, Model};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

struct Terminal {
    _dir: tempfile::TempDir,
    data_dir: std::path::PathBuf,
    services: Services,
    ui: AppWindow,
    controller: KioskController,
}

fn terminal() -> Terminal {
    terminal_with(|_| {})
}

fn terminal_with(tweak: impl FnOnce(&mut Config)) -> Terminal {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    tweak(&mut config);
    config.store.data_dir = dir.path().to_path_buf();
    // Retries come quickly once the link is back; the default cap is minutes.
    config.platform.retry_base_ms = bianmin_config::Ranged(50);
    config.platform.retry_cap_secs = bianmin_config::Ranged(1);
    let services = services::start(&mut config, true);
    assert!(services.fault.is_none(), "{:?}", services.fault);
    let ui = AppWindow::new().unwrap();
    let controller = KioskController::new(
        &ui,
        config.clone(),
        services
            .content
            .clone()
            .unwrap_or_else(bianmin_core::package::Package::demo),
    );
    controller.set_hooks(bianmin::app::kiosk_hooks(&services));
    ui.show().unwrap();
    Terminal {
        data_dir: dir.path().to_path_buf(),
        _dir: dir,
        services,
        ui,
        controller,
    }
}

impl Terminal {
    /// Pass what the services reported to the UI, as its inbox timer would,
    /// until `done` holds.
    fn pump_until(&self, what: &str, mut done: impl FnMut(&Terminal) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for event in self.services.inbox.drain() {
                self.controller.handle(event);
            }
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not happen within 30 s (screen {:?}, notice {:?})",
                self.screen(),
                self.kiosk().get_notice()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kiosk(&self) -> Kiosk<'_> {
        self.ui.global::<Kiosk>()
    }

    fn journey(&self) -> Journey<'_> {
        self.ui.global::<Journey>()
    }

    fn screen(&self) -> Screen {
        self.kiosk().get_screen()
    }

    fn platform(&self) -> &bianmin_platform_server::ServerHandle {
        self.services
            .platform
            .as_ref()
            .expect("demo embeds the platform")
    }

    fn devices(&self) -> &bianmin_drivers::demo::DemoDevices {
        self.services.demo_devices.as_ref().expect("demo devices")
    }

    /// The card goes down on the start screen; the resident reads the
    /// notice and presses 知道了.
    fn put_card_down(&self) {
        self.devices().place_card(0);
        self.pump_until("card read", |t| !t.kiosk().get_resident().is_empty());
        assert!(
            !self.kiosk().get_notice().is_empty(),
            "identified, in words"
        );
        tap(&self.ui, "知道了");
    }

    /// Every field of the form, read page by page with the page buttons.
    fn all_fields(&self) -> Vec<bianmin_ui::FieldRow> {
        let journey = self.journey();
        pressed(press::first_page(&self.ui));
        let mut rows: Vec<bianmin_ui::FieldRow> = journey.get_fields().iter().collect();
        while press::can_press(&self.ui, press::NEXT_PAGE) {
            tap(&self.ui, press::NEXT_PAGE);
            rows.extend(journey.get_fields().iter());
        }
        pressed(press::first_page(&self.ui));
        rows
    }

    /// Every material card, read page by page with the page buttons.
    fn all_materials(&self) -> Vec<MaterialRow> {
        let journey = self.journey();
        pressed(press::first_page(&self.ui));
        let mut rows: Vec<MaterialRow> = journey.get_materials().iter().collect();
        while press::can_press(&self.ui, press::NEXT_PAGE) {
            tap(&self.ui, press::NEXT_PAGE);
            rows.extend(journey.get_materials().iter());
        }
        rows
    }

    /// On the form: type into every empty required field on its keyboard,
    /// then 下一步 to the materials.
    fn fill_in_the_rest(&self) {
        pressed(press::fill_required(&self.ui));
        tap(&self.ui, "下一步");
        assert_eq!(
            self.screen(),
            Screen::Materials,
            "{}",
            self.journey().get_form_message()
        );
    }

    /// Materials: the cards in `chosen` get the option with that label, the
    /// rest not yet decided are "brought along"; then delivery as offered.
    fn decide_materials(&self, chosen: &[(&str, &str)]) {
        for (name, label) in chosen {
            pressed(press::choose_material(&self.ui, name, label));
        }
        pressed(press::choose_materials(&self.ui, |row| {
            let decided = row.options.iter().any(|o| o.selected);
            (!decided).then_some(MaterialWay::Provided)
        }));
        let states: BTreeMap<String, String> = self
            .all_materials()
            .into_iter()
            .map(|m| (m.name.to_string(), m.state_label.to_string()))
            .collect();
        for (name, label) in chosen {
            let said = &states[*name];
            assert!(
                label.contains(said.as_str()),
                "{name}: the card says {said:?} after {label:?}"
            );
        }
        tap(&self.ui, "下一步");
        assert_eq!(
            self.screen(),
            Screen::Delivery,
            "{}",
            self.journey().get_materials_message()
        );
        tap(&self.ui, "下一步");
        // 核对信息: the summary names what is applied for, every material
        // and the delivery, before anything is signed.
        assert_eq!(self.screen(), Screen::Review);
        let mut lines = Vec::new();
        pressed(press::first_page(&self.ui));
        loop {
            lines.extend(
                self.journey()
                    .get_summary()
                    .iter()
                    .map(|r| format!("{}：{}", r.label, r.value)),
            );
            if !press::can_press(&self.ui, press::NEXT_PAGE) {
                break;
            }
            tap(&self.ui, press::NEXT_PAGE);
        }
        assert!(lines[0].starts_with("办理事项："), "{lines:?}");
        for name in states.keys() {
            assert!(
                lines.iter().any(|l| l.contains(name.as_str())),
                "{name} missing from the summary {lines:?}"
            );
        }
        assert!(
            lines.iter().any(|l| l.starts_with("结果送达：")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .filter(|l| l.contains("身份号码"))
                .all(|l| l.contains("********")),
            "ID numbers are masked in the summary: {lines:?}"
        );
        tap(&self.ui, "信息无误，去签名");
        assert_eq!(self.screen(), Screen::Commitment);
        // Nothing to submit before the signature.
        assert!(!press::can_press(&self.ui, "提交申请"));
    }

    /// 告知承诺 when asked, then the finger on the pad.
    fn commit_and_sign(&self) {
        let journey = self.journey();
        if journey.get_commitment_needed() && !journey.get_committed() {
            tap(&self.ui, "本人已阅读，承诺以上内容属实");
            assert!(journey.get_committed());
        }
        pressed(press::sign(&self.ui));
        assert!(journey.get_signed(), "the signature counts");
        assert!(!journey.get_ink().is_empty(), "the ink shows on the pad");
    }

    fn submit(&self) -> String {
        tap(&self.ui, "提交申请");
        self.pump_until("the receipt screen", |t| t.screen() == Screen::Receipt);
        let receipt = self.journey().get_receipt_no().to_string();
        assert!(bianmin_store::receipt::is_valid(&receipt), "{receipt}");
        receipt
    }

    /// The outbox's own copy of the application, as it goes on the wire.
    fn stored_json(&self, receipt: &str) -> serde_json::Value {
        let json = self
            .services
            .store
            .as_ref()
            .unwrap()
            .record_json(receipt)
            .unwrap()
            .expect("the outbox holds the application");
        serde_json::from_slice(&json).unwrap()
    }

    /// The application as the platform stored it.
    fn platform_json(&self, receipt: &str) -> serde_json::Value {
        self.platform()
            .record(RecordKind::Application, receipt)
            .expect("the platform holds the application")
    }

    fn store_state(&self, receipt: &str) -> Option<RecordState> {
        self.services
            .store
            .as_ref()
            .unwrap()
            .find(receipt)
            .unwrap()
            .map(|r| r.state)
    }

    fn wait_delivered(&self, receipt: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.store_state(receipt) != Some(RecordState::Acked) {
            if let Some(sync) = &self.services.sync {
                sync.sync_now();
            }
            assert!(Instant::now() < deadline, "{receipt} not delivered in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let copies = self
            .platform()
            .applications()
            .into_iter()
            .filter(|(r, _)| r == receipt)
            .count();
        assert_eq!(copies, 1, "the platform holds {receipt} exactly once");
    }
}

/// Material name → state, wherever the application JSON lists them.
fn material_states(json: &serde_json::Value) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![json];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Object(map) => {
                if let (Some(name), Some(state)) = (
                    map.get("name").and_then(|v| v.as_str()),
                    map.get("state").and_then(|v| v.as_str()),
                ) {
                    found.insert(name.to_string(), state.to_string());
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    found
}

/// The QR payloads on the newest receipt the virtual printer rendered.
fn printed_qr(receipts_dir: &Path) -> Vec<String> {
    let newest = std::fs::read_dir(receipts_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .expect("the virtual printer rendered a receipt");
    let image = image::open(&newest).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// 社会保障卡申领 takes a missing photo under 容缺 (it has no 告知承诺).
const PHOTO: &str = "近期一寸白底免冠照片";
/// Two materials only 生育保险待遇申领 asks for, in the 新生儿出生一件事.
const BILLS: &str = "住院费用票据及清单";
const BANK_CARD: &str = "本人社会保障卡或银行卡";
const OWED: &str = "暂缺，容缺后补";
const COMMITTED: &str = "以告知承诺代替";

#[test]
fn a_resident_applies_offline_and_the_platform_gets_it_once() {
    let t = terminal();
    let ui = &t.ui;
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin_ui::NetworkState::Online
    });

    // The platform becomes unreachable before the resident arrives.
    t.platform().faults().set_random(Fault::Reset, 1.0);

    t.put_card_down();
    assert!(t.kiosk().get_resident().contains('*'), "masked on screen");

    // 社保卡 by its pinyin initials, on the on-screen letter keys.
    tap(ui, "搜索");
    type_keys(ui, "sbk");
    let hit = t
        .kiosk()
        .get_search_results()
        .row_data(0)
        .expect("a result");
    assert!(
        hit.name.contains("社保卡") || hit.name.contains("社会保障卡"),
        "{}",
        hit.name
    );
    tap(ui, &hit.name);
    assert_eq!(t.screen(), Screen::Guide);
    tap(ui, "我要办理");
    assert_eq!(t.screen(), Screen::Form);

    // Prefilled from the card: the resident only confirms.
    let card = bianmin_drivers::idcard::sim::demo_cards().remove(0);
    let fields = t.all_fields();
    let name = fields.iter().find(|f| f.key == "applicant.name").unwrap();
    assert_eq!(name.value.as_str(), card.name);
    assert!(name.prefilled);
    let id = fields
        .iter()
        .find(|f| f.key == "applicant.id_number")
        .unwrap();
    assert_eq!(id.value.as_str(), card.id_number);

    // A wrong phone number is refused next to the field, in words.
    pressed(press::edit_field(ui, "applicant.phone"));
    assert_eq!(t.journey().get_editor(), Editor::Keypad);
    type_keys(ui, "12345");
    tap(ui, "完成");
    assert!(t.journey().get_editing());
    assert!(!t.journey().get_editing_error().is_empty());
    tap(ui, "取消");
    assert!(!t.journey().get_editing());

    t.fill_in_the_rest();
    t.decide_materials(&[(PHOTO, OWED)]);
    t.commit_and_sign();
    let receipt = t.submit();

    // Durable before anything printed; the platform has not seen it.
    assert_eq!(t.store_state(&receipt), Some(RecordState::Pending));
    assert!(t
        .platform()
        .applications()
        .iter()
        .all(|(r, _)| *r != receipt));
    assert_eq!(
        material_states(&t.stored_json(&receipt))
            .get(PHOTO)
            .map(String::as_str),
        Some("pending"),
        "the outbox keeps the photo owed under 容缺"
    );
    assert!(
        t.journey()
            .get_owed()
            .iter()
            .any(|line| line.contains(PHOTO) && line.contains("前补交")),
        "the receipt lists the photo still owed, with the day it is due"
    );
    assert!(
        t.journey().get_printed(),
        "{}",
        t.journey().get_receipt_message()
    );
    let qr = printed_qr(&t.data_dir.join("receipts"));
    assert!(qr.iter().any(|q| q.contains(&receipt)), "{qr:?}");

    // The link comes back: delivered exactly once, the photo still owed.
    t.platform().faults().clear();
    t.wait_delivered(&receipt);
    assert_eq!(
        material_states(&t.platform_json(&receipt))
            .get(PHOTO)
            .map(String::as_str),
        Some("pending"),
        "the platform knows the photo is owed"
    );
    // …with the content package the resident saw, and what was signed under.
    let received = t.platform_json(&receipt);
    assert_eq!(
        received["form"]["_content_version"],
        bianmin_core::package::Package::demo().version.as_str()
    );
    assert!(received["form"]["_confirmation"]["summary"][0]
        .as_str()
        .is_some_and(|l| l.starts_with("办理事项：")));

    // 好差评, bound to the receipt, through the outbox.
    tap(ui, "评价本次服务");
    assert_eq!(t.screen(), Screen::Rating);
    pressed(press::choose(ui, &t.journey().get_levels(), "4"));
    assert!(t.journey().get_rated());
    let store = t.services.store.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let evaluations: Vec<_> = store
            .list(None, 100)
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == RecordKind::Evaluation)
            .collect();
        if let Some(evaluation) = evaluations.first() {
            let json = store.record_json(&evaluation.key).unwrap().unwrap();
            let text = String::from_utf8(json.to_vec()).unwrap();
            assert!(text.contains(&receipt), "evaluation bound to the receipt");
            break;
        }
        assert!(Instant::now() < deadline, "no evaluation stored");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Progress by scanning the printed receipt: the platform's own state.
    t.devices().scan(&receipt);
    t.pump_until("live progress", |t| {
        t.screen() == Screen::Progress && t.journey().get_progress().row_count() > 0
    });
    assert!(
        t.journey().get_progress_live(),
        "{}",
        t.journey().get_progress_message()
    );
    let row = t.journey().get_progress().row_data(0).unwrap();
    assert_eq!(row.receipt.as_str(), receipt);
    assert!(!row.state.is_empty());

    // Lifting the card ends the session: nothing of the resident stays.
    t.devices().lift_card();
    t.pump_until("the attract screen", |t| t.screen() == Screen::Attract);
    assert!(t.kiosk().get_resident().is_empty());
    let j = t.journey();
    assert_eq!(j.get_fields().row_count(), 0);
    assert!(j.get_receipt_no().is_empty());
    assert_eq!(j.get_progress().row_count(), 0);
    assert!(j.get_ink().is_empty());
    assert!(j.get_mail_address().is_empty());
    assert!(j.get_editing_value().is_empty());
    assert!(t.services.identity.lock().unwrap().is_none());
}

#[test]
fn a_bundle_asks_each_shared_field_once() {
    let t = terminal();
    let ui = &t.ui;
    t.put_card_down();
    tap(ui, "找服务");
    pressed(press::open_category(ui, "bundles"));
    let bundle = t.kiosk().get_services().row_data(0).expect("a bundle");
    tap(ui, &bundle.name);
    assert_eq!(t.screen(), Screen::Guide);
    tap(ui, "我要办理");
    assert_eq!(t.screen(), Screen::Questions);

    // Answer every question with its first option.
    let mut asked = 0;
    while !t.journey().get_questions_done() {
        let question = t.journey().get_question();
        let first = question.options.row_data(0).unwrap();
        tap(ui, &first.label);
        asked += 1;
        assert!(asked < 20, "the questionnaire ends");
    }
    let items = t.journey().get_items().row_count();
    assert!(items >= 2, "a bundle applies several items");
    tap(ui, "开始填写");
    assert_eq!(t.screen(), Screen::Form);

    let fields = t.all_fields();
    let keys: BTreeSet<_> = fields.iter().map(|f| f.key.to_string()).collect();
    assert_eq!(keys.len(), fields.len(), "no field asked twice");
    assert!(keys.contains("applicant.name"));

    t.fill_in_the_rest();
    let materials: Vec<String> = t
        .all_materials()
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    let unique: BTreeSet<_> = materials.iter().collect();
    assert_eq!(unique.len(), materials.len(), "one merged material list");
    t.decide_materials(&[(BILLS, OWED), (BANK_CARD, COMMITTED)]);
    assert!(
        t.journey().get_commitment_needed(),
        "告知承诺 asks for the commitment"
    );
    t.commit_and_sign();
    let receipt = t.submit();
    let stored = material_states(&t.stored_json(&receipt));
    assert_eq!(stored.get(BILLS).map(String::as_str), Some("pending"));
    assert_eq!(stored.get(BANK_CARD).map(String::as_str), Some("committed"));
    t.wait_delivered(&receipt);
    let received = material_states(&t.platform_json(&receipt));
    assert_eq!(received.get(BILLS).map(String::as_str), Some("pending"));
    assert_eq!(
        received.get(BANK_CARD).map(String::as_str),
        Some("committed")
    );
}

/// Calls for staff queued in the outbox for the platform.
fn staff_calls(t: &Terminal) -> usize {
    let store = t.services.store.as_ref().unwrap();
    store
        .list(None, 1000)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RecordKind::ErrorReport)
        .filter(|r| {
            let json = store.record_json(&r.key).unwrap().unwrap();
            String::from_utf8_lossy(&json).contains("\"call_staff\"")
        })
        .count()
}

/// The printer is out of paper when a resident submits: the application is
/// stored, the receipt number and QR stay on screen, and the kiosk calls
/// staff by itself, exactly once (one call in the outbox for the platform,
/// one buzz of the buzzer), with 呼叫工作人员补打 as the main action. Then
/// 好差评: once a low level is chosen, the reasons step shows which one, in
/// both themes.
#[test]
fn a_print_failure_calls_staff_by_itself_exactly_once() {
    let t = terminal();
    let ui = &t.ui;
    let gpio = t
        .services
        .devices
        .as_ref()
        .and_then(|devices| devices.sim_gpio())
        .expect("the demo's simulated GPIO");
    t.devices().printer.device().faults.paper_end = true;

    t.put_card_down();
    pressed(press::apply_for(ui, "social-security", "DEMO-SB-001"));
    t.fill_in_the_rest();
    t.decide_materials(&[]);
    t.commit_and_sign();
    assert_eq!(staff_calls(&t), 0);
    assert!(!gpio.buzzer());
    let receipt = t.submit();

    // Stored, not printed: the number and QR on screen, staff on the way.
    assert!(t.store_state(&receipt).is_some(), "the outbox holds it");
    assert!(!t.journey().get_printed());
    assert!(t.devices().printer.device().receipts.is_empty());
    assert!(
        t.journey()
            .get_receipt_message()
            .contains("已为您呼叫工作人员"),
        "{}",
        t.journey().get_receipt_message()
    );
    assert!(press::can_press(ui, "呼叫工作人员补打"));
    assert!(gpio.buzzer(), "the buzzer sounds for staff at once");
    t.pump_until("the call for staff in the outbox", |t| staff_calls(t) == 1);

    // The buzz is short; then nothing calls again by itself, whatever
    // else the services report meanwhile.
    i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(900));
    assert!(!gpio.buzzer(), "the buzz stops");
    for _ in 0..20 {
        for event in t.services.inbox.drain() {
            t.controller.handle(event);
        }
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(100));
        assert!(!gpio.buzzer(), "staff were called a second time");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(staff_calls(&t), 1, "exactly one call for staff");

    // The resident's own press is a call of its own.
    tap(ui, "呼叫工作人员补打");
    assert!(gpio.buzzer());
    t.pump_until("the resident's call in the outbox", |t| staff_calls(t) == 2);
    tap(ui, "知道了");

    // 好差评: 不满意 asks for reasons and keeps the choice in sight.
    tap(ui, "评价本次服务");
    assert_eq!(t.screen(), Screen::Rating);
    pressed(press::choose(ui, &t.journey().get_levels(), "2"));
    assert!(!t.journey().get_rated(), "reasons are asked first");
    let chosen = |ui: &AppWindow| {
        i_slint_backend_testing::ElementHandle::find_by_accessible_label(ui, "您选择了：不满意 ✓")
            .any(|e| e.size().width > 0.0)
    };
    assert!(chosen(ui), "the chosen level is shown with the reasons");
    tap(ui, "大字模式");
    assert!(chosen(ui), "…and in large mode");
}

/// 一码通办: the demo's phone shows a code to the simulated scanner, the
/// embedded platform vouches for a fictional resident and the services
/// open; then a code scanned on the start screen carries a resident
/// through the same journey a card does — prefilled with the code's
/// identity, a receipt printed, the platform's record marked as identified
/// by the code. A code shown twice, an expired one, a forged one, and any
/// code while the platform is unreachable each get their one sentence.
#[test]
fn a_resident_identified_by_a_scanned_code_applies_and_gets_a_receipt() {
    use bianmin_core::personal_code::Scheme;
    use bianmin_platform_server::identity::{demo_people, IssueCodeRequest};
    let t = terminal();
    let ui = &t.ui;
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin_ui::NetworkState::Online
    });
    let issue = |person: i64, ttl_secs: i64| {
        t.services
            .runtime
            .block_on(t.platform().issue_identity_code(IssueCodeRequest {
                person,
                scheme: Scheme::Ymtb,
                ttl_secs,
            }))
            .expect("the demo platform issues codes")
            .code
    };
    let notice_says = |t: &Terminal, what: &str| t.kiosk().get_notice().contains(what);

    // The demo's own button: a code for the first fictional resident.
    tap(ui, "扫码");
    assert_eq!(t.screen(), Screen::Scan);
    tap(ui, "演示：出示手机上的电子身份证码");
    t.pump_until("the demo code verified", |t| {
        !t.kiosk().get_resident().is_empty()
    });
    assert_eq!(t.screen(), Screen::Catalogue);
    assert!(notice_says(&t, "一码通"), "{}", t.kiosk().get_notice());
    assert!(t.kiosk().get_resident().starts_with("王*兰"));
    tap(ui, "知道了");
    tap(ui, "首页");
    t.pump_until("the attract screen", |t| t.screen() == Screen::Attract);
    assert!(t.services.identity.lock().unwrap().is_none());

    // A code shown on the start screen, then the journey a card would take.
    let person = &demo_people()[1];
    let code = issue(1, 300);
    t.devices().scan(&code);
    t.pump_until("the code verified", |t| {
        !t.kiosk().get_resident().is_empty()
    });
    tap(ui, "知道了");
    tap(ui, "搜索");
    type_keys(ui, "sbk");
    let hit = t
        .kiosk()
        .get_search_results()
        .row_data(0)
        .expect("a result");
    tap(ui, &hit.name);
    tap(ui, "我要办理");
    assert_eq!(t.screen(), Screen::Form);
    let fields = t.all_fields();
    let value = |key: &str| {
        fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.to_string())
            .unwrap_or_default()
    };
    assert_eq!(value("applicant.name"), person.name);
    assert_eq!(value("applicant.id_number"), person.id_number);
    t.fill_in_the_rest();
    t.decide_materials(&[]);
    t.commit_and_sign();
    let receipt = t.submit();
    assert!(
        t.journey().get_printed(),
        "{}",
        t.journey().get_receipt_message()
    );
    t.wait_delivered(&receipt);
    let received = t.platform_json(&receipt);
    assert_eq!(received["applicant"]["identified_by"], "ymtb");
    assert_eq!(received["applicant"]["name"], person.name);
    tap(ui, "首页");
    t.pump_until("the attract screen", |t| t.screen() == Screen::Attract);
    assert!(t.kiosk().get_resident().is_empty());
    assert!(t.services.identity.lock().unwrap().is_none());

    // The same code again (a screenshot), an expired and a forged one:
    // refused in one sentence each, nobody identified. (The scanner drops
    // a code seen again within 1.5 s — a continuous-mode scanner repeats
    // what stays in view — and this journey took less than that.)
    std::thread::sleep(Duration::from_millis(1600));
    for (scanned, says) in [
        (code, "用过"),
        (issue(0, -5), "过期"),
        ("YMTB:ForgedButWellFormed42".to_string(), "无法核验"),
    ] {
        t.kiosk().set_notice("".into());
        t.devices().scan(&scanned);
        t.pump_until(says, |t| notice_says(t, says));
        assert!(t.kiosk().get_resident().is_empty());
        tap(ui, "知道了");
    }

    // The platform unreachable: use the card, said within 5 s.
    t.platform().faults().set_random(Fault::Reset, 1.0);
    t.kiosk().set_notice("".into());
    let started = Instant::now();
    t.devices().scan(&issue(0, 300));
    t.pump_until("use your card", |t| notice_says(t, "请刷身份证"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(t.kiosk().get_resident().is_empty());
}

/// 办不成事反映 that can be followed up: the resident picks what went wrong,
/// types a number on the keypad under the consent sentence and sends; the
/// report reaches the platform through the outbox with the number (sealed
/// on the way), and nothing of the number stays on screen.
#[test]
fn a_report_of_what_could_not_be_done_leaves_a_number_to_call_back() {
    let t = terminal();
    let ui = &t.ui;
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin_ui::NetworkState::Online
    });
    tap(ui, "查进度");
    tap(ui, "办不成事反映");
    assert_eq!(t.screen(), Screen::Feedback);
    let topic = t
        .journey()
        .get_feedback_topics()
        .row_data(0)
        .expect("a topic")
        .label
        .to_string();
    tap(ui, &topic);
    assert!(
        !press::can_press(ui, "留下号码并提交"),
        "no number yet: only 不留号码 can send"
    );
    type_keys(ui, "1391234567");
    assert!(
        !press::can_press(ui, "留下号码并提交"),
        "ten digits are no number"
    );
    type_keys(ui, "8");
    assert_eq!(t.journey().get_feedback_phone().as_str(), "139 1234 5678");
    tap(ui, "留下号码并提交");
    t.pump_until("recorded", |t| {
        t.journey().get_feedback_message().contains("已记录")
    });
    assert!(t.journey().get_feedback_phone().is_empty());

    let store = t.services.store.as_ref().unwrap();
    let report = store
        .list(None, 20)
        .unwrap()
        .into_iter()
        .find(|r| r.kind == RecordKind::ErrorReport)
        .expect("the report is in the outbox");
    let deadline = Instant::now() + Duration::from_secs(30);
    let at_platform = loop {
        if let Some(record) = t.platform().record(RecordKind::ErrorReport, &report.key) {
            break record;
        }
        if let Some(sync) = &t.services.sync {
            sync.sync_now();
        }
        assert!(Instant::now() < deadline, "the report did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(at_platform["kind"], "cannot_get_done");
    assert_eq!(at_platform["message"], topic.as_str());
    assert_eq!(at_platform["callback_phone"], "13912345678");
}

/// The station clerk's view: a resident applies with a photo owed under
/// 容缺 and leaves a 办不成事 report with a number to call back on; the
/// clerk signs in with staff number and PIN (the 帮办 sign-in) from 查进度
/// and sees today's application with the photo and the day it is due, the
/// report with the number, no full ID number anywhere; the opening and a
/// reprint are in the audit log; 首页 leaves nothing of it on screen.
#[test]
fn the_clerk_sees_what_is_owed_and_whom_to_call_back() {
    let t = terminal_with(|config| {
        config.assist.staff.push(bianmin_config::StaffMember {
            id: bianmin_config::StaffId("1001".into()),
            pin_hash: bianmin_config::PinHash(bianmin_admin::staff::hash("975318").unwrap()),
        });
    });
    let ui = &t.ui;
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin_ui::NetworkState::Online
    });

    // A resident applies, the photo owed.
    t.put_card_down();
    tap(ui, "搜索");
    type_keys(ui, "sbk");
    let hit = t.kiosk().get_search_results().row_data(0).unwrap();
    tap(ui, &hit.name);
    tap(ui, "我要办理");
    t.fill_in_the_rest();
    t.decide_materials(&[(PHOTO, OWED)]);
    t.commit_and_sign();
    let receipt = t.submit();
    t.wait_delivered(&receipt);
    // …and reports what else could not be done, leaving a number.
    tap(ui, "首页");
    t.pump_until("the attract screen", |t| t.screen() == Screen::Attract);
    tap(ui, "查进度");
    tap(ui, "办不成事反映");
    let topic = t.journey().get_feedback_topics().row_data(0).unwrap().label;
    tap(ui, &topic);
    type_keys(ui, "13912345678");
    tap(ui, "留下号码并提交");
    t.pump_until("recorded", |t| {
        t.journey().get_feedback_message().contains("已记录")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.services.store.as_ref().unwrap().stats().unwrap().pending > 0 {
        if let Some(sync) = &t.services.sync {
            sync.sync_now();
        }
        assert!(Instant::now() < deadline, "the report did not go up");
        std::thread::sleep(Duration::from_millis(100));
    }
    tap(ui, "首页");
    t.pump_until("the attract screen", |t| t.screen() == Screen::Attract);

    // The clerk signs in from 查进度.
    tap(ui, "查进度");
    tap(ui, "工作人员入口");
    assert!(t.kiosk().get_assist_visible());
    type_keys(ui, "1001");
    tap(ui, "完成");
    type_keys(ui, "975318");
    tap(ui, "完成");
    let deadline = Instant::now() + Duration::from_secs(30);
    while t.controller.assist_checking() {
        assert!(Instant::now() < deadline, "the PIN check did not answer");
        std::thread::sleep(Duration::from_millis(20));
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(60));
    }
    assert_eq!(t.screen(), Screen::Station);
    t.pump_until("the station view", |t| {
        t.kiosk().get_station_message().contains("今日受理 1 件")
    });
    let card = bianmin_drivers::idcard::sim::demo_cards().remove(0);
    let item = t.kiosk().get_station_items().row_data(0).unwrap();
    assert_eq!(item.receipt.as_str(), receipt);
    assert!(item.title.contains('*'), "masked: {}", item.title);
    assert!(!item.title.contains(card.name.as_str()), "{}", item.title);
    assert!(
        item.detail.contains(PHOTO) && item.detail.contains("前补交"),
        "{}",
        item.detail
    );
    let everything: Vec<String> = t
        .kiosk()
        .get_station_follow_ups()
        .iter()
        .map(|l| l.to_string())
        .chain([item.title.to_string(), item.detail.to_string()])
        .collect();
    assert!(
        everything
            .iter()
            .any(|l| l.contains("回电 139 1234 5678") && l.contains(topic.as_str())),
        "{everything:?}"
    );
    assert!(
        everything.iter().all(|l| !l.contains(&card.id_number)),
        "no full ID number on the clerk's screen"
    );
    // A reprint from here, then both are in the audit log.
    tap(ui, "补打");
    t.pump_until("reprinted", |t| t.kiosk().get_notice().contains("已打印"));
    let audit =
        std::fs::read_to_string(t.data_dir.join(bianmin_admin::audit_log::AUDIT_FILE)).unwrap();
    assert!(
        audit.contains("打开本站今日受理") && audit.contains("staff:1001"),
        "{audit}"
    );
    assert!(audit.contains(&format!("补打回执 {receipt}")), "{audit}");

    // Leaving ends it: nothing of the view stays on screen.
    tap(ui, "知道了");
    tap(ui, "首页");
    t.pump_until("the attract screen", |t| t.screen() == Screen::Attract);
    assert_eq!(t.kiosk().get_station_items().row_count(), 0);
    assert_eq!(t.kiosk().get_station_follow_ups().row_count(), 0);
    assert!(t.kiosk().get_station_message().is_empty());
}

/// 代办: a daughter, identified by her card, applies for her father, who is
/// not there: she names him (name on the pinyin keyboard, ID number on the
/// keypad, GB 11643-checked) and how they are related; the form is filled
/// with his data, she signs the 代办 declaration under the commitment, and
/// the platform's record has him as the applicant and her as the agent with
/// the relationship; the receipt says 代办. Naming herself, or a child with
/// a relationship other than parent or guardian, is refused in one sentence.
#[test]
fn an_agent_applies_for_a_relative_who_is_not_there() {
    let t = terminal();
    let ui = &t.ui;
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin_ui::NetworkState::Online
    });
    let agent = bianmin_drivers::idcard::sim::demo_cards().remove(0);
    t.put_card_down();
    tap(ui, "搜索");
    type_keys(ui, "sbk");
    let hit = t.kiosk().get_search_results().row_data(0).unwrap();
    tap(ui, &hit.name);
    tap(ui, "为家人或他人代办");
    assert_eq!(t.screen(), Screen::Form);
    assert!(t.journey().get_title().contains("代办"));
    tap(ui, "知道了");

    pressed(press::edit_field(ui, "principal.name"));
    pressed(press::enter_sample_value(ui));
    let name_and = |id_number: &str, relation: &str| {
        pressed(press::edit_field(ui, "principal.id_number"));
        for _ in 0..20 {
            tap(ui, "删除");
        }
        type_keys(ui, id_number);
        tap(ui, "完成");
        pressed(press::edit_field(ui, "principal.relation"));
        tap(ui, relation);
        tap(ui, "下一步");
    };
    // Herself: refused, still on the first step.
    name_and(&agent.id_number, "子女");
    assert!(
        t.journey().get_form_message().contains("不能是您本人"),
        "{}",
        t.journey().get_form_message()
    );
    // A child, and she says she is its 子女: refused.
    let child = bianmin_drivers::idcard::sim::with_check("11010120150101123");
    name_and(&child, "子女");
    assert!(
        t.journey().get_form_message().contains("父母或其他监护人"),
        "{}",
        t.journey().get_form_message()
    );
    // Her father.
    let father = bianmin_drivers::idcard::sim::with_check("11010519480301123");
    name_and(&father, "子女");
    assert!(
        t.kiosk().get_notice().contains("代办"),
        "{}",
        t.kiosk().get_notice()
    );
    tap(ui, "知道了");
    let fields = t.all_fields();
    let value = |key: &str| {
        fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.to_string())
            .unwrap_or_default()
    };
    assert_eq!(value("applicant.id_number"), father);
    assert_eq!(value("applicant.name"), "中国");
    assert_eq!(value("applicant.gender"), "男");
    t.fill_in_the_rest();
    t.decide_materials(&[]);
    assert!(
        t.journey().get_commitment_text().contains("代办人声明"),
        "{}",
        t.journey().get_commitment_text()
    );
    t.commit_and_sign();
    let receipt = t.submit();
    t.wait_delivered(&receipt);
    let record = t.platform_json(&receipt);
    assert_eq!(record["applicant"]["id_number"], father.as_str());
    assert_eq!(record["applicant"]["identified_by"], "typed");
    assert_eq!(record["agent"]["id_number"], agent.id_number.as_str());
    assert_eq!(record["agent"]["relationship"], "子女");
    assert_eq!(record["agent"]["identified_by"], "id_card");
    assert!(record["agent"]["declaration"]
        .as_str()
        .is_some_and(|d| d.starts_with("代办人声明")));
    let printed: String = t
        .devices()
        .printer
        .device()
        .receipts
        .iter()
        .map(|r| r.text())
        .collect::<Vec<_>>()
        .join("")
        .split_whitespace()
        .collect();
    assert!(printed.contains("代办"), "{printed}");
}

/// 代办 with the applicant's own card: the agent lifts theirs (the session
/// goes on), puts the applicant's down, and it fills the first step; the
/// application is the card holder's, marked as read from the card, and the
/// agent's.
#[test]
fn an_agent_puts_the_applicants_card_on_the_reader() {
    let t = terminal();
    let ui = &t.ui;
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin_ui::NetworkState::Online
    });
    let cards = bianmin_drivers::idcard::sim::demo_cards();
    let (agent, spouse) = (&cards[0], &cards[1]);
    t.put_card_down();
    tap(ui, "搜索");
    type_keys(ui, "sbk");
    let hit = t.kiosk().get_search_results().row_data(0).unwrap();
    tap(ui, &hit.name);
    tap(ui, "为家人或他人代办");
    tap(ui, "知道了");
    t.devices().lift_card();
    // A hand takes a moment between two cards: the reader sees none.
    let lifted = Instant::now();
    t.pump_until("a moment with no card", |_| {
        lifted.elapsed() > Duration::from_millis(1500)
    });
    t.devices().place_card(1);
    t.pump_until("the applicant's card read", |t| {
        t.all_fields()
            .iter()
            .any(|f| f.key == "principal.id_number" && f.value.as_str() == spouse.id_number)
    });
    assert_eq!(t.screen(), Screen::Form, "the session went on");
    tap(ui, "知道了");
    pressed(press::edit_field(ui, "principal.relation"));
    tap(ui, "配偶");
    tap(ui, "下一步");
    tap(ui, "知道了");
    let fields = t.all_fields();
    let value = |key: &str| {
        fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.to_string())
            .unwrap_or_default()
    };
    assert_eq!(value("applicant.name"), spouse.name);
    assert_eq!(value("applicant.id_number"), spouse.id_number);
    t.fill_in_the_rest();
    t.decide_materials(&[]);
    t.commit_and_sign();
    let receipt = t.submit();
    t.wait_delivered(&receipt);
    let record = t.platform_json(&receipt);
    assert_eq!(record["applicant"]["id_number"], spouse.id_number.as_str());
    assert_eq!(record["applicant"]["identified_by"], "id_card");
    assert_eq!(record["agent"]["id_number"], agent.id_number.as_str());
    assert_eq!(record["agent"]["relationship"], "配偶");
}

/// A child's application goes the guardian path: the parent, identified by
/// their card, names the child; the service's 监护人 fields are the parent's
/// from the card, and the child's data fills the applicant's.
#[test]
fn a_parent_applies_for_a_child_as_its_guardian() {
    let t = terminal();
    let ui = &t.ui;
    let parent = bianmin_drivers::idcard::sim::demo_cards().remove(0);
    t.put_card_down();
    pressed(press::find_service(ui, "disability", "DEMO-CL-001"));
    tap(ui, "为家人或他人代办");
    tap(ui, "知道了");
    pressed(press::edit_field(ui, "principal.name"));
    pressed(press::enter_sample_value(ui));
    let child = bianmin_drivers::idcard::sim::with_check("11010120150101123");
    pressed(press::edit_field(ui, "principal.id_number"));
    type_keys(ui, &child);
    tap(ui, "完成");
    pressed(press::edit_field(ui, "principal.relation"));
    tap(ui, "父母");
    tap(ui, "下一步");
    tap(ui, "知道了");
    let fields = t.all_fields();
    let field = |key: &str| fields.iter().find(|f| f.key == key).cloned();
    assert_eq!(
        field("applicant.id_number").map(|f| f.value.to_string()),
        Some(child.clone())
    );
    let guardian = field("guardian.name").expect("the form asks for the guardian");
    assert_eq!(guardian.value.as_str(), parent.name);
    assert!(guardian.prefilled, "taken from the parent's card");
    assert_eq!(
        field("guardian.relation").map(|f| f.value.to_string()),
        Some("父母".into())
    );
}

/// 自助打印 of a guide: 打印这份指南 on a guide prints every part the guide
/// gives on the receipt printer — no card needed, nothing personal on it.
#[test]
fn a_guide_prints_on_the_receipt_printer() {
    let t = terminal();
    let ui = &t.ui;
    pressed(press::find_service(ui, "social-security", "DEMO-SB-001"));
    tap(ui, "打印这份指南");
    t.pump_until("printed", |t| t.kiosk().get_notice().contains("已打印"));
    let printed: String = t
        .devices()
        .printer
        .device()
        .receipts
        .last()
        .expect("a sheet printed")
        .text()
        .split_whitespace()
        .collect();
    for part in [
        "办事指南：社会保障卡申领",
        "【所需材料】",
        "居民身份证",
        "法定时限：20个工作日",
        "【办理流程】",
        "监督投诉：12345",
        "DEMO-SB-001",
    ] {
        assert!(printed.contains(part), "{part} not printed: {printed}");
    }
}
