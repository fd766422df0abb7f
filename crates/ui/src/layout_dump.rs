//! `BIANMIN_LAYOUT_DUMP=<path>`: the running kiosk (`bianmin run` / `demo`)
//! keeps a small JSON description of what it shows in `<path>`, so a test
//! driving the real window from outside (tests/window, under Xvfb with
//! xdotool) knows which screen is up and where to tap:
//!
//! ```json
//! {"screen": "service-list", "overlay": null, "scale": 1.0,
//!  "buttons": [{"label": "返回", "enabled": true, "x": 14, "y": 7, "w": 110, "h": 62},
//!              {"label": "社会保障卡申领", "enabled": true,
//!               "x": 20, "y": 96, "w": 1240, "h": 85}, …]}
//! ```
//!
//! `screen` is `Kiosk.screen` as the .slint file spells it; `overlay` the
//! overlay that takes the touches when one is up (then only its buttons are
//! listed: what lies under the scrim cannot be pressed); positions and sizes
//! are in physical pixels of the window (logical × `scale`).
//!
//! Only the accessible labels of buttons are written (刷身份证, category and
//! service names, 我要办理…), never a text, a field's value or a button's
//! description, so nothing of a resident's reaches the file. The file is
//! replaced atomically (`<path>.tmp`, then rename) whenever it changes.
//! Without the variable nothing runs.

use crate::{AppWindow, Kiosk};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use slint::ComponentHandle;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable naming the file.
pub const ENV: &str = "BIANMIN_LAYOUT_DUMP";

/// How often the element tree is looked at.
const PERIOD: Duration = Duration::from_millis(150);

/// Overlays that take every touch while they are up, topmost first (the
/// order of ui/app.slint; the field editor lies inside the form screen).
const OVERLAYS: [&str; 6] = [
    "AdminOverlay",
    "DimOverlay",
    "IdleOverlay",
    "AssistOverlay",
    "NoticeOverlay",
    "FieldEditor",
];

/// Start dumping `ui`'s layout if `BIANMIN_LAYOUT_DUMP` names a file. The
/// returned timer must live as long as the window; None when the variable
/// is unset or empty.
pub fn start_from_env(ui: &AppWindow) -> Option<slint::Timer> {
    let path = std::env::var_os(ENV).filter(|p| !p.is_empty())?;
    Some(start(ui, PathBuf::from(path)))
}

/// Dump `ui`'s layout to `path` while the returned timer lives.
pub fn start(ui: &AppWindow, path: PathBuf) -> slint::Timer {
    tracing::info!(path = %path.display(), "writing the layout dump ({ENV})");
    let weak = ui.as_weak();
    let mut last = String::new();
    let timer = slint::Timer::default();
    timer.start(slint::TimerMode::Repeated, PERIOD, move || {
        let Some(ui) = weak.upgrade() else { return };
        let text = describe(&ui).to_string();
        if last == text {
            return;
        }
        match bianmin_fs::write_atomic(&path, text.as_bytes(), 0o644, None) {
            Ok(()) => last = text,
            Err(err) => tracing::warn!(%err, path = %path.display(), "layout dump not written"),
        }
    });
    timer
}

/// The screen, the overlay and every visible button of `ui`, as JSON.
pub fn describe(ui: &AppWindow) -> serde_json::Value {
    let screen = kebab(&format!("{:?}", ui.global::<Kiosk>().get_screen()));
    let scale = ui.window().scale_factor();
    // One walk over the whole tree, by the element visitor: the buttons, and
    // the overlays that are up. (An ElementQuery per overlay type took
    // 50–90 ms a round in a debug build; this takes a few.)
    let mut buttons = Vec::new();
    let mut overlays: Vec<(usize, ElementHandle)> = Vec::new();
    ui.root_element().visit_descendants(|element| {
        if element.accessible_role() == Some(AccessibleRole::Button) {
            buttons.push(element);
        } else if let Some(rank) = element
            .type_name()
            .and_then(|name| OVERLAYS.iter().position(|o| *o == name.as_str()))
        {
            overlays.push((rank, element));
        }
        ControlFlow::<()>::Continue(())
    });
    overlays.retain(|(_, e)| e.computed_opacity() > 0.01);
    overlays.sort_by_key(|(rank, _)| *rank);
    let overlay = overlays
        .into_iter()
        .next()
        .map(|(rank, e)| (OVERLAYS[rank], e));
    if let Some((_, element)) = &overlay {
        buttons.clear();
        element.visit_descendants(|element| {
            if element.accessible_role() == Some(AccessibleRole::Button) {
                buttons.push(element);
            }
            ControlFlow::<()>::Continue(())
        });
    }
    // An element at the root of a component is reported once per level of
    // the component tree; list each button once.
    let mut seen = HashSet::new();
    let mut listed = Vec::new();
    for element in buttons {
        if !element.is_valid() || element.computed_opacity() <= 0.01 {
            continue;
        }
        let size = element.size();
        if size.width <= 0.0 || size.height <= 0.0 {
            continue;
        }
        let position = element.absolute_position();
        let label = element
            .accessible_label()
            .map(|l| l.to_string())
            .unwrap_or_default();
        let physical = |v: f32| (v * scale).round() as i64;
        let (x, y, w, h) = (
            physical(position.x),
            physical(position.y),
            physical(size.width),
            physical(size.height),
        );
        if !seen.insert((label.clone(), x, y, w, h)) {
            continue;
        }
        listed.push(serde_json::json!({
            "label": label,
            "enabled": element.accessible_enabled().unwrap_or(true),
            "x": x,
            "y": y,
            "w": w,
            "h": h,
        }));
    }
    serde_json::json!({
        "screen": screen,
        "overlay": overlay.map(|(name, _)| name),
        "scale": scale,
        "buttons": listed,
    })
}

/// `ServiceList` → `service-list`: the enum value as the .slint file spells it.
fn kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens_are_named_as_in_the_slint_file() {
        assert_eq!(kebab("Attract"), "attract");
        assert_eq!(kebab("ServiceList"), "service-list");
        assert_eq!(kebab("OutOfService"), "out-of-service");
    }
}
