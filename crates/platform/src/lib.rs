//! The provincial platform's API (docs/platform-api.yaml): wire types and
//! request signing shared by the kiosk's client and the reference server
//! (crate `bianmin-platform-server`), and the kiosk's client.
pub mod api;
pub mod client;
pub mod seal;
pub mod sign;
