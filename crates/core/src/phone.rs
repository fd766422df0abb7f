//! Phone numbers as people read them aloud: 138 0013 8000, 0571 8888 1234.
//! An ungrouped run of eleven digits is hard to read for an elderly eye and
//! easy to misdial; grouping changes nothing but the spaces.

/// `number` grouped for reading: a mobile number 3-4-4, a landline with its
/// area code (3 digits for 010 and 02x, else 4) then the local number in
/// fours (a 7-digit local number 3-4). Anything else (12345, extensions,
/// letters) comes back as given, trimmed.
pub fn group(number: &str) -> String {
    let trimmed = number.trim();
    let digits: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return trimmed.to_string();
    }
    let parts: Vec<&str> = if digits.len() == 11 && digits.starts_with('1') {
        vec![&digits[..3], &digits[3..7], &digits[7..]]
    } else if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
        let area = if matches!(digits.as_bytes()[1], b'1' | b'2') {
            3
        } else {
            4
        };
        let local = &digits[area..];
        match local.len() {
            7 => vec![&digits[..area], &local[..3], &local[3..]],
            8 => vec![&digits[..area], &local[..4], &local[4..]],
            _ => return trimmed.to_string(),
        }
    } else if digits.len() == 8 {
        vec![&digits[..4], &digits[4..]]
    } else {
        return trimmed.to_string();
    };
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn mobile_numbers_read_in_three_four_four() {
        assert_eq!(group("13800138000"), "138 0013 8000");
        assert_eq!(group(" 138-0013-8000 "), "138 0013 8000");
    }

    #[test]
    fn landlines_keep_their_area_code_apart() {
        assert_eq!(group("057188881234"), "0571 8888 1234");
        assert_eq!(group("010-12345678"), "010 1234 5678");
        assert_eq!(group("0571-8888123"), "0571 888 8123");
        assert_eq!(group("88881234"), "8888 1234");
    }

    #[test]
    fn short_or_odd_numbers_stay_as_given() {
        assert_eq!(group("12345"), "12345");
        assert_eq!(group("0571-8888 1234 转 8"), "0571-8888 1234 转 8");
        assert_eq!(group(""), "");
    }
}
