//! Card put down → decoded identity, against the physical floor: the
//! simulator's SAM delay plus the wire time of every frame at the baud rate.
//!
//! The simulator paces its replies at the line rate and treats the host's
//! commands as arriving one wire time after they were written, so the floor
//! is what a perfect driver would see on real hardware with this SAM delay.
//!
//!     cargo bench -p bianmin-drivers --bench card_read
//!     BIANMIN_BENCH_SAM_MS=1000 BIANMIN_BENCH_BAUD=57600 cargo bench ...

use bianmin_drivers::idcard::sim::{demo_cards, IdCardSim};
use bianmin_drivers::idcard::{CardEvent, IdCardReader, PollConfig};
use bianmin_drivers::serial::wire_time;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn stats(label: &str, samples: &[Duration], floor: Duration) {
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let min = samples.iter().min().copied().unwrap_or_default();
    let max = samples.iter().max().copied().unwrap_or_default();
    let overhead = mean.as_secs_f64() / floor.as_secs_f64() - 1.0;
    println!(
        "{label}: n={} mean={:.1} ms min={:.1} ms max={:.1} ms floor={:.1} ms overhead={:+.2} % ({:+.1} ms)",
        samples.len(),
        mean.as_secs_f64() * 1e3,
        min.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        floor.as_secs_f64() * 1e3,
        overhead * 100.0,
        (mean.as_secs_f64() - floor.as_secs_f64()) * 1e3,
    );
}

fn main() {
    // `cargo test --benches` runs bench binaries with no `--bench`: stay quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let sam = Duration::from_millis(env("BIANMIN_BENCH_SAM_MS", if quick { 50 } else { 800 }));
    let baud = env("BIANMIN_BENCH_BAUD", 115_200) as u32;
    let n = env("BIANMIN_BENCH_N", if quick { 2 } else { 10 }) as usize;

    // find (10 → 15 bytes), select (10 → 19), read 30 01 (10 → 1295).
    let wire = wire_time(10 + 15 + 10 + 19 + 10 + 1295, baud);
    let floor = sam + wire;
    println!(
        "SAM delay {} ms, {baud} baud: wire time of the exchange {:.1} ms",
        sam.as_millis(),
        wire.as_secs_f64() * 1e3
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut device = IdCardSim::new();
        device.sam_delay = sam;
        let sim = device.start(Some(baud)).unwrap();
        let card = demo_cards().swap_remove(0);

        // 1. A card is down; the driver runs find → select → read.
        let mut reader = IdCardReader::open(sim.path().to_str().unwrap(), baud).unwrap();
        let mut samples = Vec::new();
        for _ in 0..n {
            sim.device().place(card.clone());
            let t = Instant::now();
            let id = reader.read_card().await.expect("read");
            samples.push(t.elapsed());
            assert_eq!(id.id_number, card.id_number);
            sim.device().lift();
        }
        stats("read_card (find+select+read)", &samples, floor);
        drop(reader);

        // 2. The polling loop: put down at a random moment of the poll cycle.
        let mut reader = IdCardReader::open(sim.path().to_str().unwrap(), baud).unwrap();
        let poll = PollConfig::default();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let task = tokio::spawn(async move { reader.poll_cards(poll, tx, None).await });
        let mut samples = Vec::new();
        for i in 0..n {
            tokio::time::sleep(Duration::from_millis(37 * i as u64 % 300)).await;
            sim.device().place(card.clone());
            let t = Instant::now();
            loop {
                if let Some(CardEvent::Present(_)) = rx.recv().await {
                    break;
                }
            }
            samples.push(t.elapsed());
            sim.device().lift();
            while !matches!(rx.recv().await, Some(CardEvent::Removed)) {}
        }
        task.abort();
        let expected_wait = poll.interval / 2;
        println!(
            "polling loop adds on average half its {} ms interval ({} ms) before the first find",
            poll.interval.as_millis(),
            expected_wait.as_millis()
        );
        stats(
            "put down → CardPresent via polling loop",
            &samples,
            floor + expected_wait,
        );

        // 3. The sans-IO part alone.
        let payload = bianmin_drivers::idcard::text::build_read_payload(&card, false);
        let t = Instant::now();
        let rounds = 10_000;
        for _ in 0..rounds {
            let id =
                bianmin_drivers::idcard::reader::decode_payload(std::hint::black_box(&payload))
                    .unwrap();
            std::hint::black_box(&id);
        }
        println!(
            "decode_payload (text + GB 11643 check): {:.2} µs per card",
            t.elapsed().as_secs_f64() * 1e6 / rounds as f64
        );
    });
}
