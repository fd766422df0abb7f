//! The sync engine against the reference server on loopback, with every
//! injectable fault; the queue must drain completely each time.

use bianmin_platform::api::RecordKind;
use bianmin_platform::client::{PlatformClient, PlatformError};
use bianmin_platform_server::{Fault, ServerOptions};
use bianmin_store::{NewErrorReport, NewEvaluation, RecordState, Store, StoreError};
use bianmin_sync::{self as sync, backoff, Link, SyncOptions};
use bianmin_testkit::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WITHIN: Duration = Duration::from_secs(20);

async fn drain_through(
    fault: Fault,
    times: u32,
    n: usize,
) -> (bianmin_platform_server::ServerStats, Duration) {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    // Start online (catalogue pulled, first heartbeat sent), then break the platform.
    let (handle, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    wait_drained(&mut rx, WITHIN).await;
    server.faults().inject(fault, times);
    let started = Instant::now();
    let mut receipts = Vec::new();
    for i in 0..n {
        receipts.push(store.enqueue_application(app(i)).unwrap().receipt_no);
    }
    let deadline = Instant::now() + WITHIN;
    while store.stats().unwrap().pending > 0 || (server.applications().len() as u64) < n as u64 {
        assert!(
            Instant::now() < deadline,
            "{fault:?}: not drained: {:?}",
            *rx.borrow()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    handle.shutdown().await;
    let at_platform = server.applications();
    assert_eq!(at_platform.len(), n, "{fault:?}: every application arrived");
    for r in &receipts {
        assert!(
            at_platform.iter().any(|(k, _)| k == r),
            "{fault:?}: {r} missing"
        );
    }
    assert!(store
        .application_keys()
        .unwrap()
        .iter()
        .all(|(_, s)| *s == RecordState::Acked));
    assert_eq!(
        server.faults().queued(),
        0,
        "{fault:?}: all faults were hit"
    );
    (server.stats(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_without_faults_and_caches_catalogue() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    for i in 0..45 {
        store.enqueue_application(app(i)).unwrap();
    }
    store
        .enqueue_evaluation(NewEvaluation {
            receipt_no: None,
            service_code: "DEMO-SB-001".into(),
            level: 5,
            comment: "很方便".into(),
        })
        .unwrap();
    store
        .enqueue_error_report(NewErrorReport {
            kind: "cannot_get_done".into(),
            service_code: Some("DEMO-SB-001".into()),
            message: "找不到事项".into(),
            callback_phone: None,
        })
        .unwrap();
    let (handle, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    let status = wait_drained(&mut rx, WITHIN).await;
    assert_eq!(status.link, Link::Online);
    let stats = server.stats();
    assert_eq!(
        (stats.applications, stats.evaluations, stats.error_reports),
        (45, 1, 1)
    );
    assert!(stats.heartbeats >= 1, "a heartbeat is sent at start");
    let cat = store.catalogue().unwrap().expect("catalogue cached");
    assert!(cat.etag.is_some());
    assert_eq!(status.catalogue_version, cat.version);

    // New records wake the engine.
    store.enqueue_application(app(99)).unwrap();
    let deadline = Instant::now() + WITHIN;
    while server.stats().applications < 46 {
        assert!(Instant::now() < deadline, "new record not sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Live look-ups.
    let first = &server.applications()[0].0;
    let progress = handle.progress(first).await.unwrap();
    assert_eq!(progress.status, "received");
    let docs = handle.resident_documents(ID_NUMBER).await.unwrap();
    assert!(!docs.certificates.is_empty());
    let doc = handle
        .client()
        .document(&docs.documents[0].id)
        .await
        .unwrap();
    assert!(doc.content_type.starts_with("text/plain"));
    assert!(matches!(
        handle.progress("BM1-T0001-20260101-000001-0").await,
        Err(PlatformError::NotFound)
    ));
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_500() {
    let (stats, _) = drain_through(Fault::Error500, 4, 30).await;
    assert!(stats.faults_injected >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_503_retry_after_is_honoured() {
    let (_, took) = drain_through(
        Fault::Unavailable {
            retry_after_secs: 1,
        },
        2,
        30,
    )
    .await;
    assert!(
        took >= Duration::from_secs(2),
        "two Retry-After: 1 waits, took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_429_retry_after_is_honoured() {
    let (_, took) = drain_through(
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
        30,
    )
    .await;
    assert!(took >= Duration::from_secs(1), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_connection_reset() {
    drain_through(Fault::Reset, 4, 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_slow_answer_beyond_timeout() {
    // The client gives up after 2 s; the server commits after 2.5 s; the
    // retry finds the records already there (duplicates, not copies).
    let (stats, _) = drain_through(Fault::Slow { delay_ms: 2500 }, 1, 30).await;
    assert!(stats.applications == 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_response_lost_after_commit() {
    let (stats, _) = drain_through(Fault::DropAfterCommit, 3, 30).await;
    assert!(
        stats.duplicates >= 1,
        "the lost answers make the platform see duplicates: {stats:?}"
    );
}

/// Acknowledgements are written behind the drain; one that cannot be
/// written (the disk filled up meanwhile) must still stop the drain with the
/// store's error, lose nothing, and leave the records to be sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_that_cannot_be_written_stops_the_drain_and_loses_nothing() {
    const N: usize = 400;
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    for i in 0..N {
        // Rows of many lengths, so some pages are packed to the last bytes
        // (the layout is the same on every run: only lengths decide it).
        let mut a = app(i);
        a.form["note"] = serde_json::json!("x".repeat(i * 37 % 701));
        store.enqueue_application(a).unwrap();
    }
    let pages: i64 = rusqlite::Connection::open(store.db_path())
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    // An acknowledgement makes every row a little longer: the packed pages
    // overflow and need pages the disk no longer has.
    store.debug_set_max_page_count(pages as u64).unwrap();
    let client = PlatformClient::from_config(&config).unwrap();
    let err = sync::drain_once(&client, &store, 10, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, sync::SyncError::Store(StoreError::Full)),
        "{err:?}"
    );
    let stuck = store.stats().unwrap();
    assert!(stuck.pending > 0, "{stuck:?}");
    assert_eq!(stuck.parked, 0, "{stuck:?}");

    store.debug_set_max_page_count(1_000_000).unwrap();
    let report = sync::drain_once(&client, &store, 10, |_| {}).await.unwrap();
    assert_eq!(report.accepted + report.duplicates, stuck.pending);
    assert!(
        report.duplicates > 0,
        "the platform had them already: {report:?}"
    );
    assert_eq!(store.stats().unwrap().pending, 0);
    assert_eq!(server.applications().len(), N, "each at the platform once");
    store.integrity_check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_record_is_parked_and_does_not_block() {
    let server = server().await;
    server.reject_service("DEMO-BAD");
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    for i in 0..10 {
        let mut a = app(i);
        if i == 3 {
            a.service_code = "DEMO-BAD".into();
        }
        store.enqueue_application(a).unwrap();
    }
    let (handle, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    let status = wait_drained(&mut rx, WITHIN).await;
    assert_eq!(status.queue.parked, 1);
    assert_eq!(server.stats().applications, 9);
    let parked = store.list(Some(RecordState::Parked), 10).unwrap();
    assert!(parked[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("DEMO-BAD"));
    // A technician fixes the platform side and retries.
    server.accept_service("DEMO-BAD");
    store.retry(&parked[0].key).unwrap();
    let deadline = Instant::now() + WITHIN;
    while server.stats().applications < 10 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_is_refused_and_nothing_is_lost() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), server.base_url());
    config.platform.secret = Some(bianmin_config::Secret("wrong".into()));
    let store = Store::open(&config).unwrap();
    store.enqueue_application(app(1)).unwrap();
    let client = PlatformClient::from_config(&config).unwrap();
    let err = sync::drain_once(&client, &store, 10, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad_signature"), "{err}");
    assert_eq!(store.stats().unwrap().pending, 1);
    assert_eq!(server.stats().applications, 0);
    assert!(server.stats().bad_signatures >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_far_behind_is_reported_and_corrected_for_signing() {
    let server = server_with(ServerOptions {
        clock_offset_secs: 400 * 86_400,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    store.enqueue_application(app(1)).unwrap();
    let (handle, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    let status = wait_drained(&mut rx, WITHIN).await;
    assert!(status.clock_suspect, "{status:?}");
    assert!(handle.client().clock_offset_secs() > 399 * 86_400);
    assert_eq!(server.stats().applications, 1);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_delays_stay_within_full_jitter_bounds() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    store.enqueue_application(app(1)).unwrap();
    // Each failed round takes two: the catalogue pull, then the upload
    // (which goes ahead although the pull failed).
    server.faults().inject(Fault::Error500, 16);
    let opts = SyncOptions {
        retry_base: Duration::from_millis(10),
        retry_cap: Duration::from_millis(200),
        ..SyncOptions::from_config(&config)
    };
    let client = Arc::new(PlatformClient::from_config(&config).unwrap());
    let (handle, mut rx) = sync::spawn_with(client, store.clone(), opts.clone());
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        {
            let s = rx.borrow_and_update().clone();
            if s.link == Link::Offline {
                let bound = backoff::ceiling(s.failures - 1, opts.retry_base, opts.retry_cap);
                let d = Duration::from_millis(s.next_retry_ms.unwrap());
                assert!(d <= bound, "failure {}: {d:?} > {bound:?}", s.failures);
                if seen.last() != Some(&s.failures) {
                    seen.push(s.failures);
                }
            }
            if s.link == Link::Online && s.queue.pending == 0 {
                break;
            }
        }
        tokio::time::timeout_at(deadline, rx.changed())
            .await
            .expect("drains")
            .unwrap();
    }
    assert!(seen.len() >= 6, "saw failures {seen:?}");
    assert_eq!(server.stats().applications, 1);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_is_conditional_and_replaced_atomically() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    let client = PlatformClient::from_config(&config).unwrap();
    let v1 = sync::pull_catalogue(&client, &store).await.unwrap();
    assert!(v1.is_some());
    let etag1 = store.catalogue().unwrap().unwrap().etag;
    let fetched1 = store.catalogue().unwrap().unwrap().fetched_at_ms;
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Unchanged: 304, cache untouched.
    assert_eq!(sync::pull_catalogue(&client, &store).await.unwrap(), v1);
    assert_eq!(store.catalogue().unwrap().unwrap().fetched_at_ms, fetched1);
    // Published anew.
    server.set_catalogue(br#"{"schema":1,"version":"v2","categories":[],"services":[]}"#.to_vec());
    assert_eq!(
        sync::pull_catalogue(&client, &store)
            .await
            .unwrap()
            .as_deref(),
        Some("v2")
    );
    assert_ne!(store.catalogue().unwrap().unwrap().etag, etag1);
    // A broken document never replaces a good one.
    server.set_catalogue(b"{broken".to_vec());
    assert!(sync::pull_catalogue(&client, &store).await.is_err());
    assert_eq!(
        store.catalogue().unwrap().unwrap().version.as_deref(),
        Some("v2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_then_online() {
    // Nothing listens yet: the engine reports offline, keeps everything.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &format!("http://127.0.0.1:{port}/api/v1"));
    let store = Store::open(&config).unwrap();
    for i in 0..5 {
        store.enqueue_application(app(i)).unwrap();
    }
    let client = PlatformClient::from_config(&config).unwrap();
    let err = sync::drain_once(&client, &store, 10, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("网络不可用"), "{err}");
    let pending = store.stats().unwrap().pending;
    assert_eq!(pending, 5);
    let rec = store.next_batch(RecordKind::Application, 1).unwrap();
    assert_eq!(store.find(&rec[0].key).unwrap().unwrap().attempts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoint_injects_faults_at_run_time() {
    let server = server().await;
    let origin = server.base_url().trim_end_matches("/api/v1").to_string();
    bianmin_platform::client::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = http
        .post(format!("{origin}/admin/faults"))
        .json(&serde_json::json!({"fault": "unavailable", "retry_after_secs": 0, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(server.faults().queued(), 2);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    store.enqueue_application(app(1)).unwrap();
    let (handle, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    let status = wait_drained(&mut rx, WITHIN).await;
    assert_eq!(status.queue.pending, 0);
    let stats: serde_json::Value = http
        .get(format!("{origin}/admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["applications"], 1);
    assert_eq!(stats["faults_injected"], 2);
    // Heartbeats carry queue depth, free disk and version.
    let hb_id = {
        let rows = store.list(None, 50).unwrap();
        rows.into_iter()
            .find(|r| r.kind == RecordKind::Heartbeat)
            .unwrap()
            .key
    };
    let hb = server.record(RecordKind::Heartbeat, &hb_id).unwrap();
    assert!(hb["free_disk_bytes"].as_u64().unwrap() > 0);
    assert_eq!(hb["version"], env!("CARGO_PKG_VERSION"));
    let r = http
        .delete(format!("{origin}/admin/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    handle.shutdown().await;
}

/// A catalogue pull that fails (here the platform answers it 500) must not
/// hold back the applications: the same round still uploads them. The
/// retry delay is long, so only the first round can have sent anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_catalogue_pull_does_not_skip_the_upload() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    let receipt = store.enqueue_application(app(1)).unwrap().receipt_no;
    // The first request of a round is the catalogue pull.
    server.faults().inject(Fault::Error500, 1);
    let opts = SyncOptions {
        retry_base: Duration::from_secs(3600),
        retry_cap: Duration::from_secs(3600),
        ..SyncOptions::from_config(&config)
    };
    let client = Arc::new(PlatformClient::from_config(&config).unwrap());
    let (handle, mut rx) = sync::spawn_with(client, store.clone(), opts);
    let status = tokio::time::timeout(WITHIN, async {
        loop {
            {
                let s = rx.borrow_and_update();
                if s.link == Link::Offline && s.failures >= 1 {
                    return s.clone();
                }
            }
            rx.changed().await.unwrap();
        }
    })
    .await
    .expect("the first round ends");
    assert_eq!(status.failures, 1, "{status:?}");
    assert!(
        status.last_error.as_deref().unwrap_or("").contains("500"),
        "the catalogue's failure is reported: {status:?}"
    );
    assert_eq!(
        server.faults().queued(),
        0,
        "the catalogue pull was refused"
    );
    assert_eq!(
        server.applications(),
        vec![(receipt, 1)],
        "the application went in the same round"
    );
    assert_eq!(status.queue.pending, 0, "{status:?}");
    handle.shutdown().await;
}

/// A record sealed to a key the platform does not hold is refused with the
/// reason, parked (still sealed, never lost), and delivered once a platform
/// holding the key is there and a technician retries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_platform_cannot_open_is_parked_sealed_and_retried() {
    use bianmin_platform::seal::{OpeningKey, OpeningKeys, Suite};
    let platform_key = OpeningKey::generate(Suite::Intl, "2026-07");
    let public = platform_key.sealing_key().to_text();
    // A platform that has only the demo keys.
    let wrong = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), wrong.base_url());
    config.platform.seal_public_key = public;
    config.platform.seal_key_id = "2026-07".into();
    let store = Store::open(&config).unwrap();
    let receipt = store.enqueue_application(app(1)).unwrap().receipt_no;
    let client = PlatformClient::from_config(&config).unwrap();
    let report = sync::drain_once(&client, &store, 10, |_| {}).await.unwrap();
    assert_eq!(report.parked, 1);
    let parked = store.find(&receipt).unwrap().unwrap();
    assert_eq!(parked.state, RecordState::Parked);
    let reason = parked.last_error.unwrap();
    assert!(
        reason.contains("2026-07") && reason.contains("无法解开"),
        "{reason}"
    );
    assert!(wrong.record(RecordKind::Application, &receipt).is_none());
    // The body stays, sealed, past the retention period.
    store.purge_expired(0).unwrap();
    assert!(!store.find(&receipt).unwrap().unwrap().purged);
    // The platform that holds the key.
    let right = server_with(ServerOptions {
        opening_keys: Arc::new(OpeningKeys::new(vec![platform_key])),
        ..ServerOptions::default()
    })
    .await;
    config.platform.url = bianmin_config::HttpUrl(right.base_url().to_string());
    let client = PlatformClient::from_config(&config).unwrap();
    store.retry(&receipt).unwrap();
    let report = sync::drain_once(&client, &store, 10, |_| {}).await.unwrap();
    assert_eq!(report.accepted, 1);
    let stored = right.record(RecordKind::Application, &receipt).unwrap();
    assert_eq!(stored["applicant"]["id_number"], ID_NUMBER);
    assert!(stored.get("sealed").is_none() && stored.get("masked_name").is_none());
}
