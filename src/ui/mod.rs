//! Slint glue: the generated UI, view models and callbacks.

slint::include_modules!();
