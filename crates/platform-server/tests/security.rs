//! The reference server's defences, each against a request made by hand:
//! replayed nonces, a kiosk signing under another terminal's id, ids taken
//! by another kiosk, bodies read before the signature is checked, admin
//! routes and the connection limit.

use bianmin_platform::api::{BatchResponse, RecordKind, RecordStatus, API_PREFIX};
use bianmin_platform::sign;
use bianmin_platform_server::{self as server, ServerHandle, ServerOptions, MAX_BODY};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const A: (&str, &str) = ("T0001", "secret-of-a");
const B: (&str, &str) = ("T0002", "secret-of-b");
/// Guards reads that must end; never asserted on.
const GUARD: Duration = Duration::from_secs(30);

async fn fleet(opts: ServerOptions) -> ServerHandle {
    let secrets: HashMap<String, String> = [A, B]
        .iter()
        .map(|(id, s)| (id.to_string(), s.to_string()))
        .collect();
    server::spawn(ServerOptions { secrets, ..opts })
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    bianmin_platform::client::install_crypto_provider();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn origin(server: &ServerHandle) -> String {
    server.base_url().trim_end_matches(API_PREFIX).to_string()
}

/// A POST to `path` (below the API prefix) signed as `(terminal, secret)`.
fn signed_post(
    server: &ServerHandle,
    (terminal, secret): (&str, &str),
    path: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let mut req = http()
        .post(format!("{}{path}", server.base_url()))
        .header("content-type", "application/json")
        .body(body.to_vec());
    let ts = chrono::Utc::now().timestamp();
    for (name, value) in sign::headers(
        secret.as_bytes(),
        "POST",
        &format!("{API_PREFIX}{path}"),
        terminal,
        ts,
        body,
    ) {
        req = req.header(name, value);
    }
    req
}

fn record(kind: RecordKind, terminal: &str, id: &str) -> serde_json::Value {
    let at = "2026-01-01T08:00:00Z";
    match kind {
        RecordKind::Evaluation => serde_json::json!({
            "id": id, "terminal_id": terminal, "service_code": "DEMO-SB-001",
            "level": 5, "comment": "", "created_at": at,
        }),
        RecordKind::Heartbeat => serde_json::json!({
            "id": id, "terminal_id": terminal, "at": at, "status": "ok",
            "queue_depth": 0, "free_disk_bytes": 1, "version": "t", "uptime_secs": 1,
        }),
        RecordKind::ErrorReport => serde_json::json!({
            "id": id, "terminal_id": terminal, "at": at, "kind": "terminal_fault",
            "message": "printer",
        }),
        RecordKind::Application => unreachable!("applications carry receipt numbers"),
    }
}

fn batch(kind: RecordKind, terminal: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ kind.list_key(): [record(kind, terminal, id)] }))
        .unwrap()
}

async fn code_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn a_replayed_request_is_refused() {
    let server = fleet(ServerOptions::default()).await;
    let body = batch(RecordKind::Heartbeat, A.0, "HB-T0001-1");
    let first = signed_post(&server, A, "/heartbeats/batch", &body)
        .build()
        .unwrap();
    let again = first.try_clone().unwrap();
    assert_eq!(http().execute(first).await.unwrap().status().as_u16(), 200);
    let (status, code) = code_of(http().execute(again).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (401, "replayed"));
    assert_eq!(server.stats().replays, 1);
    // A fresh nonce for the same record is a resend, not a replay.
    let resend = signed_post(&server, A, "/heartbeats/batch", &body)
        .send()
        .await
        .unwrap();
    let answer: BatchResponse = resend.json().await.unwrap();
    assert_eq!(answer.results[0].status, RecordStatus::Duplicate);
}

#[tokio::test]
async fn nonces_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("platform.sqlite3");
    let opts = || ServerOptions {
        db_path: Some(db.clone()),
        ..Default::default()
    };
    let server = fleet(opts()).await;
    let body = batch(RecordKind::Heartbeat, A.0, "HB-T0001-1");
    let req = signed_post(&server, A, "/heartbeats/batch", &body)
        .build()
        .unwrap();
    let captured = req.try_clone().unwrap();
    assert_eq!(http().execute(req).await.unwrap().status().as_u16(), 200);
    server.shutdown().await;

    let server = fleet(opts()).await;
    // Aimed at the new port, otherwise the same bytes.
    let mut replay = captured;
    let url = format!("{}/heartbeats/batch", server.base_url());
    *replay.url_mut() = url.parse().unwrap();
    let (status, code) = code_of(http().execute(replay).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (401, "replayed"));
}

#[tokio::test]
async fn a_kiosk_signing_for_another_terminal_is_refused() {
    let server = fleet(ServerOptions::default()).await;
    let body = batch(RecordKind::Heartbeat, A.0, "HB-T0001-1");
    // Kiosk B signs with its own secret but names terminal A.
    let (status, code) = code_of(
        signed_post(&server, (A.0, B.1), "/heartbeats/batch", &body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "bad_signature"));
    // Kiosk B signs correctly as itself, then relabels the request as A's.
    let mut req = signed_post(&server, B, "/heartbeats/batch", &body)
        .build()
        .unwrap();
    req.headers_mut()
        .insert("x-terminal-id", A.0.parse().unwrap());
    let (status, _) = code_of(http().execute(req).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(server.stats().heartbeats, 0);
    assert!(server.stats().bad_signatures >= 2);
}

/// Kiosk B sends, first, records with the ids kiosk A is about to use; A's
/// own records must still be stored (accepted), not answered `duplicate`.
#[tokio::test]
async fn another_kiosk_cannot_preempt_a_terminals_ids() {
    let server = fleet(ServerOptions::default()).await;
    for kind in [
        RecordKind::Evaluation,
        RecordKind::Heartbeat,
        RecordKind::ErrorReport,
    ] {
        let id = format!("X-{}-20260101-1", A.0);
        let squat = batch(kind, B.0, &id);
        let answer: BatchResponse = signed_post(&server, B, kind.batch_path(), &squat)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer.results[0].status, RecordStatus::Accepted, "{kind:?}");

        let real = batch(kind, A.0, &id);
        let answer: BatchResponse = signed_post(&server, A, kind.batch_path(), &real)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer.results[0].status,
            RecordStatus::Accepted,
            "{kind:?}: A's record is stored"
        );
        let stored = server.record_of(kind, A.0, &id).unwrap();
        assert_eq!(stored["terminal_id"], A.0);
        // A's own resend is still deduplicated.
        let answer: BatchResponse = signed_post(&server, A, kind.batch_path(), &real)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer.results[0].status,
            RecordStatus::Duplicate,
            "{kind:?}"
        );
    }
}

/// Send `head` on a raw connection and read the whole answer.
async fn raw_exchange(server: &ServerHandle, head: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The answer comes although the announced body never does.
    tokio::time::timeout(GUARD, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    })
    .await
    .expect("the server answered without waiting for the body");
    String::from_utf8_lossy(&answer).into_owned()
}

fn head_for(terminal: &str, secret: &str, content_length: usize, sign_it: bool) -> String {
    let path = format!("{API_PREFIX}/heartbeats/batch");
    let ts = chrono::Utc::now().timestamp();
    let nonce = sign::new_nonce();
    let hash = sign::body_hash(b"the body that is never sent");
    let signature = if sign_it {
        sign::Signed {
            method: "POST",
            path_and_query: &path,
            terminal_id: terminal,
            timestamp: ts,
            nonce: &nonce,
            body_sha256_hex: &hash,
        }
        .sign(secret.as_bytes())
    } else {
        "00".repeat(32)
    };
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\nX-Terminal-Id: {terminal}\r\nX-Timestamp: {ts}\r\nX-Nonce: {nonce}\r\nX-Content-SHA256: {hash}\r\nX-Signature: {signature}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_bad_signature_is_refused_before_the_body_is_read() {
    let server = fleet(ServerOptions::default()).await;
    let answer = raw_exchange(&server, &head_for(A.0, A.1, 8 * 1024 * 1024, false)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("bad_signature"), "{answer}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let server = fleet(ServerOptions::default()).await;
    let answer = raw_exchange(&server, &head_for(A.0, A.1, MAX_BODY + 1, true)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}

#[tokio::test]
async fn a_body_other_than_the_signed_one_is_refused() {
    let server = fleet(ServerOptions::default()).await;
    let signed_body = batch(RecordKind::Heartbeat, A.0, "HB-T0001-1");
    let other = batch(RecordKind::Heartbeat, A.0, "HB-T0001-2");
    let mut req = signed_post(&server, A, "/heartbeats/batch", &signed_body)
        .build()
        .unwrap();
    *req.body_mut() = Some(other.into());
    let (status, code) = code_of(http().execute(req).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (401, "bad_signature"));
    assert_eq!(server.stats().heartbeats, 0);
}

#[tokio::test]
async fn admin_routes_need_the_token_when_one_is_set() {
    let server = fleet(ServerOptions {
        admin_token: Some("admin-token-123".into()),
        ..Default::default()
    })
    .await;
    let url = format!("{}/admin/stats", origin(&server));
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(http().get(&url).send().await.unwrap()),
        401,
        "none, even from loopback"
    );
    assert_eq!(
        status(
            http()
                .get(&url)
                .bearer_auth("admin-token-12")
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            http()
                .get(&url)
                .bearer_auth("admin-token-123")
                .send()
                .await
                .unwrap()
        ),
        200
    );
    let faults = format!("{}/admin/faults", origin(&server));
    let r = http()
        .post(&faults)
        .json(&serde_json::json!({"fault": "error500"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 401);
    assert_eq!(server.faults().queued(), 0);
    // /healthz stays open.
    let r = http()
        .get(format!("{}/healthz", origin(&server)))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 200);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let server = fleet(ServerOptions {
        max_connections: 2,
        ..Default::default()
    })
    .await;
    let _one = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let _two = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut three = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let _ = three
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(GUARD, three.read(&mut buf))
        .await
        .expect("closed, not left waiting");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "no answer on the third: {read:?}"
    );
    assert_eq!(server.stats().connections_refused, 1);
    // A slot frees when a connection ends.
    drop(_one);
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let r = http()
            .get(format!("{}/healthz", origin(&server)))
            .send()
            .await;
        if r.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a slot came free");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The 国密 suite's signature (HMAC-SM3 over an SM3 body hash) is accepted
/// from the same secret; a changed body, an HMAC-SM3 presented as the
/// default algorithm, another secret, or an unknown algorithm are refused.
#[tokio::test]
async fn hmac_sm3_signatures_are_checked_like_hmac_sha256() {
    use bianmin_platform::seal::Suite;
    let server = fleet(ServerOptions::default()).await;
    let path = "/heartbeats/batch";
    let post = |secret: &str, body: &[u8], sent: &[u8], drop_alg: bool, alg: Option<&str>| {
        let mut req = http()
            .post(format!("{}{path}", server.base_url()))
            .header("content-type", "application/json")
            .body(sent.to_vec());
        let ts = chrono::Utc::now().timestamp();
        for (name, value) in sign::headers_in(
            Suite::Gm,
            secret.as_bytes(),
            "POST",
            &format!("{API_PREFIX}{path}"),
            A.0,
            ts,
            body,
        ) {
            if name == sign::HDR_SIGNATURE_ALG {
                if drop_alg {
                    continue;
                }
                if let Some(alg) = alg {
                    req = req.header(name, alg);
                    continue;
                }
            }
            req = req.header(name, value);
        }
        req.send()
    };
    let body = batch(RecordKind::Heartbeat, A.0, "HB-T0001-SM3");
    let ok = post(A.1, &body, &body, false, None).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let answer: BatchResponse = ok.json().await.unwrap();
    assert_eq!(answer.results[0].status, RecordStatus::Accepted);
    let other = batch(RecordKind::Heartbeat, A.0, "HB-T0001-SM4");
    for (secret, sent, drop_alg, alg) in [
        (A.1, &other, false, None),
        (A.1, &body, true, None),
        ("not-the-secret", &body, false, None),
        (A.1, &body, false, Some("HMAC-MD5")),
    ] {
        let (status, code) = code_of(post(secret, &body, sent, drop_alg, alg).await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, "bad_signature"), "{alg:?}");
    }
}
