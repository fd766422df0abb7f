//! The device manager with every simulator: events, status, reconnection.

use bianmin_drivers::demo::{DemoDevices, DemoTiming};
use bianmin_drivers::gpio::GpioEvent;
use bianmin_drivers::idcard::{CardEvent, PollConfig};
use bianmin_drivers::manager::{
    Backoff, DeviceEvent, DeviceManager, DeviceStatus, DevicesStatus, SerialSettings,
};
use bianmin_drivers::printer::sim::VirtualPrinter;
use bianmin_drivers::printer::{Paper, PrintError, PrinterState, Receipt, TextEncoding};
use bianmin_drivers::scanner::sim::ScannerSim;
use bianmin_drivers::scanner::{ScanEvent, Suffix};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn fast(devices: &DemoDevices) -> bianmin_drivers::manager::ManagerConfig {
    let mut config = devices.manager_config();
    config.poll = PollConfig {
        interval: Duration::from_millis(20),
        ..PollConfig::default()
    };
    config.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    if let Some(p) = config.printer.as_mut() {
        p.health_interval = Duration::from_millis(100);
    }
    config
}

async fn wait_for(
    status: &mut watch::Receiver<DevicesStatus>,
    what: &str,
    f: impl Fn(&DevicesStatus) -> bool,
) {
    let ok = timeout(LIMIT, status.wait_for(|s| f(s))).await.is_ok();
    assert!(ok, "timed out waiting for {what}: {:?}", *status.borrow());
}

async fn next_event(m: &mut DeviceManager) -> DeviceEvent {
    timeout(LIMIT, m.events.recv())
        .await
        .expect("event in time")
        .expect("channel open")
}

#[tokio::test]
async fn every_device_reports_through_one_manager() {
    let dir = tempfile::tempdir().unwrap();
    let devices = DemoDevices::start(dir.path(), Paper::Mm80, DemoTiming::fast()).unwrap();
    let mut m = DeviceManager::start(fast(&devices));
    wait_for(&mut m.status, "all ok", |s| {
        s.id_card.is_ok() && s.printer.is_ok() && s.scanner.is_ok() && s.gpio.is_ok()
    })
    .await;

    devices.place_card(1);
    match next_event(&mut m).await {
        DeviceEvent::Card(CardEvent::Present(id)) => assert_eq!(id.name, "李秀英"),
        other => panic!("{other:?}"),
    }
    devices.scan("BM1-T0001-20261125-000042-K");
    match next_event(&mut m).await {
        DeviceEvent::Scan(ScanEvent::Code(c)) => assert_eq!(c.kind.label(), "receipt"),
        other => panic!("{other:?}"),
    }
    let gpio = m.sim_gpio().unwrap();
    gpio.press_call_staff();
    m.set_led(true);
    assert!(gpio.led());
    assert!(matches!(
        next_event(&mut m).await,
        DeviceEvent::Gpio(GpioEvent::CallStaff)
    ));
    devices.lift_card();
    assert!(matches!(
        next_event(&mut m).await,
        DeviceEvent::Card(CardEvent::Removed)
    ));

    let receipt = Receipt {
        title: "便民服务受理回执".into(),
        receipt_number: "BM1-T0001-20261125-000042-K".into(),
        qr: "BM1-T0001-20261125-000042-K".into(),
        ..Receipt::default()
    };
    m.printer.print(receipt.clone()).await.unwrap();
    assert_eq!(devices.printer.device().receipts.len(), 1);

    devices.printer.device().faults.paper_end = true;
    let err = m.printer.print(receipt).await.unwrap_err();
    assert_eq!(err, PrintError::NotReady(PrinterState::PaperEnd));
    wait_for(
        &mut m.status,
        "printer degraded",
        |s| matches!(&s.printer, DeviceStatus::Degraded { reason, .. } if reason.zh() == "打印机缺纸"),
    )
    .await;
}

#[tokio::test]
async fn unplugged_devices_reconnect_by_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let devices = DemoDevices::start(dir.path(), Paper::Mm58, DemoTiming::fast()).unwrap();
    let mut m = DeviceManager::start(fast(&devices));
    wait_for(&mut m.status, "all ok", |s| {
        s.id_card.is_ok() && s.printer.is_ok() && s.scanner.is_ok()
    })
    .await;

    devices.id_card.unplug();
    devices.printer.unplug();
    devices.scanner.unplug();
    wait_for(&mut m.status, "all absent", |s| {
        matches!(s.id_card, DeviceStatus::Absent { .. })
            && matches!(s.printer, DeviceStatus::Absent { .. })
            && matches!(s.scanner, DeviceStatus::Absent { .. })
    })
    .await;

    devices.id_card.plug();
    devices.printer.plug();
    devices.scanner.plug();
    wait_for(&mut m.status, "all ok again", |s| {
        s.id_card.is_ok() && s.printer.is_ok() && s.scanner.is_ok()
    })
    .await;

    devices.place_card(0);
    assert!(matches!(
        next_event(&mut m).await,
        DeviceEvent::Card(CardEvent::Present(_))
    ));
}

#[tokio::test]
async fn a_missing_device_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let devices = DemoDevices::start(dir.path(), Paper::Mm80, DemoTiming::fast()).unwrap();
    let mut config = fast(&devices);
    config.id_card = Some(SerialSettings {
        port: "/dev/does-not-exist-bianmin".into(),
        baud: 115_200,
    });
    let mut m = DeviceManager::start(config);
    wait_for(&mut m.status, "reader absent, scanner ok", |s| {
        matches!(&s.id_card, DeviceStatus::Absent { detail } if detail.contains("does not exist"))
            && s.scanner.is_ok()
            && s.printer.is_ok()
    })
    .await;
    devices.scan("https://zwfw.example.gov.cn/");
    assert!(matches!(
        next_event(&mut m).await,
        DeviceEvent::Scan(ScanEvent::Code(_))
    ));
}

fn receipt(number: &str) -> Receipt {
    Receipt {
        title: "便民服务受理回执".into(),
        receipt_number: number.into(),
        qr: number.into(),
        ..Receipt::default()
    }
}

#[tokio::test]
async fn the_printer_moves_to_a_new_port_and_old_handles_follow_it() {
    let dir = tempfile::tempdir().unwrap();
    let devices = DemoDevices::start(dir.path(), Paper::Mm80, DemoTiming::fast()).unwrap();
    let other = VirtualPrinter::new(Paper::Mm58, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    let mut m = DeviceManager::start(fast(&devices));
    // Given out before the move, as the service desk holds one.
    let handle = m.printer.clone();
    wait_for(&mut m.status, "printer ok", |s| s.printer.is_ok()).await;
    handle
        .print(receipt("BM1-T0001-20261125-000001-K"))
        .await
        .unwrap();
    assert_eq!(devices.printer.device().receipts.len(), 1);

    let mut settings = m.printer_settings().expect("printer configured");
    settings.port = other.path().to_string_lossy().into_owned();
    settings.layout.paper = Paper::Mm58;
    m.reconfigure_printer(Some(settings));
    assert_eq!(
        m.printer_settings().unwrap().port,
        other.path().to_string_lossy()
    );
    wait_for(&mut m.status, "printer ok on the new port", |s| {
        s.printer.is_ok()
    })
    .await;
    handle
        .print(receipt("BM1-T0001-20261125-000002-K"))
        .await
        .unwrap();
    assert_eq!(other.device().receipts.len(), 1, "printed on the new port");
    assert_eq!(devices.printer.device().receipts.len(), 1, "not on the old");

    // Unplugging the old printer is no longer the kiosk's concern.
    devices.printer.unplug();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(m.status.borrow().printer.is_ok());

    // Switched off: the handle answers at once instead of hanging, and a
    // printer switched on again is reached through the same handle.
    m.reconfigure_printer(None);
    wait_for(&mut m.status, "printer disabled", |s| {
        s.printer == DeviceStatus::Disabled
    })
    .await;
    let err = timeout(LIMIT, handle.print(receipt("BM1-T0001-20261125-000003-K")))
        .await
        .expect("answered in time")
        .unwrap_err();
    assert_eq!(err, PrintError::NotReady(PrinterState::Disconnected));
    let mut settings = fast(&devices).printer.unwrap();
    settings.port = other.path().to_string_lossy().into_owned();
    m.reconfigure_printer(Some(settings));
    wait_for(&mut m.status, "printer back", |s| s.printer.is_ok()).await;
    handle
        .print(receipt("BM1-T0001-20261125-000004-K"))
        .await
        .unwrap();
    assert_eq!(other.device().receipts.len(), 2);
}

#[tokio::test]
async fn a_manager_started_without_a_printer_can_be_given_one() {
    let dir = tempfile::tempdir().unwrap();
    let devices = DemoDevices::start(dir.path(), Paper::Mm80, DemoTiming::fast()).unwrap();
    let mut config = fast(&devices);
    let printer = config.printer.take();
    let mut m = DeviceManager::start(config);
    let handle = m.printer.clone();
    assert_eq!(m.status.borrow().printer, DeviceStatus::Disabled);
    assert_eq!(handle.status().await, PrinterState::Disconnected);
    m.reconfigure_printer(printer);
    wait_for(&mut m.status, "printer ok", |s| s.printer.is_ok()).await;
    handle
        .print(receipt("BM1-T0001-20261125-000005-K"))
        .await
        .unwrap();
    assert_eq!(devices.printer.device().receipts.len(), 1);
}

#[tokio::test]
async fn the_scanner_and_reader_move_to_new_ports_on_the_same_event_stream() {
    let dir = tempfile::tempdir().unwrap();
    let devices = DemoDevices::start(dir.path(), Paper::Mm80, DemoTiming::fast()).unwrap();
    let other = ScannerSim::new(Suffix::Cr).start(None).unwrap();
    let mut m = DeviceManager::start(fast(&devices));
    wait_for(&mut m.status, "scanner ok", |s| s.scanner.is_ok()).await;

    let mut settings = m.scanner_settings().unwrap();
    settings.port = other.path().to_string_lossy().into_owned();
    m.reconfigure_scanner(Some(settings));
    // The old task is gone once the new one has reported; then the old
    // scanner's codes no longer arrive and the new one's do.
    wait_for(&mut m.status, "scanner ok", |s| s.scanner.is_ok()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    devices.scan("https://old.example.gov.cn/");
    other.device().scan("BM1-T0001-20261125-000042-K");
    match next_event(&mut m).await {
        DeviceEvent::Scan(ScanEvent::Code(c)) => assert_eq!(c.kind.label(), "receipt"),
        other => panic!("{other:?}"),
    }
    assert!(
        timeout(Duration::from_millis(300), m.events.recv())
            .await
            .is_err(),
        "nothing from the old scanner"
    );

    // The reader: switched off, then on again, still one event stream.
    let reader = m.id_card_settings().unwrap();
    m.reconfigure_id_card(None);
    wait_for(&mut m.status, "reader off", |s| {
        s.id_card == DeviceStatus::Disabled
    })
    .await;
    m.reconfigure_id_card(Some(SerialSettings {
        baud: reader.baud,
        port: reader.port,
    }));
    wait_for(&mut m.status, "reader ok", |s| s.id_card.is_ok()).await;
    devices.place_card(1);
    assert!(matches!(
        next_event(&mut m).await,
        DeviceEvent::Card(CardEvent::Present(_))
    ));
}
