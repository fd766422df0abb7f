//! The language switch is process-wide in Slint, so it is tested in its own
//! test binary where no other test reads labels meanwhile.

use super::support::buttons;
use bianmin_config::{Config, Language};
use bianmin_ui::{AppWindow, KioskController};
use slint::ComponentHandle;

#[test]
fn english_is_selectable_at_run_time_and_chinese_returns() {
    i_slint_backend_testing::init_no_event_loop();
    let ui = AppWindow::new().unwrap();
    let controller = KioskController::new(
        &ui,
        Config::default(),
        bianmin_core::package::Package::demo(),
    );
    ui.show().unwrap();
    assert!(!buttons(&ui, "找服务").is_empty());
    // The resident's way: the language button on the attract screen.
    buttons(&ui, "English")[0].invoke_accessible_default_action();
    assert!(!buttons(&ui, "Find a service").is_empty());
    assert!(!buttons(&ui, "中文").is_empty());
    buttons(&ui, "Find a service")[0].invoke_accessible_default_action();
    assert!(!buttons(&ui, "Social security").is_empty());
    assert!(!buttons(&ui, "Call staff").is_empty());
    controller.set_language(Language::Zh);
    assert!(!buttons(&ui, "社会保障").is_empty());
}

/// Every string the screens translate has an English entry, so switching
/// never leaves Chinese on an English screen.
#[test]
fn every_translatable_string_has_an_english_entry() {
    let po = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ui/translations/en/LC_MESSAGES/bianmin-ui.po"
    ))
    .unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    for path in slint_files(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ui"
    ))) {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut component = String::new();
        for line in text.lines() {
            let trimmed = line.trim_start().trim_start_matches("export ");
            if let Some(rest) = trimmed.strip_prefix("component ") {
                component = rest.split_whitespace().next().unwrap_or("").to_string();
            }
            let mut rest = line;
            while let Some(start) = rest.find("@tr(\"") {
                let after = &rest[start + 5..];
                let end = after.find('"').unwrap();
                let msgid = &after[..end];
                let entry = format!("msgctxt \"{component}\"\nmsgid \"{msgid}\"\nmsgstr \"");
                match po.find(&entry) {
                    Some(at) if !po[at + entry.len()..].starts_with('"') => checked += 1,
                    _ => missing.push(format!("{component}: {msgid}")),
                }
                rest = &after[end..];
            }
        }
    }
    assert!(checked > 50, "only {checked} strings found");
    assert!(missing.is_empty(), "untranslated: {missing:#?}");
}

fn slint_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(slint_files(&path));
        } else if path.extension().is_some_and(|e| e == "slint") {
            files.push(path);
        }
    }
    files
}
