//! One line of `bianmin doctor`'s table; the device and queue modules each
//! contribute their own lines.

/// One line of the doctor's table.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// A failing critical check makes `doctor` exit non-zero.
    pub critical: bool,
    pub detail: String,
}
