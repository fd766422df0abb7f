//! Slint glue: the generated UI, the controller behind its view models, and
//! headless rendering.

slint::include_modules!();

pub mod admin;
pub mod audit;
pub mod controller;
pub mod headless;
pub mod layout_dump;
pub mod press;
pub mod prompts;
pub mod typing;
pub mod walkthrough;

pub use controller::KioskController;
