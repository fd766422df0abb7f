//! Start every device simulator and print their paths, for trying the
//! `bianmin device …` commands by hand:
//!
//!     cargo run -p bianmin-drivers --example simulators -- [--card N] [--paper-end] [--out DIR]
//!
//! Runs until stdin closes or Ctrl-C.

use bianmin_drivers::demo::{DemoDevices, DemoTiming};
use bianmin_drivers::printer::Paper;
use std::io::BufRead;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let out = value("--out").unwrap_or_else(|| "receipts".into());
    let devices = DemoDevices::start(out.as_ref(), Paper::Mm80, DemoTiming::realistic())?;
    if let Some(n) = value("--card").and_then(|n| n.parse().ok()) {
        devices.place_card(n);
    }
    if args.iter().any(|a| a == "--paper-end") {
        devices.printer.device().faults.paper_end = true;
    }
    println!("id-card reader  {}", devices.id_card.path().display());
    println!(
        "printer         {}  (receipts in {out}/)",
        devices.printer.path().display()
    );
    println!("scanner         {}", devices.scanner.path().display());
    println!("commands: card N | lift | scan CODE | paper-end | paper-ok | unplug | plug | quit");
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("card"), n) => devices.place_card(n.and_then(|n| n.parse().ok()).unwrap_or(0)),
            (Some("lift"), _) => devices.lift_card(),
            (Some("scan"), Some(code)) => devices.scan(code),
            (Some("paper-end"), _) => devices.printer.device().faults.paper_end = true,
            (Some("paper-ok"), _) => devices.printer.device().faults = Default::default(),
            (Some("unplug"), _) => {
                devices.id_card.unplug();
                devices.printer.unplug();
                devices.scanner.unplug();
            }
            (Some("plug"), _) => {
                devices.id_card.plug();
                devices.printer.plug();
                devices.scanner.plug();
            }
            (Some("quit"), _) => break,
            _ => println!("?"),
        }
    }
    Ok(())
}
