//! 帮办代办 through the real UI: a resident asks for help from the keyboard,
//! a clerk signs in with staff id and PIN (checked off the UI thread), the
//! application records who helped, five wrong PINs lock the sign-in, and
//! the end of the session ends the help. Every step is a press.

use super::support::{press, pressed, tap, type_keys};
use bianmin_config::{Config, PinHash, StaffId, StaffMember};
use bianmin_core::form::Identity;
use bianmin_desk::DeskRequest;
use bianmin_ui::controller::KioskHooks;
use bianmin_ui::{AppWindow, AssistStep, Journey, Kiosk, KioskController, Screen};
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
            .map(bianmin_ops::devices::core_identity)
    }
    fn desk(&self, _session: bianmin_desk::SessionId, request: DeskRequest) {
        self.0.borrow_mut().push(request);
    }
}

fn kiosk() -> (AppWindow, KioskController, Rc<Recorder>) {
    let mut config = Config::default();
    config.assist.staff.push(StaffMember {
        id: StaffId(CLERK.into()),
        pin_hash: PinHash(bianmin_admin::staff::hash(PIN).unwrap()),
    });
    let (ui, controller) = super::support::kiosk_with(config);
    let recorder = Rc::new(Recorder::default());
    controller.set_hooks(recorder.clone());
    controller.set_resident("王*明 110101********1233");
    (ui, controller, recorder)
}

/// The clerk types on the sign-in's number pad and presses 完成.
fn type_digits(ui: &AppWindow, digits: &str) {
    type_keys(ui, digits);
    tap(ui, "完成");
}

/// On the form: 户籍地址's pinyin keyboard, then 请工作人员帮我输入.
fn ask_for_help(ui: &AppWindow) {
    pressed(press::apply_for(ui, "social-security", "DEMO-SB-001"));
    assert_eq!(ui.global::<Kiosk>().get_screen(), Screen::Form);
    pressed(press::edit_field(ui, "applicant.address"));
    tap(ui, "请工作人员帮我输入");
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

    // "请工作人员帮我输入" from the pinyin keyboard.
    ask_for_help(&ui);
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

    // The clerk closes the "staff called" notice and the keyboard, fills in
    // the rest; the resident signs; the application records the clerk.
    tap(&ui, "知道了");
    tap(&ui, "取消");
    pressed(press::fill_required(&ui));
    tap(&ui, "下一步");
    pressed(press::provide_all_materials(&ui));
    tap(&ui, "下一步");
    tap(&ui, "下一步");
    assert_eq!(kiosk.get_screen(), Screen::Review);
    tap(&ui, "信息无误，去签名");
    assert_eq!(kiosk.get_screen(), Screen::Commitment);
    pressed(press::sign(&ui));
    tap(&ui, "提交申请");
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
    tap(&ui, "首页");
    assert!(kiosk.get_assisted_by().is_empty());
    assert!(!kiosk.get_assist_visible());
    assert!(kiosk.get_assist_id().is_empty());
}

#[test]
fn five_wrong_pins_lock_the_sign_in() {
    let (ui, controller, _recorder) = kiosk();
    let kiosk = ui.global::<Kiosk>();
    ask_for_help(&ui);
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
