//! The printer driver against the virtual printer over real ptys.

use bianmin_drivers::printer::driver::PrinterTimeouts;
use bianmin_drivers::printer::sim::VirtualPrinter;
use bianmin_drivers::printer::{
    EscPosPrinter, Layout, Paper, PrintError, PrinterState, Receipt, TextEncoding,
};
use std::process::Command;
use std::time::Duration;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn receipt() -> Receipt {
    Receipt {
        title: "便民服务受理回执".into(),
        station: "演示村便民服务站".into(),
        time: "2026-11-25 10:32".into(),
        receipt_number: "BM1-T0001-20261125-000042-K".into(),
        service_name: "城乡居民基本养老保险参保登记".into(),
        materials: vec!["居民身份证原件".into(), "户口簿首页及本人页复印件".into()],
        next_step: String::new(),
        note: "容缺受理：户口簿复印件可在5个工作日内补交。".into(),
        qr: "BM1-T0001-20261125-000042-K".into(),
    }
}

fn open(path: &std::path::Path, layout: Layout) -> EscPosPrinter<tokio_serial::SerialStream> {
    let mut p = EscPosPrinter::open(path.to_str().unwrap(), 115_200, layout).unwrap();
    p.timeouts = PrinterTimeouts {
        status: Duration::from_millis(300),
        write: Duration::from_secs(5),
        settle: Duration::from_millis(30),
    };
    p
}

fn zbarimg(png: &std::path::Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(png)
        .output()
        .expect("zbarimg is installed (apt zbar-tools)");
    assert!(
        out.status.success(),
        "zbarimg found no code in {}",
        png.display()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn print_and_decode(layout: Layout) {
    let dir = tempfile::tempdir().unwrap();
    let sim = VirtualPrinter::new(layout.paper, layout.encoding)
        .with_output(dir.path())
        .start(None)
        .unwrap();
    let mut printer = open(sim.path(), layout);
    assert_eq!(printer.status().await.state, PrinterState::Ok);
    let printed = timeout(LIMIT, printer.print_receipt(&receipt()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(printed.warning, None);
    let (png, text) = {
        let dev = sim.device();
        assert_eq!(dev.receipts.len(), 1);
        (dev.pngs[0].clone(), dev.receipts[0].text())
    };
    assert!(text.contains("受理编号："), "{text}");
    assert!(text.contains("BM1-T0001-20261125-000042-K\n"), "{text}");
    assert!(text.contains("城乡居民基本养老保险参"), "{text}");
    assert_eq!(zbarimg(&png), "BM1-T0001-20261125-000042-K");
    if let Ok(keep) = std::env::var("BIANMIN_KEEP_RECEIPTS") {
        let name = format!(
            "receipt-{}dots-{}.png",
            layout.paper.dots(),
            if layout.native_qr { "native" } else { "raster" }
        );
        std::fs::copy(&png, std::path::Path::new(&keep).join(name)).unwrap();
    }
}

#[tokio::test]
async fn receipt_80mm_native_qr_renders_and_decodes() {
    print_and_decode(Layout::default()).await;
}

#[tokio::test]
async fn receipt_58mm_raster_qr_utf8_fs_and_renders_and_decodes() {
    print_and_decode(Layout {
        paper: Paper::Mm58,
        encoding: TextEncoding::Utf8,
        fs_and: true,
        native_qr: false,
        partial_cut: true,
    })
    .await;
}

#[tokio::test]
async fn paper_end_before_printing_sends_nothing() {
    let sim = VirtualPrinter::new(Paper::Mm80, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    sim.device().faults.paper_end = true;
    let mut printer = open(sim.path(), Layout::default());
    assert_eq!(printer.status().await.state, PrinterState::PaperEnd);
    let err = timeout(LIMIT, printer.print_receipt(&receipt()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, PrintError::NotReady(PrinterState::PaperEnd));
    assert!(err.resident_message().zh().contains("缺纸"));
    assert!(err.resident_message().en().contains("out of paper"));
    let dev = sim.device();
    assert_eq!(dev.receipts.len() + dev.lost as usize, 0);
}

#[tokio::test]
async fn paper_running_out_while_printing_is_not_reported_printed() {
    let sim = VirtualPrinter::new(Paper::Mm80, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    sim.device().faults.paper_runs_out_after = Some(5);
    let mut printer = open(sim.path(), Layout::default());
    let err = timeout(LIMIT, printer.print_receipt(&receipt()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err, PrintError::FailedAfter(PrinterState::PaperEnd));
    assert_eq!(sim.device().lost, 1);
}

#[tokio::test]
async fn near_end_prints_with_a_warning_and_other_states_are_reported() {
    let sim = VirtualPrinter::new(Paper::Mm58, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    let mut printer = open(
        sim.path(),
        Layout {
            paper: Paper::Mm58,
            ..Layout::default()
        },
    );
    sim.device().faults.paper_near_end = true;
    let printed = timeout(LIMIT, printer.print_receipt(&receipt()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(printed.warning, Some(PrinterState::PaperNearEnd));
    sim.device().faults = Default::default();
    sim.device().faults.cover_open = true;
    assert_eq!(printer.status().await.state, PrinterState::CoverOpen);
    sim.device().faults = Default::default();
    sim.device().faults.offline = true;
    assert_eq!(printer.status().await.state, PrinterState::Offline);
    sim.device().faults = Default::default();
    sim.device().faults.mute = true;
    assert_eq!(printer.status().await.state, PrinterState::Disconnected);
    sim.device().faults = Default::default();
    assert_eq!(printer.status().await.state, PrinterState::Ok);
}

#[tokio::test]
async fn unplugged_printer_is_disconnected() {
    let sim = VirtualPrinter::new(Paper::Mm80, TextEncoding::Gb18030)
        .start(None)
        .unwrap();
    let mut printer = open(sim.path(), Layout::default());
    sim.unplug();
    let status = timeout(LIMIT, printer.status()).await.unwrap();
    assert_eq!(status.state, PrinterState::Disconnected);
    let err = timeout(LIMIT, printer.print_receipt(&receipt()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.state(), PrinterState::Disconnected);
}
