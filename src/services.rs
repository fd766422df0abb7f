//! The kiosk's background services on a tokio runtime: the outbox store, the
//! sync engine and, in demo mode, the embedded reference platform. They reach
//! the UI thread only through the `Inbox`, which the UI drains on its own timer.

use crate::config::{Config, Secret};
use crate::core::catalogue::{Catalogue, DEMO_CATALOGUE_JSON};
use crate::platform::server::{ServerHandle, ServerOptions};
use crate::store::Store;
use crate::sync::{Link, SyncHandle, SyncStatus};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The signing secret the demo's embedded platform and terminal share.
const DEMO_SECRET: &str = "bianmin-demo-secret";

/// Something that happened off the UI thread and must show on screen.
#[derive(Debug, Clone)]
pub enum UiEvent {
    Link { link: Link, queue_depth: u64 },
    Catalogue(Box<Catalogue>),
}

/// Events waiting for the UI thread.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<VecDeque<UiEvent>>>);

impl Inbox {
    pub fn push(&self, event: UiEvent) {
        if let Ok(mut queue) = self.0.lock() {
            queue.push_back(event);
        }
    }

    pub fn drain(&self) -> Vec<UiEvent> {
        self.0
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

/// Running background services; dropping it stops them.
pub struct Services {
    pub runtime: tokio::runtime::Runtime,
    pub store: Option<Store>,
    pub sync: Option<SyncHandle>,
    pub platform: Option<ServerHandle>,
    pub inbox: Inbox,
    /// The catalogue to show first: the cached platform copy, else the demo.
    pub catalogue: Catalogue,
    /// Why the kiosk cannot take applications, for the out-of-service page.
    pub fault: Option<String>,
}

/// Where demo mode keeps its data when `BIANMIN_DATA_DIR` does not say.
fn demo_data_dir() -> PathBuf {
    std::env::temp_dir().join("bianmin-demo")
}

/// Start the store, the sync engine and (demo) the embedded platform.
/// Never fails: what does not start is reported in `fault` or the log.
pub fn start(config: &mut Config, demo: bool) -> Services {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bianmin-io")
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    let inbox = Inbox::default();
    let mut platform = None;

    if demo {
        if std::env::var_os("BIANMIN_DATA_DIR").is_none() {
            config.store.data_dir = demo_data_dir();
        }
        let options = ServerOptions {
            db_path: Some(config.store.data_dir.join("demo-platform.sqlite3")),
            catalogue: DEMO_CATALOGUE_JSON.as_bytes().to_vec(),
            shared_secret: Some(DEMO_SECRET.into()),
            ..ServerOptions::default()
        };
        if let Err(err) = std::fs::create_dir_all(&config.store.data_dir) {
            tracing::warn!(%err, "cannot create the demo data directory");
        }
        match runtime.block_on(crate::platform::server::spawn(options)) {
            Ok(server) => {
                config.platform.url = crate::config::HttpUrl(server.base_url().to_string());
                config.platform.secret = Some(Secret(DEMO_SECRET.into()));
                tracing::info!(
                    url = server.base_url(),
                    "embedded reference platform started"
                );
                platform = Some(server);
            }
            Err(err) => tracing::warn!(%err, "embedded reference platform did not start"),
        }
    }

    let (store, fault) = match Store::open(config) {
        Ok(store) => (Some(store), None),
        Err(err) => {
            tracing::error!(%err, "the outbox cannot be opened; applications are refused");
            (None, Some(format!("{}: {err}", err.resident_message())))
        }
    };

    let catalogue = store
        .as_ref()
        .and_then(|s| s.catalogue().ok().flatten())
        .and_then(|cached| Catalogue::from_json(&cached.body).ok())
        .unwrap_or_else(Catalogue::demo);

    let sync = store.as_ref().and_then(|store| {
        let _guard = runtime.enter();
        match crate::sync::spawn(config, store.clone()) {
            Ok((handle, status)) => {
                runtime.spawn(forward_status(
                    status,
                    store.clone(),
                    inbox.clone(),
                    catalogue.version.clone(),
                ));
                Some(handle)
            }
            Err(err) => {
                tracing::warn!(%err, "sync is not running; applications stay queued");
                None
            }
        }
    });

    Services {
        runtime,
        store,
        sync,
        platform,
        inbox,
        catalogue,
        fault,
    }
}

/// Pass the sync engine's status to the UI; a newly pulled catalogue too.
async fn forward_status(
    mut status: tokio::sync::watch::Receiver<SyncStatus>,
    store: Store,
    inbox: Inbox,
    mut shown_version: String,
) {
    loop {
        let current = status.borrow_and_update().clone();
        inbox.push(UiEvent::Link {
            link: current.link,
            queue_depth: current.queue.pending,
        });
        if let Some(version) = current.catalogue_version.as_ref() {
            if *version != shown_version {
                if let Some(catalogue) = store
                    .catalogue()
                    .ok()
                    .flatten()
                    .and_then(|c| Catalogue::from_json(&c.body).ok())
                {
                    shown_version = version.clone();
                    inbox.push(UiEvent::Catalogue(Box::new(catalogue)));
                }
            }
        }
        if status.changed().await.is_err() {
            return;
        }
    }
}
