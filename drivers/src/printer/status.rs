//! ESC/POS real-time status (DLE EOT n), sans-IO.

use bianmin_core::words::Words;

/// DLE EOT n. Some libraries append a 00; printers ignore it, so do we.
pub fn request(n: u8) -> [u8; 3] {
    [0x10, 0x04, n]
}

/// Real-time status replies look like `0xx1xx10`: bits 1 and 4 set, bits 0
/// and 7 clear. Anything else is not an answer to DLE EOT.
pub fn is_status_byte(b: u8) -> bool {
    b & 0b1001_0011 == 0b0001_0010
}

/// What the kiosk needs to know about the printer, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrinterState {
    /// No answer to DLE EOT 1: unplugged, switched off, or not a printer.
    Disconnected,
    PaperEnd,
    CoverOpen,
    /// Offline for another reason (error, feeding by button, waiting for recovery).
    Offline,
    /// Prints, but the roll is nearly empty: tell staff.
    PaperNearEnd,
    Ok,
}

impl PrinterState {
    /// Whether a receipt can be printed now.
    pub fn can_print(self) -> bool {
        matches!(self, PrinterState::Ok | PrinterState::PaperNearEnd)
    }

    /// One sentence for the resident when the receipt could not be printed.
    pub fn resident_message(self) -> Words {
        match self {
            PrinterState::Ok | PrinterState::PaperNearEnd => {
                Words::fixed("回执已打印，请取走", "Your receipt is printed; please take it.")
            }
            PrinterState::PaperEnd => Words::fixed(
                "打印机缺纸，回执没有打印。请记下屏幕上的受理编号，或扫码保存，稍后可补打",
                "The printer is out of paper; the receipt was not printed. Note the receipt number on the screen or scan its code; it can be reprinted later.",
            ),
            PrinterState::CoverOpen | PrinterState::Offline | PrinterState::Disconnected => {
                Words::fixed(
                    "打印机暂时不能使用，回执没有打印。请记下屏幕上的受理编号，或扫码保存，稍后可补打",
                    "The printer is not working; the receipt was not printed. Note the receipt number on the screen or scan its code; it can be reprinted later.",
                )
            }
        }
    }

    /// One line for the technician.
    pub fn technician_detail(self) -> &'static str {
        match self {
            PrinterState::Ok => "printer ready",
            PrinterState::PaperNearEnd => "paper near end: replace the roll soon",
            PrinterState::PaperEnd => "paper end",
            PrinterState::CoverOpen => "cover open",
            PrinterState::Offline => "printer offline (error or waiting for recovery)",
            PrinterState::Disconnected => {
                "no answer to DLE EOT 1 (unplugged, off, or not a printer)"
            }
        }
    }
}

/// The raw bytes behind a state, for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StatusBytes {
    /// DLE EOT 1 (printer).
    pub printer: Option<u8>,
    /// DLE EOT 2 (offline cause), asked only when offline.
    pub offline_cause: Option<u8>,
    /// DLE EOT 4 (roll paper sensor).
    pub paper: Option<u8>,
}

impl StatusBytes {
    /// Fold the replies into one state, worst first.
    pub fn state(&self) -> PrinterState {
        let Some(printer) = self.printer.filter(|b| is_status_byte(*b)) else {
            return PrinterState::Disconnected;
        };
        let paper = self.paper.filter(|b| is_status_byte(*b)).unwrap_or(0x12);
        let paper_end = paper & 0b0110_0000 != 0;
        let near_end = paper & 0b0000_1100 != 0;
        let offline = printer & 0b0000_1000 != 0;
        if offline {
            let cause = self
                .offline_cause
                .filter(|b| is_status_byte(*b))
                .unwrap_or(0x12);
            if cause & 0b0010_0000 != 0 || paper_end {
                return PrinterState::PaperEnd;
            }
            if cause & 0b0000_0100 != 0 {
                return PrinterState::CoverOpen;
            }
            return PrinterState::Offline;
        }
        if paper_end {
            PrinterState::PaperEnd
        } else if near_end {
            PrinterState::PaperNearEnd
        } else {
            PrinterState::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern() {
        assert!(is_status_byte(0x12));
        assert!(is_status_byte(0x1E));
        assert!(is_status_byte(0x72));
        assert!(!is_status_byte(0x00));
        assert!(!is_status_byte(0x13));
        assert!(!is_status_byte(0x92));
        assert!(!is_status_byte(0x10));
        assert_eq!((0..=255u8).filter(|b| is_status_byte(*b)).count(), 16);
    }

    #[test]
    fn states() {
        let s = |p, c, r| {
            StatusBytes {
                printer: p,
                offline_cause: c,
                paper: r,
            }
            .state()
        };
        assert_eq!(s(None, None, None), PrinterState::Disconnected);
        assert_eq!(s(Some(0xFF), None, None), PrinterState::Disconnected);
        assert_eq!(s(Some(0x12), None, Some(0x12)), PrinterState::Ok);
        assert_eq!(s(Some(0x12), None, Some(0x1E)), PrinterState::PaperNearEnd);
        assert_eq!(
            s(Some(0x1A), Some(0x16), Some(0x12)),
            PrinterState::CoverOpen
        );
        assert_eq!(
            s(Some(0x1A), Some(0x32), Some(0x72)),
            PrinterState::PaperEnd
        );
        assert_eq!(s(Some(0x1A), Some(0x52), Some(0x12)), PrinterState::Offline);
    }
}
