//! The form input widgets (ui/input.slint) through Slint's testing backend:
//! they render in both themes within the audit's minimums, their keys fire
//! the callbacks, and driven by the Rust state behind them a resident can
//! type 张 by pinyin and sign with a finger. The widgets are not on a kiosk
//! screen yet, so each is shown in a test window laid out the way a form
//! screen would use it (header, field, widget at its preferred size).

use super::support::{buttons, press, pressed, tap};
use bianmin_journey::signature::SignatureCapture;
use bianmin_journey::typing::{Backspace, PinyinComposer};
use bianmin_ui::audit::{audit_screen, install_backend, ScreenAudit};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::rc::Rc;

slint::slint! {
    import "../../assets/fonts/wqy-microhei.ttc";
    import { Theme } from "../../ui/theme.slint";
    import { Header } from "../../ui/widgets.slint";
    import { NumericKeypad, PinyinKeyboard, SignaturePad } from "../../ui/input.slint";
    export { Theme }

    component Field inherits VerticalLayout {
        in property <string> label;
        in property <string> value;
        padding: Theme.padding;
        spacing: Theme.spacing;
        alignment: start;
        Text { text: label; font-size: Theme.font-body; color: Theme.ink; }
        Rectangle {
            min-height: Theme.target-min;
            background: Theme.surface;
            border-width: Theme.border-width * 2;
            border-color: Theme.primary;
            border-radius: Theme.radius;
            Text {
                x: Theme.spacing;
                text: value;
                font-size: Theme.font-button;
                color: Theme.ink;
            }
        }
    }

    export component KeypadWindow inherits Window {
        default-font-family: "WenQuanYi Micro Hei";
        width: 1280px;
        height: 800px;
        background: Theme.page;
        in property <bool> allow-x <=> pad.allow-x;
        in property <string> value;
        callback key <=> pad.key;
        callback backspace <=> pad.backspace;
        callback done <=> pad.done;
        VerticalLayout {
            Header { title: "公民身份号码"; }
            HorizontalLayout {
                padding: Theme.padding;
                spacing: Theme.spacing;
                Field { horizontal-stretch: 1; label: "请输入公民身份号码"; value: root.value; }
                VerticalLayout {
                    horizontal-stretch: 0;
                    alignment: end;
                    pad := NumericKeypad {}
                }
            }
        }
    }

    export component KeyboardWindow inherits Window {
        default-font-family: "WenQuanYi Micro Hei";
        width: 1280px;
        height: 800px;
        background: Theme.page;
        in property <string> value;
        in property <string> composing <=> keyboard.composing;
        in property <[string]> candidates <=> keyboard.candidates;
        in property <bool> has-previous <=> keyboard.has-previous;
        in property <bool> has-next <=> keyboard.has-next;
        callback letter <=> keyboard.letter;
        callback backspace <=> keyboard.backspace;
        callback pick <=> keyboard.pick;
        callback previous-candidates <=> keyboard.previous-candidates;
        callback next-candidates <=> keyboard.next-candidates;
        callback done <=> keyboard.done;
        callback ask-staff <=> keyboard.ask-staff;
        VerticalLayout {
            Header { title: "填写姓名"; }
            Field { vertical-stretch: 1; label: "姓名"; value: root.value; }
            VerticalLayout {
                padding: Theme.padding / 2;
                keyboard := PinyinKeyboard {}
            }
        }
    }

    export component SignatureWindow inherits Window {
        default-font-family: "WenQuanYi Micro Hei";
        width: 1280px;
        height: 800px;
        background: Theme.page;
        in property <string> ink <=> pad.ink;
        in property <length> sheet-width <=> pad.sheet-width;
        in property <length> sheet-height <=> pad.sheet-height;
        out property <length> pad-width: pad.pad-width;
        out property <length> pad-height: pad.pad-height;
        callback stroke-start <=> pad.stroke-start;
        callback stroke-move <=> pad.stroke-move;
        callback stroke-end <=> pad.stroke-end;
        callback clear <=> pad.clear;
        VerticalLayout {
            Header { title: "签名确认"; }
            VerticalLayout {
                padding: Theme.padding;
                spacing: Theme.spacing;
                Text {
                    vertical-stretch: 1;
                    text: "本人承诺所填信息真实有效。";
                    font-size: Theme.font-body;
                    color: Theme.ink;
                    wrap: word-wrap;
                }
                pad := SignaturePad { vertical-stretch: 0; }
            }
        }
    }
}

/// Pixels per millimetre of the 10.1" 1280×800 panel the other UI tests use.
const PX_PER_MM: f32 = 5.6;

fn element<C: ComponentHandle>(ui: &C, type_name: &str) -> ElementHandle {
    ElementHandle::find_by_element_type_name(ui, type_name)
        .next()
        .unwrap_or_else(|| panic!("no {type_name}"))
}

/// Render, save to the test's temporary directory for a look, and audit.
fn render_and_audit<C: ComponentHandle>(ui: &C, name: &'static str, large: bool) -> ScreenAudit {
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
    let snapshot = ui.window().take_snapshot().unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-input");
    std::fs::create_dir_all(&dir).unwrap();
    let theme = if large { "large" } else { "normal" };
    image::RgbaImage::from_raw(
        snapshot.width(),
        snapshot.height(),
        snapshot.as_bytes().to_vec(),
    )
    .unwrap()
    .save(dir.join(format!("{name}-{theme}.png")))
    .unwrap();
    audit_screen(ui, &snapshot, name, large, PX_PER_MM)
}

/// Every button's words on one line and inside the button: the audit
/// measures sizes, not whether a label wrapped or was cut off.
fn assert_labels_fit<C: ComponentHandle>(ui: &C, large: bool) {
    // One line of the largest key text (hanzi candidates), with slack.
    // Lines are stretched by Theme.line-height-factor (1.1).
    let one_line = 1.25 * 1.1 * if large { 46.0 } else { 30.0 };
    let buttons = i_slint_backend_testing::ElementQuery::from_root(ui)
        .match_descendants()
        .match_accessible_role(AccessibleRole::Button)
        .find_all();
    assert!(!buttons.is_empty());
    for button in buttons {
        let label = button.accessible_label().unwrap_or_default();
        let (at, size) = (button.absolute_position(), button.size());
        let texts = button
            .query_descendants()
            .match_type_name("Text")
            .find_all()
            .into_iter()
            .filter(|t| t.accessible_label().as_ref() == Some(&label));
        for text in texts {
            let (t_at, t_size) = (text.absolute_position(), text.size());
            assert!(
                t_size.height <= one_line,
                "{label:?} wraps: {:.0} px high",
                t_size.height
            );
            assert!(
                t_at.x >= at.x - 0.5
                    && t_at.y >= at.y - 0.5
                    && t_at.x + t_size.width <= at.x + size.width + 0.5
                    && t_at.y + t_size.height <= at.y + size.height + 0.5,
                "{label:?} does not fit its button"
            );
        }
    }
}

fn assert_clean(audit: &ScreenAudit) {
    assert!(
        audit.problems.is_empty(),
        "{} ({}): {:#?}",
        audit.screen,
        if audit.large { "large" } else { "normal" },
        audit.problems
    );
}

fn strings(items: Vec<String>) -> ModelRc<SharedString> {
    ModelRc::new(VecModel::from(
        items
            .into_iter()
            .map(SharedString::from)
            .collect::<Vec<_>>(),
    ))
}

type Log = Rc<RefCell<Vec<String>>>;

fn logger() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn taken(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.borrow_mut())
}

#[test]
fn numeric_keypad_keys_fire_and_x_shows_only_when_allowed() {
    install_backend();
    let ui = KeypadWindow::new().unwrap();
    ui.show().unwrap();
    let log = logger();
    ui.on_key({
        let log = log.clone();
        move |k| log.borrow_mut().push(k.to_string())
    });
    ui.on_backspace({
        let log = log.clone();
        move || log.borrow_mut().push("删除".into())
    });
    ui.on_done({
        let log = log.clone();
        move || log.borrow_mut().push("完成".into())
    });
    for label in [
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "删除", "完成",
    ] {
        tap(&ui, label);
    }
    assert_eq!(
        taken(&log),
        ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "删除", "完成"]
    );
    assert!(ElementHandle::find_by_accessible_label(&ui, "X")
        .next()
        .is_none());
    ui.set_allow_x(true);
    tap(&ui, "X");
    assert_eq!(taken(&log), ["X"]);

    // Phone order: 1 2 3 on top, 0 under 8, X bottom left.
    let at = |label: &str| buttons(&ui, label)[0].absolute_position();
    assert!(at("1").y < at("4").y && at("4").y < at("7").y && at("7").y < at("0").y);
    assert!(at("1").x < at("2").x && at("2").x < at("3").x);
    assert!((at("0").x - at("8").x).abs() < 1.0 && (at("X").x - at("7").x).abs() < 1.0);

    for large in [false, true] {
        ui.global::<Theme>().set_large(large);
        let audit = render_and_audit(&ui, "keypad", large);
        assert_clean(&audit);
        assert_labels_fit(&ui, large);
        let minimum = if large { 60.0 } else { 44.0 };
        let keys = audit
            .targets
            .iter()
            .filter(|t| t.label.len() == 1 || t.label == "删除" || t.label == "完成");
        assert_eq!(keys.clone().count(), 13);
        for key in keys {
            assert!(key.width >= minimum && key.height >= minimum, "{key:?}");
        }
        let pad = element(&ui, "NumericKeypad").size();
        eprintln!(
            "NumericKeypad {}: {:.0}×{:.0}",
            if large { "large" } else { "normal" },
            pad.width,
            pad.height
        );
    }
}

#[test]
fn pinyin_keyboard_keys_fire_every_callback() {
    install_backend();
    let ui = KeyboardWindow::new().unwrap();
    ui.show().unwrap();
    let log = logger();
    let record = |name: &'static str| {
        let log = log.clone();
        move || log.borrow_mut().push(name.to_string())
    };
    ui.on_letter({
        let log = log.clone();
        move |l| log.borrow_mut().push(l.to_string())
    });
    ui.on_pick({
        let log = log.clone();
        move |i| log.borrow_mut().push(format!("pick {i}"))
    });
    ui.on_backspace(record("删除"));
    ui.on_done(record("完成"));
    ui.on_ask_staff(record("帮办"));
    ui.on_previous_candidates(record("上一组"));
    ui.on_next_candidates(record("下一组"));

    let letters: Vec<String> = ('a'..='z').map(String::from).collect();
    for letter in &letters {
        tap(&ui, letter);
    }
    assert_eq!(taken(&log), letters);

    // Nothing typed yet: the bar says what to do. The keyboard keeps its
    // height when candidates appear, so no key moves under a finger.
    for large in [false, true] {
        ui.global::<Theme>().set_large(large);
        ui.set_candidates(strings(Vec::new()));
        let audit = render_and_audit(&ui, "pinyin-keyboard-empty", large);
        assert_clean(&audit);
        assert_labels_fit(&ui, large);
        assert!(audit.text("按拼音字母，再点选汉字").is_some());
        let empty = element(&ui, "PinyinKeyboard").size();
        ui.set_candidates(strings(vec!["社会保障卡".into(), "乙".into(), "丙".into()]));
        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
        assert_eq!(element(&ui, "PinyinKeyboard").size(), empty);
        assert_labels_fit(&ui, large);
    }
    ui.global::<Theme>().set_large(false);

    ui.set_candidates(strings(vec!["甲".into(), "乙".into(), "丙".into()]));
    // Candidates are keys, not the screen's choices, and the resident's own
    // input: marked so a language check leaves them, and only them, out.
    let audit = render_and_audit(&ui, "pinyin-keyboard-candidates", false);
    let candidate_keys: Vec<&str> = audit
        .targets
        .iter()
        .filter(|t| t.candidate)
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(candidate_keys, ["甲", "乙", "丙"]);
    assert!(audit.targets.iter().all(|t| !t.is_choice || !t.candidate));
    let candidate_texts: Vec<&str> = audit
        .texts
        .iter()
        .filter(|t| t.candidate)
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(candidate_texts, ["甲", "乙", "丙"]);
    assert!(audit.text("删除").is_some_and(|t| !t.candidate));
    // Paging keys do nothing while there is nothing to page to.
    tap(&ui, "上一组");
    tap(&ui, "下一组");
    ui.set_has_previous(true);
    ui.set_has_next(true);
    for label in [
        "丙",
        "甲",
        "上一组",
        "下一组",
        "删除",
        "完成",
        "请工作人员帮我输入",
    ] {
        tap(&ui, label);
    }
    assert_eq!(
        taken(&log),
        [
            "pick 2",
            "pick 0",
            "上一组",
            "下一组",
            "删除",
            "完成",
            "帮办"
        ]
    );
}

/// Turn the candidate pages until `text` shows, and tap it.
fn tap_candidate(ui: &KeyboardWindow, text: &str) {
    for _ in 0..5 {
        if ui.get_candidates().iter().any(|c| c == text) {
            return tap(ui, text);
        }
        tap(ui, "下一组");
    }
    panic!("{text} not within five pages");
}

/// Typing 张三 the way a resident would: letters, a pick, the rest, a pick.
#[test]
fn a_resident_types_a_name_by_pinyin_and_picks_characters() {
    install_backend();
    let ui = KeyboardWindow::new().unwrap();
    ui.show().unwrap();
    let composer = Rc::new(RefCell::new(PinyinComposer::new(5)));
    let field = Rc::new(RefCell::new(String::new()));
    let show = {
        let ui = ui.as_weak();
        let composer = composer.clone();
        let field = field.clone();
        move || {
            let ui = ui.unwrap();
            let composer = composer.borrow();
            ui.set_composing(composer.composing().into());
            ui.set_candidates(strings(composer.page()));
            ui.set_has_previous(composer.has_previous());
            ui.set_has_next(composer.has_next());
            ui.set_value(field.borrow().as_str().into());
        }
    };
    ui.on_letter({
        let (composer, show) = (composer.clone(), show.clone());
        move |l| {
            composer.borrow_mut().key(&l);
            show();
        }
    });
    ui.on_pick({
        let (composer, field, show) = (composer.clone(), field.clone(), show.clone());
        move |i| {
            let picked = composer.borrow_mut().pick(i as usize);
            if let Some(text) = picked {
                field.borrow_mut().push_str(&text);
            }
            show();
        }
    });
    ui.on_backspace({
        let (composer, field, show) = (composer.clone(), field.clone(), show.clone());
        move || {
            let effect = composer.borrow_mut().backspace();
            if effect == Backspace::DeleteCommitted {
                field.borrow_mut().pop();
            }
            show();
        }
    });
    ui.on_next_candidates({
        let (composer, show) = (composer.clone(), show.clone());
        move || {
            composer.borrow_mut().next_page();
            show();
        }
    });
    show();

    for letter in ["z", "h", "a", "n", "g", "s", "a", "n"] {
        tap(&ui, letter);
    }
    assert_eq!(ui.get_composing(), "zhangsan");
    assert_eq!(ui.get_candidates().row_count(), 5);
    tap_candidate(&ui, "张");
    assert_eq!(ui.get_value(), "张");
    assert_eq!(ui.get_composing(), "san");
    tap_candidate(&ui, "三");
    assert_eq!(ui.get_value(), "张三");
    assert_eq!(ui.get_composing(), "");
    assert_eq!(ui.get_candidates().row_count(), 0);

    // Half-typed, for the pictures: the field, the letters and candidates.
    for letter in ["f", "e", "n", "g"] {
        tap(&ui, letter);
    }
    for large in [false, true] {
        ui.global::<Theme>().set_large(large);
        composer
            .borrow_mut()
            .set_page_size(if large { 3 } else { 5 });
        show();
        assert_eq!(ui.get_candidates().row_count(), if large { 3 } else { 5 });
        let audit = render_and_audit(&ui, "pinyin-keyboard", large);
        assert_clean(&audit);
        assert_labels_fit(&ui, large);
        // Keys are not choices; only 帮办 is (and the header's, which are
        // persistent controls).
        assert_eq!(audit.choices(), 1, "{:?}", audit.targets);
        let minimum = if large { 60.0 } else { 44.0 };
        for key in &audit.targets {
            assert!(key.width >= minimum && key.height >= minimum, "{key:?}");
        }
        let keyboard = element(&ui, "PinyinKeyboard").size();
        eprintln!(
            "PinyinKeyboard {}: {:.0}×{:.0}",
            if large { "large" } else { "normal" },
            keyboard.width,
            keyboard.height
        );
    }

    // Backspace eats letters first, then committed characters.
    for _ in 0..4 {
        tap(&ui, "删除");
    }
    assert_eq!(ui.get_composing(), "");
    assert_eq!(ui.get_value(), "张三");
    tap(&ui, "删除");
    assert_eq!(ui.get_value(), "张");
}

#[test]
fn a_finger_signs_on_the_pad_and_rewrite_clears_it() {
    install_backend();
    let ui = SignatureWindow::new().unwrap();
    ui.show().unwrap();
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
    let (width, height) = (ui.get_pad_width(), ui.get_pad_height());
    assert!(width > 600.0 && height >= 200.0, "{width}×{height}");
    let capture = Rc::new(RefCell::new(SignatureCapture::new(width, height)));
    let ends = Rc::new(RefCell::new(0));
    ui.on_stroke_start({
        let (ui, capture) = (ui.as_weak(), capture.clone());
        move |x, y| {
            if capture.borrow_mut().start(x, y) {
                ui.unwrap().set_ink(capture.borrow().path_commands().into());
            }
        }
    });
    ui.on_stroke_move({
        let (ui, capture) = (ui.as_weak(), capture.clone());
        move |x, y| {
            if capture.borrow_mut().extend(x, y) {
                ui.unwrap().set_ink(capture.borrow().path_commands().into());
            }
        }
    });
    ui.on_stroke_end({
        let (capture, ends) = (capture.clone(), ends.clone());
        move || {
            capture.borrow_mut().end();
            *ends.borrow_mut() += 1;
        }
    });
    ui.on_clear({
        let (ui, capture) = (ui.as_weak(), capture.clone());
        move || {
            capture.borrow_mut().clear();
            ui.unwrap().set_ink("".into());
        }
    });

    let sheet = ElementHandle::find_by_accessible_label(&ui, "签名区域")
        .next()
        .unwrap();
    let origin = sheet.absolute_position();
    let size = sheet.size();
    assert!((size.width - width).abs() < 0.5 && (size.height - height).abs() < 0.5);
    // A zigzag across the middle of the sheet, drawn with the "finger".
    let points: Vec<(f32, f32)> = (0..=40)
        .map(|i| {
            let x = 60.0 + i as f32 * 12.0;
            let y = height / 2.0 + if i % 2 == 0 { -40.0 } else { 40.0 };
            (x, y)
        })
        .collect();
    pressed(press::stroke(&ui, &points));
    assert_eq!(*ends.borrow(), 1);
    let signature = capture.borrow().signature();
    assert!(signature.is_meaningful());
    assert_eq!(signature.strokes.len(), 1);
    assert_eq!(signature.strokes[0].len(), points.len());
    assert_eq!(
        signature.strokes[0][0],
        bianmin_core::application::Point {
            x: points[0].0.round() as i32,
            y: points[0].1.round() as i32
        }
    );

    // The ink shows where the finger went: dark pixels along the zigzag.
    let dark_in_sheet = |ui: &SignatureWindow| {
        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
        let shot = ui.window().take_snapshot().unwrap();
        let scale = ui.window().scale_factor();
        let w = shot.width() as usize;
        let pixels = shot.as_slice();
        let x0 = ((origin.x + 50.0) * scale) as usize;
        let x1 = ((origin.x + 60.0 + 40.0 * 12.0 + 10.0) * scale) as usize;
        let y0 = ((origin.y + height / 2.0 - 50.0) * scale) as usize;
        let y1 = ((origin.y + height / 2.0 + 50.0) * scale) as usize;
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = pixels[y * w + x];
                u16::from(p.r) + u16::from(p.g) + u16::from(p.b) < 150
            })
            .count()
    };
    let inked = dark_in_sheet(&ui);
    assert!(inked > 2000, "{inked} dark pixels");

    for large in [false, true] {
        ui.global::<Theme>().set_large(large);
        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
        // The sheet's size follows the theme; the ink follows the sheet.
        capture
            .borrow_mut()
            .resize(ui.get_pad_width(), ui.get_pad_height());
        ui.set_ink(capture.borrow().path_commands().into());
        let audit = render_and_audit(&ui, "signature-pad", large);
        assert_clean(&audit);
        assert_labels_fit(&ui, large);
        let pad = element(&ui, "SignaturePad").size();
        eprintln!(
            "SignaturePad {}: {:.0}×{:.0} (sheet {:.0}×{:.0})",
            if large { "large" } else { "normal" },
            pad.width,
            pad.height,
            ui.get_pad_width(),
            ui.get_pad_height()
        );
    }
    ui.global::<Theme>().set_large(false);
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
    capture
        .borrow_mut()
        .resize(ui.get_pad_width(), ui.get_pad_height());

    tap(&ui, "重写");
    assert!(capture.borrow().is_empty());
    assert_eq!(ui.get_ink(), "");
    assert_eq!(dark_in_sheet(&ui), 0);

    // A screen that wants the sheet at a fixed size gets exactly that in
    // both themes, with the pad around it.
    ui.set_sheet_width(720.0);
    ui.set_sheet_height(240.0);
    for large in [false, true] {
        ui.global::<Theme>().set_large(large);
        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
        assert_eq!((ui.get_pad_width(), ui.get_pad_height()), (720.0, 240.0));
        let pad = element(&ui, "SignaturePad");
        let (at, size) = (pad.absolute_position(), pad.size());
        let sheet = ElementHandle::find_by_accessible_label(&ui, "签名区域")
            .next()
            .unwrap();
        let (s_at, s_size) = (sheet.absolute_position(), sheet.size());
        assert!(
            s_at.y + s_size.height <= at.y + size.height
                && s_at.x + s_size.width <= at.x + size.width,
            "the sheet spills out of the pad"
        );
        assert_clean(&render_and_audit(&ui, "signature-pad-fixed", large));
    }
    ui.global::<Theme>().set_large(false);
    ui.set_sheet_width(0.0);
    ui.set_sheet_height(0.0);
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));

    // The stored picture of a signature drawn through the pad.
    pressed(press::stroke(&ui, &[(100.0, 100.0), (300.0, 150.0)]));
    let png = bianmin_desk::signature::render_png(&capture.borrow().signature()).unwrap();
    let picture = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(
        picture.dimensions(),
        (width.round() as u32, height.round() as u32)
    );
    assert!(picture.get_pixel(200, 125).0[0] < 100);
}
