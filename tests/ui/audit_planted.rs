//! The UI audit catches what a resident would stumble on even where the
//! numbers pass: planted screens with a selection told by colour alone,
//! with a title cut with "…" and with a word broken across two lines fail
//! it; the same screens done right pass.

use bianmin_ui::audit::{audit_screen, install_backend};
use slint::ComponentHandle;

mod planted {
    slint::slint! {
        // Two options; the second chosen. `marked`: the kiosk's way (tick,
        // 已选, thick border, pale fill); otherwise only the fill changes.
        export component PlantedSelection inherits Window {
            in property <bool> marked;
            width: 640px;
            height: 200px;
            background: #ffffff;
            HorizontalLayout {
                padding: 20px;
                spacing: 20px;
                for label[i] in ["带来了", "电子证照"]: Rectangle {
                    property <bool> chosen: i == 1;
                    background: chosen ? (root.marked ? #fff6cc : #1557b0) : #ffffff;
                    border-width: chosen && root.marked ? 4px : 1px;
                    border-color: chosen && root.marked ? #1b2430 : #c5cfdb;
                    border-radius: 10px;
                    accessible-role: button;
                    accessible-label: label;
                    accessible-checkable: true;
                    accessible-checked: chosen;
                    VerticalLayout {
                        alignment: center;
                        if chosen && root.marked: Text {
                            text: "✓ 已选";
                            font-size: 20px;
                            color: #1b2430;
                            horizontal-alignment: center;
                        }
                        Text {
                            text: label;
                            font-size: 24px;
                            color: chosen && !root.marked ? #ffffff : #1b2430;
                            horizontal-alignment: center;
                        }
                    }
                }
            }
        }

        // A hint in the kiosk's font, as wide as nine and a half of its
        // characters: as given ("提交申/请"), or with its words joined
        // (bianmin_ui::wrap::keep_words, what `Prose` shows).
        import "assets/fonts/wqy-microhei.ttc";
        export component PlantedBreak inherits Window {
            in property <string> words;
            default-font-family: "WenQuanYi Micro Hei";
            width: 400px;
            height: 300px;
            background: #ffffff;
            VerticalLayout {
                padding: 20px;
                alignment: start;
                Text {
                    width: 304px;
                    text: root.words;
                    font-size: 32px;
                    line-height-factor: 1.1;
                    color: #1b2430;
                    wrap: word-wrap;
                }
            }
        }

        // A service's full name in a narrow title: cut with "…", or wrapped.
        // (Latin words: this window does not bundle the kiosk's CJK font.)
        export component PlantedTitle inherits Window {
            in property <bool> wrapped;
            width: 420px;
            height: 200px;
            background: #ffffff;
            VerticalLayout {
                padding: 20px;
                alignment: start;
                if !root.wrapped: Text {
                    text: "Social security card: first issue, replacement, renewal";
                    font-size: 30px;
                    color: #1b2430;
                    overflow: elide;
                }
                if root.wrapped: Text {
                    text: "Social security card: first issue, replacement, renewal";
                    font-size: 30px;
                    color: #1b2430;
                    wrap: word-wrap;
                }
            }
        }
    }
}

fn problems<C: ComponentHandle>(ui: &C) -> Vec<String> {
    ui.show().unwrap();
    let snapshot = ui.window().take_snapshot().unwrap();
    let audit = audit_screen(ui, &snapshot, "planted", false, 5.6);
    ui.hide().unwrap();
    audit.problems
}

#[test]
fn a_selection_told_by_colour_alone_fails_the_audit() {
    install_backend();
    let ui = planted::PlantedSelection::new().unwrap();
    ui.set_marked(false);
    let found = problems(&ui);
    assert!(
        found
            .iter()
            .any(|p| p.contains("电子证照") && p.contains("only in colour")),
        "{found:#?}"
    );

    ui.set_marked(true);
    let found = problems(&ui);
    assert!(
        !found.iter().any(|p| p.contains("only in colour")),
        "{found:#?}"
    );
}

#[test]
fn a_title_cut_with_an_ellipsis_fails_the_audit() {
    install_backend();
    let ui = planted::PlantedTitle::new().unwrap();
    ui.set_wrapped(false);
    let found = problems(&ui);
    assert!(
        found
            .iter()
            .any(|p| p.contains("Social security card") && p.contains("cut with …")),
        "{found:#?}"
    );

    ui.set_wrapped(true);
    let found = problems(&ui);
    assert!(!found.iter().any(|p| p.contains("cut")), "{found:#?}");
}

#[test]
fn a_word_broken_across_two_lines_fails_the_audit() {
    install_backend();
    let ui = planted::PlantedBreak::new().unwrap();
    let hint = "签好了，点“提交申请”";
    ui.set_words(hint.into());
    let found = problems(&ui);
    assert!(
        found
            .iter()
            .any(|p| p.contains("breaks the word \"申请\"") && p.contains("提交申/请")),
        "{found:#?}"
    );

    ui.set_words(bianmin_ui::wrap::keep_words(hint).into());
    let found = problems(&ui);
    assert!(
        !found.iter().any(|p| p.contains("breaks the word")),
        "{found:#?}"
    );
}
