//! The TOML sources (forms, bundles, the package's texts): read with the
//! line and column of what is wrong, written so a person can edit them.

use crate::{AuthoringError, Place};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Parse `text` (the file `file`), saying where it is wrong.
pub fn parse<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, AuthoringError> {
    toml::from_str(text).map_err(|e| {
        let message = format!("格式不对：{}", e.message().trim());
        match e.span() {
            Some(span) => {
                let (line, column) = line_and_column(text, span.start);
                AuthoringError {
                    file: file.to_string(),
                    place: Place::Text { line, column },
                    message,
                }
            }
            None => AuthoringError::file(file, message),
        }
    })
}

/// Line and column (both from 1, the column in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// `value` as TOML under a comment saying what the file is.
pub fn write<T: Serialize>(note: &str, value: &T) -> Result<String, String> {
    let body = toml::to_string_pretty(value).map_err(|e| e.to_string())?;
    Ok(format!("{note}{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        let text = "a = 1\n名称 = oops\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        let at = text.find("oops").unwrap();
        assert_eq!(line_and_column(text, at), (2, 6));
        assert_eq!(line_and_column(text, 10_000), (3, 1));
    }
}
