//! The convenience-centre platform as a service (`bianmin-platform`): the
//! kiosk API of `docs/platform-api.yaml` over PostgreSQL — the HTTP layer
//! (signatures, replay refusal, validation, fault injection for tests) is
//! the reference server's, the storage ([`db::PgBackend`]) is here — with
//! records sealed column-wise under the platform's data key ([`seal`]).
//!
//! It keeps nothing in the process: two instances over one database serve
//! the same kiosks. [`cluster`] starts a throwaway PostgreSQL for `demo`
//! and the tests.

pub mod browser;
pub mod cluster;
pub mod console;
pub mod db;
pub mod enroll;
pub mod fleet;
pub mod screenshots;
pub mod seal;
pub mod updates;

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
    /// Keys a content package must be signed with before the console
    /// publishes it (the county publisher's; the demo's in `demo`).
    pub publishers: Vec<bianmin_core::package::TrustedKey>,
    /// Signs what authors build from sources in the console (None: they
    /// sign offline and paste the signed package).
    pub content_signer: Option<console::ContentSigner>,
    /// Listening address, terminals' secrets, TLS, admin token, connection
    /// limit (the storage options of the reference server are not used).
    pub server: ServerOptions,
    /// The fleet watch (offline kiosks, alert webhooks).
    pub fleet: fleet::FleetOptions,
}

/// A running instance: the HTTP side's handle and its storage.
pub struct Service {
    pub handle: ServerHandle,
    pub backend: Arc<PgBackend>,
    /// The fleet watch of this instance (stops when this is dropped).
    pub watch: fleet::WatchGuard,
}

/// Connect, apply the migrations and serve on the current runtime.
pub async fn spawn(opts: ServiceOptions) -> anyhow::Result<Service> {
    let pool = db::pool(&opts.conninfo, opts.pool_size)?;
    db::migrate(&pool).await?;
    let backend = Arc::new(
        PgBackend::new(pool, opts.data_key, &opts.conninfo)
            .with_config_key(opts.fleet.config_key.clone())
            .with_apt(opts.fleet.apt.clone()),
    );
    if let Some(repo) = &opts.fleet.apt {
        // A first repository gets its (empty) channels; one a crash
        // interrupted is made whole from the database.
        updates::regenerate_all(backend.pool(), repo).await?;
    }
    let watch = fleet::watch(backend.pool().clone(), opts.fleet.clone());
    let console = console::router(console::Console {
        backend: backend.clone(),
        publishers: opts.publishers,
        content_signer: opts.content_signer,
        secure_cookies: opts.server.tls.is_some(),
        public_url: opts.fleet.enroll.public_url.clone(),
    });
    let mut enroll_options = opts.fleet.enroll;
    enroll_options.config_public_key = Some(opts.fleet.config_key.public());
    let extra = console
        .merge(enroll::router(backend.clone(), enroll_options))
        .merge(updates::router(opts.fleet.apt.clone()));
    let handle =
        bianmin_platform_server::spawn_with(backend.clone(), backend.clone(), opts.server, extra)
            .await?;
    Ok(Service {
        handle,
        backend,
        watch,
    })
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

/// The demo's staff: (username, name, role, password). Public, like the
/// demo secret; `serve` never creates them.
pub const DEMO_STAFF: &[(&str, &str, console::auth::Role, &str)] = &[
    (
        "clerk",
        "受理员小王",
        console::auth::Role::Clerk,
        "demo-clerk-2026",
    ),
    (
        "author",
        "内容编辑小李",
        console::auth::Role::Author,
        "demo-author-2026",
    ),
    (
        "supervisor",
        "监督员老张",
        console::auth::Role::Supervisor,
        "demo-supervisor-2026",
    ),
    (
        "technician",
        "运维员小赵",
        console::auth::Role::Technician,
        "demo-technician-2026",
    ),
];

/// Give a demo or test database its staff.
pub async fn seed_demo_staff(backend: &PgBackend) -> anyhow::Result<()> {
    for (username, name, role, password) in DEMO_STAFF {
        console::auth::upsert_staff(backend.pool(), username, name, *role, password).await?;
    }
    Ok(())
}

/// The demo's station, with the demo kiosk's division code, so its
/// heartbeats show under a name in the fleet view.
pub async fn seed_demo_station(backend: &PgBackend) -> anyhow::Result<()> {
    let client = backend.pool().get().await?;
    client
        .execute(
            "INSERT INTO stations (code, name, address, created_at, created_by)
             VALUES ('110101001001', '演示村便民服务站', '演示县演示镇演示村村委会一楼', 0, 'demo')
             ON CONFLICT DO NOTHING",
            &[],
        )
        .await?;
    Ok(())
}
