//! Personal codes a resident shows instead of the ID card (一码通办): what
//! kind a scanned text is, by its prefix. The scanner, the kiosk and the
//! platform read them with this one table, so a scheme added here is
//! recognised everywhere at once.
//!
//! | prefix | scheme | issued by |
//! |---|---|---|
//! | `YMTB:` | the province's 一码通 code | the province's 一网通办 app |
//! | `EID:`, `CTID:` | 电子身份证 / CTID 网证 | the public-security e-ID service |
//! | `ESSC:` | 电子社保卡 | the national social-security card platform |
//!
//! After the prefix comes a token of 8–256 characters from
//! `A–Z a–z 0–9 . _ ~ + / = -`. Prefixes are matched case-insensitively.
//! The token is an authentication secret: only the platform can say who it
//! stands for (and only once); it is never logged or shown.

use serde::{Deserialize, Serialize};

/// Which issuer's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `YMTB:` the province's 一码通.
    Ymtb,
    /// `EID:` or `CTID:` 电子身份证 (CTID 网证).
    Eid,
    /// `ESSC:` 电子社保卡.
    Essc,
}

/// Every prefix and the scheme it names.
pub const PREFIXES: [(&str, Scheme); 4] = [
    ("YMTB:", Scheme::Ymtb),
    ("EID:", Scheme::Eid),
    ("CTID:", Scheme::Eid),
    ("ESSC:", Scheme::Essc),
];

impl Scheme {
    /// The name on the wire and in records (`ymtb`, `eid`, `essc`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Ymtb => "ymtb",
            Scheme::Eid => "eid",
            Scheme::Essc => "essc",
        }
    }

    /// What a resident calls it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Scheme::Ymtb => "一码通",
            Scheme::Eid => "电子身份证",
            Scheme::Essc => "电子社保卡",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Scheme::Ymtb => "one-code pass",
            Scheme::Eid => "electronic ID",
            Scheme::Essc => "electronic social security card",
        }
    }
}

/// What a scanned text is, as far as personal codes go.
#[derive(Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A well-formed code of a known scheme.
    Code { scheme: Scheme, token: &'a str },
    /// A known prefix with a token of the wrong length or characters: a
    /// misread or a forgery, never sent to the platform.
    Malformed(Scheme),
    /// No personal-code prefix.
    NotPersonal,
}

impl std::fmt::Debug for Parsed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Parsed::Code { scheme, token } => {
                write!(f, "Code({scheme:?}, {} chars)", token.len())
            }
            Parsed::Malformed(s) => write!(f, "Malformed({s:?})"),
            Parsed::NotPersonal => f.write_str("NotPersonal"),
        }
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Read `text` (surrounding whitespace ignored).
pub fn parse(text: &str) -> Parsed<'_> {
    let text = text.trim();
    for (prefix, scheme) in PREFIXES {
        if let Some(token) = strip_prefix_ci(text, prefix) {
            let ok = (8..=256).contains(&token.len())
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-_~+/=".contains(&b));
            return if ok {
                Parsed::Code { scheme, token }
            } else {
                Parsed::Malformed(scheme)
            };
        }
    }
    Parsed::NotPersonal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_by_prefix() {
        let scheme = |t: &str| match parse(t) {
            Parsed::Code { scheme, .. } => Some(scheme),
            _ => None,
        };
        assert_eq!(scheme("YMTB:abcDEF123456"), Some(Scheme::Ymtb));
        assert_eq!(scheme("eid:abcdefgh.ij"), Some(Scheme::Eid));
        assert_eq!(scheme("CTID:0123456789ab"), Some(Scheme::Eid));
        assert_eq!(scheme(" ESSC:A1b2C3d4E5 \n"), Some(Scheme::Essc));
        assert_eq!(parse("EID:short"), Parsed::Malformed(Scheme::Eid));
        assert_eq!(
            parse("ESSC:has space inside"),
            Parsed::Malformed(Scheme::Essc)
        );
        assert_eq!(parse("BM1-T0001-20261125-000042-K"), Parsed::NotPersonal);
        assert_eq!(parse("6901234567892"), Parsed::NotPersonal);
        let dbg = format!("{:?}", parse("YMTB:secret-token-123"));
        assert!(!dbg.contains("secret"), "{dbg}");
    }
}
