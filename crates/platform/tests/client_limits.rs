//! The client against hand-made HTTP answers: it must not follow redirects
//! and must not read an answer body without bound.

use bianmin_config::{HttpUrl, PlatformConfig};
use bianmin_platform::client::{PlatformClient, PlatformError, MAX_RESPONSE_BODY};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback server giving every connection `head` then `body`; returns
/// its port and how many connections it saw.
async fn serve(head: String, body: Arc<Vec<u8>>) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let head = head.clone();
            let body = body.clone();
            tokio::spawn(async move {
                // Read the request head (the client sends GETs here).
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tcp.write_all(head.as_bytes()).await;
                let _ = tcp.write_all(&body).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    (port, seen)
}

fn client(port: u16) -> PlatformClient {
    let platform = PlatformConfig {
        url: HttpUrl(format!("http://127.0.0.1:{port}/api/v1")),
        ..PlatformConfig::default()
    };
    PlatformClient::new(&platform, "T0001", b"secret").unwrap()
}

fn ok_json(len: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

const CATALOGUE: &[u8] = br#"{"schema":1,"version":"elsewhere","categories":[],"services":[]}"#;

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (target, target_seen) = serve(ok_json(CATALOGUE.len()), Arc::new(CATALOGUE.to_vec())).await;
    let head = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target}/api/v1/catalogue\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (port, seen) = serve(head, Arc::new(Vec::new())).await;
    let err = client(port).catalogue(None).await.unwrap_err();
    assert!(matches!(err, PlatformError::Setup(_)), "{err:?}");
    assert!(err.to_string().contains("重定向"), "{err}");
    assert!(err.is_retryable(), "records wait, they are not parked");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(
        target_seen.load(Ordering::SeqCst),
        0,
        "nothing reached the redirect's target"
    );
}

/// A well-formed catalogue just over the limit is refused (announced length).
#[tokio::test]
async fn an_answer_over_the_limit_is_refused() {
    let mut body = CATALOGUE[..CATALOGUE.len() - 1].to_vec();
    body.extend_from_slice(br#","pad":""#);
    body.resize(MAX_RESPONSE_BODY + 10, b'x');
    body.extend_from_slice(b"\"}");
    let (port, _) = serve(ok_json(body.len()), Arc::new(body)).await;
    let err = client(port).catalogue(None).await.unwrap_err();
    assert!(matches!(err, PlatformError::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("过大"), "{err}");
}

/// Without a Content-Length (the body ends when the connection closes) the
/// limit is counted while reading.
#[tokio::test]
async fn an_unannounced_answer_over_the_limit_is_refused() {
    let mut body = br#"{"results":[],"pad":""#.to_vec();
    body.resize(MAX_RESPONSE_BODY + 10, b'x');
    body.extend_from_slice(b"\"}");
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        .to_string();
    let (port, _) = serve(head, Arc::new(body)).await;
    let err = client(port)
        .post_batch(
            bianmin_platform::api::RecordKind::Heartbeat,
            br#"{"heartbeats":[]}"#.to_vec(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, PlatformError::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("过大"), "{err}");
}

/// Answers under the limit still arrive whole.
#[tokio::test]
async fn an_answer_under_the_limit_arrives() {
    let (port, _) = serve(ok_json(CATALOGUE.len()), Arc::new(CATALOGUE.to_vec())).await;
    match client(port).catalogue(None).await.unwrap() {
        bianmin_platform::client::CatalogueFetch::New { body, .. } => {
            assert_eq!(body.as_bytes(), CATALOGUE)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_http_to_another_machine_is_refused() {
    for url in [
        "http://10.0.0.1:8700/api/v1",
        "http://zwfw.example.gov.cn/api/v1",
    ] {
        let platform = PlatformConfig {
            url: HttpUrl(url.into()),
            ..PlatformConfig::default()
        };
        let err = PlatformClient::new(&platform, "T0001", b"secret").unwrap_err();
        assert!(matches!(err, PlatformError::Setup(_)), "{url}: {err:?}");
    }
    for url in [
        "http://127.0.0.1:1/api/v1",
        "https://zwfw.example.gov.cn/api/v1",
    ] {
        let platform = PlatformConfig {
            url: HttpUrl(url.into()),
            ..PlatformConfig::default()
        };
        assert!(
            PlatformClient::new(&platform, "T0001", b"secret").is_ok(),
            "{url}"
        );
    }
}
