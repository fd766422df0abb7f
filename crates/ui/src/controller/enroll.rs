//! Typing the enrollment code on the touchscreen, for a kiosk whose scanner
//! is missing or cannot read the printed sheet: the 本终端尚未注册 page
//! offers 输入注册码, a keypad of the code's 31 characters (the console
//! never prints 0, 1, I, L or O, so they are not offered), and sends the
//! 12 characters the way a scanned code goes (`KioskHooks::enroll_typed`).

use super::KioskController;
use slint::{ComponentHandle, SharedString};

/// The characters of the console's codes (`crates/platform-service/src/enroll.rs`).
pub const CODE_ALPHABET: &str = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_LEN: usize = 12;

/// `ABCD-EFGH-JK` as typed so far, grouped like the printed sheet.
fn grouped(code: &str) -> String {
    code.chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

impl KioskController {
    pub(super) fn wire_enrollment(&self, ui: &crate::AppWindow) {
        let kiosk = ui.global::<crate::Kiosk>();
        let this = self.clone();
        kiosk.on_enrollment_open(move || this.enrollment_typing(true));
        let this = self.clone();
        kiosk.on_enrollment_cancel(move || this.enrollment_typing(false));
        let this = self.clone();
        kiosk.on_enrollment_key(move |key| this.enrollment_key(&key));
        let this = self.clone();
        kiosk.on_enrollment_submit(move || this.enrollment_submit());
    }

    /// The keypad opens (only on the enrollment page) or closes, empty.
    fn enrollment_typing(&self, open: bool) {
        let allowed = self.state.borrow().awaiting_enrollment;
        self.state.borrow_mut().enrollment_typed.clear();
        self.kiosk(|k| {
            k.set_enrollment_typing(open && allowed);
            k.set_enrollment_typed(SharedString::new());
            k.set_enrollment_message(SharedString::new());
        });
    }

    /// A key of the keypad: one of the code's characters, or 删除.
    fn enrollment_key(&self, key: &str) {
        let mut state = self.state.borrow_mut();
        if key == "删除" {
            state.enrollment_typed.pop();
        } else if state.enrollment_typed.len() < CODE_LEN
            && key.len() == 1
            && CODE_ALPHABET.contains(key)
        {
            state.enrollment_typed.push_str(key);
        }
        let shown = grouped(&state.enrollment_typed);
        drop(state);
        self.kiosk(|k| {
            k.set_enrollment_typed(shown.into());
            k.set_enrollment_message(SharedString::new());
        });
    }

    /// 确定: twelve characters go to the platform as a scanned code would;
    /// fewer are answered on the keypad.
    fn enrollment_submit(&self) {
        let code = self.state.borrow().enrollment_typed.clone();
        if code.len() != CODE_LEN {
            let english = self.state.borrow().language == bianmin_config::Language::En;
            let text = if english {
                format!("The code has 12 characters; {} typed", code.len())
            } else {
                format!("注册码共 12 位，已输入 {} 位", code.len())
            };
            self.kiosk(|k| k.set_enrollment_message(text.into()));
            return;
        }
        self.enrollment_typing(false);
        let hooks = self.state.borrow().hooks.clone();
        hooks.enroll_typed(&code);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn typed_codes_are_grouped_like_the_printed_sheet() {
        assert_eq!(super::grouped("ABCD2345XY"), "ABCD-2345-XY");
        assert_eq!(super::grouped(""), "");
    }
}
