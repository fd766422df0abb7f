//! 帮办代办 on the kiosk: the clerk's sign-in overlay. The PIN is checked on
//! a worker thread (Argon2 is slow on purpose) and the answer polled on the
//! UI's own timer, so the event loop never waits. Who helped is recorded with
//! the application; it ends with the session.

use super::KioskController;
use crate::mailbox::Mailbox;
use crate::AssistStep;
use bianmin_admin::staff;
use slint::{ComponentHandle, SharedString};
use std::time::{Duration, Instant};

const MAX_ID_DIGITS: usize = 16;
const MAX_PIN_DIGITS: usize = 12;

/// What the clerk has typed so far.
#[derive(Default)]
pub(super) struct AssistEntry {
    id: String,
    pin: zeroize::Zeroizing<String>,
    /// A PIN check is running on its thread; its answer comes by mailbox.
    checking: bool,
    /// Signing in to open the station view, not to help a resident.
    for_station: bool,
}

impl KioskController {
    pub(super) fn wire_assist(&self, ui: &crate::AppWindow) {
        let kiosk = ui.global::<crate::Kiosk>();
        let this = self.clone();
        kiosk.on_assist_key(move |key| this.assist_key(&key));
        let this = self.clone();
        kiosk.on_assist_backspace(move || this.assist_backspace());
        let this = self.clone();
        kiosk.on_assist_done(move || this.assist_done());
        let this = self.clone();
        kiosk.on_assist_cancel(move || this.close_assist());
    }

    /// 请工作人员帮我输入: open the clerk's sign-in (unless one already helps).
    pub fn open_assist(&self) {
        if self.state.borrow().assisted_by.is_some() {
            return;
        }
        self.open_sign_in(false);
    }

    /// 工作人员入口: the same sign-in, for the station view.
    pub fn open_assist_for_station(&self) {
        self.activity();
        self.open_sign_in(true);
    }

    fn open_sign_in(&self, for_station: bool) {
        self.state.borrow_mut().assist = AssistEntry {
            for_station,
            ..AssistEntry::default()
        };
        let locked = self
            .state
            .borrow()
            .assist_attempts
            .locked_minutes(Instant::now());
        let no_staff = self.state.borrow().config.assist.staff.is_empty();
        let message = match (locked, no_staff) {
            (Some(minutes), _) => self.locked_message(minutes),
            // Said to the resident standing there, not to the technician:
            // what they can do now, not what the configuration lacks.
            (None, true) => self.tr(
                "本终端暂不能由工作人员登录帮办，请直接呼叫工作人员。",
                "Staff cannot sign in on this terminal; please call a member of staff.",
            ),
            (None, false) => String::new(),
        };
        self.kiosk(|k| {
            k.set_assist_step(AssistStep::StaffId);
            k.set_assist_id(SharedString::new());
            k.set_assist_pin_dots(SharedString::new());
            k.set_assist_message(message.into());
            // Without registered clerks nobody could sign in: no keypad.
            k.set_assist_available(!no_staff);
            k.set_assist_visible(true);
        });
    }

    fn assist_step(&self) -> AssistStep {
        self.kiosk(|k| k.get_assist_step())
    }

    fn assist_key(&self, key: &str) {
        if !key.chars().all(|c| c.is_ascii_digit()) || !self.kiosk(|k| k.get_assist_available()) {
            return;
        }
        let step = self.assist_step();
        {
            let mut state = self.state.borrow_mut();
            let entry = &mut state.assist;
            match step {
                AssistStep::StaffId if entry.id.len() + key.len() <= MAX_ID_DIGITS => {
                    entry.id.push_str(key)
                }
                AssistStep::Pin if entry.pin.len() + key.len() <= MAX_PIN_DIGITS => {
                    entry.pin.push_str(key)
                }
                _ => return,
            }
        }
        self.refresh_assist();
    }

    fn assist_backspace(&self) {
        let step = self.assist_step();
        {
            let mut state = self.state.borrow_mut();
            match step {
                AssistStep::StaffId => {
                    state.assist.id.pop();
                }
                AssistStep::Pin => {
                    state.assist.pin.pop();
                }
                AssistStep::Checking => {}
            }
        }
        self.refresh_assist();
    }

    fn refresh_assist(&self) {
        let (id, dots) = {
            let state = self.state.borrow();
            (state.assist.id.clone(), "●".repeat(state.assist.pin.len()))
        };
        self.kiosk(|k| {
            k.set_assist_id(id.into());
            k.set_assist_pin_dots(dots.into());
        });
    }

    fn assist_done(&self) {
        match self.assist_step() {
            AssistStep::StaffId => {
                if self.state.borrow().assist.id.is_empty() {
                    return;
                }
                self.kiosk(|k| {
                    k.set_assist_step(AssistStep::Pin);
                    k.set_assist_message(SharedString::new());
                });
            }
            AssistStep::Pin => self.check_assist_pin(),
            AssistStep::Checking => {}
        }
    }

    fn check_assist_pin(&self) {
        if let Some(minutes) = self
            .state
            .borrow()
            .assist_attempts
            .locked_minutes(Instant::now())
        {
            let message = self.locked_message(minutes);
            self.kiosk(|k| k.set_assist_message(message.into()));
            return;
        }
        let (staff_list, id, pin) = {
            let mut state = self.state.borrow_mut();
            let id = state.assist.id.clone();
            let pin = std::mem::take(&mut state.assist.pin);
            (state.config.assist.staff.clone(), id, pin)
        };
        let answers = Mailbox::new();
        let poster = answers.clone();
        let spawned = std::thread::Builder::new()
            .name("assist-pin".into())
            .spawn(move || {
                // A check that panicked is a refusal, never a hang.
                let verdict =
                    std::panic::catch_unwind(|| staff::verify(&staff_list, &id, &pin)).ok();
                poster.post(verdict.flatten());
            });
        if spawned.is_err() {
            let message = self.tr(
                "暂时无法核对，请稍后再试",
                "The PIN cannot be checked now; please try again later",
            );
            self.kiosk(|k| k.set_assist_message(message.into()));
            return;
        }
        self.state.borrow_mut().assist.checking = true;
        self.kiosk(|k| {
            k.set_assist_step(AssistStep::Checking);
            k.set_assist_pin_dots(SharedString::new());
        });
        let this = self.clone();
        let timer = answers.deliver_on_ui(Duration::from_millis(50), move |verdict| {
            this.assist_checked(verdict)
        });
        *self.assist_timer.borrow_mut() = Some(timer);
    }

    /// The PIN check answered: the clerk's id, or `None` for a refusal.
    fn assist_checked(&self, verdict: Option<String>) {
        if !self.state.borrow().assist.checking {
            return; // closed meanwhile
        }
        *self.assist_timer.borrow_mut() = None;
        self.state.borrow_mut().assist.checking = false;
        match verdict {
            Some(staff_id) if self.state.borrow().assist.for_station => {
                tracing::info!(staff = %staff_id, "a clerk opened the station view");
                {
                    let mut state = self.state.borrow_mut();
                    state.assist_attempts.succeeded();
                    state.assist = AssistEntry::default();
                }
                self.kiosk(|k| k.set_assist_visible(false));
                self.open_station(&staff_id);
            }
            Some(staff_id) => {
                tracing::info!(staff = %staff_id, "assisted mode: a clerk took over");
                {
                    let mut state = self.state.borrow_mut();
                    state.assist_attempts.succeeded();
                    state.assisted_by = Some(staff_id.clone());
                    state.assist = AssistEntry::default();
                }
                let label = self.tr(
                    &format!("工作人员 {staff_id} 帮办中"),
                    &format!("Assisted by staff {staff_id}"),
                );
                self.kiosk(|k| {
                    k.set_assisted_by(label.into());
                    k.set_assist_visible(false);
                });
                self.show_notice(&self.tr(
                    "工作人员已接手帮您填写，申请会记录帮办人。提交前请您本人核对并签名。",
                    "A clerk is now helping you; this is recorded. Please check and sign yourself before submitting.",
                ));
            }
            None => {
                let locked = {
                    let mut state = self.state.borrow_mut();
                    state.assist_attempts.failed(Instant::now());
                    state.assist.id.clear();
                    state.assist_attempts.locked_minutes(Instant::now())
                };
                tracing::warn!("assisted mode: wrong staff id or PIN");
                let message = match locked {
                    Some(minutes) => self.locked_message(minutes),
                    None => self.tr(
                        "工号或密码不对，请重新输入工号",
                        "Wrong staff number or PIN; please enter the staff number again",
                    ),
                };
                self.kiosk(|k| {
                    k.set_assist_step(AssistStep::StaffId);
                    k.set_assist_id(SharedString::new());
                    k.set_assist_message(message.into());
                });
            }
        }
    }

    fn locked_message(&self, minutes: u64) -> String {
        self.tr(
            &format!("密码错误次数过多，帮办登录已锁定，请 {minutes} 分钟后再试"),
            &format!("Too many wrong PINs: assisted sign-in is locked; try again in {minutes} min"),
        )
    }

    pub(super) fn close_assist(&self) {
        *self.assist_timer.borrow_mut() = None;
        self.state.borrow_mut().assist = AssistEntry::default();
        self.kiosk(|k| {
            k.set_assist_visible(false);
            k.set_assist_step(AssistStep::StaffId);
            k.set_assist_id(SharedString::new());
            k.set_assist_pin_dots(SharedString::new());
            k.set_assist_message(SharedString::new());
        });
    }

    /// Whether the check of a clerk's PIN is still running (tests wait on it).
    pub fn assist_checking(&self) -> bool {
        self.state.borrow().assist.checking
    }
}
