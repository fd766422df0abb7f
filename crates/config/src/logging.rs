//! Logging setup. Personal data is never passed to `tracing` anywhere in the
//! code base; this module only decides where the records go.

use tracing_subscriber::EnvFilter;

/// Logs go to stderr, which systemd hands to journald. `RUST_LOG` overrides
/// the configured filter for a technician's one-off run.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}
