//! The provincial platform's API (docs/platform-api.yaml): wire types and
//! request signing shared by the kiosk's client and the reference server.

pub mod api;
pub mod client;
pub mod server;
pub mod sign;
