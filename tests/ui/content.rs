//! The content package on screen: a new package waits for the session in
//! progress to end; a kiosk with no valid package shows "本终端正在准备服务内容",
//! never demo items.

use crate::support::*;
use bianmin::services;
use bianmin_config::Config;
use bianmin_core::package::{self, Package, DEMO_KEY_ID, DEMO_PACKAGE_JSON};
use bianmin_core::session::EndReason;
use bianmin_ui::{AppWindow, Kiosk, KioskController, Screen};
use slint::{ComponentHandle, Model};

const DEMO_KEY_FILE: &str = include_str!("../../config/content/demo-signing.key");

/// The demo package with one form field's label and one bundle question
/// changed, published (signed) as version v2.
fn changed_package() -> Package {
    let envelope: package::SignedEnvelope = serde_json::from_str(DEMO_PACKAGE_JSON).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&envelope.package).unwrap();
    doc["version"] = "v2".into();
    doc["forms"]["fields"]["applicant.phone"]["label"] = "手机号码".into();
    doc["bundles"]["bundles"][0]["questions"][0]["text"] = "孩子的户口登记在哪里（新）？".into();
    let text = serde_json::to_string_pretty(&doc).unwrap();
    let signed = package::sign(&text, DEMO_KEY_ID, DEMO_KEY_FILE).unwrap();
    package::open(signed.as_bytes(), &[package::TrustedKey::demo()]).unwrap()
}

#[test]
fn a_new_package_waits_for_the_next_session() {
    let (ui, controller) = kiosk();
    let first = controller.content_version();
    controller.set_resident("张*");
    controller.open_catalogue();
    assert_eq!(screen(&ui), Screen::Catalogue);
    let changed = changed_package();
    assert_eq!(
        changed
            .forms
            .default_schema()
            .field("applicant.phone")
            .map(|f| f.label.as_str()),
        Some("手机号码")
    );
    controller.set_content(changed);
    // The resident in session keeps what they started with.
    assert_eq!(controller.content_version(), first);
    controller.end_session(EndReason::Finished);
    assert_eq!(controller.content_version(), "v2");
}

#[test]
fn run_with_an_empty_data_dir_is_out_of_service_not_demo() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.store.data_dir = dir.path().to_path_buf();
    // An unreachable platform: nothing can arrive during the test.
    config.platform.url = bianmin_config::HttpUrl("https://127.0.0.1:9/api/v1".into());
    let services = services::start(&mut config, false);
    assert!(services.content.is_none());
    let reason = services.content_problem.clone().expect("a reason");
    assert!(reason.contains("public_key"), "{reason}");
    let ui = AppWindow::new().unwrap();
    let controller = KioskController::new(&ui, config, Package::empty());
    ui.show().unwrap();
    controller.await_content(&reason);
    assert_eq!(screen(&ui), Screen::OutOfService);
    assert_eq!(
        ui.global::<Kiosk>().get_fault_title().as_str(),
        "本终端正在准备服务内容"
    );
    assert_eq!(ui.global::<Kiosk>().get_categories().row_count(), 0);
    // The first valid package opens the kiosk.
    controller.set_content(Package::demo());
    assert_eq!(screen(&ui), Screen::Attract);
    drop(services);
}

/// Per-station selection: a package listing what this station offers makes
/// its search find those items and no others; another station's kiosk, not
/// listed, finds everything.
#[test]
fn a_station_shows_only_what_it_offers() {
    let envelope: package::SignedEnvelope = serde_json::from_str(DEMO_PACKAGE_JSON).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&envelope.package).unwrap();
    doc["version"] = "stations-1".into();
    doc["stations"] = serde_json::json!({"110101001001": ["DEMO-SB-001", "DEMO-HJ-003"]});
    let text = serde_json::to_string_pretty(&doc).unwrap();
    let signed = package::sign(&text, DEMO_KEY_ID, DEMO_KEY_FILE).unwrap();
    let selected = package::open(signed.as_bytes(), &[package::TrustedKey::demo()]).unwrap();

    // The testing backend is set up once per thread, by the first kiosk.
    let _first = kiosk();
    let found = |station: &str, typed: &str| -> Vec<String> {
        let mut config = Config::default();
        config.station.code = bianmin_config::Digits(station.into());
        let ui = AppWindow::new().unwrap();
        let controller = KioskController::new(&ui, config, Package::demo());
        ui.show().unwrap();
        controller.set_content(selected.clone());
        tap(&ui, "搜索");
        type_keys(&ui, typed);
        ui.global::<Kiosk>()
            .get_search_results()
            .iter()
            .map(|r| r.code.to_string())
            .collect()
    };
    assert!(found("110101001001", "sbk").contains(&"DEMO-SB-001".to_string()));
    assert!(found("110101001001", "jzz").contains(&"DEMO-HJ-003".to_string()));
    assert!(found("110101001001", "gjj").is_empty(), "not offered here");
    assert!(
        !found("110101002002", "gjj").is_empty(),
        "offered everywhere else"
    );
}
