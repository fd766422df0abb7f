//! `bianmin queue …`, `bianmin sync --once` and the doctor rows, run as the
//! real binary against the reference server on loopback.

use bianmin_platform_server::Fault;
use bianmin_store::Store;
use bianmin_testkit::*;
use std::process::Command;

fn bianmin(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bianmin"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("BIANMIN_PLATFORM_SECRET", SECRET)
        .env_remove("BIANMIN_DATA_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_commands_and_sync_once() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = Store::open_at(&data, "T0001").unwrap();
    for i in 0..12 {
        let mut a = app(i);
        if i == 4 {
            a.service_code = "DEMO-BAD".into();
        }
        store.enqueue_application(a).unwrap();
    }
    drop(store);
    server.reject_service("DEMO-BAD");
    let cfg = dir.path().join("kiosk.toml");
    std::fs::write(
        &cfg,
        format!(
            "[platform]\nurl = \"{}\"\nbatch_size = 5\nrequest_timeout_secs = 3\n[store]\ndata_dir = \"{}\"\n",
            server.base_url(),
            data.display()
        ),
    )
    .unwrap();
    let cfg2 = cfg.clone();
    let run = move |args: &'static [&'static str]| {
        let cfg = cfg2.clone();
        async move {
            tokio::task::spawn_blocking(move || bianmin(&cfg, args))
                .await
                .unwrap()
        }
    };

    let (code, out, err) = run(&["queue", "status"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pending   12"), "{out}");

    let (code, out, _) = run(&["queue", "list", "--limit", "3"]).await;
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3);
    assert!(
        !out.contains(ID_NUMBER) && !out.contains("测试居民"),
        "no personal data in lists"
    );

    // The platform refuses the first tries; --once reports and keeps everything.
    server.faults().inject(
        Fault::Unavailable {
            retry_after_secs: 1,
        },
        2,
    );
    let (code, _, err) = run(&["sync", "--once"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("12 records kept"), "{err}");

    let (code, out, err) = run(&["sync", "--once"]).await;
    assert_eq!(code, 3, "one parked record: {out} {err}");
    assert!(
        out.contains("11 accepted") && out.contains("1 parked"),
        "{out}"
    );
    assert_eq!(server.stats().applications, 11);

    let (_, out, _) = run(&["queue", "list", "--state", "parked"]).await;
    assert!(out.contains("DEMO-BAD"), "{out}");
    let id = out.split_whitespace().next().unwrap().to_string();
    server.accept_service("DEMO-BAD");
    let cfg3 = cfg.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || bianmin(&cfg3, &["queue", "retry", &id]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pending again"));

    let export = dir.path().join("usb.bin");
    let cfg4 = cfg.clone();
    let export2 = export.clone();
    let (code, out, _) = tokio::task::spawn_blocking(move || {
        bianmin(&cfg4, &["queue", "export", export2.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert!(out.starts_with("1 records written"), "{out}");
    let raw = std::fs::read(&export).unwrap();
    assert!(!raw
        .windows(ID_NUMBER.len())
        .any(|w| w == ID_NUMBER.as_bytes()));

    let (code, out, _) = run(&["sync", "--once"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(server.stats().applications, 12);

    let (code, out, _) = run(&["doctor"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("database") && out.contains("platform"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("platform")),
        "{out}"
    );
    // No content package was published to this platform: doctor says what
    // that means for the residents.
    assert!(
        out.lines()
            .any(|l| l.starts_with("warn") && l.contains("no content package yet")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_on_a_corrupted_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(Store::open_at(&data, "T0001").unwrap());
    std::fs::write(data.join(bianmin_store::DB_FILE), vec![0x42u8; 8192]).unwrap();
    let cfg = dir.path().join("kiosk.toml");
    std::fs::write(
        &cfg,
        format!(
            "[platform]\nurl = \"http://127.0.0.1:9/api/v1\"\n[store]\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let (code, out, _) = tokio::task::spawn_blocking(move || bianmin(&cfg, &["doctor"]))
        .await
        .unwrap();
    assert_ne!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("数据库已损坏")),
        "{out}"
    );
}
