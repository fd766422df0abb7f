//! Slint glue: view models and callbacks.
