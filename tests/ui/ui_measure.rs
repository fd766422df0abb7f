//! Sizes and contrast measured on every screen in both themes: the element
//! tree gives the sizes, the software-rendered pixels give the colours.

use bianmin_ui::audit::{audit_all, ScreenAudit, LINE_HEIGHT_PER_FONT_PX};

fn find<'a>(audits: &'a [ScreenAudit], screen: &str, large: bool) -> &'a ScreenAudit {
    audits
        .iter()
        .find(|a| a.screen == screen && a.large == large)
        .unwrap()
}

#[test]
fn every_screen_meets_the_minimums_in_both_themes() {
    let audits = audit_all(&[false, true], (1280, 800), 5.6).unwrap();
    assert_eq!(audits.len(), 2 * bianmin_ui::headless::all_screens().len());
    let failures: Vec<String> = audits
        .iter()
        .flat_map(|a| {
            a.problems.iter().map(move |p| {
                format!(
                    "{} ({}): {p}",
                    a.screen,
                    if a.large { "large" } else { "normal" }
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");

    // Admin mode's tabs and values are options too: the audit sees which
    // is chosen there, so a choice told by colour alone fails it.
    let settings = ["设备设置", "打印机", "打印机串口", "/dev/bianmin-printer"];
    // In large print the keyboard takes the list's place.
    let keyboard = ["设备设置", "站点与平台", "站点名称"];
    for (screen, large, chosen) in [
        ("admin-settings", false, &settings[..]),
        ("admin-settings", true, &settings[..]),
        ("admin-keyboard", false, &keyboard[..]),
        ("admin-keyboard", true, &keyboard[..2]),
        ("admin-operations", false, &["运行状态"][..]),
        ("admin-operations", true, &["运行状态"][..]),
    ] {
        let selected: Vec<&str> = find(&audits, screen, large)
            .targets
            .iter()
            .filter(|t| t.selected)
            .map(|t| t.label.as_str())
            .collect();
        assert_eq!(selected, chosen, "{screen} (large: {large})");
    }

    for normal in audits.iter().filter(|a| !a.large) {
        let large = find(&audits, normal.screen, true);
        // Text in large mode at least 1.5× normal: the finest print, and
        // the same texts compared one by one (median, since a text stretched
        // by its layout in one theme only is not bigger print).
        let ratio = large.smallest_text_height() / normal.smallest_text_height();
        assert!(
            ratio >= 1.5,
            "{}: smallest text ratio {ratio:.2}",
            normal.screen
        );
        let mut ratios: Vec<f32> = normal
            .texts
            .iter()
            .filter_map(|n| large.text(&n.label).map(|l| l.height / n.height))
            .collect();
        ratios.sort_by(f32::total_cmp);
        let median = ratios[ratios.len() / 2];
        assert!(
            median >= 1.5,
            "{}: median text ratio {median:.2} over {ratios:?}",
            normal.screen
        );
        // Every touch target in large mode at least 60×60 px.
        for target in &large.targets {
            assert!(
                target.width >= 60.0 && target.height >= 60.0,
                "{}: {target:?}",
                large.screen
            );
        }
        // Every text measured for contrast in large mode at ≥ 7:1.
        for text in large
            .texts
            .iter()
            .filter_map(|t| t.contrast.map(|c| (t, c)))
        {
            assert!(text.1 >= 7.0, "{}: {:?}", large.screen, text.0);
        }
        for text in normal
            .texts
            .iter()
            .filter_map(|t| t.contrast.map(|c| (t, c)))
        {
            assert!(text.1 >= 4.5, "{}: {:?}", normal.screen, text.0);
        }
    }

    // The main entry buttons' text in large mode is at least 30 px.
    let attract = find(&audits, "attract", true);
    for label in [
        "刷身份证",
        "扫码",
        "找服务",
        "搜索",
        "查进度",
        "标准模式",
        "呼叫工作人员",
    ] {
        let text = attract
            .text(label)
            .unwrap_or_else(|| panic!("no text {label:?} on the large attract screen"));
        let font_px = text.height / LINE_HEIGHT_PER_FONT_PX;
        assert!(font_px >= 30.0, "{label}: about {font_px:.1} px");
        assert!(attract.targets.iter().any(|t| t.label == label));
    }
}

slint::slint! {
    // The kiosk's own CJK font, as on every real screen: without it the
    // Chinese below draws nothing on a machine without CJK system fonts
    // (unless another test happened to load the kiosk's window first).
    import "assets/fonts/wqy-microhei.ttc";
    export component BadScreen inherits Window {
        default-font-family: "WenQuanYi Micro Hei";
        width: 400px;
        height: 300px;
        background: #ffffff;
        VerticalLayout {
            alignment: start;
            Rectangle {
                width: 30px;
                height: 30px;
                background: #dddddd;
                accessible-role: button;
            }
            Text { text: "浅灰色的字看不清"; font-size: 20px; color: #bbbbbb; }
            Text { text: "太小的字"; font-size: 9px; color: #000000; }
        }
    }
}

/// The audit is only worth its "ok" if it says "no" to a bad screen.
#[test]
fn the_audit_catches_an_unlabelled_tiny_button_pale_text_and_fine_print() {
    use slint::ComponentHandle;
    bianmin_ui::audit::install_backend();
    let ui = BadScreen::new().unwrap();
    ui.show().unwrap();
    i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(20));
    let snapshot = ui.window().take_snapshot().unwrap();
    let audit = bianmin_ui::audit::audit_screen(&ui, &snapshot, "bad", false, 5.6);
    let problems = audit.problems.join("\n");
    assert!(problems.contains("no accessible label"), "{problems}");
    assert!(problems.contains("30×30 px, under 44×44"), "{problems}");
    assert!(
        problems.contains("浅灰色的字看不清") && problems.contains("contrast"),
        "{problems}"
    );
    assert!(problems.contains("太小的字"), "{problems}");
}
