//! The kiosk shell through Slint's testing backend: navigation by accessible
//! labels, the large-font switch, the idle time-out and the wipe.

use super::support::{buttons, kiosk, pressed, screen, seconds, tap, type_keys};
use bianmin_ui::{Kiosk, Screen, Theme};
use slint::{ComponentHandle, Model};

#[test]
fn resident_reaches_a_service_guide_by_labels() {
    let (ui, _controller) = kiosk();
    assert_eq!(screen(&ui), Screen::Attract);
    tap(&ui, "找服务");
    assert_eq!(screen(&ui), Screen::Catalogue);
    tap(&ui, "社会保障");
    assert_eq!(screen(&ui), Screen::ServiceList);
    assert_eq!(ui.global::<Kiosk>().get_list_title(), "社会保障");
    tap(&ui, "社会保障卡申领");
    assert_eq!(screen(&ui), Screen::Guide);
    let guide = ui.global::<Kiosk>().get_guide();
    assert_eq!(guide.name, "社会保障卡申领");
    assert!(guide.materials.row_count() > 0);
    assert!(guide
        .materials
        .iter()
        .any(|m| m.name == "居民身份证" && m.e_cert));
    // Back walks the same way home.
    tap(&ui, "返回");
    assert_eq!(screen(&ui), Screen::ServiceList);
    tap(&ui, "返回");
    assert_eq!(screen(&ui), Screen::Catalogue);
    tap(&ui, "首页");
    assert_eq!(screen(&ui), Screen::Attract);
}

#[test]
fn search_by_pinyin_initials_from_the_on_screen_keyboard() {
    let (ui, _controller) = kiosk();
    tap(&ui, "搜索");
    assert_eq!(screen(&ui), Screen::Search);
    for key in ["s", "b", "k"] {
        tap(&ui, key);
    }
    let kiosk = ui.global::<Kiosk>();
    assert_eq!(kiosk.get_search_text(), "sbk");
    let first = kiosk.get_search_results().row_data(0).expect("a result");
    assert!(first.name.contains("社会保障卡"), "{}", first.name);
    tap(&ui, "删除");
    assert_eq!(kiosk.get_search_text(), "sb");
    tap(&ui, "清空");
    assert_eq!(kiosk.get_search_text(), "");
    assert_eq!(kiosk.get_search_results().row_count(), 0);
}

#[test]
fn large_font_mode_switches_on_and_back_off() {
    let (ui, _controller) = kiosk();
    let theme = ui.global::<Theme>();
    assert!(!theme.get_large());
    let body_normal = theme.get_font_body();
    tap(&ui, "大字模式");
    assert!(theme.get_large());
    assert!(theme.get_font_body() >= body_normal * 1.5);
    // Every header carries the switch back.
    tap(&ui, "找服务");
    tap(&ui, "标准模式");
    assert!(!theme.get_large());
    assert_eq!(screen(&ui), Screen::Catalogue);
}

#[test]
fn idle_timeout_counts_down_then_wipes_everything_the_resident_left() {
    let (ui, controller) = kiosk();
    controller.start_ticking();
    let kiosk = ui.global::<Kiosk>();
    tap(&ui, "搜索");
    for key in ["s", "b", "k"] {
        tap(&ui, key);
    }
    tap(&ui, "社会保障卡申领");
    controller.set_resident("张*三");
    assert_eq!(screen(&ui), Screen::Guide);

    // 90 s of stillness (the default) brings the countdown, not the wipe.
    seconds(90);
    assert!(kiosk.get_countdown_visible());
    assert_eq!(kiosk.get_countdown_seconds(), 30);
    assert!(!buttons(&ui, "继续办理").is_empty());
    assert_eq!(screen(&ui), Screen::Guide);
    assert_eq!(kiosk.get_resident(), "张*三");

    seconds(29);
    assert_eq!(kiosk.get_countdown_seconds(), 1);
    seconds(1);
    assert!(!kiosk.get_countdown_visible());
    assert_eq!(screen(&ui), Screen::Attract);
    assert_eq!(kiosk.get_resident(), "");
    assert_eq!(kiosk.get_search_text(), "");
    assert_eq!(kiosk.get_search_results().row_count(), 0);
    assert_eq!(kiosk.get_guide().name, "");
    assert_eq!(kiosk.get_guide().materials.row_count(), 0);
    assert_eq!(kiosk.get_services().row_count(), 0);
    assert_eq!(kiosk.get_list_title(), "");

    // An idle attract screen stays as it is.
    seconds(300);
    assert!(!kiosk.get_countdown_visible());
}

#[test]
fn continue_keeps_the_session_and_large_mode_waits_longer() {
    let (ui, controller) = kiosk();
    controller.start_ticking();
    let kiosk = ui.global::<Kiosk>();
    tap(&ui, "找服务");
    seconds(95);
    assert!(kiosk.get_countdown_visible());
    tap(&ui, "继续办理");
    assert!(!kiosk.get_countdown_visible());
    assert_eq!(screen(&ui), Screen::Catalogue);

    tap(&ui, "大字模式");
    seconds(120);
    assert!(
        !kiosk.get_countdown_visible(),
        "large mode must allow longer than the normal 90 s"
    );
    seconds(60);
    assert!(kiosk.get_countdown_visible());
}

#[test]
fn call_staff_is_acknowledged_in_words() {
    let (ui, _controller) = kiosk();
    tap(&ui, "呼叫工作人员");
    assert!(ui.global::<Kiosk>().get_notice().contains("工作人员"));
    tap(&ui, "知道了");
    assert_eq!(ui.global::<Kiosk>().get_notice(), "");
}

/// The large pinyin keyboard lies below the header: with letters being
/// composed, 呼叫工作人员 (and 返回, 朗读) can still be found and pressed.
#[test]
fn call_staff_stays_in_reach_over_the_large_pinyin_keyboard() {
    let (ui, controller) = kiosk();
    controller.set_hooks(std::rc::Rc::new(bianmin_ui::headless::SampleResident));
    controller.set_resident("王*明 110101********1233");
    tap(&ui, "大字模式");
    pressed(bianmin_ui::press::apply_for(
        &ui,
        "social-security",
        "DEMO-SB-001",
    ));
    pressed(bianmin_ui::press::edit_field(&ui, "applicant.address"));
    type_keys(&ui, "zhang");
    let journey = ui.global::<bianmin_ui::Journey>();
    assert!(journey.get_editing() && journey.get_editor() == bianmin_ui::Editor::Pinyin);
    assert!(!journey.get_composing().is_empty());
    for header in ["返回", "朗读", "呼叫工作人员"] {
        assert!(
            bianmin_ui::press::can_press(&ui, header),
            "{header} is out of reach over the keyboard"
        );
    }
    tap(&ui, "呼叫工作人员");
    assert!(ui.global::<Kiosk>().get_notice().contains("工作人员"));
    // The keyboard and what was typed wait under the notice.
    assert!(journey.get_editing());
    assert!(!journey.get_composing().is_empty());
}

/// Policy terms come with plain words beside them and an explanation one
/// tap away (容缺受理 on a guide that allows it).
#[test]
fn a_guide_explains_its_policy_terms_in_plain_words() {
    let (ui, controller) = kiosk();
    pressed(bianmin_ui::press::find_service(
        &ui,
        "social-security",
        "DEMO-SB-001",
    ));
    let kiosk = ui.global::<Kiosk>();
    assert!(kiosk.get_guide().tolerant);
    assert!(kiosk.get_term_tolerant().plain.contains("先办"));
    tap(&ui, "这些词是什么意思？");
    let notice = kiosk.get_notice();
    assert!(notice.starts_with("容缺受理："), "{notice}");
    assert!(notice.contains("免证办："), "{notice}");
    tap(&ui, "知道了");
    // In English the same explanation, in English (the switch itself is
    // on the attract screen).
    controller.set_language(bianmin_config::Language::En);
    tap(&ui, "这些词是什么意思？");
    assert!(kiosk.get_notice().starts_with("Apply now, hand in later:"));
}

/// A material without a chosen way is named, and a button turns to its
/// page when it is not on the one showing.
#[test]
fn the_undecided_material_is_named_and_one_tap_away() {
    let (ui, controller) = kiosk();
    controller.set_hooks(std::rc::Rc::new(bianmin_ui::headless::SampleResident));
    controller.set_resident("王*明 110101********1233");
    pressed(bianmin_ui::press::apply_for(
        &ui,
        "household",
        "DEMO-HJ-003",
    ));
    pressed(bianmin_ui::press::fill_required(&ui));
    tap(&ui, "下一步");
    let journey = ui.global::<bianmin_ui::Journey>();
    assert_eq!(journey.get_material_page(), 0);
    assert!(journey.get_materials_message().contains("「居住证明」"));
    assert!(!bianmin_ui::press::can_press(&ui, "翻到没选的材料"));
    pressed(bianmin_ui::press::press_in(
        &ui,
        "居住证明",
        "已带来，交给工作人员",
    ));
    // The next one undecided is on the second page.
    assert!(journey
        .get_materials_message()
        .contains("「就业或就读证明」"));
    tap(&ui, "翻到没选的材料");
    assert_eq!(journey.get_material_page(), 1);
    assert!(journey
        .get_materials()
        .iter()
        .any(|m| m.name == "就业或就读证明"));
}

/// A service that needs what this terminal lacks (a camera) is explained,
/// not offered: its guide says where to go, and 我要办理 does nothing.
#[test]
fn a_service_the_terminal_cannot_finish_is_explained_not_offered() {
    i_slint_backend_testing::init_no_event_loop();
    let mut package = bianmin_core::package::Package::demo();
    let service = package
        .catalogue
        .services
        .iter_mut()
        .find(|s| s.code == "DEMO-SB-001")
        .unwrap();
    service.needs = vec![bianmin_core::catalogue::Capability::Camera];
    let ui = bianmin_ui::AppWindow::new().unwrap();
    let controller =
        bianmin_ui::KioskController::new(&ui, bianmin_config::Config::default(), package);
    ui.show().unwrap();
    controller.set_hooks(std::rc::Rc::new(bianmin_ui::headless::SampleResident));
    controller.set_resident("王*明 110101********1233");
    pressed(bianmin_ui::press::find_service(
        &ui,
        "social-security",
        "DEMO-SB-001",
    ));
    let kiosk = ui.global::<Kiosk>();
    let reason = kiosk.get_guide().unavailable;
    assert!(
        reason.contains("需要摄像头") && reason.contains("服务窗口"),
        "{reason}"
    );
    assert!(!bianmin_ui::press::can_press(&ui, "我要办理"));
    tap(&ui, "我要办理");
    assert_eq!(screen(&ui), Screen::Guide, "nothing started");
}
