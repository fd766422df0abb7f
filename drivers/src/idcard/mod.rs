//! Second-generation ID card reader (GA/T 467 SAM protocol).
//!
//! - [`frame`]: sans-IO frame encoder and resynchronising decoder;
//! - [`text`]: the UCS-2LE text block and the [`Identity`] it describes;
//! - [`tables`]: gender and ethnicity codes;
//! - [`error`]: SW3 codes and link failures as typed errors;
//! - [`reader`]: the async transport and the card polling loop;
//! - [`sim`]: a reader simulator on a pseudo-terminal.

pub mod error;
pub mod frame;
pub mod placement;
pub mod reader;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tables;
pub mod text;

pub use error::{CardError, SamStatus};
pub use placement::PollConfig;
pub use reader::{CardEvent, IdCardReader};
pub use tables::{ethnicity_name, Gender};
pub use text::{CardKind, Identity};
