//! Enrollment over a real PostgreSQL: a kiosk with an empty data directory
//! enrolls with a code from the console's sheet (the scanned QR text),
//! generates its key, then syncs an application signed with that key; a
//! request signed by another key under its id is refused. A reused, an
//! unknown and an expired code are refused with their sentences; a
//! replacement at the same station gets a new id and the old key stops
//! working; a code of another station cannot replace.

use bianmin_config::{Config, ENROLLED_FILE};
use bianmin_ops::enroll::{self, EnrollError, QR_PREFIX};
use bianmin_platform::api::RecordKind;
use bianmin_platform::client::{PlatformClient, PlatformError};
use bianmin_platform::sign::Credential;
use bianmin_platform_server::ServerOptions;
use bianmin_platform_service::enroll::make_codes;
use bianmin_store::Store;
use bianmin_sync as sync;
use bianmin_testkit::*;
use std::time::Duration;

/// A kiosk's configuration before enrollment: no secret, no key.
fn blank(dir: &std::path::Path, url: &str) -> Config {
    let mut c = config(dir, url);
    c.platform.secret = None;
    c
}

async fn refused(config: &Config, text: &str) -> String {
    match enroll::enroll(config, &enroll::parse_code(text).unwrap(), None).await {
        Err(EnrollError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_kiosk_enrolls_with_a_code_and_then_signs_with_its_own_key() {
    let svc = postgres_service(ServerOptions::default()).await;
    let db = svc.backend.pool().get().await.unwrap();
    for (code, name) in [
        ("110101001001", "城关镇便民服务站"),
        ("110101002001", "河西村便民服务站"),
    ] {
        db.execute(
            "INSERT INTO stations (code, name, address, created_at, created_by)
             VALUES ($1, $2, '', 0, 'technician')",
            &[&code, &name],
        )
        .await
        .unwrap();
    }
    // The technicians' PIN, set in the console, reaches the kiosk as a hash.
    let pin_hash = bianmin_platform_service::console::auth::hash_password("258036").unwrap();
    db.execute(
        "INSERT INTO fleet_settings (key, value) VALUES ('admin_pin_hash', $1)",
        &[&pin_hash],
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let codes = make_codes(&svc.backend, "110101001001", 3, "technician", now)
        .await
        .unwrap();
    let other_station = make_codes(&svc.backend, "110101002001", 1, "technician", now)
        .await
        .unwrap();
    let url = svc.handle.base_url();

    // From nothing: the scanned QR text carries the code and the URL.
    let dir = tempfile::tempdir().unwrap();
    let before = blank(dir.path(), "https://unset.example/api/v1");
    assert!(!enroll::has_identity(&before));
    let scanned = format!("{QR_PREFIX}{}:{url}", codes[0]);
    let done = enroll::enroll(&before, &enroll::parse_code(&scanned).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(done.terminal_id, "T11010100100101");
    assert_eq!(done.station_name, "城关镇便民服务站");
    let config = before
        .overlay_file(&dir.path().join(ENROLLED_FILE))
        .unwrap();
    assert!(enroll::has_identity(&config));
    assert_eq!(config.station.terminal_id.as_str(), "T11010100100101");
    assert_eq!(config.platform.url.as_str(), url);
    assert_eq!(
        config.content.public_key,
        bianmin_core::package::DEMO_PUBLIC_KEY
    );
    assert!(
        dir.path().join("admin-pin.json").exists(),
        "the technicians' admin PIN is provisioned"
    );

    // It syncs an application signed with its own key (no secret at all).
    assert!(config.platform.secret.is_none());
    let store = Store::open(&config).unwrap();
    let receipt = store.enqueue_application(app(1)).unwrap().receipt_no;
    let (engine, mut rx) = sync::spawn_without_heartbeats(&config, store.clone()).unwrap();
    wait_drained(&mut rx, Duration::from_secs(30)).await;
    engine.shutdown().await;
    assert!(svc
        .handle
        .record_of(RecordKind::Application, "T11010100100101", &receipt)
        .is_some());

    // The county's configuration for it: the station's with the kiosk's
    // own laid over it, signed with the key it was told at enrollment,
    // and not sent again once held.
    db.execute(
        "INSERT INTO config_documents (scope, target, body, created_at, created_by) VALUES
         ('station', '110101001001', E'[session]\\nidle_timeout_secs = 90\\ncountdown_secs = 30\\n', 0, 't'),
         ('kiosk', 'T11010100100101', E'[session]\\nidle_timeout_secs = 120\\n', 0, 't')",
        &[],
    )
    .await
    .unwrap();
    let client = PlatformClient::from_config(&config).unwrap();
    let doc = client
        .remote_config(None)
        .await
        .unwrap()
        .expect("a configuration");
    assert_eq!(doc.version, "s1-c2");
    let layered: toml::Table = toml::from_str(&doc.toml).unwrap();
    assert_eq!(
        layered["session"]["idle_timeout_secs"].as_integer(),
        Some(120)
    );
    assert_eq!(layered["session"]["countdown_secs"].as_integer(), Some(30));
    use base64::Engine as _;
    let public = base64::engine::general_purpose::STANDARD
        .decode(config.platform.config_key.strip_prefix("ed25519:").unwrap())
        .unwrap();
    let signature: Vec<u8> = (0..doc.signature.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&doc.signature[i..i + 2], 16).unwrap())
        .collect();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
        .verify(
            &bianmin_platform::api::RemoteConfig::signed_bytes(&doc.version, &doc.toml),
            &signature,
        )
        .expect("signed with the key told at enrollment");
    assert!(client.remote_config(Some("s1-c2")).await.unwrap().is_none());

    // Another key under its id is refused.
    let (stranger, _) = Credential::generate();
    let forged = PlatformClient::with_credential(
        &config.platform,
        "T11010100100101",
        Credential::from_pkcs8(&stranger).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        forged.progress(&receipt).await,
        Err(PlatformError::Auth { .. })
    ));

    // The same code again, a made-up code, an expired one.
    let again = blank(tempfile::tempdir().unwrap().path(), url);
    assert!(refused(&again, &codes[0]).await.contains("已经用过"));
    assert!(refused(&again, "ABCD-EFGH-JKMN")
        .await
        .contains("没有这个注册码"));
    db.execute(
        "UPDATE enrollment_codes SET expires_at = 0 WHERE terminal_id IS NULL AND station_code = '110101001001'",
        &[],
    )
    .await
    .unwrap();
    assert!(refused(&again, &codes[2]).await.contains("已过期"));
    db.execute(
        "UPDATE enrollment_codes SET expires_at = $1 WHERE terminal_id IS NULL",
        &[&(now + 86_400)],
    )
    .await
    .unwrap();

    // A code of another station cannot replace this one.
    let replacement_dir = tempfile::tempdir().unwrap();
    let replacement = blank(replacement_dir.path(), url);
    match enroll::enroll(
        &replacement,
        &enroll::parse_code(&other_station[0]).unwrap(),
        Some("T11010100100101"),
    )
    .await
    {
        Err(EnrollError::Refused(why)) => assert!(why.contains("另一个站点"), "{why}"),
        other => panic!("{other:?}"),
    }
    // The station's own code does: a new id, and the old key stops working.
    let replaced = enroll::enroll(
        &replacement,
        &enroll::parse_code(&codes[1]).unwrap(),
        Some("T11010100100101"),
    )
    .await
    .unwrap();
    assert_eq!(replaced.terminal_id, "T11010100100102");
    let old = PlatformClient::from_config(&config).unwrap();
    assert!(matches!(
        old.progress(&receipt).await,
        Err(PlatformError::Auth { .. })
    ));
    let audited: i64 = db
        .query_one(
            "SELECT count(*) FROM console_audit WHERE action = 'terminal_enrolled'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2);
}

/// A kiosk of the 国密 suite makes an SM2 key pair at enrollment; the
/// platform keeps its public key and checks its requests' SM2 signatures
/// (over SM3 body hashes); the same signature under another id is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_of_the_gm_suite_enrolls_with_an_sm2_key_and_signs_with_it() {
    let svc = postgres_service(ServerOptions::default()).await;
    let db = svc.backend.pool().get().await.unwrap();
    db.execute(
        "INSERT INTO stations (code, name, address, created_at, created_by)
         VALUES ('110101001001', '城关镇便民服务站', '', 0, 'technician')",
        &[],
    )
    .await
    .unwrap();
    let now = chrono::Utc::now().timestamp();
    let code = make_codes(&svc.backend, "110101001001", 1, "technician", now)
        .await
        .unwrap()
        .remove(0);
    let url = svc.handle.base_url();
    let dir = tempfile::tempdir().unwrap();
    let mut before = blank(dir.path(), url);
    before.crypto.suite = bianmin_config::CryptoSuite::Gm;
    let scanned = format!("{QR_PREFIX}{code}:{url}");
    enroll::enroll(&before, &enroll::parse_code(&scanned).unwrap(), None)
        .await
        .unwrap();
    let key = std::fs::read(dir.path().join(enroll::KEY_FILE)).unwrap();
    assert!(matches!(
        Credential::from_pkcs8(&key),
        Ok(Credential::Sm2(_))
    ));
    let row = db
        .query_one(
            "SELECT algorithm, length(public_key) FROM terminals WHERE terminal_id = 'T11010100100101'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "SM2-SM3");
    assert_eq!(
        row.get::<_, i32>(1),
        65,
        "an SEC1 point, the public half only"
    );

    let config = before
        .overlay_file(&dir.path().join(ENROLLED_FILE))
        .unwrap();
    let store = Store::open(&config).unwrap();
    let receipt = store.enqueue_application(app(1)).unwrap().receipt_no;
    let (engine, mut rx) = sync::spawn_without_heartbeats(&config, store.clone()).unwrap();
    wait_drained(&mut rx, Duration::from_secs(30)).await;
    engine.shutdown().await;
    assert!(svc
        .handle
        .record_of(RecordKind::Application, "T11010100100101", &receipt)
        .is_some());

    // Its key presented under another terminal's id: refused.
    let mut impostor = config.clone();
    impostor.station.terminal_id = bianmin_config::TerminalId("T11010100100102".into());
    let client = PlatformClient::from_config(&impostor).unwrap();
    assert!(matches!(
        client.commands().await,
        Err(PlatformError::Auth { .. })
    ));
}
