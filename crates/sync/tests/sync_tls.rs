//! HTTPS to the platform: the configured CA file is trusted, a certificate
//! from another CA (or no CA file with a private CA) is refused.

use bianmin_platform::client::{PlatformClient, PlatformError};
use bianmin_platform_server::{ServerOptions, TlsOptions};
use bianmin_store::Store;
use bianmin_sync as sync;
use bianmin_testkit::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

struct Pki {
    ca_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

fn pki(name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        leaf_pem: leaf.pem(),
        leaf_key_pem: leaf_key.serialize_pem(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_ca_is_trusted_and_a_wrong_certificate_refused() {
    let good = pki("platform");
    let other = pki("impostor");
    let server = server_with(ServerOptions {
        tls: Some(TlsOptions {
            cert_chain_pem: good.leaf_pem.clone().into_bytes(),
            key_pem: good.leaf_key_pem.clone().into_bytes(),
        }),
        ..Default::default()
    })
    .await;
    assert!(server.base_url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("platform-ca.pem");
    std::fs::write(&ca_file, &good.ca_pem).unwrap();
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, &other.ca_pem).unwrap();

    // Trusted through platform.ca_file: records go through.
    let mut config = config(&dir.path().join("kiosk"), server.base_url());
    config.platform.ca_file = Some(ca_file);
    let store = Store::open(&config).unwrap();
    for i in 0..5 {
        store.enqueue_application(app(i)).unwrap();
    }
    let client = PlatformClient::from_config(&config).unwrap();
    sync::drain_once(&client, &store, 10, |_| {}).await.unwrap();
    assert_eq!(server.stats().applications, 5);
    assert!(sync::pull_catalogue(&client, &store)
        .await
        .unwrap()
        .is_some());

    // Another CA: refused, nothing sent, the record stays.
    store.enqueue_application(app(9)).unwrap();
    config.platform.ca_file = Some(wrong_ca);
    let client = PlatformClient::from_config(&config).unwrap();
    let err = sync::drain_once(&client, &store, 10, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, sync::SyncError::Platform(PlatformError::Tls(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("平台证书不可信"));
    assert_eq!(store.stats().unwrap().pending, 1);
    assert_eq!(server.stats().applications, 5);

    // No CA file (system roots): a private CA is not trusted either.
    config.platform.ca_file = None;
    let client = PlatformClient::from_config(&config).unwrap();
    let err = client.catalogue(None).await.unwrap_err();
    assert!(matches!(err, PlatformError::Tls(_)), "{err:?}");
}

#[test]
fn unreadable_ca_file_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), "https://127.0.0.1:9/api/v1");
    config.platform.ca_file = Some(dir.path().join("missing.pem"));
    assert!(matches!(
        PlatformClient::from_config(&config),
        Err(PlatformError::Setup(_))
    ));
}
