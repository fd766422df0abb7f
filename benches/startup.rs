//! Cold start to the first rendered attract-screen frame, and the resident
//! memory of the idle kiosk with the CJK font loaded.
//!
//! Each sample is a fresh `bianmin demo --startup-probe` process (release
//! build): the wall time from spawn to the probe's report covers process
//! start, font loading, building the UI and drawing one 1280×800 frame with
//! the software renderer. Run with `cargo bench --bench startup`.

use std::process::Command;
use std::time::{Duration, Instant};

const SAMPLES: usize = 15;

struct Sample {
    wall: Duration,
    in_process: Duration,
    rss_kb: u64,
}

fn probe() -> Sample {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_bianmin"))
        .args(["demo", "--startup-probe"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("the bianmin binary runs");
    let wall = started.elapsed();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> u64 {
        report
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {report}"))
    };
    Sample {
        wall,
        in_process: Duration::from_micros(field("first_frame_us")),
        rss_kb: field("rss_kb"),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: one quick sample.
    let samples = if std::env::args().any(|a| a == "--bench") {
        SAMPLES
    } else {
        1
    };
    let runs: Vec<Sample> = (0..samples).map(|_| probe()).collect();
    let mut wall: Vec<Duration> = runs.iter().map(|s| s.wall).collect();
    let mut inner: Vec<Duration> = runs.iter().map(|s| s.in_process).collect();
    let mut rss: Vec<u64> = runs.iter().map(|s| s.rss_kb).collect();
    wall.sort();
    inner.sort();
    rss.sort();
    println!("startup/cold-start-to-first-frame ({samples} processes)");
    println!(
        "  spawn → first frame:   median {:>7.1} ms   p90 {:>7.1} ms   (target ≤ 250 ms)",
        percentile(&wall, 0.5).as_secs_f64() * 1e3,
        percentile(&wall, 0.9).as_secs_f64() * 1e3
    );
    println!(
        "  main() → first frame:  median {:>7.1} ms",
        percentile(&inner, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "  idle RSS:              median {:>7.1} MB   max {:>7.1} MB   (target ≤ 60 MB)",
        rss[rss.len() / 2] as f64 / 1024.0,
        rss[rss.len() - 1] as f64 / 1024.0
    );
}
