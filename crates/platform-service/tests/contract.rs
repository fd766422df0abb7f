//! The contract and both platforms agree — the SQLite reference server and
//! the platform service on PostgreSQL: every path and method in
//! docs/platform-api.yaml is routed (a call is answered — refused, even —
//! but never "no such route"), so a change to the contract that a server
//! does not follow fails here.

use bianmin_platform::api::API_PREFIX;
use bianmin_platform::sign;
use bianmin_platform_server::{self as server, ServerOptions};

const SECRET: &str = bianmin_testkit::SECRET;

const CONTRACT: &str = include_str!("../../../docs/platform-api.yaml");

/// Paths marked `x-served-by: platform-service` (enrollment): the
/// reference server does not serve them.
fn service_only() -> Vec<String> {
    let mut out = Vec::new();
    let mut path = None;
    for line in CONTRACT.lines() {
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end().trim_end_matches(':')));
        } else if line.trim() == "x-served-by: platform-service" {
            out.extend(path.clone());
        }
    }
    out
}

/// (method, path) of every operation in the contract's `paths:`.
fn operations() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    let mut in_paths = false;
    for line in CONTRACT.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line.trim_end() == "paths:";
            path = None;
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end().trim_end_matches(':')));
        } else if let (Some(p), Some(rest)) = (&path, line.strip_prefix("    ")) {
            let method = rest.trim_end().trim_end_matches(':');
            if !rest.starts_with(' ') && ["get", "post", "put", "delete", "patch"].contains(&method)
            {
                out.push((method.to_uppercase(), p.clone()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_the_contract_is_served_by_the_reference_server() {
    let server = server::spawn(ServerOptions {
        shared_secret: Some(SECRET.into()),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    every_operation_is_served(&server, "the reference server", &service_only()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_the_contract_is_served_by_the_platform_service() {
    let svc = bianmin_testkit::postgres_service(ServerOptions {
        shared_secret: Some(SECRET.into()),
        ..ServerOptions::default()
    })
    .await;
    every_operation_is_served(&svc.handle, "the platform service", &[]).await;
}

async fn every_operation_is_served(server: &server::ServerHandle, which: &str, skip: &[String]) {
    let operations: Vec<_> = operations()
        .into_iter()
        .filter(|(_, path)| !skip.contains(path))
        .collect();
    assert!(operations.len() >= 12, "{operations:?}");
    let origin = server.base_url().trim_end_matches(API_PREFIX).to_string();
    bianmin_platform::client::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for (method, path) in operations {
        // Placeholders get a value; the reference server's own routes are
        // at the origin, the API below its prefix.
        let concrete = path
            .replace("{receipt_no}", "T0001-20261204-0001")
            .replace("{id}", "doc-1");
        let url = if concrete.starts_with("/admin") {
            format!("{origin}{concrete}")
        } else {
            format!("{}{concrete}", server.base_url())
        };
        let body = b"{}";
        let mut request = http
            .request(method.parse().unwrap(), &url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        // Signed as a terminal, so the signature check lets the call reach
        // the router (it answers every unsigned call before routing).
        if !concrete.starts_with("/admin") {
            let ts = chrono::Utc::now().timestamp();
            let signed_path = format!("{API_PREFIX}{concrete}");
            for (name, value) in
                sign::headers(SECRET.as_bytes(), &method, &signed_path, "T0001", ts, body)
            {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        // 404 is a refusal the contract knows for a missing document or
        // package; a route the server lacks answers 404 "no such route"
        // (or an empty 404 outside the API), and 405 for a wrong method.
        let body = response.text().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path}: method not routed");
        assert!(
            status != 404 || !(body.is_empty() || body.contains("no such route")),
            "{method} {path}: not routed by {which}"
        );
    }
}
