//! Device wiring, in one place for the running kiosk, the admin screens and
//! the technician's CLI: which port and baud each device is on (from the
//! configuration) and the card's identity in the shape the forms prefill from.

use bianmin_config::{Config, PrinterEncoding, ScanSuffix};
use bianmin_drivers::manager::{
    Backoff, GpioMode, ManagerConfig, PrinterSettings, ScannerSettings, SerialSettings,
};
use bianmin_drivers::printer::{Layout, Paper, TextEncoding};
use bianmin_drivers::scanner::Suffix;
use std::time::Duration;

/// What a Bianmin kiosk can do for a service: it has an ID-card reader, a
/// code scanner and a receipt printer, and no camera, payment or face check
/// (no drivers for them). A content package promising more is refused by
/// `content check`, and such a service is explained, not offered.
pub const KIOSK_CAPABILITIES: [bianmin_core::catalogue::Capability; 3] = [
    bianmin_core::catalogue::Capability::IdCardReader,
    bianmin_core::catalogue::Capability::Scanner,
    bianmin_core::catalogue::Capability::Printer,
];

pub fn suffix(s: ScanSuffix) -> Suffix {
    match s {
        ScanSuffix::Cr => Suffix::Cr,
        ScanSuffix::Lf => Suffix::Lf,
        ScanSuffix::Crlf => Suffix::CrLf,
    }
}

pub fn printer_layout(config: &Config) -> Layout {
    let p = &config.devices.printer;
    Layout {
        paper: Paper::from_mm(p.paper_mm.0),
        encoding: match p.encoding {
            PrinterEncoding::Gb18030 => TextEncoding::Gb18030,
            PrinterEncoding::Utf8 => TextEncoding::Utf8,
        },
        fs_and: p.fs_and,
        native_qr: p.native_qr,
        partial_cut: false,
    }
}

/// The drivers' manager configuration for this kiosk configuration (what
/// `bianmin run` starts; `bianmin demo` uses `DemoDevices::manager_config`).
pub fn manager_config(config: &Config) -> ManagerConfig {
    let d = &config.devices;
    let serial = |enabled: bool, port: &str, baud: u32| {
        (enabled && !port.is_empty()).then(|| SerialSettings {
            port: port.to_string(),
            baud,
        })
    };
    ManagerConfig {
        id_card: serial(d.id_card.enabled, &d.id_card.port, d.id_card.baud.0),
        printer: serial(d.printer.enabled, &d.printer.port, d.printer.baud.0).map(|s| {
            PrinterSettings {
                port: s.port,
                baud: s.baud,
                layout: printer_layout(config),
                health_interval: Duration::from_secs(10),
            }
        }),
        scanner: serial(d.scanner.enabled, &d.scanner.port, d.scanner.baud.0).map(|s| {
            ScannerSettings {
                port: s.port,
                baud: s.baud,
                suffix: suffix(d.scanner.suffix),
                dedupe: Duration::from_millis(u64::from(d.scanner.dedupe_ms.get())),
            }
        }),
        gpio: if d.gpio.enabled {
            GpioMode::Rpi(bianmin_drivers::gpio::GpioPins {
                presence: d.gpio.presence_pin.get(),
                call_staff: d.gpio.call_staff_pin.get(),
                led: d.gpio.led_pin.get(),
                buzzer: d.gpio.buzzer_pin.get(),
            })
        } else {
            GpioMode::Disabled
        },
        poll: Default::default(),
        backoff: Backoff::default(),
    }
}

/// The card's identity in the shape the forms prefill from.
pub fn core_identity(card: &bianmin_drivers::idcard::Identity) -> bianmin_core::form::Identity {
    let birth = &card.birth;
    let birth_date = if birth.len() == 8 && birth.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..])
    } else {
        String::new()
    };
    bianmin_core::form::Identity {
        name: card.name.clone(),
        id_number: card.id_number.clone(),
        gender: match card.gender_code {
            1 => "男".to_string(),
            2 => "女".to_string(),
            _ => String::new(),
        },
        birth_date,
        address: card.address.clone(),
        source: bianmin_core::form::IdentitySource::IdCard,
    }
}
