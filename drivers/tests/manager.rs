//! The device manager with every simulator: events, status, reconnection.

use bianmin_drivers::demo::{DemoDevices, DemoTiming};
use bianmin_drivers::gpio::GpioEvent;
use bianmin_drivers::idcard::{CardEvent, PollConfig};
use bianmin_drivers::manager::{
    Backoff, DeviceEvent, DeviceManager, DeviceStatus, DevicesStatus, SerialSettings,
};
use bianmin_drivers::printer::{Paper, PrintError, PrinterState, Receipt};
use bianmin_drivers::scanner::ScanEvent;
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
        |s| matches!(&s.printer, DeviceStatus::Degraded { reason, .. } if reason == "打印机缺纸"),
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
