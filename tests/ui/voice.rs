//! Voice guidance: every screen has a prompt, espeak-ng turns prompts into
//! audio, and the kiosk speaks by itself in large mode.

use super::support::tap;
use bianmin_config::{Language, VoiceConfig};
use bianmin_ui::prompts::{countdown_prompt, screen_prompt};
use bianmin_ui::voice::{render_wav, Speaker};
use bianmin_ui::{AppWindow, KioskController, Screen};
use std::cell::RefCell;
use std::rc::Rc;

const SCREENS: [Screen; 20] = [
    Screen::Attract,
    Screen::Catalogue,
    Screen::ServiceList,
    Screen::Guide,
    Screen::Search,
    Screen::Identify,
    Screen::Scan,
    Screen::Progress,
    Screen::Questions,
    Screen::Form,
    Screen::Materials,
    Screen::Delivery,
    Screen::Review,
    Screen::Commitment,
    Screen::Receipt,
    Screen::Rating,
    Screen::Documents,
    Screen::Feedback,
    Screen::Station,
    Screen::OutOfService,
];

#[derive(Default)]
struct Recorder(RefCell<Vec<String>>);

impl Speaker for Recorder {
    fn speak(&self, text: &str, _language: Language) {
        self.0.borrow_mut().push(text.to_string());
    }
}

#[test]
fn every_screen_has_a_prompt_in_both_languages() {
    for screen in SCREENS {
        for english in [false, true] {
            let prompt = screen_prompt(screen, english);
            assert!(prompt.chars().count() >= 10, "{screen:?}: {prompt:?}");
        }
    }
    assert!(countdown_prompt(30, false).contains("30"));
}

#[test]
fn espeak_renders_each_chinese_prompt_to_audio() {
    let dir = tempfile::tempdir().unwrap();
    let settings = VoiceConfig::default();
    for (i, screen) in SCREENS.iter().enumerate() {
        let wav = dir.path().join(format!("{i}.wav"));
        render_wav(screen_prompt(*screen, false), Language::Zh, &settings, &wav)
            .expect("espeak-ng is installed (.ci/install-deps)");
        let bytes = std::fs::read(&wav).unwrap();
        assert_eq!(&bytes[..4], b"RIFF", "{screen:?}");
        assert_eq!(&bytes[8..12], b"WAVE", "{screen:?}");
        // At 22 kHz 16-bit mono a second of speech is ~44 kB; prompts last seconds.
        assert!(bytes.len() > 44_000, "{screen:?}: {} bytes", bytes.len());
    }
}

fn kiosk() -> (AppWindow, KioskController, Rc<Recorder>) {
    let (ui, controller) = super::support::kiosk();
    let recorder = Rc::new(Recorder::default());
    controller.set_speaker(recorder.clone());
    (ui, controller, recorder)
}

#[test]
fn large_mode_speaks_each_screen_by_itself() {
    let (ui, _controller, recorder) = kiosk();
    tap(&ui, "大字模式");
    tap(&ui, "找服务");
    tap(&ui, "社会保障");
    let said = recorder.0.borrow().clone();
    assert_eq!(
        said,
        vec![
            screen_prompt(Screen::Catalogue, false).to_string(),
            screen_prompt(Screen::ServiceList, false).to_string()
        ]
    );
}

#[test]
fn normal_mode_speaks_on_request_only() {
    let (ui, _controller, recorder) = kiosk();
    tap(&ui, "找服务");
    assert!(recorder.0.borrow().is_empty());
    tap(&ui, "朗读");
    assert_eq!(
        recorder.0.borrow().as_slice(),
        [screen_prompt(Screen::Catalogue, false).to_string()]
    );
}

#[test]
fn the_countdown_is_spoken_in_large_mode() {
    let (ui, controller, recorder) = kiosk();
    controller.start_ticking();
    tap(&ui, "大字模式");
    tap(&ui, "找服务");
    for _ in 0..180 {
        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(1));
    }
    let said = recorder.0.borrow();
    assert!(said.last().unwrap().contains("继续办理"), "{said:?}");
}

/// 朗读 on a guide reads the guide (what to bring, how long, the fee), not
/// only the screen's fixed prompt.
#[test]
fn read_aloud_reads_the_guide_itself() {
    let (ui, _controller, recorder) = kiosk();
    super::support::pressed(bianmin_ui::press::find_service(
        &ui,
        "social-security",
        "DEMO-SB-001",
    ));
    assert_eq!(super::support::screen(&ui), Screen::Guide);
    tap(&ui, "朗读");
    let said = recorder.0.borrow().last().cloned().unwrap_or_default();
    assert!(
        said.starts_with(screen_prompt(Screen::Guide, false)),
        "{said}"
    );
    for part in [
        "社会保障卡",
        "需要带：",
        "居民身份证",
        "办理时限：",
        "办理流程：",
        "法定时限：20个工作日",
        "监督投诉电话：12345",
        "到现场次数：1 次",
    ] {
        assert!(said.contains(part), "{part} not read: {said}");
    }
}

/// 朗读 on the receipt reads the service, the receipt number character by
/// character and what is still owed, with its due day.
#[test]
fn read_aloud_reads_the_receipt_essentials() {
    use bianmin_desk::{DeskAnswer, DeskEvent};
    use bianmin_ui::press;
    let (ui, controller, recorder) = kiosk();
    controller.set_hooks(Rc::new(bianmin_ui::headless::SampleResident));
    controller.set_resident("王*明 110101********1233");
    super::support::pressed(press::apply_for(&ui, "social-security", "DEMO-SB-001"));
    super::support::pressed(press::fill_required(&ui));
    tap(&ui, "下一步");
    let photo = "近期一寸白底免冠照片";
    super::support::pressed(press::provide_all_materials(&ui));
    super::support::pressed(press::choose_material(&ui, photo, "暂缺，容缺后补"));
    tap(&ui, "下一步");
    tap(&ui, "下一步");
    tap(&ui, "信息无误，去签名");
    super::support::pressed(press::sign(&ui));
    let receipt = bianmin_store::receipt::format("T0001", "20261125", 42);
    controller.handle(bianmin_ui::events::UiEvent::Desk(DeskAnswer {
        session: controller.session_id(),
        event: DeskEvent::Submitted {
            receipt_no: receipt.clone(),
            qr: receipt.clone(),
            printed: true,
            printer_message: Default::default(),
            due_dates: [(photo.to_string(), "2026-12-02".to_string())].into(),
        },
    }));
    assert_eq!(super::support::screen(&ui), Screen::Receipt);
    tap(&ui, "朗读");
    let said = recorder.0.borrow().last().cloned().unwrap_or_default();
    assert!(said.contains("社会保障卡"), "{said}");
    assert!(
        said.contains("受理编号：B M 1，T 0 0 0 1，2 0 2 6 1 1 2 5，0 0 0 0 4 2，"),
        "{said}"
    );
    assert!(
        said.contains(photo) && said.contains("2026-12-02"),
        "{said}"
    );
}
