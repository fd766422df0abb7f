//! The kiosk's screens: the generated Slint UI (from the top-level `ui/`),
//! the controllers behind its view models, how background work reaches the
//! UI thread, spoken guidance, headless rendering, pressing elements by
//! accessible label, and the UI audit.

slint::include_modules!();

pub mod admin;
pub mod audit;
pub mod controller;
pub mod events;
pub mod headless;
pub mod layout_dump;
pub mod mailbox;
pub mod press;
pub mod prompts;
pub mod voice;
pub mod wrap;

pub use controller::KioskController;
