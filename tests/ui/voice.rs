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
