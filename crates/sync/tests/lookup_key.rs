//! The ID-number look-up key comes from the platform and is held in memory
//! only: a kiosk that has not reached its platform since it started cannot
//! search by ID number; once the sync engine has the key, new applications
//! are found; the key is the same for a terminal each time it asks (records
//! hashed before a restart are found after it) and differs between
//! terminals. Against the reference server, or the platform service with
//! BIANMIN_TEST_PLATFORM=postgres.

use bianmin_platform::client::PlatformClient;
use bianmin_store::Store;
use bianmin_sync as sync;
use bianmin_testkit::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_look_up_key_comes_from_the_platform_and_stays_in_memory() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    assert!(!store.has_lookup_key());
    let before = store.enqueue_application(app(0)).unwrap().receipt_no;
    assert!(store.applications_of(ID_NUMBER, 10).unwrap().unsearchable);

    // The sync engine's round asks for it.
    let (engine, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    wait_drained(&mut rx, std::time::Duration::from_secs(20)).await;
    engine.shutdown().await;
    assert!(store.has_lookup_key());
    let after = store.enqueue_application(app(1)).unwrap().receipt_no;
    let found = store.applications_of(ID_NUMBER, 10).unwrap();
    let keys: Vec<&str> = found.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [after.as_str()],
        "{before} was stored before the key came"
    );

    // A restart: the key is gone with the process; asked again, it is the
    // same, so what was hashed before is found again.
    drop(store);
    let store = Store::open(&config).unwrap();
    assert!(!store.has_lookup_key());
    let client = PlatformClient::from_config(&config).unwrap();
    assert!(sync::fetch_lookup_key(&client, &store).await);
    let found = store.applications_of(ID_NUMBER, 10).unwrap();
    assert_eq!(found.records.len(), 1);
    assert_eq!(found.records[0].key, after);

    // Asked again it is the same; another terminal gets a key of its own.
    let again = client.lookup_key().await.unwrap();
    assert_eq!(*again, *client.lookup_key().await.unwrap());
    let other_dir = tempfile::tempdir().unwrap();
    let mut other_config = bianmin_testkit::config(other_dir.path(), server.base_url());
    other_config.station.terminal_id = bianmin_config::TerminalId("T0002".into());
    let other = PlatformClient::from_config(&other_config).unwrap();
    assert_ne!(*other.lookup_key().await.unwrap(), *again);
    server.shutdown().await;
}
