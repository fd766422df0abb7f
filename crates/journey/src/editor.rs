//! The field editor: which keyboard a field gets, what each key does to the
//! value being typed, and the check when the resident taps 完成.

use crate::typing::{Backspace, PinyinComposer};
use bianmin_core::form::{FieldKind, FieldSpec, NO, YES};
use bianmin_core::words::Words;

/// Longest value a field editor accepts, whatever the schema says: a bound
/// on what a stuck key can produce.
pub const MAX_FIELD_CHARS: usize = 120;

/// 是 / 否 of a yes/no field.
pub(crate) const YES_WORDS: Words = Words::fixed("是", "Yes");
pub(crate) const NO_WORDS: Words = Words::fixed("否", "No");

/// Which keyboard the field editor shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorKind {
    /// Digits (and X for an ID number, dashes put in for a date).
    Keypad,
    /// Pinyin with hanzi candidates; digits go in as typed.
    Pinyin,
    /// A list to tap: the schema's choices, or 是 / 否.
    Choice,
}

impl EditorKind {
    pub fn for_field(spec: &FieldSpec) -> EditorKind {
        if matches!(spec.kind, FieldKind::Choice | FieldKind::YesNo) {
            EditorKind::Choice
        } else if spec.numeric_keypad() {
            EditorKind::Keypad
        } else {
            EditorKind::Pinyin
        }
    }
}

/// What the resident is doing in the field editor.
pub(crate) struct Editing {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) composer: PinyinComposer,
}

/// The editor as the screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorView {
    pub key: String,
    pub value: String,
    pub kind: EditorKind,
    /// The keypad offers X (the last character of an ID number).
    pub keypad_x: bool,
    /// (value, label, selected) of a choice field.
    pub choices: Vec<(String, Words, bool)>,
    /// Pinyin letters typed and not yet turned into hanzi.
    pub composing: String,
    pub candidates: Vec<String>,
    pub candidates_previous: bool,
    pub candidates_next: bool,
}

impl Editing {
    pub(crate) fn new(key: &str, value: String, candidates_per_page: usize) -> Editing {
        Editing {
            key: key.to_string(),
            value,
            composer: PinyinComposer::new(candidates_per_page),
        }
    }

    pub(crate) fn view(&self, spec: &FieldSpec) -> EditorView {
        let choices = match spec.kind {
            FieldKind::YesNo => vec![
                (YES.to_string(), YES_WORDS, self.value == YES),
                (NO.to_string(), NO_WORDS, self.value == NO),
            ],
            _ => spec
                .choices
                .iter()
                .map(|c| {
                    (
                        c.clone(),
                        Words::new(c.clone(), c.clone()),
                        &self.value == c,
                    )
                })
                .collect(),
        };
        EditorView {
            key: self.key.clone(),
            value: self.value.clone(),
            kind: EditorKind::for_field(spec),
            keypad_x: spec.kind == FieldKind::IdNumber,
            choices,
            composing: self.composer.composing().to_string(),
            candidates: self.composer.page(),
            candidates_previous: self.composer.has_previous(),
            candidates_next: self.composer.has_next(),
        }
    }

    /// A key of the keypad or the pinyin keyboard.
    pub(crate) fn key(&mut self, spec: &FieldSpec, key: &str) {
        let limit = spec
            .max_len
            .map(|m| m as usize)
            .unwrap_or(MAX_FIELD_CHARS)
            .min(MAX_FIELD_CHARS);
        if spec.kind == FieldKind::Date {
            // Eight digits on the keypad; the dashes are put in for the resident.
            let mut digits: String = self.value.chars().filter(char::is_ascii_digit).collect();
            for c in key.chars().filter(char::is_ascii_digit) {
                if digits.len() < 8 {
                    digits.push(c);
                }
            }
            self.value = dashed_date(&digits);
        } else if spec.numeric_keypad() {
            let accepted = key
                .chars()
                .all(|c| c.is_ascii_digit() || (c == 'X' && spec.kind == FieldKind::IdNumber));
            if accepted && self.value.chars().count() < limit {
                self.value.push_str(key);
            }
        } else {
            for c in key.chars() {
                if c.is_ascii_digit() {
                    // House numbers and certificate numbers: a digit ends
                    // the pinyin being composed, which stays as typed.
                    self.commit_letters();
                    if self.value.chars().count() < limit {
                        self.value.push(c);
                    }
                } else {
                    self.composer.letter(c);
                }
            }
        }
    }

    pub(crate) fn backspace(&mut self) {
        if self.composer.backspace() == Backspace::DeleteCommitted {
            self.value.pop();
            if self.value.ends_with('-') {
                self.value.pop();
            }
        }
    }

    /// The `index`th candidate on the page goes into the value.
    pub(crate) fn pick(&mut self, spec: &FieldSpec, index: usize) {
        let limit = spec.max_len.map(|m| m as usize).unwrap_or(MAX_FIELD_CHARS);
        if let Some(text) = self.composer.pick(index) {
            if self.value.chars().count() + text.chars().count() <= limit {
                self.value.push_str(&text);
            }
        }
    }

    pub(crate) fn turn_candidates(&mut self, step: i32) {
        if step < 0 {
            self.composer.previous_page();
        } else {
            self.composer.next_page();
        }
    }

    /// A choice of a choice or yes/no field; anything else is ignored.
    pub(crate) fn choose(&mut self, spec: &FieldSpec, value: &str) {
        let valid = match spec.kind {
            FieldKind::YesNo => value == YES || value == NO,
            _ => spec.choices.iter().any(|c| c == value),
        };
        if valid {
            self.value = value.to_string();
        }
    }

    /// Letters still being composed go into the value as typed, upper case
    /// (codes on certificates are written so) — like Enter on any IME.
    pub(crate) fn commit_letters(&mut self) {
        let letters = self.composer.composing().to_ascii_uppercase();
        if !letters.is_empty() {
            self.value.push_str(&letters);
            self.composer.clear();
        }
    }
}

/// 20240301 → 2024-03-01, and partial input likewise (2024-03).
fn dashed_date(digits: &str) -> String {
    let mut out = String::with_capacity(10);
    for (i, c) in digits.chars().enumerate() {
        if i == 4 || i == 6 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_get_their_dashes_as_they_are_typed() {
        assert_eq!(dashed_date("2024"), "2024");
        assert_eq!(dashed_date("20240"), "2024-0");
        assert_eq!(dashed_date("20240301"), "2024-03-01");
    }
}
