//! The platform service over a real PostgreSQL (a throwaway cluster) with
//! the kiosk's real sync engine on loopback: sealed storage, two instances
//! over one database, a database restarted in the middle of a drain, bad
//! input.

use bianmin_platform::api::{RecordKind, API_PREFIX};
use bianmin_platform::sign;
use bianmin_platform_server::{Fault, ServerHandle, ServerOptions};
use bianmin_platform_service::cluster::{self, TempCluster};
use bianmin_store::{RecordState, Store};
use bianmin_sync as sync;
use bianmin_testkit::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

async fn raw_client(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    client
}

/// Enqueue `n` applications in a kiosk store and drain them through `url`
/// with the real sync engine; returns the store and the receipts.
async fn drain(
    dir: &std::path::Path,
    url: &str,
    n: usize,
    within: Duration,
    mut during: impl FnMut(u64),
) -> (Store, Vec<String>) {
    let config = config(dir, url);
    let store = Store::open(&config).unwrap();
    let receipts: Vec<String> = (0..n)
        .map(|i| store.enqueue_application(app(i)).unwrap().receipt_no)
        .collect();
    let (handle, _rx) = sync::spawn(&config, store.clone()).unwrap();
    let deadline = Instant::now() + within;
    loop {
        let stats = store.stats().unwrap();
        let pending = stats.pending;
        if pending == 0 {
            break;
        }
        during((n as u64).saturating_sub(stats.pending_applications));
        assert!(Instant::now() < deadline, "not drained: {pending} pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.shutdown().await;
    assert!(store
        .application_keys()
        .unwrap()
        .iter()
        .all(|(_, s)| *s == RecordState::Acked));
    (store, receipts)
}

fn assert_exactly_once(server: &ServerHandle, receipts: &[String]) {
    let stored: BTreeMap<String, u32> = server.applications().into_iter().collect();
    assert_eq!(
        stored.len(),
        receipts.len(),
        "one stored row per application"
    );
    for r in receipts {
        assert!(stored.contains_key(r), "{r} missing at the platform");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_stored_sealed_and_read_back_whole() {
    let conninfo = cluster::shared().fresh_database().await.unwrap();
    let svc = postgres_service_on(&conninfo, ServerOptions::default()).await;
    stored_sealed_and_read_back_whole(&conninfo, &svc, "aes256gcm:").await;
}

/// A platform of the 国密 suite keeps its rows SM4-GCM sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_of_the_gm_suite_seals_its_rows_with_sm4() {
    let conninfo = cluster::shared().fresh_database().await.unwrap();
    let key =
        bianmin_platform_service::DataKey::from_hex(&format!("sm4:{}", "a5".repeat(16))).unwrap();
    let svc = postgres_service_with_data_key(&conninfo, key).await;
    stored_sealed_and_read_back_whole(&conninfo, &svc, "sm4gcm:").await;
}

async fn stored_sealed_and_read_back_whole(
    conninfo: &str,
    svc: &bianmin_platform_service::Service,
    key_prefix: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let (_store, receipts) = drain(
        dir.path(),
        svc.handle.base_url(),
        30,
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    assert_exactly_once(&svc.handle, &receipts);

    // In the database: no name, ID number, phone or address in clear, in
    // the sealed column or in the facts beside it.
    let db = raw_client(conninfo).await;
    let rows = db
        .query(
            "SELECT sealed, facts::text, key_id FROM records WHERE kind = 'application'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 30);
    for row in &rows {
        let sealed: Vec<u8> = row.get(0);
        let facts: String = row.get(1);
        let key_id: String = row.get(2);
        let clear = String::from_utf8_lossy(&sealed);
        for personal in [ID_NUMBER, "测试居民", "13912345678", "演示路88号"] {
            assert!(!clear.contains(personal), "{personal} in clear");
            assert!(!facts.contains(personal), "{personal} in facts: {facts}");
        }
        assert!(facts.contains("社会保障卡申领"), "{facts}");
        assert!(key_id.starts_with(key_prefix), "{key_id}");
    }
    // …and the platform reads them back whole with its key.
    let app = svc
        .handle
        .record(RecordKind::Application, &receipts[7])
        .expect("stored");
    assert_eq!(app["applicant"]["id_number"], ID_NUMBER);
    assert_eq!(app["applicant"]["name"], "测试居民7");
}

/// Connections from the kiosk go to the two instances in turn.
async fn round_robin_proxy(targets: [SocketAddr; 2]) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next = 0usize;
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                continue;
            };
            let target = targets[next % 2];
            next += 1;
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_over_one_database_take_1000_applications_exactly_once() {
    let conninfo = cluster::shared().fresh_database().await.unwrap();
    // Started at once: the migrations run once, under the advisory lock.
    let (a, b) = tokio::join!(
        postgres_service_on(&conninfo, ServerOptions::default()),
        postgres_service_on(&conninfo, ServerOptions::default())
    );
    // Answers lost after the commit on both: the kiosk sends again, on a
    // new connection, to the other instance.
    a.handle.faults().set_random(Fault::DropAfterCommit, 0.15);
    b.handle.faults().set_random(Fault::DropAfterCommit, 0.15);
    let proxy = round_robin_proxy([a.handle.addr(), b.handle.addr()]).await;
    let url = format!("http://{proxy}{API_PREFIX}");
    let dir = tempfile::tempdir().unwrap();
    let (_store, receipts) = drain(dir.path(), &url, 1000, Duration::from_secs(240), |_| {}).await;
    assert_exactly_once(&a.handle, &receipts);
    let (sa, sb) = (a.handle.stats(), b.handle.stats());
    assert_eq!(sa.applications, 1000, "both instances see one database");
    assert_eq!(sb.applications, 1000);
    assert!(
        sa.faults_injected > 0 && sb.faults_injected > 0,
        "{sa:?} {sb:?}"
    );
    assert!(
        sa.duplicates + sb.duplicates > 0,
        "resent records were answered duplicate: {sa:?} {sb:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_restarted_mid_drain_loses_and_doubles_nothing() {
    // A cluster of its own: this test stops it.
    let own = TempCluster::start().unwrap();
    let conninfo = own.fresh_database().await.unwrap();
    let svc = postgres_service_on(&conninfo, ServerOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut restarted = false;
    let url = svc.handle.base_url().to_string();
    let (_store, receipts) = drain(dir.path(), &url, 400, Duration::from_secs(120), |sent| {
        if !restarted && sent >= 60 {
            restarted = true;
            own.stop().unwrap();
            std::thread::sleep(Duration::from_secs(2));
            own.start_server().unwrap();
        }
    })
    .await;
    assert!(restarted, "the drain outlasted the restart point");
    assert_exactly_once(&svc.handle, &receipts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_away_is_answered_503_with_retry_after() {
    let own = TempCluster::start().unwrap();
    let conninfo = own.fresh_database().await.unwrap();
    let svc = postgres_service_on(&conninfo, ServerOptions::default()).await;
    own.stop().unwrap();
    bianmin_platform::client::install_crypto_provider();
    let path = format!("{API_PREFIX}/applications/batch");
    let body = br#"{"applications":[]}"#;
    let now = chrono::Utc::now().timestamp();
    let nonce = "0123456789abcdef0123456789abcdef";
    let hash = sign::body_hash(body);
    let signed = sign::Signed {
        method: "POST",
        path_and_query: &path,
        terminal_id: "T0001",
        timestamp: now,
        nonce,
        body_sha256_hex: &hash,
    };
    let url = format!(
        "{}{}",
        svc.handle.base_url().trim_end_matches(API_PREFIX),
        path
    );
    let started = Instant::now();
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(url)
        .header("x-terminal-id", "T0001")
        .header("x-timestamp", now.to_string())
        .header(sign::HDR_NONCE, nonce)
        .header(sign::HDR_CONTENT_SHA256, &hash)
        .header("x-signature", signed.sign(SECRET.as_bytes()))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered while the database is away, not held"
    );
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains("host="),
        "no database detail to the kiosk: {text}"
    );
    own.start_server().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_looking_text_is_stored_as_text() {
    let svc = postgres_service(ServerOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), svc.handle.base_url());
    let store = Store::open(&config).unwrap();
    let mut a = app(1);
    a.applicant.name = "Robert'); DROP TABLE records;--".into();
    a.service_name = "x' OR '1'='1".into();
    let receipt = store.enqueue_application(a).unwrap().receipt_no;
    let (handle, mut rx) = sync::spawn(&config, store.clone()).unwrap();
    wait_drained(&mut rx, Duration::from_secs(30)).await;
    handle.shutdown().await;
    let stored = svc
        .handle
        .record(RecordKind::Application, &receipt)
        .unwrap();
    assert_eq!(
        stored["applicant"]["name"],
        "Robert'); DROP TABLE records;--"
    );
    assert_eq!(svc.handle.stats().applications, 1);
}

/// 一码通办 and progress across stations, on both platforms: a personal code
/// verifies once (then `used`), an expired, unknown or other-scheme code is
/// refused with its reason; a resident's applications from two terminals
/// come back together, newest first, to a third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_progress_across_terminals_on_the_reference_server() {
    let server = bianmin_platform_server::spawn(ServerOptions {
        shared_secret: Some(SECRET.into()),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    codes_and_progress_across_terminals(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_and_progress_across_terminals_on_the_platform_service() {
    let svc = postgres_service(ServerOptions::default()).await;
    codes_and_progress_across_terminals(&svc.handle).await;
}

async fn codes_and_progress_across_terminals(server: &ServerHandle) {
    use bianmin_core::personal_code::{parse, Parsed, Scheme};
    use bianmin_platform::client::{CodeCheckError, CodeRefusal, PlatformClient};
    use bianmin_platform_server::identity::{demo_people, IssueCodeRequest};
    bianmin_platform::client::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut third = config(dir.path(), server.base_url());
    third.station.terminal_id = bianmin_config::TerminalId("T0003".into());
    let client = PlatformClient::from_config(&third).unwrap();

    let issue = |person: i64, scheme: Scheme, ttl_secs: i64| {
        server.issue_identity_code(IssueCodeRequest {
            person,
            scheme,
            ttl_secs,
        })
    };
    let token_of = |code: &str| match parse(code) {
        Parsed::Code { scheme, token } => (scheme, token.to_string()),
        other => panic!("an issued code that does not parse: {other:?}"),
    };
    let refused = |r: Result<_, CodeCheckError>| match r {
        Err(CodeCheckError::Refused(why)) => why,
        Err(other) => panic!("not a refusal: {other}"),
        Ok(_) => panic!("verified"),
    };

    // Verified once, with whom it stands for and what the issuer checked.
    let issued = issue(1, Scheme::Eid, 300).await.unwrap();
    assert!(issued.code.starts_with("EID:"), "{:?}", issued);
    let (scheme, token) = token_of(&issued.code);
    let who = client.verify_identity_code(scheme, &token).await.unwrap();
    assert_eq!(who.name, demo_people()[1].name);
    assert_eq!(who.id_number, demo_people()[1].id_number);
    assert!(who.verified.contains(&"face".to_string()), "{:?}", who);
    // …then spent.
    assert_eq!(
        refused(client.verify_identity_code(scheme, &token).await),
        CodeRefusal::Used
    );
    // Expired, under another scheme, never issued.
    let old = issue(0, Scheme::Ymtb, -5).await.unwrap();
    let (scheme, token) = token_of(&old.code);
    assert_eq!(
        refused(client.verify_identity_code(scheme, &token).await),
        CodeRefusal::Expired
    );
    let essc = issue(0, Scheme::Essc, 300).await.unwrap();
    let (_, token) = token_of(&essc.code);
    assert_eq!(
        refused(client.verify_identity_code(Scheme::Ymtb, &token).await),
        CodeRefusal::Unknown
    );
    assert_eq!(
        refused(
            client
                .verify_identity_code(Scheme::Ymtb, "NeverIssuedToken123")
                .await
        ),
        CodeRefusal::Unknown
    );
    assert_eq!(
        refused(client.verify_identity_code(Scheme::Ymtb, "bad token").await),
        CodeRefusal::Malformed
    );
    assert!(issue(9, Scheme::Ymtb, 300).await.is_err(), "no such person");

    // Three applications from T0001, two from T0002, all of one resident.
    let first = tempfile::tempdir().unwrap();
    let (_a, mut receipts) = drain(
        first.path(),
        server.base_url(),
        3,
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    let second = tempfile::tempdir().unwrap();
    let second_config = {
        let mut c = config(second.path(), server.base_url());
        c.station.terminal_id = bianmin_config::TerminalId("T0002".into());
        c
    };
    let store = Store::open(&second_config).unwrap();
    // A 办不成事 report with a number to call back on, from T0002.
    store
        .enqueue_error_report(bianmin_store::NewErrorReport {
            kind: "cannot_get_done".into(),
            service_code: Some("DEMO-SB-001".into()),
            message: "找不到要办的事项".into(),
            callback_phone: Some("13912345678".into()),
        })
        .unwrap();
    for i in 0..2 {
        receipts.push(store.enqueue_application(app(i)).unwrap().receipt_no);
        // Received after the first terminal's: newest first below.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (handle, _rx) = sync::spawn(&second_config, store.clone()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while store.stats().unwrap().pending > 0 {
            assert!(Instant::now() < deadline, "T0002 did not drain");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        handle.shutdown().await;
    }
    let listed = client.resident_applications(ID_NUMBER).await.unwrap();
    let listed: Vec<String> = listed
        .applications
        .iter()
        .map(|p| p.receipt_no.clone())
        .collect();
    assert_eq!(listed.len(), 5, "{listed:?}");
    for r in &receipts {
        assert!(listed.contains(r), "{r} missing from {listed:?}");
    }
    assert_eq!(listed[0], receipts[4], "newest first: {listed:?}");
    assert_eq!(listed[1], receipts[3], "newest first: {listed:?}");
    // Another resident has none; a number failing its check is refused.
    let other = client
        .resident_applications(&demo_people()[0].id_number)
        .await
        .unwrap();
    assert!(other.applications.is_empty());
    assert!(client
        .resident_applications("110105194912310021")
        .await
        .is_err());

    // Follow-ups are the signing terminal's own: T0002 reads its report
    // back with the number; T0003 has none.
    let follow = PlatformClient::from_config(&second_config)
        .unwrap()
        .follow_ups()
        .await
        .unwrap();
    assert_eq!(follow.reports.len(), 1, "{follow:?}");
    assert_eq!(follow.reports[0].message, "找不到要办的事项");
    assert_eq!(
        follow.reports[0].callback_phone.as_deref(),
        Some("13912345678")
    );
    let none = client.follow_ups().await.unwrap();
    assert!(none.reports.is_empty() && none.low_ratings.is_empty());
}

/// A county replaces its data key (here AES-256 → SM4, as when it moves to
/// the 国密 suite): with the new key first and the old one after it in the
/// key file, old rows are read and found by ID number; `rekey` seals them
/// again under the new key (and gives applications stored before look-up
/// hashes existed theirs), after which the new key alone reads and finds
/// everything and the old one nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_data_key_reads_old_rows_and_rekey_seals_them_again() {
    use bianmin_platform_server::Backend as _;
    use bianmin_platform_service::{db, DataKey, PgBackend};
    use std::sync::Arc;
    let conninfo = cluster::shared().fresh_database().await.unwrap();
    let (old, new) = ("11".repeat(32), format!("sm4:{}", "22".repeat(16)));
    let svc = postgres_service_with_data_key(&conninfo, DataKey::from_hex(&old).unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let (store, first) = drain(
        dir.path(),
        svc.handle.base_url(),
        10,
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    svc.handle.shutdown().await;
    // The same kiosk goes on (its receipt numbers go on too).
    drop(store);

    let both = DataKey::from_hex(&format!("# new first\n{new}\n{old}\n")).unwrap();
    let svc = postgres_service_with_data_key(&conninfo, both).await;
    let app = svc
        .handle
        .record(RecordKind::Application, &first[3])
        .expect("an old row read with the old key");
    assert_eq!(app["applicant"]["id_number"], ID_NUMBER);
    let (_store, second) = drain(
        dir.path(),
        svc.handle.base_url(),
        5,
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    let found = svc.backend.applications_of(ID_NUMBER, 100).await.unwrap();
    assert_eq!(found.len(), 15, "old and new rows found by ID number");

    // Every record under the old key (the applications, and the kiosk's
    // other records of that time), four a transaction.
    let db_client = raw_client(&conninfo).await;
    let stale: i64 = db_client
        .query_one(
            "SELECT count(*) FROM records WHERE key_id <> $1",
            &[&svc.backend.key().id()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stale >= 10, "{stale}");
    // Two applications as stored before look-up hashes existed.
    db_client
        .execute(
            "UPDATE records SET resident_key = NULL WHERE kind = 'application' AND id = ANY ($1)",
            &[&vec![first[0].clone(), second[0].clone()]],
        )
        .await
        .unwrap();
    // The old-key one gets its hash as it is resealed; the new-key one is
    // given its hash afterwards.
    assert_eq!(svc.backend.rekey(4).await.unwrap(), stale as u64 + 1);
    assert_eq!(svc.backend.rekey(4).await.unwrap(), 0, "nothing left");
    let kinds: Vec<String> = db_client
        .query("SELECT DISTINCT key_id FROM records", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kinds, [svc.backend.key().id().to_string()]);
    assert!(kinds[0].starts_with("sm4gcm:"), "{kinds:?}");
    svc.handle.shutdown().await;

    let only = |key: &str| {
        PgBackend::new(
            db::pool(&conninfo, 2).unwrap(),
            Arc::new(DataKey::from_hex(key).unwrap()),
            &conninfo,
        )
    };
    let (new_only, old_only) = (only(&new), only(&old));
    let rows = db_client
        .query(
            "SELECT terminal_id, id, sealed FROM records WHERE kind = 'application'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 15);
    for row in &rows {
        let (terminal, id, sealed): (String, String, Vec<u8>) =
            (row.get(0), row.get(1), row.get(2));
        let opened = new_only.open_record("application", &terminal, &id, &sealed);
        assert_eq!(opened.unwrap()["applicant"]["id_number"], ID_NUMBER);
        assert!(old_only
            .open_record("application", &terminal, &id, &sealed)
            .is_none());
    }
    assert_eq!(
        new_only
            .applications_of(ID_NUMBER, 100)
            .await
            .unwrap()
            .len(),
        15
    );
    assert!(second.iter().chain(&first).count() == 15);
}
