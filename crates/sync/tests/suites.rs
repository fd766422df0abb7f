//! Both crypto suites end to end: a kiosk with `[crypto] suite = "gm"`
//! (SM2 + SM4-GCM sealing, HMAC-SM3 signatures over SM3 body hashes) and one
//! with "intl" each sync 1,000 applications to the platform (the reference
//! server, or PostgreSQL with BIANMIN_TEST_PLATFORM=postgres) while it
//! fails at random — 500s, resets, slow answers, answers lost after the
//! commit, 503 with Retry-After — and every application arrives exactly
//! once, opened by the platform's key.

use bianmin_config::CryptoSuite;
use bianmin_platform::api::RecordKind;
use bianmin_platform_server::Fault;
use bianmin_store::{RecordState, Store};
use bianmin_sync as sync;
use bianmin_testkit::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const APPLICATIONS: usize = 1000;

async fn thousand_under_faults(suite: CryptoSuite) {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), server.base_url());
    config.crypto.suite = suite;
    config.platform.batch_size = bianmin_config::Ranged(50);
    let store = Store::open(&config).unwrap();
    let faults = server.faults();
    faults.set_random(Fault::Error500, 0.08);
    faults.set_random(Fault::Reset, 0.05);
    faults.set_random(Fault::DropAfterCommit, 0.08);
    faults.set_random(Fault::Slow { delay_ms: 20 }, 0.05);
    faults.set_random(
        Fault::Unavailable {
            retry_after_secs: 0,
        },
        0.04,
    );
    let (handle, _rx) = sync::spawn(&config, store.clone()).unwrap();
    let mut receipts = BTreeSet::new();
    for i in 0..APPLICATIONS {
        let s = store.clone();
        let r = tokio::task::spawn_blocking(move || s.enqueue_application(app(i)))
            .await
            .unwrap()
            .unwrap();
        receipts.insert(r.receipt_no);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while store.stats().unwrap().pending > 0 {
        assert!(
            Instant::now() < deadline,
            "{suite:?}: not drained: {:?}",
            store.stats().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
    let injected = faults.injected();
    faults.clear();
    assert!(injected >= 3, "{suite:?}: faults were hit ({injected})");

    // 0 lost, 0 duplicated: the platform holds each receipt once, the same
    // set as the kiosk, all acknowledged, none refused.
    let at_platform: Vec<(String, u32)> = server.applications();
    let platform: BTreeSet<String> = at_platform.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(at_platform.len(), platform.len(), "{suite:?}: stored twice");
    assert_eq!(
        platform, receipts,
        "{suite:?}: outbox and platform disagree"
    );
    assert!(store
        .application_keys()
        .unwrap()
        .iter()
        .all(|(_, s)| *s == RecordState::Acked));
    let stats = server.stats();
    assert_eq!((stats.rejected, stats.bad_signatures), (0, 0), "{suite:?}");
    let redelivered = at_platform.iter().filter(|(_, d)| *d > 1).count();
    println!(
        "{suite:?}: {APPLICATIONS} applications, {injected} faults injected, {redelivered} redelivered and deduplicated, 0 lost"
    );
    // Opened by the platform: the personal fields are there, in clear, at
    // the platform only.
    let one = receipts.iter().nth(500).unwrap();
    let record = server.record(RecordKind::Application, one).unwrap();
    assert_eq!(record["applicant"]["id_number"], ID_NUMBER);
    assert!(record.get("sealed").is_none());
    let kept = store.record_json(one).unwrap();
    if let Some(kept) = kept {
        let text = String::from_utf8(kept.to_vec()).unwrap();
        assert!(!text.contains(ID_NUMBER));
        let alg = match suite {
            // Sealed under an epoch key exported from HPKE (not single-shot).
            CryptoSuite::Intl => "\"hpke-x25519-sha256-export-chacha20poly1305\"",
            CryptoSuite::Gm => "\"sm2-sm4-gcm\"",
        };
        assert!(text.contains(alg), "{suite:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gm_suite_syncs_a_thousand_applications_under_faults_exactly_once() {
    thousand_under_faults(CryptoSuite::Gm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intl_suite_syncs_a_thousand_applications_under_faults_exactly_once() {
    thousand_under_faults(CryptoSuite::Intl).await;
}
