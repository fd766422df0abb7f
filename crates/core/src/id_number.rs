//! GB 11643-1999 citizen identity numbers: check-character validation and the
//! masking used wherever a number or a name is shown outside the resident's
//! own session (logs never get even the masked form).
//!
//! Pure functions, no I/O: the kiosk's core uses this module too.

use std::fmt;

/// Weights of digits 1–17 (ISO 7064 MOD 11-2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `S mod 11`.
const CHECK: &[u8; 11] = b"10X98765432";

/// Why a string is not a valid 18-character identity number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an identity number has 18 characters, found {0}")]
    Length(usize),
    #[error("character {position} must be a digit")]
    NotDigit { position: usize },
    #[error("the last character must be a digit or X")]
    BadLastCharacter,
    #[error("the birth date part is not a real date")]
    BadBirthDate,
    #[error("the region code cannot start with 0")]
    BadRegion,
    // The expected character is deliberately not shown: it would let anyone
    // complete a partially known number.
    #[error("the check character does not match")]
    BadCheckCharacter,
}

/// Sex as encoded by digit 17 of the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SexDigit {
    Male,
    Female,
}

/// What a valid number says about its holder. Debug hides everything: the
/// birth date is personal data.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ValidIdNumber {
    pub region: [u8; 6],
    pub birth_year: u16,
    pub birth_month: u8,
    pub birth_day: u8,
    pub sex: SexDigit,
}

impl fmt::Debug for ValidIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValidIdNumber(..)")
    }
}

/// The check character of the first 17 digits, or `None` when `first17` is
/// not 17 ASCII digits.
pub fn check_character(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize] as char)
}

/// Validate an 18-character number: digits, a real birth date, and the
/// MOD 11-2 check character. A lower-case `x` is accepted because residents
/// type it; the card itself always carries `X`.
pub fn validate(number: &str) -> Result<ValidIdNumber, IdNumberError> {
    let bytes = number.as_bytes();
    if !number.is_ascii() || bytes.len() != 18 {
        return Err(IdNumberError::Length(number.chars().count()));
    }
    if let Some(position) = bytes[..17].iter().position(|b| !b.is_ascii_digit()) {
        return Err(IdNumberError::NotDigit {
            position: position + 1,
        });
    }
    let last = bytes[17].to_ascii_uppercase();
    if !(last.is_ascii_digit() || last == b'X') {
        return Err(IdNumberError::BadLastCharacter);
    }
    if bytes[0] == b'0' {
        return Err(IdNumberError::BadRegion);
    }
    let num = |range: std::ops::Range<usize>| -> u32 {
        bytes[range]
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
    };
    let (year, month, day) = (num(6..10), num(10..12), num(12..14));
    if !is_real_date(year, month, day) {
        return Err(IdNumberError::BadBirthDate);
    }
    let expected = check_character(&number[..17]).ok_or(IdNumberError::Length(18))?;
    if expected as u8 != last {
        return Err(IdNumberError::BadCheckCharacter);
    }
    let mut region = [0u8; 6];
    region.copy_from_slice(&bytes[..6]);
    Ok(ValidIdNumber {
        region,
        birth_year: year as u16,
        birth_month: month as u8,
        birth_day: day as u8,
        sex: if (bytes[16] - b'0') % 2 == 1 {
            SexDigit::Male
        } else {
            SexDigit::Female
        },
    })
}

/// Whether `YYYY MM DD` names a calendar day between 1800 and 2199 (the
/// range the standard's birth-date digits are used for).
pub fn is_real_date(year: u32, month: u32, day: u32) -> bool {
    if !(1800..=2199).contains(&year) || !(1..=12).contains(&month) || day == 0 {
        return false;
    }
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    day <= days
}

/// `张三丰` → `张*丰`, `张三` → `张*`, `李` → `*`. Works per character, so it
/// also masks Latin names letter by letter in the same way.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut out = String::with_capacity(n + 2);
            out.push(chars[0]);
            out.extend(std::iter::repeat_n('*', n - 2));
            out.push(chars[n - 1]);
            out
        }
    }
}

/// `110101199003071234` → `110101********1234`: region and last four stay,
/// the birth date and sequence are hidden. Shorter numbers (permit numbers)
/// keep only their last four characters.
pub fn mask_id(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    let n = chars.len();
    let (head, tail) = if n > 10 {
        (6, 4)
    } else if n > 4 {
        (0, 4)
    } else {
        (0, 0)
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < head || i >= n - tail { c } else { '*' })
        .collect()
}

/// Mask an address after its first six characters (province, city,
/// district are enough for a technician to see the read worked).
pub fn mask_address(address: &str) -> String {
    let chars: Vec<char> = address.trim().chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < 6 { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        // The example in GB 11643-1999 itself.
        assert_eq!(check_character("11010519491231002"), Some('X'));
        assert!(validate("11010519491231002X").is_ok());
        assert!(validate("11010519491231002x").is_ok());
        assert_eq!(
            validate("110105194912310021"),
            Err(IdNumberError::BadCheckCharacter)
        );
        assert_eq!(check_character("44052418800101001"), Some('4'));
    }

    #[test]
    fn rejects_shapes() {
        assert_eq!(validate(""), Err(IdNumberError::Length(0)));
        assert_eq!(validate("1101051949123100"), Err(IdNumberError::Length(16)));
        assert_eq!(
            validate("11010519491231A02X"),
            Err(IdNumberError::NotDigit { position: 15 })
        );
        assert_eq!(
            validate("110105194902300021"),
            Err(IdNumberError::BadBirthDate)
        );
        assert_eq!(
            validate("张三丰张三丰张三丰张三丰张三丰张三丰"),
            Err(IdNumberError::Length(18))
        );
    }

    #[test]
    fn sex_and_birth() {
        let v = validate("11010519491231002X").unwrap();
        assert_eq!((v.birth_year, v.birth_month, v.birth_day), (1949, 12, 31));
        assert_eq!(v.sex, SexDigit::Female);
        assert_eq!(format!("{v:?}"), "ValidIdNumber(..)");
    }

    #[test]
    fn masking() {
        assert_eq!(mask_name("张三丰"), "张*丰");
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_id("110101199003071234"), "110101********1234");
        assert_eq!(mask_id("H12345678"), "*****5678");
        assert_eq!(
            mask_address("北京市东城区示例街道1号"),
            "北京市东城区******"
        );
    }
}
