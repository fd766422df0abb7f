//! QR / barcode scanner in serial (USB-CDC) mode.
//!
//! - [`framer`]: suffix framing, length limit, control-character rejection, dedupe (sans-IO);
//! - [`classify`]: receipt code / e-ID or 一码通办 service code / URL / unknown;
//! - [`driver`]: the async transport, with the optional Honeywell trigger;
//! - [`sim`]: a scanner simulator on a pty.

pub mod classify;
pub mod driver;
pub mod framer;
#[cfg(feature = "sim")]
pub mod sim;

pub use classify::{classify, CodeKind, ReceiptCode, ServiceScheme};
pub use driver::{ScanError, ScanEvent, ScannedCode, Scanner};
pub use framer::{Framed, Framer, Rejected, Suffix};
