//! Helpers every UI test uses: a kiosk on the testing backend, finding and
//! pressing buttons by their accessible label, and mock time.

use bianmin_config::Config;
pub use bianmin_ui::press;
use bianmin_ui::{AppWindow, Kiosk, KioskController, Screen};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::ComponentHandle;
use std::time::{Duration, Instant};

/// A kiosk window with the demo catalogue, shown on the testing backend.
pub fn kiosk_with(config: Config) -> (AppWindow, KioskController) {
    i_slint_backend_testing::init_no_event_loop();
    let ui = AppWindow::new().unwrap();
    let controller = KioskController::new(&ui, config, bianmin_core::package::Package::demo());
    ui.show().unwrap();
    (ui, controller)
}

/// A kiosk with the default configuration.
pub fn kiosk() -> (AppWindow, KioskController) {
    kiosk_with(Config::default())
}

/// Every button with this accessible label, in tree order (reachable or not).
pub fn buttons<C: ComponentHandle>(ui: &C, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(ui, label)
        .filter(|e| e.accessible_role() == Some(AccessibleRole::Button))
        .collect()
}

/// Press the button a resident would see with this label (see
/// `bianmin_ui::press`: only what is within a finger's reach).
pub fn tap<C: ComponentHandle>(ui: &C, label: &str) {
    pressed(press::press(ui, label));
}

/// Press one key per character on whatever keyboard is up.
pub fn type_keys<C: ComponentHandle>(ui: &C, keys: &str) {
    pressed(press::type_keys(ui, keys));
}

/// A step of pressing that must work (one of the `press` helpers).
pub fn pressed<T>(step: anyhow::Result<T>) -> T {
    step.unwrap_or_else(|err| panic!("{err:#}"))
}

pub fn screen(ui: &AppWindow) -> Screen {
    ui.global::<Kiosk>().get_screen()
}

/// Let `n` seconds of UI time pass (timers fire, the session ticks).
pub fn seconds(n: u64) {
    for _ in 0..n {
        i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(1));
    }
}

/// Wait for work on other threads: real time for the worker, mock time for
/// the UI timer that delivers its answer.
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(100));
    }
}
