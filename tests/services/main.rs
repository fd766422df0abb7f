//! The kiosk's services without a window: the service desk against the
//! virtual devices and the loopback platform, admin and operations
//! groundwork, and the `bianmin` binary's commands. One test binary, so the
//! kiosk is linked once. (The watchdog and monitor tests set NOTIFY_SOCKET for
//! their whole process and so stay binaries of their own.)

mod admin_audit;
mod admin_config_store;
mod admin_pin;
mod cli;
mod demo_services;
mod desk;
mod ops_disk;
mod ops_heartbeat;
mod ops_packaging;
mod sync_cli;
