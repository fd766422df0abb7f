//! Admin mode's rules end to end on real files: PIN lock-out across restarts,
//! the audit log, atomic configuration saves.

mod audit;
mod clerk;
mod config_store;
mod pin;
