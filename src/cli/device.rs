//! `bianmin device …`: technician commands that talk to one device directly,
//! and the device rows of `bianmin doctor`.
//!
//! Every failure ends in one plain sentence on stderr and a non-zero exit:
//! 0 = done, 1 = the device works but the action did not (no card, paper
//! end), 2 = the device is missing, busy, silent or not what it should be.

use bianmin_config::Config;
use bianmin_drivers::id_number::{mask_address, mask_id, mask_name};
use bianmin_drivers::idcard::{CardError, IdCardReader, Identity};
use bianmin_drivers::printer::receipt::test_receipt;
use bianmin_drivers::printer::{EscPosPrinter, Layout, Paper, PrinterState};
use bianmin_drivers::scanner::{CodeKind, ScanEvent, Scanner, Suffix};
use bianmin_ops::devices::{printer_layout, suffix};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// List serial ports with their USB vendor and product ids.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Read the ID card lying on the reader (name, number and address masked unless --reveal).
    ReadCard {
        #[arg(long, value_name = "PATH")]
        port: Option<String>,
        #[arg(long)]
        baud: Option<u32>,
        #[arg(long)]
        json: bool,
        /// Show personal data unmasked (only with the resident present and consenting).
        #[arg(long)]
        reveal: bool,
    },
    /// Print a test receipt with a QR code.
    PrintTest {
        #[arg(long, value_name = "PATH")]
        port: Option<String>,
        #[arg(long)]
        baud: Option<u32>,
        /// Paper width in millimetres.
        #[arg(long, value_parser = ["58", "80"])]
        width: Option<String>,
    },
    /// Ask the printer for its status (DLE EOT 1/2/4).
    PrinterStatus {
        #[arg(long, value_name = "PATH")]
        port: Option<String>,
        #[arg(long)]
        baud: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Print scanned codes as JSON lines until COUNT codes or TIMEOUT seconds.
    Scan {
        #[arg(long, value_name = "PATH")]
        port: Option<String>,
        #[arg(long)]
        baud: Option<u32>,
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn fail(code: u8, message: impl std::fmt::Display) -> anyhow::Result<ExitCode> {
    eprintln!("{message}");
    Ok(ExitCode::from(code))
}

fn port_or(port: Option<String>, configured: &str, what: &str) -> Result<String, String> {
    match port {
        Some(p) => Ok(p),
        None if !configured.is_empty() => Ok(configured.to_string()),
        None => Err(format!(
            "no {what} port given: pass --port PATH or set it in the configuration"
        )),
    }
}

pub fn run(command: DeviceCommand, config: &Config) -> anyhow::Result<ExitCode> {
    let devices = &config.devices;
    match command {
        DeviceCommand::List { json } => list(json),
        DeviceCommand::ReadCard {
            port,
            baud,
            json,
            reveal,
        } => {
            let port = match port_or(port, &devices.id_card.port, "ID card reader") {
                Ok(p) => p,
                Err(e) => return fail(2, e),
            };
            let baud = baud.unwrap_or(devices.id_card.baud.0);
            runtime()?.block_on(read_card(&port, baud, json, reveal))
        }
        DeviceCommand::PrintTest { port, baud, width } => {
            let port = match port_or(port, &devices.printer.port, "printer") {
                Ok(p) => p,
                Err(e) => return fail(2, e),
            };
            let mut layout = printer_layout(config);
            if let Some(w) = width {
                layout.paper = Paper::from_mm(w.parse().unwrap_or(80));
            }
            let baud = baud.unwrap_or(devices.printer.baud.0);
            runtime()?.block_on(print_test(&port, baud, layout))
        }
        DeviceCommand::PrinterStatus { port, baud, json } => {
            let port = match port_or(port, &devices.printer.port, "printer") {
                Ok(p) => p,
                Err(e) => return fail(2, e),
            };
            let baud = baud.unwrap_or(devices.printer.baud.0);
            runtime()?.block_on(printer_status(&port, baud, printer_layout(config), json))
        }
        DeviceCommand::Scan {
            port,
            baud,
            count,
            timeout,
        } => {
            let port = match port_or(port, &devices.scanner.port, "scanner") {
                Ok(p) => p,
                Err(e) => return fail(2, e),
            };
            let baud = baud.unwrap_or(devices.scanner.baud.0);
            let suffix = suffix(devices.scanner.suffix);
            let dedupe = Duration::from_millis(u64::from(devices.scanner.dedupe_ms.get()));
            let limit = Duration::from_secs_f64(timeout.clamp(0.1, 86_400.0));
            runtime()?.block_on(scan(&port, baud, suffix, dedupe, count.max(1), limit))
        }
    }
}

fn list(json: bool) -> anyhow::Result<ExitCode> {
    let ports = match bianmin_drivers::serial::list_ports() {
        Ok(p) => p,
        Err(e) => return fail(2, format!("cannot list serial ports: {e}")),
    };
    if ports.is_empty() && !json {
        println!("no serial ports found (没有发现串口设备)");
    }
    for p in ports {
        if json {
            println!("{}", serde_json::to_string(&p)?);
        } else {
            let ids = match (p.vid, p.pid) {
                (Some(v), Some(d)) => format!("{v:04x}:{d:04x}"),
                _ => "-".into(),
            };
            let name = [p.manufacturer.as_deref(), p.product.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            println!("{:<24} {:<9} {:<9} {}", p.path, p.kind, ids, name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Explain a reader failure: garbage means wrong device or baud rate.
fn reader_problem(port: &str, baud: u32, err: &CardError, garbage: u64) -> String {
    if garbage > 0 && !matches!(err, CardError::Sam(_) | CardError::InvalidIdNumber(_)) {
        return format!(
            "{port} answers, but not as a GA/T 467 ID card reader ({garbage} unrecognised bytes at {baud} baud): check the port and the baud rate"
        );
    }
    match err {
        CardError::Timeout(_) => format!(
            "{port} does not answer as an ID card reader at {baud} baud (no reply): is it the right port, switched on, at the right baud rate?"
        ),
        CardError::Io(_) => format!("{port}: the reader was disconnected ({})", err.technician_detail()),
        other => format!("{}: {}", other.resident_message().zh(), other.technician_detail()),
    }
}

async fn read_card(port: &str, baud: u32, json: bool, reveal: bool) -> anyhow::Result<ExitCode> {
    let mut reader = match IdCardReader::open(port, baud) {
        Ok(r) => r,
        Err(e) => return fail(2, e),
    };
    if let Err(e) = reader.sam_status().await {
        return fail(2, reader_problem(port, baud, &e, reader.garbage_bytes()));
    }
    match reader.read_card().await {
        Ok(identity) => {
            if json {
                println!("{}", identity_json(&identity, reveal));
            } else {
                print_identity(&identity, reveal);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.is_device_fault() => {
            fail(2, reader_problem(port, baud, &e, reader.garbage_bytes()))
        }
        Err(e) => fail(
            1,
            format!("{} ({})", e.resident_message().zh(), e.technician_detail()),
        ),
    }
}

fn masked_birth(birth: &str, reveal: bool) -> String {
    if reveal || birth.len() < 4 {
        birth.to_string()
    } else {
        format!("{}****", &birth[..4])
    }
}

fn identity_json(id: &Identity, reveal: bool) -> serde_json::Value {
    let m = |s: &str, f: fn(&str) -> String| if reveal { s.to_string() } else { f(s) };
    serde_json::json!({
        "kind": id.kind.label(),
        "name": m(&id.name, mask_name),
        "name_en": m(&id.name_en, mask_name),
        "gender": id.gender().label(),
        "ethnicity": id.ethnicity(),
        "birth": masked_birth(&id.birth, reveal),
        "address": m(&id.address, mask_address),
        "id_number": m(&id.id_number, mask_id),
        "authority": id.authority,
        "valid_from": id.valid_from,
        "valid_until": id.valid_until,
        "pass_number": m(&id.pass_number, mask_id),
        "nationality": id.nationality,
        "photo_bytes": id.photo.len(),
        "masked": !reveal,
    })
}

fn print_identity(id: &Identity, reveal: bool) {
    let m = |s: &str, f: fn(&str) -> String| if reveal { s.to_string() } else { f(s) };
    println!("证件类型  {}", id.kind.label());
    if !id.name.is_empty() {
        println!("姓名      {}", m(&id.name, mask_name));
    }
    if !id.name_en.is_empty() {
        println!("英文姓名  {}", m(&id.name_en, mask_name));
    }
    println!("性别      {}", id.gender().label());
    if let Some(e) = id.ethnicity() {
        println!("民族      {e}");
    }
    println!("出生      {}", masked_birth(&id.birth, reveal));
    if !id.address.is_empty() {
        println!("住址      {}", m(&id.address, mask_address));
    }
    println!(
        "证件号码  {}  (GB 11643 校验通过)",
        m(&id.id_number, mask_id)
    );
    if !id.authority.is_empty() {
        println!("签发机关  {}", id.authority);
    }
    println!("有效期限  {} - {}", id.valid_from, id.valid_until);
    if !id.pass_number.is_empty() {
        println!("通行证号  {}", m(&id.pass_number, mask_id));
    }
    if !id.nationality.is_empty() {
        println!("国籍      {}", id.nationality);
    }
    println!("照片      {} 字节 (WLT, 不解码)", id.photo.len());
    if !reveal {
        println!("(个人信息已遮蔽；--reveal 显示全部)");
    }
}

fn printer_problem(port: &str, baud: u32, state: PrinterState, garbage: usize) -> String {
    if state == PrinterState::Disconnected && garbage > 0 {
        format!("{port} answers, but not as an ESC/POS printer ({garbage} bytes that are not status replies at {baud} baud): check the port and the baud rate")
    } else if state == PrinterState::Disconnected {
        format!("{port} does not answer DLE EOT at {baud} baud: is the printer switched on, on this port, at this baud rate?")
    } else {
        format!("{port}: {}", state.technician_detail())
    }
}

async fn printer_status(
    port: &str,
    baud: u32,
    layout: Layout,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut printer = match EscPosPrinter::open(port, baud, layout) {
        Ok(p) => p,
        Err(e) => return fail(2, e),
    };
    let status = printer.status().await;
    if json {
        println!("{}", serde_json::to_string(&status)?);
    } else if status.state != PrinterState::Disconnected {
        println!("{} — {}", port, status.state.technician_detail());
    }
    match status.state {
        PrinterState::Ok | PrinterState::PaperNearEnd => Ok(ExitCode::SUCCESS),
        PrinterState::Disconnected => {
            fail(2, printer_problem(port, baud, status.state, status.garbage))
        }
        _ => Ok(ExitCode::from(1)),
    }
}

async fn print_test(port: &str, baud: u32, layout: Layout) -> anyhow::Result<ExitCode> {
    let mut printer = match EscPosPrinter::open(port, baud, layout) {
        Ok(p) => p,
        Err(e) => return fail(2, e),
    };
    match printer.print_receipt(&test_receipt(layout.paper)).await {
        Ok(printed) => {
            match printed.warning {
                Some(w) => println!("test page printed; warning: {}", w.technician_detail()),
                None => println!("test page printed"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let status = printer.status().await;
            if status.state == PrinterState::Disconnected {
                fail(2, printer_problem(port, baud, status.state, status.garbage))
            } else {
                fail(1, format!("test page not printed: {e}"))
            }
        }
    }
}

fn code_json(kind: &CodeKind) -> serde_json::Value {
    match kind {
        CodeKind::Receipt(r) => serde_json::json!({
            "kind": "receipt",
            "payload": r.number,
            "well_formed": r.parts.is_some(),
        }),
        // The token is a credential: show only enough to recognise it.
        CodeKind::Service { scheme, token } => serde_json::json!({
            "kind": "service",
            "scheme": format!("{scheme:?}").to_uppercase(),
            "payload": format!("{}…", token.chars().take(4).collect::<String>()),
            "length": token.len(),
        }),
        CodeKind::Url(u) => serde_json::json!({ "kind": "url", "payload": u }),
        CodeKind::Unknown(u) => serde_json::json!({ "kind": "unknown", "payload": u }),
    }
}

async fn scan(
    port: &str,
    baud: u32,
    suffix: Suffix,
    dedupe: Duration,
    count: u32,
    limit: Duration,
) -> anyhow::Result<ExitCode> {
    let mut scanner = match Scanner::open(port, baud, suffix, dedupe) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    let deadline = tokio::time::Instant::now() + limit;
    let mut seen = 0;
    while seen < count {
        match tokio::time::timeout_at(deadline, scanner.next_event()).await {
            Err(_) => {
                return fail(
                    1,
                    format!(
                        "{seen} of {count} codes scanned within {:.1} s",
                        limit.as_secs_f64()
                    ),
                )
            }
            Ok(Err(e)) => return fail(2, format!("{port}: {e}")),
            Ok(Ok(ScanEvent::Code(code))) => {
                println!("{}", code_json(&code.kind));
                seen += 1;
            }
            Ok(Ok(ScanEvent::Rejected(why))) => {
                println!(
                    "{}",
                    serde_json::json!({ "kind": "rejected", "reason": why.to_string() })
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Device rows for `bianmin doctor`: each enabled device is opened and
/// asked something it must answer.
///
/// What counts as critical follows DESIGN's "every device can be absent":
/// an unplugged, switched-off or paper-less device is a warning (the kiosk
/// degrades, says so, and reconnects by itself), while a configuration the
/// kiosk can never recover from by itself is a failure: a port that answers
/// garbage (wrong device or baud rate), is held by another program, or may
/// not be opened.
pub fn doctor_checks(config: &Config) -> Vec<super::check::Check> {
    use super::check::Check;
    let d = &config.devices;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            return vec![Check {
                name: "devices".into(),
                ok: false,
                critical: true,
                detail: format!("cannot start the async runtime: {e}"),
            }]
        }
    };
    let mut checks = Vec::new();
    let disabled = |name: &str| Check {
        name: name.into(),
        ok: true,
        critical: false,
        detail: "disabled in the configuration".into(),
    };

    if d.id_card.enabled {
        let (port, baud) = (d.id_card.port.clone(), d.id_card.baud.0);
        let (ok, critical, detail) = rt.block_on(async {
            match IdCardReader::open(&port, baud) {
                Err(e) => (false, open_is_misconfigured(&e), e.to_string()),
                Ok(mut r) => match r.sam_status().await {
                    Ok(()) => (true, false, format!("{port} at {baud} baud: SAM answers")),
                    Err(e) => {
                        let garbage = r.garbage_bytes();
                        (false, garbage > 0, reader_problem(&port, baud, &e, garbage))
                    }
                },
            }
        });
        checks.push(Check {
            name: "id-card reader".into(),
            ok,
            critical,
            detail,
        });
    } else {
        checks.push(disabled("id-card reader"));
    }

    if d.printer.enabled {
        let (port, baud, layout) = (
            d.printer.port.clone(),
            d.printer.baud.0,
            printer_layout(config),
        );
        let (ok, critical, detail) = rt.block_on(async {
            match EscPosPrinter::open(&port, baud, layout) {
                Err(e) => (false, open_is_misconfigured(&e), e.to_string()),
                Ok(mut p) => {
                    let s = p.status().await;
                    match s.state {
                        PrinterState::Ok => (true, false, format!("{port} at {baud} baud: ready")),
                        PrinterState::PaperNearEnd => {
                            (true, false, format!("{port}: ready, paper near end"))
                        }
                        other => (
                            false,
                            s.garbage > 0,
                            printer_problem(&port, baud, other, s.garbage),
                        ),
                    }
                }
            }
        });
        checks.push(Check {
            name: "printer".into(),
            ok,
            critical,
            detail,
        });
    } else {
        checks.push(disabled("printer"));
    }

    if d.scanner.enabled {
        let (port, baud) = (d.scanner.port.clone(), d.scanner.baud.0);
        let (ok, critical, detail) = rt.block_on(async {
            match Scanner::open(&port, baud, suffix(d.scanner.suffix), Duration::ZERO) {
                Err(e) => (false, open_is_misconfigured(&e), e.to_string()),
                Ok(_) => (
                    true,
                    false,
                    format!("{port} at {baud} baud: port opens (scanners send only when scanning)"),
                ),
            }
        });
        checks.push(Check {
            name: "qr scanner".into(),
            ok,
            critical,
            detail,
        });
    } else {
        checks.push(disabled("qr scanner"));
    }

    if d.gpio.enabled {
        let pins = bianmin_drivers::gpio::GpioPins {
            presence: d.gpio.presence_pin.get(),
            call_staff: d.gpio.call_staff_pin.get(),
            led: d.gpio.led_pin.get(),
            buzzer: d.gpio.buzzer_pin.get(),
        };
        checks.push(Check {
            name: "gpio".into(),
            ok: gpio_available(pins),
            critical: false,
            detail: gpio_detail(pins),
        });
    } else {
        checks.push(disabled("gpio"));
    }
    checks
}

fn open_is_misconfigured(e: &bianmin_drivers::serial::OpenError) -> bool {
    use bianmin_drivers::serial::OpenError;
    matches!(e, OpenError::Busy(_) | OpenError::PermissionDenied(_))
}

fn gpio_available(pins: bianmin_drivers::gpio::GpioPins) -> bool {
    gpio_probe(pins).is_ok()
}

fn gpio_detail(pins: bianmin_drivers::gpio::GpioPins) -> String {
    match gpio_probe(pins) {
        Ok(()) => format!(
            "BCM pins presence {} call-staff {} led {} buzzer {}: claimed",
            pins.presence, pins.call_staff, pins.led, pins.buzzer
        ),
        Err(e) => e,
    }
}

fn gpio_probe(pins: bianmin_drivers::gpio::GpioPins) -> Result<(), String> {
    bianmin_drivers::gpio::probe(pins).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bianmin_drivers::idcard::sim::{demo_cards, IdCardSim};
    use bianmin_drivers::printer::sim::VirtualPrinter;
    use bianmin_drivers::printer::TextEncoding;
    use bianmin_drivers::scanner::sim::ScannerSim;

    fn code(c: ExitCode) -> String {
        format!("{c:?}")
    }

    #[test]
    fn read_card_against_the_simulator() {
        let sim = IdCardSim::new().start(None).unwrap();
        let port = sim.path().to_str().unwrap().to_string();
        let rt = runtime().unwrap();
        let no_card = rt.block_on(read_card(&port, 115_200, true, false)).unwrap();
        assert_eq!(code(no_card), code(ExitCode::from(1)));
        sim.device().place(demo_cards().swap_remove(0));
        let ok = rt.block_on(read_card(&port, 115_200, true, false)).unwrap();
        assert_eq!(code(ok), code(ExitCode::SUCCESS));
        let missing = rt
            .block_on(read_card("/dev/bianmin-missing", 115_200, false, false))
            .unwrap();
        assert_eq!(code(missing), code(ExitCode::from(2)));
    }

    #[test]
    fn masked_json_hides_personal_fields() {
        let card = demo_cards().swap_remove(0);
        let json = identity_json(&card, false).to_string();
        assert!(!json.contains(&card.id_number), "{json}");
        assert!(!json.contains(&card.name), "{json}");
        assert!(!json.contains(&card.address), "{json}");
        let revealed = identity_json(&card, true).to_string();
        assert!(revealed.contains(&card.id_number));
    }

    #[test]
    fn printer_commands_against_the_virtual_printer() {
        let dir = tempfile::tempdir().unwrap();
        let sim = VirtualPrinter::new(Paper::Mm58, TextEncoding::Gb18030)
            .with_output(dir.path())
            .start(None)
            .unwrap();
        let port = sim.path().to_str().unwrap().to_string();
        let layout = Layout {
            paper: Paper::Mm58,
            ..Layout::default()
        };
        let rt = runtime().unwrap();
        let printed = rt.block_on(print_test(&port, 115_200, layout)).unwrap();
        assert_eq!(code(printed), code(ExitCode::SUCCESS));
        assert_eq!(sim.device().pngs.len(), 1);
        sim.device().faults.paper_end = true;
        let status = rt
            .block_on(printer_status(&port, 115_200, layout, true))
            .unwrap();
        assert_eq!(code(status), code(ExitCode::from(1)));
        sim.device().faults.mute = true;
        let silent = rt
            .block_on(printer_status(&port, 115_200, layout, false))
            .unwrap();
        assert_eq!(code(silent), code(ExitCode::from(2)));
    }

    #[test]
    fn scan_counts_codes_and_times_out() {
        let sim = ScannerSim::new(Suffix::Cr).start(None).unwrap();
        let port = sim.path().to_str().unwrap().to_string();
        let rt = runtime().unwrap();
        let scan_later = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                sim.device().scan("BM1-T0001-20261125-000042-K");
            });
            rt.block_on(scan(
                &port,
                9600,
                Suffix::Cr,
                Duration::from_millis(500),
                1,
                Duration::from_secs(5),
            ))
            .unwrap()
        });
        assert_eq!(code(scan_later), code(ExitCode::SUCCESS));
        let none = rt
            .block_on(scan(
                &port,
                9600,
                Suffix::Cr,
                Duration::ZERO,
                1,
                Duration::from_millis(100),
            ))
            .unwrap();
        assert_eq!(code(none), code(ExitCode::from(1)));
    }

    #[test]
    fn doctor_reports_every_device_without_panicking() {
        let checks = doctor_checks(&Config::default());
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id-card reader", "printer", "qr scanner", "gpio"]);
        assert!(checks.iter().all(|c| !c.detail.is_empty()));
        // Absent devices are warnings: the kiosk degrades and reconnects.
        assert!(checks.iter().all(|c| !c.critical), "{checks:?}");
    }

    #[test]
    fn doctor_fails_a_port_that_answers_like_another_device() {
        // A scanner simulator on the reader's port: it answers nothing a reader would.
        let sim = ScannerSim::new(Suffix::Cr).start(None).unwrap();
        let mut config = Config::default();
        config.devices.id_card.port = sim.path().to_str().unwrap().into();
        config.devices.printer.enabled = false;
        config.devices.scanner.enabled = false;
        let done = std::sync::atomic::AtomicBool::new(false);
        let checks = std::thread::scope(|s| {
            // Keep talking for as long as the check listens.
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    sim.device().scan("NOT-A-READER-NOT-A-PRINTER");
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let checks = doctor_checks(&config);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            checks
        });
        let reader = &checks[0];
        assert!(!reader.ok && reader.critical, "{reader:?}");
        assert!(reader.detail.contains("not as a GA/T 467"), "{reader:?}");
    }
}
