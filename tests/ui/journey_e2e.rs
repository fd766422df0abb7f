//! A resident's whole journey through the real UI (Slint's testing backend),
//! the demo's simulated devices on pseudo-terminals and the reference
//! platform on loopback: card down → 社保卡 found by `sbk` → form prefilled →
//! submitted while the platform is unreachable → receipt printed, its QR
//! decoded → link back → the platform holds the application exactly once →
//! rating bound to the receipt → progress by scanning the receipt shows the
//! platform's state → card lifted and nothing of the resident left on screen.
//! The second test does the same for a 一件事 bundle and checks the merged
//! form asks each shared field once.

use bianmin::config::Config;
use bianmin::services::{self, Services};
use bianmin::store::RecordState;
use bianmin::ui::{AppWindow, Editor, Journey, Kiosk, KioskController, Screen};
use bianmin_platform_server::Fault;
use slint::{ComponentHandle, Model};
use std::collections::BTreeSet;
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
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    // Retries come quickly once the link is back; the default cap is minutes.
    config.platform.retry_base_ms = bianmin::config::Ranged(50);
    config.platform.retry_cap_secs = bianmin::config::Ranged(1);
    let services = services::start(&mut config, true);
    assert!(services.fault.is_none(), "{:?}", services.fault);
    let ui = AppWindow::new().unwrap();
    let controller = KioskController::new(&ui, config.clone(), services.catalogue.clone());
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

    fn put_card_down(&self) {
        self.devices().place_card(0);
        self.pump_until("card read", |t| !t.kiosk().get_resident().is_empty());
    }

    /// Every field of the form, across its pages.
    fn all_fields(&self) -> Vec<bianmin::ui::FieldRow> {
        let journey = self.journey();
        while journey.get_field_page() > 0 {
            journey.invoke_page_fields(-1);
        }
        let mut rows = Vec::new();
        loop {
            rows.extend(journey.get_fields().iter());
            if journey.get_field_page() + 1 >= journey.get_field_pages() {
                break;
            }
            journey.invoke_page_fields(1);
        }
        while journey.get_field_page() > 0 {
            journey.invoke_page_fields(-1);
        }
        rows
    }

    /// Type into every empty required field through the field editor.
    fn fill_in_the_rest(&self) {
        let journey = self.journey();
        for row in self.all_fields() {
            if !row.required || !row.value.is_empty() {
                continue;
            }
            journey.invoke_edit_field(row.key.clone());
            assert!(journey.get_editing(), "editor opens for {}", row.key);
            match journey.get_editor() {
                Editor::Keypad => {
                    let id = bianmin_drivers::idcard::sim::with_check("11010119850101123");
                    let digits = if row.key.contains("phone") {
                        "13812345678"
                    } else if row.key.contains("date") {
                        "20200101"
                    } else if row.key.contains("id_number") {
                        id.as_str()
                    } else {
                        // Account and certificate numbers: long enough for any of them.
                        "6222021234567890"
                    };
                    for d in digits.chars() {
                        journey.invoke_editor_key(d.to_string().into());
                    }
                    journey.invoke_editor_done();
                }
                Editor::Choice => {
                    let first = journey.get_editing_choices().row_data(0).unwrap();
                    journey.invoke_editor_choose(first.value);
                }
                _ if !row.key.contains("name") && !row.key.contains("address") => {
                    // A certificate number: a letter, then digits from the digit row.
                    for key in "k123456789".chars() {
                        journey.invoke_editor_key(key.to_string().into());
                    }
                    journey.invoke_editor_done();
                }
                _ => {
                    // Pinyin: "zhongguo" then the first candidates, until long enough.
                    for _ in 0..3 {
                        for c in "zhongguo".chars() {
                            journey.invoke_editor_key(c.to_string().into());
                        }
                        journey.invoke_editor_pick(0);
                    }
                    journey.invoke_editor_done();
                }
            }
            assert!(
                !journey.get_editing(),
                "{} accepted: {}",
                row.key,
                journey.get_editing_error()
            );
        }
    }

    /// Materials: e-certificates as offered, everything else brought along.
    fn decide_materials(&self) {
        let journey = self.journey();
        while journey.get_material_page() > 0 {
            journey.invoke_page_materials(-1);
        }
        loop {
            for row in journey.get_materials().iter() {
                let chosen = row.options.iter().any(|o| o.selected);
                if !chosen {
                    journey.invoke_set_material(row.name.clone(), "provided".into());
                }
            }
            if journey.get_material_page() + 1 >= journey.get_material_pages() {
                break;
            }
            journey.invoke_page_materials(1);
        }
        journey.invoke_materials_next();
        assert_eq!(
            self.screen(),
            Screen::Delivery,
            "{}",
            journey.get_materials_message()
        );
        journey.invoke_delivery_next();
        assert_eq!(self.screen(), Screen::Commitment);
    }

    fn commit_and_sign(&self) {
        let journey = self.journey();
        if journey.get_commitment_needed() && !journey.get_committed() {
            journey.invoke_toggle_commitment();
        }
        journey.invoke_sign_start(40.0, 120.0, 700.0, 260.0);
        for i in 1..30 {
            journey.invoke_sign_move(40.0 + i as f32 * 12.0, 120.0 + ((i % 5) as f32) * 9.0);
        }
        journey.invoke_sign_end();
        assert!(journey.get_signed(), "the signature counts");
        assert!(!journey.get_ink().is_empty(), "the ink shows on the pad");
    }

    fn submit(&self) -> String {
        self.journey().invoke_submit();
        self.pump_until("the receipt screen", |t| t.screen() == Screen::Receipt);
        let receipt = self.journey().get_receipt_no().to_string();
        assert!(bianmin::store::receipt::is_valid(&receipt), "{receipt}");
        receipt
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

#[test]
fn a_resident_applies_offline_and_the_platform_gets_it_once() {
    let t = terminal();
    t.pump_until("the link", |t| {
        t.kiosk().get_network() == bianmin::ui::NetworkState::Online
    });

    // The platform becomes unreachable before the resident arrives.
    t.platform().faults().set_random(Fault::Reset, 1.0);

    t.put_card_down();
    assert!(t.kiosk().get_resident().contains('*'), "masked on screen");

    // 社保卡 by its pinyin initials.
    t.controller.open_search();
    for key in ["s", "b", "k"] {
        t.kiosk().invoke_search_key(key.into());
    }
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
    t.kiosk().invoke_open_service(hit.code.clone());
    assert_eq!(t.screen(), Screen::Guide);
    t.kiosk().invoke_apply(hit.code.clone());
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
    t.journey().invoke_edit_field("applicant.phone".into());
    for d in "12345".chars() {
        t.journey().invoke_editor_key(d.to_string().into());
    }
    t.journey().invoke_editor_done();
    assert!(t.journey().get_editing());
    assert!(!t.journey().get_editing_error().is_empty());
    t.journey().invoke_editor_cancel();

    t.fill_in_the_rest();
    t.journey().invoke_form_next();
    assert_eq!(
        t.screen(),
        Screen::Materials,
        "{}",
        t.journey().get_form_message()
    );
    t.decide_materials();
    t.commit_and_sign();
    let receipt = t.submit();

    // Durable before anything printed; the platform has not seen it.
    assert_eq!(t.store_state(&receipt), Some(RecordState::Pending));
    assert!(t
        .platform()
        .applications()
        .iter()
        .all(|(r, _)| *r != receipt));
    assert!(
        t.journey().get_printed(),
        "{}",
        t.journey().get_receipt_message()
    );
    let qr = printed_qr(&t.data_dir.join("receipts"));
    assert!(qr.iter().any(|q| q.contains(&receipt)), "{qr:?}");

    // The link comes back: delivered exactly once.
    t.platform().faults().clear();
    t.wait_delivered(&receipt);

    // 好差评, bound to the receipt, through the outbox.
    t.journey().invoke_to_rating();
    assert_eq!(t.screen(), Screen::Rating);
    t.journey().invoke_rate("4".into());
    assert!(t.journey().get_rated());
    let store = t.services.store.as_ref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let evaluations: Vec<_> = store
            .list(None, 100)
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == bianmin::platform::api::RecordKind::Evaluation)
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
    t.put_card_down();
    t.controller.open_catalogue();
    t.kiosk().invoke_open_category("bundles".into());
    let bundle = t.kiosk().get_services().row_data(0).expect("a bundle");
    t.kiosk().invoke_open_service(bundle.code.clone());
    t.kiosk().invoke_apply(bundle.code.clone());
    assert_eq!(t.screen(), Screen::Questions);

    // Answer every question with its first option.
    let mut asked = 0;
    while !t.journey().get_questions_done() {
        let question = t.journey().get_question();
        let first = question.options.row_data(0).unwrap();
        t.journey().invoke_answer(first.value);
        asked += 1;
        assert!(asked < 20, "the questionnaire ends");
    }
    let items = t.journey().get_items().row_count();
    assert!(items >= 2, "a bundle applies several items");
    t.journey().invoke_questions_next();
    assert_eq!(t.screen(), Screen::Form);

    let fields = t.all_fields();
    let keys: BTreeSet<_> = fields.iter().map(|f| f.key.to_string()).collect();
    assert_eq!(keys.len(), fields.len(), "no field asked twice");
    assert!(keys.contains("applicant.name"));

    t.fill_in_the_rest();
    t.journey().invoke_form_next();
    assert_eq!(
        t.screen(),
        Screen::Materials,
        "{}",
        t.journey().get_form_message()
    );
    let materials: Vec<String> = {
        let mut names = Vec::new();
        let j = t.journey();
        loop {
            names.extend(j.get_materials().iter().map(|m| m.name.to_string()));
            if j.get_material_page() + 1 >= j.get_material_pages() {
                break;
            }
            j.invoke_page_materials(1);
        }
        names
    };
    let unique: BTreeSet<_> = materials.iter().collect();
    assert_eq!(unique.len(), materials.len(), "one merged material list");
    t.decide_materials();
    t.commit_and_sign();
    let receipt = t.submit();
    t.wait_delivered(&receipt);
}
