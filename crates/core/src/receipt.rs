//! Receipt numbers (受理回执编号), unique across the fleet without the network.
//!
//! Format: `BM1-{terminal_id}-{YYYYMMDD}-{seq:06}-{check}`, e.g.
//! `BM1-T0001-20261125-000042-K`. The terminal id is unique in the province,
//! the sequence is a per-terminal, per-day counter kept in the same SQLite
//! transaction as the record, and the check character is ISO 7064 MOD 37-2
//! over every letter and digit before it (hyphens skipped). Scanners
//! recognise a receipt by its `BM1-` prefix.

/// Prefix of every receipt number; the version of the format is the `1`.
pub const PREFIX: &str = "BM1";

/// ISO 7064 alphabet for MOD 37-2: 0–9, A–Z, then `*` for the value 36.
const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// ISO 7064 MOD 37-2 check character over the letters and digits of `text`
/// (other characters such as hyphens are skipped). `None` if `text` holds a
/// character outside 0–9, A–Z and `-`.
pub fn check_char(text: &str) -> Option<char> {
    let mut p: u32 = 0;
    for b in text.bytes() {
        if b == b'-' {
            continue;
        }
        let v = value(b).filter(|&v| v < 36)?;
        p = ((p + v) * 2) % 37;
    }
    let c = (38 - p) % 37;
    Some(ALPHABET[c as usize] as char)
}

/// Build a receipt number. `date` is `YYYYMMDD` (Beijing time).
pub fn format(terminal_id: &str, date: &str, seq: u32) -> String {
    let body = format!("{PREFIX}-{terminal_id}-{date}-{seq:06}");
    let check = check_char(&body).expect("terminal id is upper-case letters and digits");
    format!("{body}-{check}")
}

/// The parts of a valid receipt number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptParts<'a> {
    pub terminal_id: &'a str,
    pub date: &'a str,
    pub seq: u32,
}

/// Why a text is not a receipt number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("not a receipt number (expected BM1-terminal-YYYYMMDD-sequence-check)")]
    Shape,
    #[error("receipt number check character does not match (mistyped?)")]
    Check,
}

/// Validate a receipt number (as typed, scanned or received) and split it.
pub fn parse(text: &str) -> Result<ReceiptParts<'_>, ReceiptError> {
    let parts: Vec<&str> = text.split('-').collect();
    let [prefix, terminal_id, date, seq, check] = parts[..] else {
        return Err(ReceiptError::Shape);
    };
    let ok = prefix == PREFIX
        && (1..=16).contains(&terminal_id.len())
        && terminal_id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && seq.len() >= 6
        && seq.len() <= 9
        && seq.bytes().all(|b| b.is_ascii_digit())
        && check.len() == 1;
    if !ok {
        return Err(ReceiptError::Shape);
    }
    let body = &text[..text.len() - 2];
    if check_char(body).map(|c| c.to_string()).as_deref() != Some(check) {
        return Err(ReceiptError::Check);
    }
    Ok(ReceiptParts {
        terminal_id,
        date,
        seq: seq.parse().map_err(|_| ReceiptError::Shape)?,
    })
}

/// True for a well-formed receipt number with a matching check character.
pub fn is_valid(text: &str) -> bool {
    parse(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = format("T0001", "20261125", 42);
        assert!(r.starts_with("BM1-T0001-20261125-000042-"), "{r}");
        let p = parse(&r).unwrap();
        assert_eq!((p.terminal_id, p.date, p.seq), ("T0001", "20261125", 42));
    }

    #[test]
    fn iso7064_known_value() {
        // ISO 7064 MOD 37-2 of "G123498654321" is "H" (the standard's example).
        assert_eq!(check_char("G123498654321"), Some('H'));
    }

    #[test]
    fn every_single_substitution_is_caught() {
        let r = format("ZX9", "20260101", 7);
        let bytes = r.as_bytes();
        for i in 0..bytes.len() - 2 {
            if bytes[i] == b'-' || i < 4 {
                continue;
            }
            for &c in b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" {
                if c == bytes[i] {
                    continue;
                }
                let mut m = bytes.to_vec();
                m[i] = c;
                let m = String::from_utf8(m).unwrap();
                assert!(!is_valid(&m), "{m} accepted");
            }
        }
    }

    #[test]
    fn adjacent_transpositions_are_caught() {
        let r = format("T0001", "20261125", 123456);
        let b = r.as_bytes();
        for i in 4..b.len() - 3 {
            if b[i] == b[i + 1] || b[i] == b'-' || b[i + 1] == b'-' {
                continue;
            }
            let mut m = b.to_vec();
            m.swap(i, i + 1);
            assert!(!is_valid(std::str::from_utf8(&m).unwrap()));
        }
    }

    #[test]
    fn shapes_refused() {
        for t in [
            "",
            "BM1",
            "BM2-T1-20261125-000001-X",
            "BM1-t1-20261125-000001-X",
            "BM1-T1-2026112-000001-X",
        ] {
            assert_eq!(parse(t), Err(ReceiptError::Shape), "{t}");
        }
    }
}
