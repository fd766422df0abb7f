//! The kiosk's services without a window: the service desk against the
//! virtual devices and the loopback platform, the packaging, and the
//! `bianmin` binary's commands. One test binary, so the kiosk is linked once. (The monitor test sets NOTIFY_SOCKET for its whole
//! process and so stays a binary of its own.)

mod cli;
mod demo_services;
mod desk;
mod ops_packaging;
mod remote;
mod sync_cli;
