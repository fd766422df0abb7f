//! All simulators at once, for `bianmin demo` and end-to-end tests.

use crate::idcard::sim::{demo_cards, IdCardSim};
use crate::idcard::PollConfig;
use crate::manager::{
    Backoff, GpioMode, ManagerConfig, PrinterSettings, ScannerSettings, SerialSettings,
};
use crate::printer::sim::VirtualPrinter;
use crate::printer::{Layout, Paper, TextEncoding};
use crate::pty::SimHandle;
use crate::scanner::sim::ScannerSim;
use crate::scanner::Suffix;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How realistic the simulators' timing is.
#[derive(Debug, Clone, Copy)]
pub struct DemoTiming {
    /// SAM processing time of a card read.
    pub sam_delay: Duration,
    /// Pace simulator output at the configured baud rates.
    pub paced: bool,
}

impl DemoTiming {
    /// Close to real devices: a read takes about a second.
    pub fn realistic() -> DemoTiming {
        DemoTiming {
            sam_delay: Duration::from_millis(900),
            paced: true,
        }
    }

    /// As fast as the ptys go (tests).
    pub fn fast() -> DemoTiming {
        DemoTiming {
            sam_delay: Duration::ZERO,
            paced: false,
        }
    }
}

/// The three serial simulators on their ptys, plus where receipts go.
pub struct DemoDevices {
    pub id_card: SimHandle<IdCardSim>,
    pub printer: SimHandle<VirtualPrinter>,
    pub scanner: SimHandle<ScannerSim>,
    pub receipts_dir: PathBuf,
    pub paper: Paper,
}

pub const ID_CARD_BAUD: u32 = 115_200;
pub const PRINTER_BAUD: u32 = 115_200;
pub const SCANNER_BAUD: u32 = 9_600;

impl DemoDevices {
    /// Start every simulator; receipts are rendered as PNGs into `receipts_dir`.
    pub fn start(
        receipts_dir: &Path,
        paper: Paper,
        timing: DemoTiming,
    ) -> std::io::Result<DemoDevices> {
        std::fs::create_dir_all(receipts_dir)?;
        let pace = |baud| timing.paced.then_some(baud);
        let mut reader = IdCardSim::new();
        reader.sam_delay = timing.sam_delay;
        Ok(DemoDevices {
            id_card: reader.start(pace(ID_CARD_BAUD))?,
            printer: VirtualPrinter::new(paper, TextEncoding::Gb18030)
                .with_output(receipts_dir)
                .start(pace(PRINTER_BAUD))?,
            scanner: ScannerSim::new(Suffix::Cr).start(pace(SCANNER_BAUD))?,
            receipts_dir: receipts_dir.to_path_buf(),
            paper,
        })
    }

    /// A manager configuration pointing at these simulators, GPIO simulated.
    pub fn manager_config(&self) -> ManagerConfig {
        let path = |p: &Path| p.to_string_lossy().into_owned();
        ManagerConfig {
            id_card: Some(SerialSettings {
                port: path(self.id_card.path()),
                baud: ID_CARD_BAUD,
            }),
            printer: Some(PrinterSettings {
                port: path(self.printer.path()),
                baud: PRINTER_BAUD,
                layout: Layout {
                    paper: self.paper,
                    ..Layout::default()
                },
                health_interval: Duration::from_secs(5),
            }),
            scanner: Some(ScannerSettings {
                port: path(self.scanner.path()),
                baud: SCANNER_BAUD,
                suffix: Suffix::Cr,
                dedupe: Duration::from_millis(1500),
            }),
            gpio: GpioMode::Simulated,
            poll: PollConfig::default(),
            backoff: Backoff::default(),
        }
    }

    /// Put demo card `index` (0–5, see [`demo_cards`]) on the reader.
    pub fn place_card(&self, index: usize) {
        let cards = demo_cards();
        if let Some(card) = cards.get(index % cards.len()) {
            self.id_card.device().place(card.clone());
        }
    }

    pub fn lift_card(&self) {
        self.id_card.device().lift();
    }

    /// Hold a code under the scanner.
    pub fn scan(&self, code: &str) {
        self.scanner.device().scan(code);
    }
}
