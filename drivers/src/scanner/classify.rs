//! What a scanned payload is.
//!
//! Schemes (prefixes are matched case-insensitively):
//! - **receipt code of this system**: `BM1-TERMINAL-YYYYMMDD-NNNNNN-C`, that is
//!   the prefix, a terminal id (1–16 of `A–Z0–9`), the date, a 6-digit
//!   sequence and one check character (`0–9A–Z`), e.g. `BM1-T0001-20261125-000042-K`. Anything else
//!   starting `BM1-` is still a receipt code, marked not well-formed, so the
//!   kiosk can say "this receipt code is damaged" rather than "unknown code".
//!   The check character's algorithm belongs to whoever issues the numbers
//!   (the kiosk core); this module only exposes the parts.
//! - **personal code (一码通办)**: the prefixes of `bianmin_core::personal_code`
//!   (`YMTB:` 一码通, `EID:`/`CTID:` 电子身份证, `ESSC:` 电子社保卡) + a token
//!   of 8–256 characters. The token is an authentication secret: it is never
//!   logged or shown in Debug output. A known prefix with a bad token is
//!   `Unknown` (never sent to the platform).
//! - **URL**: `http://` or `https://` with no whitespace.
//! - anything else is unknown.

use std::fmt;

/// The parts of a receipt number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptCode {
    pub number: String,
    /// Terminal id, date, sequence and check character when the shape is right.
    pub parts: Option<ReceiptParts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptParts {
    pub terminal: String,
    pub date: String,
    pub sequence: u32,
    pub check: char,
}

/// Which personal-code scheme (the table is core's).
pub use bianmin_core::personal_code::Scheme as ServiceScheme;

/// A classified payload.
#[derive(Clone, PartialEq, Eq)]
pub enum CodeKind {
    Receipt(ReceiptCode),
    Service {
        scheme: ServiceScheme,
        token: String,
    },
    Url(String),
    Unknown(String),
}

impl fmt::Debug for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeKind::Receipt(r) => f.debug_tuple("Receipt").field(r).finish(),
            CodeKind::Service { scheme, token } => {
                write!(f, "Service({scheme:?}, {} chars)", token.len())
            }
            CodeKind::Url(u) => f.debug_tuple("Url").field(u).finish(),
            CodeKind::Unknown(u) => write!(f, "Unknown({} chars)", u.chars().count()),
        }
    }
}

impl CodeKind {
    /// A short name for logs and JSON ("receipt", "service", "url", "unknown").
    pub fn label(&self) -> &'static str {
        match self {
            CodeKind::Receipt(_) => "receipt",
            CodeKind::Service { .. } => "service",
            CodeKind::Url(_) => "url",
            CodeKind::Unknown(_) => "unknown",
        }
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Parse the shape `BM1-TERM-YYYYMMDD-NNNNNN-C` (the whole number).
pub fn parse_receipt_number(number: &str) -> Option<ReceiptParts> {
    let rest = number.strip_prefix("BM1-")?;
    let mut it = rest.split('-');
    let (terminal, date, seq, check) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let upper_alnum = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    };
    let ok = (1..=16).contains(&terminal.len())
        && upper_alnum(terminal)
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && seq.len() == 6
        && seq.bytes().all(|b| b.is_ascii_digit())
        && check.len() == 1
        && upper_alnum(check);
    if !ok {
        return None;
    }
    let d = |r: std::ops::Range<usize>| date[r].parse::<u32>().unwrap_or(0);
    if !crate::id_number::is_real_date(d(0..4), d(4..6), d(6..8)) {
        return None;
    }
    Some(ReceiptParts {
        terminal: terminal.to_string(),
        date: date.to_string(),
        sequence: seq.parse().ok()?,
        check: check.chars().next()?,
    })
}

pub fn classify(payload: &str) -> CodeKind {
    let text = payload.trim();
    if strip_prefix_ci(text, "BM1-").is_some() {
        let number = format!("BM1-{}", &text[4..]);
        let parts = parse_receipt_number(&number);
        return CodeKind::Receipt(ReceiptCode { number, parts });
    }
    match bianmin_core::personal_code::parse(text) {
        bianmin_core::personal_code::Parsed::Code { scheme, token } => {
            return CodeKind::Service {
                scheme,
                token: token.to_string(),
            }
        }
        bianmin_core::personal_code::Parsed::Malformed(_) => {
            return CodeKind::Unknown(text.to_string())
        }
        bianmin_core::personal_code::Parsed::NotPersonal => {}
    }
    if (strip_prefix_ci(text, "https://").is_some_and(|r| !r.is_empty())
        || strip_prefix_ci(text, "http://").is_some_and(|r| !r.is_empty()))
        && !text.contains(char::is_whitespace)
    {
        return CodeKind::Url(text.to_string());
    }
    CodeKind::Unknown(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_numbers() {
        let CodeKind::Receipt(r) = classify("BM1-T0001-20261125-000042-K") else {
            panic!()
        };
        let p = r.parts.unwrap();
        assert_eq!(
            (p.terminal.as_str(), p.date.as_str(), p.sequence, p.check),
            ("T0001", "20261125", 42, 'K')
        );
        let CodeKind::Receipt(r) = classify("bm1-garbled") else {
            panic!()
        };
        assert_eq!(r.number, "BM1-garbled");
        assert!(r.parts.is_none());
        assert!(parse_receipt_number("BM1-T0001-20261340-000042-K").is_none());
        assert!(parse_receipt_number("BM1-T0001-20261125-00042-K").is_none());
    }

    #[test]
    fn service_url_unknown() {
        assert!(matches!(
            classify("YMTB:abcDEF123456"),
            CodeKind::Service {
                scheme: ServiceScheme::Ymtb,
                ..
            }
        ));
        assert!(matches!(
            classify("eid:abcdefgh.ij"),
            CodeKind::Service {
                scheme: ServiceScheme::Eid,
                ..
            }
        ));
        assert!(matches!(classify("EID:short"), CodeKind::Unknown(_)));
        assert!(matches!(
            classify("https://zwfw.example.gov.cn/q?id=1"),
            CodeKind::Url(_)
        ));
        assert!(matches!(classify("https://"), CodeKind::Unknown(_)));
        assert!(matches!(classify("6901234567892"), CodeKind::Unknown(_)));
        let dbg = format!("{:?}", classify("YMTB:secret-token-123"));
        assert!(!dbg.contains("secret"), "{dbg}");
    }
}
