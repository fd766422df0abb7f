//! 帮办代办 through the real UI: a resident asks for help from the keyboard,
//! a clerk signs in with staff id and PIN (checked off the UI thread), the
//! application records who helped, five wrong PINs lock the sign-in, and
//! the end of the session ends the help.

use bianmin::config::{Config, PinHash, StaffId, StaffMember};
use bianmin::core::form::Identity;
use bianmin::desk::DeskRequest;
use bianmin::ui::controller::KioskHooks;
use bianmin::ui::{AppWindow, AssistStep, Journey, Kiosk, KioskController, Screen};
use slint::ComponentHandle;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

const CLERK: &str = "1001";
const PIN: &str = "975318";

#[derive(Default)]
struct Recorder(RefCell<Vec<DeskRequest>>);

impl KioskHooks for Recorder {
    fn identity(&self) -> Option<Identity> {
        bianmin_drivers::idcard::sim::demo_cards()
            .first()
            .map(bianmin::devices::core_identity)
    }
    fn desk(&self, request: DeskRequest) {
        self.0.borrow_mut().push(request);
    }
}

fn kiosk() -> (AppWindow, KioskController, Rc<Recorder>) {
    let mut config = Config::default();
    config.assist.staff.push(StaffMember {
        id: StaffId(CLERK.into()),
        pin_hash: PinHash(bianmin::admin::staff::hash(PIN).unwrap()),
    });
    let (ui, controller) = super::support::kiosk_with(config);
    let recorder = Rc::new(Recorder::default());
    controller.set_hooks(recorder.clone());
    controller.set_resident("王*明 110101********1233");
    (ui, controller, recorder)
}

fn type_digits(ui: &AppWindow, digits: &str) {
    for d in digits.chars() {
        ui.global::<Kiosk>().invoke_assist_key(d.to_string().into());
    }
    ui.global::<Kiosk>().invoke_assist_done();
}

/// Let the PIN check finish and the UI's poll timer pick up the answer.
fn wait_for_check(controller: &KioskController) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while controller.assist_checking() {
        assert!(Instant::now() < deadline, "PIN check did not finish");
        std::thread::sleep(Duration::from_millis(20));
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(60));
    }
}

fn sign_in(ui: &AppWindow, controller: &KioskController, id: &str, pin: &str) {
    type_digits(ui, id);
    assert_eq!(
        ui.global::<Kiosk>().get_assist_step(),
        AssistStep::Pin,
        "PIN asked after the id"
    );
    type_digits(ui, pin);
    wait_for_check(controller);
}

#[test]
fn a_clerk_takes_over_and_the_application_says_so() {
    let (ui, controller, recorder) = kiosk();
    let kiosk = ui.global::<Kiosk>();
    let journey = ui.global::<Journey>();
    controller.apply("DEMO-SB-001");
    assert_eq!(kiosk.get_screen(), Screen::Form);

    // "请工作人员帮我输入" from the pinyin keyboard.
    journey.invoke_edit_field("applicant.address".into());
    journey.invoke_ask_staff();
    assert!(kiosk.get_assist_visible());
    assert!(recorder
        .0
        .borrow()
        .iter()
        .any(|r| matches!(r, DeskRequest::CallStaff)));

    // A wrong PIN is refused in words and asks for the id again.
    sign_in(&ui, &controller, CLERK, "111222");
    assert!(kiosk.get_assist_visible());
    assert!(!kiosk.get_assist_message().is_empty());
    assert_eq!(kiosk.get_assist_step(), AssistStep::StaffId);
    assert!(kiosk.get_assisted_by().is_empty());

    sign_in(&ui, &controller, CLERK, PIN);
    assert!(!kiosk.get_assist_visible());
    assert!(
        kiosk.get_assisted_by().contains(CLERK),
        "{}",
        kiosk.get_assisted_by()
    );

    // The clerk fills in the rest; the resident signs; the application records the clerk.
    journey.invoke_editor_cancel();
    controller.journey_fill_required();
    controller.journey_form_next();
    controller.journey_provide_all_materials();
    controller.journey_materials_next();
    controller.journey_delivery_next();
    assert_eq!(kiosk.get_screen(), Screen::Commitment);
    journey.invoke_sign_start(20.0, 100.0, 700.0, 260.0);
    for i in 1..20 {
        journey.invoke_sign_move(20.0 + i as f32 * 15.0, 100.0 + (i % 4) as f32 * 10.0);
    }
    journey.invoke_sign_end();
    journey.invoke_submit();
    let requests = recorder.0.borrow();
    let submission = requests
        .iter()
        .find_map(|r| match r {
            DeskRequest::Submit(s) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("submitted: {}", journey.get_submit_message()));
    assert_eq!(submission.application.assisted_by.as_deref(), Some(CLERK));
    drop(requests);

    // The help ends with the session.
    controller.end_session(bianmin::core::session::EndReason::Finished);
    assert!(kiosk.get_assisted_by().is_empty());
    assert!(!kiosk.get_assist_visible());
    assert!(kiosk.get_assist_id().is_empty());
}

#[test]
fn five_wrong_pins_lock_the_sign_in() {
    let (ui, controller, _recorder) = kiosk();
    let kiosk = ui.global::<Kiosk>();
    controller.open_assist();
    for _ in 0..5 {
        sign_in(&ui, &controller, CLERK, "111222");
    }
    assert!(
        kiosk.get_assist_message().contains("锁定"),
        "{}",
        kiosk.get_assist_message()
    );
    // Even the right PIN is refused while locked.
    type_digits(&ui, CLERK);
    type_digits(&ui, PIN);
    wait_for_check(&controller);
    assert!(kiosk.get_assisted_by().is_empty());
    assert!(kiosk.get_assist_message().contains("锁定"));
}
