//! The scanner driver against its simulator over real ptys.

use bianmin_drivers::scanner::sim::ScannerSim;
use bianmin_drivers::scanner::{CodeKind, Rejected, ScanEvent, Scanner, ServiceScheme, Suffix};
use std::time::Duration;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

async fn next(s: &mut Scanner<tokio_serial::SerialStream>) -> ScanEvent {
    timeout(LIMIT, s.next_event())
        .await
        .expect("scan within limit")
        .expect("link up")
}

fn open(path: &std::path::Path, suffix: Suffix) -> Scanner<tokio_serial::SerialStream> {
    Scanner::open(
        path.to_str().unwrap(),
        9600,
        suffix,
        Duration::from_millis(1500),
    )
    .unwrap()
}

#[tokio::test]
async fn fragmented_codes_with_each_suffix_are_framed_and_classified() {
    for suffix in [Suffix::Cr, Suffix::Lf, Suffix::CrLf] {
        let mut sim = ScannerSim::new(suffix);
        sim.fragments = true;
        let sim = sim.start(None).unwrap();
        let mut scanner = open(sim.path(), suffix);
        {
            let mut dev = sim.device();
            dev.scan("BM1-T0001-20261125-000042-K");
            dev.scan("YMTB:0123456789abcdef");
            dev.scan("https://zwfw.example.gov.cn/progress?n=42");
            dev.scan("6901234567892");
        }
        let kinds: Vec<&'static str> = {
            let mut v = Vec::new();
            for _ in 0..4 {
                match next(&mut scanner).await {
                    ScanEvent::Code(c) => v.push(c.kind.label()),
                    other => panic!("{other:?}"),
                }
            }
            v
        };
        assert_eq!(
            kinds,
            ["receipt", "service", "url", "unknown"],
            "{suffix:?}"
        );
    }
}

#[tokio::test]
async fn continuous_mode_repeats_are_deduplicated() {
    let mut sim = ScannerSim::new(Suffix::Cr);
    sim.repeats = 5;
    let sim = sim.start(None).unwrap();
    let mut scanner = open(sim.path(), Suffix::Cr);
    sim.device().scan("EID:abcdefgh12345678");
    sim.device().repeats = 1;
    sim.device().scan("BM1-T0001-20261125-000043-Q");
    match next(&mut scanner).await {
        ScanEvent::Code(c) => assert!(matches!(
            c.kind,
            CodeKind::Service {
                scheme: ServiceScheme::Eid,
                ..
            }
        )),
        other => panic!("{other:?}"),
    }
    match next(&mut scanner).await {
        ScanEvent::Code(c) => assert_eq!(c.kind.payload(), "BM1-T0001-20261125-000043-Q"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn control_characters_and_overlong_codes_are_rejected() {
    let sim = ScannerSim::new(Suffix::Cr).start(None).unwrap();
    let mut scanner = open(sim.path(), Suffix::Cr);
    sim.device().scan("AB\x1BCD");
    sim.device().scan(&"X".repeat(2000));
    sim.device().scan("BM1-T0001-20261125-000044-Z");
    assert_eq!(
        next(&mut scanner).await,
        ScanEvent::Rejected(Rejected::ControlCharacter)
    );
    assert!(matches!(
        next(&mut scanner).await,
        ScanEvent::Rejected(Rejected::TooLong(_))
    ));
    assert!(matches!(next(&mut scanner).await, ScanEvent::Code(_)));
}

#[tokio::test]
async fn trigger_mode_scans_only_after_the_trigger() {
    let mut sim = ScannerSim::new(Suffix::Cr);
    sim.trigger_mode = true;
    let sim = sim.start(None).unwrap();
    let mut scanner = open(sim.path(), Suffix::Cr);
    sim.device().scan("BM1-T0001-20261125-000045-A");
    assert!(timeout(Duration::from_millis(100), scanner.next_event())
        .await
        .is_err());
    scanner.trigger().await.unwrap();
    assert!(matches!(next(&mut scanner).await, ScanEvent::Code(_)));
    assert_eq!(sim.device().triggers, 1);
}

#[tokio::test]
async fn unplugged_scanner_reports_link_loss() {
    let sim = ScannerSim::new(Suffix::Cr).start(None).unwrap();
    let mut scanner = open(sim.path(), Suffix::Cr);
    sim.unplug();
    let result = timeout(LIMIT, scanner.next_event()).await.unwrap();
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn codes_scanned_before_the_port_opened_are_discarded() {
    let sim = ScannerSim::new(Suffix::Cr).start(None).unwrap();
    sim.device().scan("BM1-T0001-20261125-000001-A");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut scanner = open(sim.path(), Suffix::Cr);
    sim.device().scan("BM1-T0001-20261125-000002-B");
    match next(&mut scanner).await {
        ScanEvent::Code(c) => assert_eq!(c.kind.payload(), "BM1-T0001-20261125-000002-B"),
        other => panic!("{other:?}"),
    }
}
