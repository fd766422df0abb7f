//! The ID-card driver against its simulator over real ptys.

use bianmin_drivers::idcard::reader::Timeouts;
use bianmin_drivers::idcard::sim::{demo_cards, forged_card, IdCardSim};
use bianmin_drivers::idcard::{
    CardError, CardEvent, CardKind, IdCardReader, PollConfig, SamStatus,
};
use std::time::Duration;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn fast_timeouts() -> Timeouts {
    Timeouts {
        command: Duration::from_millis(400),
        read: Duration::from_millis(800),
        checksum_retries: 2,
    }
}

fn open(path: &std::path::Path) -> IdCardReader<tokio_serial::SerialStream> {
    let mut r = IdCardReader::open(path.to_str().unwrap(), 115_200).expect("open pty");
    r.timeouts = fast_timeouts();
    r
}

#[tokio::test]
async fn reads_every_demo_card_kind() {
    let sim = IdCardSim::new().start(None).unwrap();
    let mut reader = open(sim.path());
    reader.sam_status().await.unwrap();
    let mut kinds = Vec::new();
    for card in demo_cards() {
        sim.device().place(card.clone());
        let got = timeout(LIMIT, reader.read_card()).await.unwrap().unwrap();
        assert_eq!(got, card, "{:?}", card.kind);
        assert_eq!(got.photo.len(), 1024);
        kinds.push(got.kind);
    }
    for kind in [
        CardKind::Resident,
        CardKind::HkMacaoTaiwan,
        CardKind::ForeignerOld,
        CardKind::Foreigner2023,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} not covered");
    }
}

#[tokio::test]
async fn reads_with_fingerprint_command() {
    let sim = IdCardSim::new().start(None).unwrap();
    let mut card = demo_cards().swap_remove(0);
    card.fingerprint = vec![0x42; 1024];
    sim.device().place(card.clone());
    let mut reader = open(sim.path());
    reader.with_fingerprint = true;
    let got = timeout(LIMIT, reader.read_card()).await.unwrap().unwrap();
    assert_eq!(got.fingerprint, card.fingerprint);
}

#[tokio::test]
async fn no_card_is_a_typed_error_with_plain_message() {
    let sim = IdCardSim::new().start(None).unwrap();
    let mut reader = open(sim.path());
    let err = timeout(LIMIT, reader.read_card())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, CardError::Sam(SamStatus::NoCard));
    assert_eq!(err.resident_message().zh(), "请将身份证放在感应区");
    sim.device().place(demo_cards().swap_remove(1));
    sim.device().faults.no_card = true;
    let err = timeout(LIMIT, reader.read_card())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, CardError::Sam(SamStatus::NoCard));
}

#[tokio::test]
async fn fragments_garbage_and_slow_replies_still_decode() {
    let sim = IdCardSim::new().start(None).unwrap();
    let card = demo_cards().swap_remove(2);
    sim.device().place(card.clone());
    sim.device().faults.fragments = true;
    sim.device().faults.garbage_before = true;
    sim.device().faults.slow = Some(Duration::from_millis(50));
    let mut reader = open(sim.path());
    let got = timeout(LIMIT, reader.read_card()).await.unwrap().unwrap();
    assert_eq!(got, card);
}

#[tokio::test]
async fn bad_checksum_is_retried_then_reported() {
    let sim = IdCardSim::new().start(None).unwrap();
    let card = demo_cards().swap_remove(0);
    sim.device().place(card.clone());
    // One corrupted reply: the retry succeeds.
    sim.device().faults.bad_checksum = 1;
    let mut reader = open(sim.path());
    assert_eq!(
        timeout(LIMIT, reader.read_card()).await.unwrap().unwrap(),
        card
    );
    // Always corrupted: a typed error after the retries, no hang.
    sim.device().faults.bad_checksum = u32::MAX;
    let err = timeout(LIMIT, reader.read_card())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, CardError::Checksum(3));
    assert!(err.is_device_fault());
}

#[tokio::test]
async fn forged_number_is_reported_not_trusted() {
    let sim = IdCardSim::new().start(None).unwrap();
    sim.device().place(forged_card());
    let mut reader = open(sim.path());
    let err = timeout(LIMIT, reader.read_card())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, CardError::InvalidIdNumber(_)), "{err:?}");
    assert_eq!(
        err.resident_message().zh(),
        "这张证件无法核验，请到窗口办理"
    );
}

#[tokio::test]
async fn silent_reader_times_out() {
    let sim = IdCardSim::new().start(None).unwrap();
    sim.device().faults.silent = true;
    let mut reader = open(sim.path());
    let err = timeout(LIMIT, reader.sam_status())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, CardError::Timeout(400));
}

#[tokio::test]
async fn polling_reports_put_down_lifted_and_failed_reads_once() {
    let sim = IdCardSim::new().start(None).unwrap();
    let mut reader = open(sim.path());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let config = PollConfig {
        interval: Duration::from_millis(20),
        ..PollConfig::default()
    };
    let task = tokio::spawn(async move { reader.poll_cards(config, tx, None).await });

    let card = demo_cards().swap_remove(0);
    sim.device().place(card.clone());
    match timeout(LIMIT, rx.recv()).await.unwrap().unwrap() {
        CardEvent::Present(id) => assert_eq!(*id, card),
        other => panic!("expected Present, got {other:?}"),
    }
    // Lying still: no further events, and only finds on the bus.
    let reads = sim.device().reads;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(rx.try_recv().is_err());
    assert_eq!(sim.device().reads, reads);

    sim.device().lift();
    assert!(matches!(
        timeout(LIMIT, rx.recv()).await.unwrap().unwrap(),
        CardEvent::Removed
    ));

    // Lifted mid-read: one ReadFailed with the re-place message, then Removed.
    sim.device().faults.lift_during_read = true;
    sim.device().place(card.clone());
    match timeout(LIMIT, rx.recv()).await.unwrap().unwrap() {
        CardEvent::ReadFailed(e) => {
            assert_eq!(e, CardError::Sam(SamStatus::ReadFailed));
            assert_eq!(
                e.resident_message().zh(),
                "读卡没有成功，请拿起身份证后重新放好"
            );
        }
        other => panic!("expected ReadFailed, got {other:?}"),
    }
    assert!(matches!(
        timeout(LIMIT, rx.recv()).await.unwrap().unwrap(),
        CardEvent::Removed
    ));
    task.abort();
}

#[tokio::test]
async fn vanished_reader_fails_fast_and_comes_back_at_the_same_path() {
    let sim = IdCardSim::new().start(None).unwrap();
    let card = demo_cards().swap_remove(3);
    sim.device().place(card.clone());
    let mut reader = open(sim.path());
    assert_eq!(
        timeout(LIMIT, reader.read_card()).await.unwrap().unwrap(),
        card
    );

    sim.unplug();
    let err = timeout(LIMIT, reader.read_card())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        err.is_disconnect() || matches!(err, CardError::Timeout(_)),
        "{err:?}"
    );
    drop(reader);
    assert!(!sim.path().exists());

    sim.plug();
    let mut reader = open(sim.path());
    assert_eq!(
        timeout(LIMIT, reader.read_card()).await.unwrap().unwrap(),
        card
    );
}

#[tokio::test]
async fn paced_simulator_takes_the_wire_time_of_the_baud_rate() {
    // 1295-byte read reply + find/select replies at 115200 baud: about 115 ms.
    let sim = IdCardSim::new().start(Some(115_200)).unwrap();
    sim.device().place(demo_cards().swap_remove(0));
    let mut reader = open(sim.path());
    let start = std::time::Instant::now();
    timeout(LIMIT, reader.read_card()).await.unwrap().unwrap();
    let elapsed = start.elapsed();
    let floor = bianmin_drivers::serial::wire_time(10 + 15 + 10 + 19 + 10 + 1295, 115_200);
    assert!(elapsed >= floor.mul_f64(0.95), "{elapsed:?} < {floor:?}");
    assert!(elapsed < floor * 3, "{elapsed:?}");
}
