//! Helpers shared by the sync, outbox, desk and crash tests of every crate,
//! so each test binary takes them from one place.

use bianmin_config::{Config, HttpUrl, Ranged, Secret};
use bianmin_platform::api::{Applicant, Delivery, Material, MaterialState};
use bianmin_platform_server::{self as server, ServerHandle, ServerOptions};
use bianmin_platform_service as service;
use bianmin_store::NewApplication;
use bianmin_sync::{Link, SyncStatus};
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

pub const SECRET: &str = "loopback-test-secret";
pub const ID_NUMBER: &str = "11010519491231002X";

pub fn demo_catalogue() -> Vec<u8> {
    bianmin_core::catalogue::Catalogue::demo_json().into_bytes()
}

pub async fn server() -> ServerHandle {
    server_with(ServerOptions::default()).await
}

/// The loopback platform of a test: the reference server (SQLite), or with
/// `BIANMIN_TEST_PLATFORM=postgres` the platform service over a database of
/// its own in a throwaway PostgreSQL cluster — the same tests, either
/// platform (`.ci/test` runs the sync tests against both).
pub async fn server_with(mut opts: ServerOptions) -> ServerHandle {
    opts.shared_secret = Some(SECRET.into());
    if opts.catalogue == ServerOptions::default().catalogue {
        opts.catalogue = demo_catalogue();
    }
    if std::env::var("BIANMIN_TEST_PLATFORM").as_deref() == Ok("postgres") {
        return postgres_server(opts).await;
    }
    server::spawn(opts).await.expect("server on loopback")
}

/// The platform service over a fresh database of the process's throwaway
/// PostgreSQL cluster, with `opts`' catalogue and content package published.
pub async fn postgres_server(opts: ServerOptions) -> ServerHandle {
    postgres_service(opts).await.handle
}

/// As [`postgres_server`], keeping the storage side (for tests that look
/// into the database).
pub async fn postgres_service(opts: ServerOptions) -> service::Service {
    let cluster = service::cluster::shared();
    let conninfo = cluster.fresh_database().await.expect("a test database");
    postgres_service_on(&conninfo, opts).await
}

/// The platform service over the database `conninfo` (two instances over
/// one database: call it twice).
pub async fn postgres_service_on(conninfo: &str, opts: ServerOptions) -> service::Service {
    postgres_service_serving(conninfo, opts, None, None).await
}

/// As [`postgres_service_on`] with the platform's data key `data_key` (an
/// SM4 key for a platform of the 国密 suite).
pub async fn postgres_service_with_data_key(
    conninfo: &str,
    data_key: service::DataKey,
) -> service::Service {
    postgres_service_serving(
        conninfo,
        ServerOptions::default(),
        None,
        Some(std::sync::Arc::new(data_key)),
    )
    .await
}

/// As [`postgres_service`], also serving the signed APT repository `apt`
/// (the update tests).
pub async fn postgres_service_with_apt(
    apt: std::sync::Arc<service::updates::AptRepo>,
) -> service::Service {
    let cluster = service::cluster::shared();
    let conninfo = cluster.fresh_database().await.expect("a test database");
    postgres_service_serving(&conninfo, ServerOptions::default(), Some(apt), None).await
}

async fn postgres_service_serving(
    conninfo: &str,
    mut opts: ServerOptions,
    apt: Option<std::sync::Arc<service::updates::AptRepo>>,
    data_key: Option<std::sync::Arc<service::DataKey>>,
) -> service::Service {
    opts.shared_secret = Some(SECRET.into());
    let catalogue = std::mem::take(&mut opts.catalogue);
    let package = opts.content_package.take();
    let svc = service::spawn(service::ServiceOptions {
        // Tests wait for the offline sweep and webhooks: a short round.
        fleet: service::fleet::FleetOptions {
            watch_every: std::time::Duration::from_millis(200),
            webhook_timeout: std::time::Duration::from_secs(2),
            enroll: service::fleet::EnrollOptions {
                content_public_key: bianmin_core::package::DEMO_PUBLIC_KEY.into(),
                ..Default::default()
            },
            apt,
            ..Default::default()
        },
        conninfo: conninfo.to_string(),
        data_key: data_key.unwrap_or_else(|| {
            std::sync::Arc::new(service::DataKey::from_hex(TEST_DATA_KEY).unwrap())
        }),
        pool_size: 8,
        publishers: vec![bianmin_core::package::TrustedKey::demo()],
        content_signer: Some(service::console::ContentSigner::demo()),
        server: opts,
    })
    .await
    .expect("the platform service on loopback");
    let catalogue = if catalogue == ServerOptions::default().catalogue {
        demo_catalogue()
    } else {
        catalogue
    };
    service::publish_if_missing(&svc.backend, server::Doc::Catalogue, catalogue)
        .await
        .expect("catalogue published");
    if let Some(package) = package {
        service::publish_if_missing(&svc.backend, server::Doc::ContentPackage, package)
            .await
            .expect("content package published");
    }
    svc
}

/// The platform's data key in tests (every instance of a test shares it).
pub const TEST_DATA_KEY: &str = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

/// Configuration for a kiosk in `dir` talking to `url` with short timers.
pub fn config(dir: &Path, url: &str) -> Config {
    let mut c = Config::default();
    c.store.data_dir = dir.to_path_buf();
    c.platform.url = HttpUrl(url.to_string());
    c.platform.secret = Some(Secret(SECRET.into()));
    c.platform.retry_base_ms = Ranged(20);
    c.platform.retry_cap_secs = Ranged(1);
    c.platform.batch_size = Ranged(20);
    c.platform.request_timeout_secs = Ranged(2);
    c
}

pub fn app(i: usize) -> NewApplication {
    NewApplication {
        service_code: "DEMO-SB-001".into(),
        service_name: "社会保障卡申领".into(),
        assisted_by: i.is_multiple_of(3).then(|| "STAFF01".into()),
        applicant: Applicant {
            name: format!("测试居民{i}"),
            id_number: ID_NUMBER.into(),
            phone: "13912345678".into(),
            address: "演示省演示市演示路88号".into(),
            ..Default::default()
        },
        agent: None,
        form: serde_json::json!({"i": i, "reason": "首次申领"}),
        materials: vec![
            Material {
                name: "居民身份证".into(),
                state: MaterialState::ECert,
                due: None,
            },
            Material {
                name: "近期免冠照片".into(),
                state: MaterialState::Pending,
                due: None,
            },
        ],
        delivery: Delivery::Post {
            address: "演示省演示市演示路88号".into(),
        },
        signature_png: Some(vec![0x89, b'P', b'N', b'G', 1, 2, 3]),
    }
}

/// Wait until the engine reports an empty queue while online.
pub async fn wait_drained(rx: &mut watch::Receiver<SyncStatus>, within: Duration) -> SyncStatus {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        {
            let s = rx.borrow_and_update();
            if s.link == Link::Online && s.queue.pending == 0 {
                return s.clone();
            }
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => panic!("queue not drained within {within:?}: {:?}", rx.borrow()),
        }
    }
}

/// Every message waiting on a non-blocking notify socket, as systemd would
/// receive them (`READY=1\n`, `WATCHDOG=1\n`, …).
pub fn notify_messages(sock: &std::os::unix::net::UnixDatagram) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}
