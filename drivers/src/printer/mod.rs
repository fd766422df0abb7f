//! ESC/POS thermal receipt printer.
//!
//! - [`receipt`]: the 受理回执 as bytes (58/80 mm, GB18030/UTF-8, native or raster QR);
//! - [`status`]: DLE EOT replies, sans-IO;
//! - [`driver`]: the async transport with status checks around printing;
//! - [`sim`]: the virtual printer (interpreter, PNG renderer, pty simulator).

pub mod driver;
pub mod receipt;
#[cfg(feature = "sim")]
pub mod sim;
pub mod status;

pub use driver::{EscPosPrinter, PrintError, Printed, PrinterStatus};
pub use receipt::{Document, Layout, Paper, Receipt, TextEncoding};
pub use status::PrinterState;
