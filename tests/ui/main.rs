//! The kiosk's screens, pressed through Slint's testing backend (and the
//! software renderer for the measurements): one test binary, so the UI stack
//! is linked once. Slint's platform, translations and mock time are
//! per-thread, and every test runs on a thread of its own.

mod support;

mod assist;
mod audit_planted;
mod content;
mod english;
mod enroll;
mod journey_e2e;
mod journey_wipe;
mod out_of_service;
mod ui_admin;
mod ui_input;
mod ui_language;
mod ui_measure;
mod ui_shell;
mod voice;
