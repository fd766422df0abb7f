//! Nothing a resident saw or typed in a journey survives the session: every
//! `Journey` and `Kiosk` view model that can hold resident data is checked
//! field by field after 首页 (退出) and after the idle time-out, with the
//! form half-filled, a signature drawn and a clerk helping (and for the
//! time-out the keyboard open: it covers 首页), all reached by pressing.

use super::support::{press, pressed, tap, type_keys};
use bianmin_config::{Config, PinHash, StaffId, StaffMember};
use bianmin_ui::headless::SampleResident;
use bianmin_ui::{AppWindow, AssistStep, Journey, Kiosk, KioskController, Screen};
use slint::{ComponentHandle, Model};
use std::rc::Rc;
use std::time::{Duration, Instant};

fn kiosk() -> (AppWindow, KioskController) {
    let mut config = Config::default();
    config.assist.staff.push(StaffMember {
        id: StaffId("1001".into()),
        pin_hash: PinHash(bianmin_admin::staff::hash("975318").unwrap()),
    });
    let (ui, controller) = super::support::kiosk_with(config);
    controller.set_hooks(Rc::new(SampleResident));
    (ui, controller)
}

/// A resident mid-journey: identified, form partly typed, keyboard open,
/// a clerk signed in; then a second application signed and waiting. Every
/// step is a press.
fn mid_journey(ui: &AppWindow, controller: &KioskController) {
    controller.set_resident("王*明 110101********1233");
    pressed(press::apply_for(ui, "social-security", "DEMO-SB-001"));
    assert_eq!(ui.global::<Kiosk>().get_screen(), Screen::Form);
    let kiosk = ui.global::<Kiosk>();
    pressed(press::edit_field(ui, "applicant.address"));
    tap(ui, "请工作人员帮我输入");
    for (step, digits) in [(AssistStep::StaffId, "1001"), (AssistStep::Pin, "975318")] {
        assert_eq!(kiosk.get_assist_step(), step);
        type_keys(ui, digits);
        tap(ui, "完成");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while controller.assist_checking() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(60));
    }
    assert!(!kiosk.get_assisted_by().is_empty());
    tap(ui, "知道了");
    tap(ui, "取消");
    pressed(press::fill_required(ui));
    tap(ui, "下一步");
    pressed(press::provide_all_materials(ui));
    tap(ui, "下一步");
    tap(ui, "下一步");
    tap(ui, "信息无误，去签名");
    let journey = ui.global::<Journey>();
    pressed(press::sign(ui));
    assert!(!journey.get_ink().is_empty());
    // Back to the form (through the summary, the delivery and the
    // materials) with the keyboard open and letters composing.
    tap(ui, "返回");
    tap(ui, "返回");
    tap(ui, "返回");
    tap(ui, "返回");
    pressed(press::edit_field(ui, "applicant.address"));
    type_keys(ui, "zhang");
    assert!(journey.get_editing());
    assert!(!journey.get_composing().is_empty());
    assert!(!journey.get_editing_value().is_empty());
}

fn assert_nothing_left(ui: &AppWindow) {
    let k = ui.global::<Kiosk>();
    let j = ui.global::<Journey>();
    assert_eq!(k.get_screen(), Screen::Attract);
    assert!(k.get_resident().is_empty(), "resident");
    assert!(k.get_assisted_by().is_empty(), "assisted-by");
    assert!(
        !k.get_assist_visible()
            && k.get_assist_id().is_empty()
            && k.get_assist_pin_dots().is_empty()
    );
    assert!(k.get_notice().is_empty(), "notice");
    assert!(j.get_title().is_empty(), "title");
    assert_eq!(j.get_fields().row_count(), 0, "fields");
    assert!(!j.get_editing(), "editing");
    assert!(j.get_editing_value().is_empty(), "editing value");
    assert!(j.get_editing_field().value.is_empty(), "editing field");
    assert!(j.get_composing().is_empty(), "composing");
    assert_eq!(j.get_candidates().row_count(), 0, "candidates");
    assert_eq!(j.get_materials().row_count(), 0, "materials");
    assert_eq!(j.get_deliveries().row_count(), 0, "deliveries");
    assert!(j.get_mail_address().is_empty(), "mail address");
    assert!(j.get_commitment_text().is_empty(), "commitment text");
    assert!(j.get_ink().is_empty(), "signature ink");
    assert!(!j.get_signed() && !j.get_committed());
    assert!(j.get_receipt_no().is_empty(), "receipt");
    assert_eq!(j.get_owed().row_count(), 0, "owed");
    assert_eq!(j.get_answers().row_count(), 0, "answers");
    assert_eq!(j.get_items().row_count(), 0, "items");
    assert_eq!(j.get_progress().row_count(), 0, "progress");
    assert_eq!(j.get_certificates().row_count(), 0, "certificates");
    assert_eq!(j.get_documents().row_count(), 0, "documents");
}

#[test]
fn leaving_with_home_wipes_the_journey() {
    let (ui, controller) = kiosk();
    mid_journey(&ui, &controller);
    // The keyboard covers the header: 取消 first, then 首页. (The keyboard
    // still open is wiped by the time-out below.)
    tap(&ui, "取消");
    tap(&ui, "首页");
    assert_nothing_left(&ui);
}

#[test]
fn the_idle_time_out_wipes_the_journey() {
    let (ui, controller) = kiosk();
    mid_journey(&ui, &controller);
    let idle = Config::default().session;
    let seconds = idle.idle_timeout_secs.get() + idle.countdown_secs.get() + 2;
    for _ in 0..seconds {
        controller.tick();
    }
    assert_nothing_left(&ui);
}
