//! The content package through the real client and the reference platform:
//! installed when it verifies, refused whole with the reason when it does
//! not (tampered, another key, inconsistent), and the package in use stays.

use bianmin_core::package::{self, TrustedKey, DEMO_KEY_ID, DEMO_PACKAGE_JSON};
use bianmin_platform::client::PlatformClient;
use bianmin_store::{PackageSlot, Store};
use bianmin_sync as sync;
use bianmin_testkit::*;

const DEMO_KEY_FILE: &str = include_str!("../../../config/content/demo-signing.key");

/// The demo package with `change` applied to its document, signed by `key`.
fn variant(key: &str, change: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let envelope: package::SignedEnvelope = serde_json::from_str(DEMO_PACKAGE_JSON).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&envelope.package).unwrap();
    change(&mut doc);
    let text = serde_json::to_string_pretty(&doc).unwrap();
    package::sign(&text, DEMO_KEY_ID, key).unwrap().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packages_are_verified_before_they_are_stored_and_bad_ones_refused_whole() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), server.base_url());
    let store = Store::open(&config).unwrap();
    let client = PlatformClient::from_config(&config).unwrap();
    let keys = [TrustedKey::demo()];

    // Nothing published yet: not a failure, nothing installed.
    let pull = sync::pull_content(&client, &store, &keys).await.unwrap();
    assert_eq!(pull, sync::ContentPull::default());

    server.set_content_package(DEMO_PACKAGE_JSON.as_bytes().to_vec());
    let pull = sync::pull_content(&client, &store, &keys).await.unwrap();
    assert_eq!(pull.version.as_deref(), Some("demo-2026.12.1"));
    assert_eq!(pull.refused, None);

    let v2 = variant(DEMO_KEY_FILE, |d| d["version"] = "v2".into());
    server.set_content_package(v2.clone());
    let pull = sync::pull_content(&client, &store, &keys).await.unwrap();
    assert_eq!(pull.version.as_deref(), Some("v2"));
    let previous = store
        .content_package(PackageSlot::Previous)
        .unwrap()
        .unwrap();
    assert_eq!(previous.version, "demo-2026.12.1");

    let mut tampered = v2.clone();
    let at = tampered.len() / 2;
    tampered[at] = tampered[at].wrapping_add(1);
    let another_key = variant(
        "ed25519:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        |d| d["version"] = "v3".into(),
    );
    let inconsistent = variant(DEMO_KEY_FILE, |d| {
        d["version"] = "v4".into();
        d["bundles"]["bundles"][0]["items"][0] = "MISSING-1".into();
    });
    for (bad, reason) in [
        (tampered, "内容包"),
        (another_key, "签名校验失败"),
        (inconsistent, "MISSING-1 is not in the catalogue"),
    ] {
        server.set_content_package(bad);
        let pull = sync::pull_content(&client, &store, &keys).await.unwrap();
        let refused = pull.refused.expect("refused");
        assert!(refused.contains(reason), "{refused}");
        assert_eq!(
            pull.version.as_deref(),
            Some("v2"),
            "the previous keeps serving"
        );
        let current = store
            .content_package(PackageSlot::Current)
            .unwrap()
            .unwrap();
        assert_eq!(current.body, v2);
        assert_eq!(store.content_refusal().unwrap().unwrap().reason, refused);
        // Asked again: 304 on the refused tag, the reason stays.
        let again = sync::pull_content(&client, &store, &keys).await.unwrap();
        assert_eq!(again.refused.as_deref(), Some(refused.as_str()));
    }

    // No key configured: nothing is ever trusted.
    let fresh = tempfile::tempdir().unwrap();
    let other = Store::open(&config_in(fresh.path(), server.base_url())).unwrap();
    server.set_content_package(DEMO_PACKAGE_JSON.as_bytes().to_vec());
    let pull = sync::pull_content(&client, &other, &[]).await.unwrap();
    assert!(pull.refused.unwrap().contains("[content] public_key"));
    assert!(other
        .content_package(PackageSlot::Current)
        .unwrap()
        .is_none());

    // A good one again clears the refusal.
    let pull = sync::pull_content(&client, &store, &keys).await.unwrap();
    assert_eq!(
        pull,
        sync::ContentPull {
            version: Some("demo-2026.12.1".into()),
            refused: None
        }
    );
}

fn config_in(dir: &std::path::Path, url: &str) -> bianmin_config::Config {
    config(dir, url)
}
