//! The convenience-centre platform as a service (`bianmin-platform`): the
//! kiosk API of `docs/platform-api.yaml` over PostgreSQL — the HTTP layer
//! (signatures, replay refusal, validation, fault injection for tests) is
//! the reference server's, the storage ([`db::PgBackend`]) is here — with
//! records sealed column-wise under the platform's data key ([`seal`]).
//!
//! It keeps nothing in the process: two instances over one database serve
//! the same kiosks. [`cluster`] starts a throwaway PostgreSQL for `demo`
//! and the tests.

pub mod cluster;
pub mod db;
pub mod seal;

use bianmin_platform_server::{ServerHandle, ServerOptions};
use std::sync::Arc;

pub use db::PgBackend;
pub use seal::DataKey;

/// How to reach the database and what to serve.
pub struct ServiceOptions {
    /// libpq key=value string or `postgresql://` URL.
    pub conninfo: String,
    pub data_key: Arc<DataKey>,
    /// Connections per instance.
    pub pool_size: usize,
    /// Listening address, terminals' secrets, TLS, admin token, connection
    /// limit (the storage options of the reference server are not used).
    pub server: ServerOptions,
}

/// A running instance: the HTTP side's handle and its storage.
pub struct Service {
    pub handle: ServerHandle,
    pub backend: Arc<PgBackend>,
}

/// Connect, apply the migrations and serve on the current runtime.
pub async fn spawn(opts: ServiceOptions) -> anyhow::Result<Service> {
    let pool = db::pool(&opts.conninfo, opts.pool_size)?;
    db::migrate(&pool).await?;
    let backend = Arc::new(PgBackend::new(pool, opts.data_key, &opts.conninfo));
    let handle = bianmin_platform_server::spawn_with(
        backend.clone(),
        backend.clone(),
        opts.server,
        axum::Router::new(),
    )
    .await?;
    Ok(Service { handle, backend })
}

/// Publish `body` as `doc` unless the database already has one (a second
/// instance starting must not undo what a clerk published).
pub async fn publish_if_missing(
    backend: &PgBackend,
    doc: bianmin_platform_server::Doc,
    body: Vec<u8>,
) -> anyhow::Result<()> {
    use bianmin_platform_server::Backend as _;
    if backend.published(doc).await?.is_none() {
        backend.publish(doc, body.into()).await?;
    }
    Ok(())
}
