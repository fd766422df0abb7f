//! The async transport of the receipt printer.

use super::receipt::{self, Document, Layout, Receipt, ReceiptError};
use super::status::{is_status_byte, request, PrinterState, StatusBytes};
use bianmin_core::words::Words;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout, Instant};

/// Time-outs of the printer link.
#[derive(Debug, Clone, Copy)]
pub struct PrinterTimeouts {
    /// Wait for one status byte.
    pub status: Duration,
    /// Wait for the whole receipt to be accepted by the port.
    pub write: Duration,
    /// Time the mechanism needs to print before the status means "after".
    pub settle: Duration,
}

impl Default for PrinterTimeouts {
    fn default() -> Self {
        PrinterTimeouts {
            status: Duration::from_millis(500),
            write: Duration::from_secs(10),
            settle: Duration::from_millis(300),
        }
    }
}

/// A printer status with the bytes behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PrinterStatus {
    pub state: PrinterState,
    pub raw: StatusBytes,
    /// Bytes received that were not status replies (a non-printer on the port).
    pub garbage: usize,
}

/// Why a receipt was not printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("receipt not printed: {}", .0.technician_detail())]
    NotReady(PrinterState),
    /// Sent, but the printer reported trouble afterwards: it may be partly printed.
    #[error("receipt sent but printer reported {} afterwards", .0.technician_detail())]
    FailedAfter(PrinterState),
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    #[error("printer link lost: {0}")]
    Io(String),
}

impl PrintError {
    pub fn state(&self) -> PrinterState {
        match self {
            PrintError::NotReady(s) | PrintError::FailedAfter(s) => *s,
            PrintError::Receipt(_) => PrinterState::Ok,
            PrintError::Io(_) => PrinterState::Disconnected,
        }
    }

    /// One sentence for the resident: what happened and what to do.
    pub fn resident_message(&self) -> Words {
        match self {
            PrintError::Receipt(_) => Words::fixed(
                "回执没有打印，请记下屏幕上的受理编号，稍后可补打",
                "The receipt was not printed. Note the receipt number on the screen; it can be reprinted later.",
            ),
            other => other.state().resident_message(),
        }
    }
}

/// A printed receipt; `warning` is set when the paper is nearly used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printed {
    pub warning: Option<PrinterState>,
}

/// An ESC/POS printer on one serial link.
pub struct EscPosPrinter<S> {
    io: S,
    pub layout: Layout,
    pub timeouts: PrinterTimeouts,
}

impl EscPosPrinter<tokio_serial::SerialStream> {
    pub fn open(path: &str, baud: u32, layout: Layout) -> Result<Self, crate::serial::OpenError> {
        crate::serial::open(path, baud).map(|io| EscPosPrinter::new(io, layout))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> EscPosPrinter<S> {
    pub fn new(io: S, layout: Layout) -> Self {
        EscPosPrinter {
            io,
            layout,
            timeouts: PrinterTimeouts::default(),
        }
    }

    async fn drain(&mut self) -> Result<(), std::io::Error> {
        let mut buf = [0u8; 256];
        loop {
            match timeout(Duration::ZERO, self.io.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::BrokenPipe.into()),
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            }
        }
    }

    /// Ask DLE EOT n and return the first byte of the status pattern, or
    /// `None` after the time-out; non-status bytes are counted as garbage.
    async fn query(&mut self, n: u8, garbage: &mut usize) -> Result<Option<u8>, std::io::Error> {
        self.drain().await?;
        self.io.write_all(&request(n)).await?;
        self.io.flush().await?;
        let deadline = Instant::now() + self.timeouts.status;
        let mut buf = [0u8; 64];
        loop {
            match tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => return Err(std::io::ErrorKind::BrokenPipe.into()),
                Ok(Ok(k)) => {
                    // A printer answers DLE EOT with exactly one byte. A
                    // status-shaped byte amid other bytes is a coincidence
                    // of a chatty non-printer ('r' is 0x72, "paper end").
                    let noisy = k > 1 || !is_status_byte(buf[0]);
                    if noisy {
                        *garbage += k;
                        continue;
                    }
                    if *garbage > 0 {
                        return Ok(None);
                    }
                    return Ok(Some(buf[0]));
                }
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    /// DLE EOT 1, then 2 when offline, then 4 for the paper roll.
    pub async fn status(&mut self) -> PrinterStatus {
        let mut garbage = 0;
        let mut raw = StatusBytes::default();
        let result: Result<(), std::io::Error> = async {
            raw.printer = self.query(1, &mut garbage).await?;
            if raw.printer.is_none() {
                return Ok(());
            }
            if raw.printer.is_some_and(|b| b & 0x08 != 0) {
                raw.offline_cause = self.query(2, &mut garbage).await?;
            }
            raw.paper = self.query(4, &mut garbage).await?;
            Ok(())
        }
        .await;
        if result.is_err() {
            raw = StatusBytes::default();
        }
        PrinterStatus {
            state: raw.state(),
            raw,
            garbage,
        }
    }

    /// Print raw ESC/POS bytes with the status checks around them.
    pub async fn print_bytes(&mut self, bytes: &[u8]) -> Result<Printed, PrintError> {
        let before = self.status().await.state;
        if !before.can_print() {
            return Err(PrintError::NotReady(before));
        }
        let write = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match timeout(self.timeouts.write, write).await {
            Err(_) => return Err(PrintError::Io("write timed out".into())),
            Ok(Err(e)) => return Err(PrintError::Io(e.kind().to_string())),
            Ok(Ok(())) => {}
        }
        tokio::time::sleep(self.timeouts.settle).await;
        let after = self.status().await.state;
        match after {
            PrinterState::Ok => Ok(Printed { warning: None }),
            PrinterState::PaperNearEnd => Ok(Printed {
                warning: Some(PrinterState::PaperNearEnd),
            }),
            other => Err(PrintError::FailedAfter(other)),
        }
    }

    /// Print one receipt; `Ok` only when the status after printing is clean.
    pub async fn print_receipt(&mut self, receipt: &Receipt) -> Result<Printed, PrintError> {
        let bytes = receipt::build(receipt, &self.layout)?;
        self.print_bytes(&bytes).await
    }

    /// Print a plain-text document; `Ok` only when the status after printing is clean.
    pub async fn print_document(&mut self, document: &Document) -> Result<Printed, PrintError> {
        let bytes = receipt::build_document(document, &self.layout)?;
        self.print_bytes(&bytes).await
    }
}
