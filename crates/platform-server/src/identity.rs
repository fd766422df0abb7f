//! Personal codes (一码通办) as the platform verifies them: a code is a
//! random token the issuer handed to a resident's phone; the platform keeps
//! only its SHA-256, whom it stands for, its scheme and when it expires,
//! and spends it on the first verification (one-time use).
//!
//! A real platform relays to the province's identity services; the
//! reference (and the platform service's demo) issue their own codes for
//! the fictional residents of [`demo_people`], through
//! `POST /admin/identity-codes`, so tests and `bianmin demo` can show a
//! code to the simulated scanner.

use bianmin_core::personal_code::Scheme;
use serde::{Deserialize, Serialize};

/// How long a demo code stays valid by default: a phone refreshes its code
/// about this often.
pub const DEFAULT_TTL_SECS: i64 = 300;
/// Longest validity an issued code may ask for.
pub const MAX_TTL_SECS: i64 = 24 * 3600;

/// One fictional resident the demo issuer vouches for.
#[derive(Clone)]
pub struct Person {
    pub name: &'static str,
    pub id_number: String,
    pub address: &'static str,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Person(***)")
    }
}

/// `first17` with its GB 11643 check character.
fn with_check(first17: &str) -> String {
    let check =
        bianmin_core::id_number::check_character(first17).expect("17 digits of a demo ID number");
    format!("{first17}{check}")
}

/// The fictional residents demo codes stand for (not the demo cards'
/// people, so a code-identified application is told apart in tests): an
/// elderly woman, a man of working age, and a child (the guardian path).
pub fn demo_people() -> Vec<Person> {
    vec![
        Person {
            name: "王秀兰",
            id_number: with_check("51132219520618002"),
            address: "演示县城关镇和平街8号",
        },
        Person {
            name: "陈建国",
            id_number: with_check("51132219681102003"),
            address: "演示县白鹤乡青山村五组",
        },
        Person {
            name: "刘小雨",
            id_number: with_check("51132220140520004"),
            address: "演示县城关镇和平街8号",
        },
    ]
}

/// What spending a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRedemption {
    /// Never issued (or issued under another scheme): a forgery or a
    /// code of another province.
    Unknown,
    Expired,
    /// Spent before (a screenshot shown twice, a replay).
    Used,
    /// Spent now: the person it stands for and when it would have expired.
    Valid {
        person: i64,
        expires_at: i64,
    },
}

/// Body of `POST /admin/identity-codes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssueCodeRequest {
    /// Index into [`demo_people`].
    #[serde(default)]
    pub person: i64,
    #[serde(default = "default_scheme")]
    pub scheme: Scheme,
    #[serde(default = "default_ttl")]
    pub ttl_secs: i64,
}

fn default_scheme() -> Scheme {
    Scheme::Ymtb
}

fn default_ttl() -> i64 {
    DEFAULT_TTL_SECS
}

/// Answer of `POST /admin/identity-codes`: the code as a phone would show
/// it (prefix and token) and when it expires.
#[derive(Clone, Serialize, Deserialize)]
pub struct IssuedCode {
    pub code: String,
    pub expires_at: String,
    /// The person's masked name, for the one who asked (a tester, the demo).
    pub masked_name: String,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedCode(expires {})", self.expires_at)
    }
}

/// The prefix a phone shows before the token.
pub fn prefix_of(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Ymtb => "YMTB:",
        Scheme::Eid => "EID:",
        Scheme::Essc => "ESSC:",
    }
}

/// A fresh token: 24 characters of `A–Z a–z 0–9` (143 bits).
pub fn new_token() -> String {
    use rand::distr::{Alphanumeric, SampleString as _};
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

/// The key a code is stored under: SHA-256 of its token, hex.
pub fn token_key(token: &str) -> String {
    bianmin_platform::sign::body_hash(token.as_bytes())
}

/// What the issuer checked for a scheme's codes.
pub fn verified_attributes(scheme: Scheme) -> Vec<String> {
    let mut out = vec!["name".to_string(), "id_number".to_string()];
    // The 一码通 and e-ID apps issue a code only after a live face check
    // on the phone; the social-security card app after its PIN.
    if scheme != Scheme::Essc {
        out.push("face".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_people_have_valid_numbers_and_tokens_parse_as_codes() {
        for person in demo_people() {
            assert!(bianmin_core::id_number::validate(&person.id_number).is_ok());
        }
        let token = new_token();
        assert_eq!(token.len(), 24);
        let code = format!("{}{token}", prefix_of(Scheme::Essc));
        assert!(matches!(
            bianmin_core::personal_code::parse(&code),
            bianmin_core::personal_code::Parsed::Code {
                scheme: Scheme::Essc,
                ..
            }
        ));
        assert_ne!(token_key(&token), token_key(&new_token()));
    }
}
