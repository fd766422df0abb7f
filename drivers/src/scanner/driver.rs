//! The async transport of the QR scanner (serial / USB-CDC mode).

use super::classify::{classify, CodeKind};
use super::framer::{Deduper, Framed, Framer, Rejected, Suffix, DEFAULT_MAX_LEN};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Honeywell serial trigger: start and stop a scan.
pub const HONEYWELL_TRIGGER: [u8; 3] = [0x16, 0x54, 0x0D];
pub const HONEYWELL_STOP: [u8; 3] = [0x16, 0x55, 0x0D];

/// A code read by the scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedCode {
    pub kind: CodeKind,
}

/// What the scanner produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEvent {
    Code(ScannedCode),
    /// Something was scanned but refused (too long, control characters…).
    Rejected(Rejected),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("scanner link lost: {0}")]
    Io(String),
}

/// A scanner on one serial link.
pub struct Scanner<S> {
    io: S,
    framer: Framer,
    dedupe: Deduper,
    queue: VecDeque<ScanEvent>,
}

impl Scanner<tokio_serial::SerialStream> {
    /// Open the port and discard whatever was scanned while nobody listened:
    /// a code from before the kiosk (re)started must not act on this session.
    pub fn open(
        path: &str,
        baud: u32,
        suffix: Suffix,
        dedupe: Duration,
    ) -> Result<Self, crate::serial::OpenError> {
        let io = crate::serial::open(path, baud)?;
        let _ = tokio_serial::SerialPort::clear(&io, tokio_serial::ClearBuffer::Input);
        Ok(Scanner::new(io, suffix, dedupe))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Scanner<S> {
    pub fn new(io: S, suffix: Suffix, dedupe: Duration) -> Self {
        Scanner {
            io,
            framer: Framer::new(suffix, DEFAULT_MAX_LEN),
            dedupe: Deduper::new(dedupe),
            queue: VecDeque::new(),
        }
    }

    /// Start a scan on a scanner in command-trigger mode.
    pub async fn trigger(&mut self) -> Result<(), ScanError> {
        self.send(&HONEYWELL_TRIGGER).await
    }

    pub async fn stop_trigger(&mut self) -> Result<(), ScanError> {
        self.send(&HONEYWELL_STOP).await
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ScanError> {
        let io = |e: std::io::Error| ScanError::Io(e.kind().to_string());
        self.io.write_all(bytes).await.map_err(io)?;
        self.io.flush().await.map_err(io)
    }

    /// The next scan (duplicates within the window are dropped). Cancel-safe:
    /// bytes already read stay in the framer.
    pub async fn next_event(&mut self) -> Result<ScanEvent, ScanError> {
        let mut buf = [0u8; 512];
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(event);
            }
            let n = match self.io.read(&mut buf).await {
                Ok(0) => return Err(ScanError::Io("port closed".into())),
                Ok(n) => n,
                Err(e) => return Err(ScanError::Io(e.kind().to_string())),
            };
            let now = std::time::Instant::now();
            for framed in self.framer.push(&buf[..n]) {
                match framed {
                    Framed::Code(text) => {
                        if self.dedupe.accept(&text, now) {
                            self.queue.push_back(ScanEvent::Code(ScannedCode {
                                kind: classify(&text),
                            }));
                        }
                    }
                    Framed::Rejected(why) => {
                        tracing::info!(reason = %why, "scan rejected");
                        self.queue.push_back(ScanEvent::Rejected(why));
                    }
                }
            }
        }
    }
}

impl CodeKind {
    /// The payload as scanned (for the kiosk's lookup; never log it).
    pub fn payload(&self) -> &str {
        match self {
            CodeKind::Receipt(r) => &r.number,
            CodeKind::Service { token, .. } => token,
            CodeKind::Url(u) | CodeKind::Unknown(u) => u,
        }
    }
}
