//! Simulated kiosks on loopback against the platform service on a
//! throwaway PostgreSQL on the same machine: 10,000 terminals each sending
//! a heartbeat and polling for commands and configuration once a minute
//! (spread evenly) and, together, 50 applications a second, every request
//! signed as a kiosk signs it.
//!
//! ```text
//! cargo bench -p bianmin-platform-service --bench load            # 300 s
//! BIANMIN_LOAD_SECS=60 cargo bench -p bianmin-platform-service --bench load
//! ```
//!
//! Prints p50/p99/max latency per kind, errors, and CPU: the service's own
//! threads (it runs on a runtime of its own), this whole process (the
//! service and the load generator) and the PostgreSQL processes. Every
//! heartbeat also updates its kiosk's fleet row and alerts. Then the
//! technician's county view of all those kiosks is loaded five times.

use bianmin_platform::api::API_PREFIX;
use bianmin_platform::sign;
use bianmin_platform_server::ServerOptions;
use bianmin_platform_service::cluster::TempCluster;
use bianmin_platform_service::{DataKey, ServiceOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "load-bench-secret";
const TERMINALS: u64 = 10_000;
const APPLICATIONS_PER_SEC: u64 = 50;

/// CPU seconds (user + system) of process `pid` from /proc.
fn cpu_secs(pid: &str) -> f64 {
    stat_cpu_secs(&format!("/proc/{pid}/stat"))
}

/// The service runs on its own runtime, whose threads carry this name, so
/// its CPU can be told from the load generator's in one process.
const SERVICE_THREADS: &str = "bianmin-svc";

/// CPU seconds of this process's threads named [`SERVICE_THREADS`].
fn service_cpu_secs() -> f64 {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|c| c.trim().starts_with(SERVICE_THREADS))
        })
        .map(|task| stat_cpu_secs(&task.path().join("stat").to_string_lossy()))
        .sum()
}

/// utime + stime of a /proc stat file, in seconds.
fn stat_cpu_secs(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// CPU seconds of every `postgres` process now alive.
fn postgres_cpu_secs() -> f64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| cpu_secs(&pid))
        .sum()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn send(
    http: &reqwest::Client,
    origin: &str,
    kind: &str,
    terminal: &str,
    body: Vec<u8>,
) -> bool {
    let path = format!("{API_PREFIX}/{kind}/batch");
    let mut request = http
        .post(format!("{origin}{path}"))
        .header("content-type", "application/json");
    let now = chrono::Utc::now().timestamp();
    for (name, value) in sign::headers(SECRET.as_bytes(), "POST", &path, terminal, now, &body) {
        request = request.header(name, value);
    }
    match request.body(body).send().await {
        Ok(r) => r.status().is_success() && r.text().await.is_ok_and(|t| !t.contains("rejected")),
        Err(_) => false,
    }
}

/// A kiosk's poll: its commands, then its configuration (404 when none
/// was set, as for most kiosks), both signed GETs.
async fn poll(http: &reqwest::Client, origin: &str, terminal: &str) -> bool {
    let mut ok = true;
    for path in [
        format!("{API_PREFIX}/commands"),
        format!("{API_PREFIX}/config"),
    ] {
        let mut request = http.get(format!("{origin}{path}"));
        let now = chrono::Utc::now().timestamp();
        for (name, value) in sign::headers(SECRET.as_bytes(), "GET", &path, terminal, now, b"") {
            request = request.header(name, value);
        }
        ok &= match request.send().await {
            Ok(r) => r.status().is_success() || r.status().as_u16() == 404,
            Err(_) => false,
        };
    }
    ok
}

fn main() {
    let secs: u64 = std::env::var("BIANMIN_LOAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let cluster = TempCluster::start().expect("a throwaway PostgreSQL cluster");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-generator")
        .enable_all()
        .build()
        .unwrap();
    // The service on a runtime of its own (as `bianmin-platform serve`
    // runs it: two workers), so its threads' CPU is measured apart from the
    // load generator's.
    let service_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVICE_THREADS)
        .enable_all()
        .build()
        .unwrap();
    bianmin_platform::client::install_crypto_provider();
    let conninfo = rt.block_on(cluster.fresh_database()).unwrap();
    let svc = service_rt.block_on(async {
        bianmin_platform_service::spawn(ServiceOptions {
            fleet: Default::default(),
            conninfo,
            data_key: Arc::new(DataKey::generate()),
            pool_size: 16,
            publishers: vec![],
            content_signer: None,
            server: ServerOptions {
                shared_secret: Some(SECRET.into()),
                max_connections: 4096,
                ..ServerOptions::default()
            },
        })
        .await
        .unwrap()
    });
    rt.block_on(async move {
        let origin = format!("http://{}", svc.handle.addr());
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        let latencies: Arc<Mutex<[Vec<u64>; 3]>> = Arc::default();
        let errors = Arc::new(AtomicU64::new(0));
        let cpu_before = (cpu_secs("self"), postgres_cpu_secs(), service_cpu_secs());
        let started = Instant::now();
        let heartbeat_every = Duration::from_secs_f64(60.0 / TERMINALS as f64);
        let application_every = Duration::from_secs_f64(1.0 / APPLICATIONS_PER_SEC as f64);
        let mut next_heartbeat = started;
        let mut next_application = started;
        let (mut heartbeats, mut applications) = (0u64, 0u64);
        let mut tasks = tokio::task::JoinSet::new();
        let end = started + Duration::from_secs(secs);
        while Instant::now() < end {
            let now = Instant::now();
            while next_heartbeat <= now {
                next_heartbeat += heartbeat_every;
                let terminal = format!("T{:05}", heartbeats % TERMINALS);
                let id = format!("HB-{terminal}-{heartbeats}");
                let body = serde_json::to_vec(&serde_json::json!({"heartbeats": [{
                    "id": id, "terminal_id": terminal, "at": bianmin_core::time::rfc3339(chrono::Utc::now().timestamp_millis()),
                    "status": "ok", "devices": {"printer": "ok", "reader": "ok"}, "queue_depth": 0,
                    "free_disk_bytes": 10_000_000_000u64, "version": "0.1.0", "uptime_secs": 3600
                }]}))
                .unwrap();
                heartbeats += 1;
                let (http, origin, lat, errors) = (http.clone(), origin.clone(), latencies.clone(), errors.clone());
                tasks.spawn(async move {
                    let t = Instant::now();
                    if !send(&http, &origin, "heartbeats", &terminal, body).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    lat.lock().unwrap()[0].push(t.elapsed().as_micros() as u64);
                    // Each kiosk also polls for commands and configuration
                    // once a minute.
                    let t = Instant::now();
                    if !poll(&http, &origin, &terminal).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    lat.lock().unwrap()[2].push(t.elapsed().as_micros() as u64);
                });
            }
            while next_application <= now {
                next_application += application_every;
                let terminal = format!("T{:05}", applications % 1000);
                let receipt = bianmin_core::receipt::format(&terminal, "20261205", (applications / 1000 + 1) as u32);
                let body = serde_json::to_vec(&serde_json::json!({"applications": [{
                    "receipt_no": receipt, "terminal_id": terminal, "service_code": "DEMO-SB-001",
                    "service_name": "社会保障卡申领", "created_at": "2026-12-05T10:00:00+08:00",
                    "applicant": {"name": "测试居民", "id_number": "11010519491231002X", "phone": "13912345678", "address": "演示路88号"},
                    "form": {"reason": "首次申领"}, "materials": [{"name": "居民身份证", "state": "e_cert"}],
                    "delivery": {"method": "pickup"}
                }]}))
                .unwrap();
                applications += 1;
                let (http, origin, lat, errors) = (http.clone(), origin.clone(), latencies.clone(), errors.clone());
                tasks.spawn(async move {
                    let t = Instant::now();
                    if !send(&http, &origin, "applications", &terminal, body).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    lat.lock().unwrap()[1].push(t.elapsed().as_micros() as u64);
                });
            }
            while tasks.try_join_next().is_some() {}
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        while tasks.join_next().await.is_some() {}
        let wall = started.elapsed().as_secs_f64();
        let cpu_process = cpu_secs("self") - cpu_before.0;
        let cpu_postgres = postgres_cpu_secs() - cpu_before.1;
        let cpu_service = service_cpu_secs() - cpu_before.2;
        let mut lat = latencies.lock().unwrap().clone();
        println!("load: {secs} s, {TERMINALS} terminals, {APPLICATIONS_PER_SEC} applications/s, database on this machine");
        for (i, kind) in ["heartbeats", "applications", "polls (commands + config)"]
            .iter()
            .enumerate()
        {
            lat[i].sort_unstable();
            println!(
                "  {kind}: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                lat[i].len(),
                percentile(&lat[i], 0.50),
                percentile(&lat[i], 0.99),
                percentile(&lat[i], 1.0)
            );
        }
        println!("  errors: {}", errors.load(Ordering::Relaxed));
        println!(
            "  CPU: the service {:.0}% of one core (its own threads), service + load generator {:.0}%, PostgreSQL {:.0}%",
            cpu_service / wall * 100.0,
            cpu_process / wall * 100.0,
            cpu_postgres / wall * 100.0
        );
        let stats = svc.handle.stats();
        println!(
            "  stored: {} heartbeats, {} applications",
            stats.heartbeats, stats.applications
        );

        // The county view a technician opens: every kiosk the heartbeats
        // made known, rendered whole (the load has stopped).
        use bianmin_platform_service::console::auth;
        let pool = svc.backend.pool();
        auth::upsert_staff(pool, "bench-tech", "运维", auth::Role::Technician, "bench-technician-2026")
            .await
            .unwrap();
        let token = auth::sign_in(pool, "bench-tech", "bench-technician-2026", chrono::Utc::now().timestamp())
            .await
            .unwrap()
            .unwrap();
        let kiosks: i64 = pool
            .get()
            .await
            .unwrap()
            .query_one("SELECT count(*) FROM kiosks", &[])
            .await
            .unwrap()
            .get(0);
        let mut views = Vec::new();
        let mut size = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let page = http
                .get(format!("{origin}/console/fleet"))
                .header("cookie", format!("{}={token}", auth::SESSION_COOKIE))
                .send()
                .await
                .unwrap();
            assert!(page.status().is_success(), "{}", page.status());
            size = page.bytes().await.unwrap().len();
            views.push(t.elapsed().as_micros() as u64);
        }
        views.sort_unstable();
        println!(
            "  county view: {kiosks} kiosks, {:.1} MB of HTML, median {:.0} ms, max {:.0} ms (5 loads)",
            size as f64 / 1e6,
            percentile(&views, 0.5),
            percentile(&views, 1.0)
        );
        svc.handle.shutdown().await;
    });
}
