//! Pure domain logic: no Slint, no tokio, no I/O.
