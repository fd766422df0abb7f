//! Scanner output framing, sans-IO: bytes in arbitrary chunks → codes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Suffix the scanner is configured to send after each code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suffix {
    #[default]
    Cr,
    Lf,
    CrLf,
}

impl Suffix {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Suffix::Cr => b"\r",
            Suffix::Lf => b"\n",
            Suffix::CrLf => b"\r\n",
        }
    }

    fn terminator(self) -> u8 {
        match self {
            Suffix::Cr => b'\r',
            Suffix::Lf | Suffix::CrLf => b'\n',
        }
    }
}

/// Why a framed payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("code longer than {0} bytes")]
    TooLong(usize),
    #[error("code contains control characters")]
    ControlCharacter,
    #[error("code is neither UTF-8 nor GB18030 text")]
    NotText,
}

/// One framed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    Code(String),
    Rejected(Rejected),
}

/// Frames codes on the configured suffix. Tolerant of the neighbouring
/// conventions: with CR, a following LF is dropped (a CRLF scanner works);
/// with LF or CRLF, a trailing CR is dropped; an STX/ETX wrapping is removed.
#[derive(Debug, Clone)]
pub struct Framer {
    suffix: Suffix,
    max_len: usize,
    buf: Vec<u8>,
    overflowed: bool,
}

/// Longest code accepted by default. A QR code can hold far more, but
/// nothing this kiosk reads (receipt numbers, service tokens, URLs) comes close.
pub const DEFAULT_MAX_LEN: usize = 512;

impl Framer {
    pub fn new(suffix: Suffix, max_len: usize) -> Framer {
        Framer {
            suffix,
            max_len: max_len.max(1),
            buf: Vec::new(),
            overflowed: false,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Vec<Framed> {
        let mut out = Vec::new();
        let term = self.suffix.terminator();
        for &b in bytes {
            if b == term {
                if self.overflowed {
                    out.push(Framed::Rejected(Rejected::TooLong(self.max_len)));
                    self.overflowed = false;
                } else if let Some(framed) = self.finish() {
                    out.push(framed);
                }
                self.buf.clear();
                continue;
            }
            if self.overflowed {
                continue;
            }
            if self.buf.len() >= self.max_len + 2 {
                // +2 leaves room for STX/ETX or a stray CR that finish() strips.
                self.overflowed = true;
                self.buf.clear();
                continue;
            }
            self.buf.push(b);
        }
        out
    }

    fn finish(&mut self) -> Option<Framed> {
        let mut body: &[u8] = &self.buf;
        if self.suffix == Suffix::Cr {
            body = body.strip_prefix(b"\n").unwrap_or(body);
        } else {
            body = body.strip_suffix(b"\r").unwrap_or(body);
        }
        body = body.strip_prefix(&[0x02]).unwrap_or(body);
        body = body.strip_suffix(&[0x03]).unwrap_or(body);
        if body.is_empty() {
            return None;
        }
        if body.len() > self.max_len {
            return Some(Framed::Rejected(Rejected::TooLong(self.max_len)));
        }
        if body.iter().any(|&b| b < 0x20 || b == 0x7F) {
            return Some(Framed::Rejected(Rejected::ControlCharacter));
        }
        let text = match std::str::from_utf8(body) {
            Ok(t) => t.to_string(),
            Err(_) => {
                let (t, _, had_errors) = encoding_rs::GB18030.decode(body);
                if had_errors {
                    return Some(Framed::Rejected(Rejected::NotText));
                }
                t.into_owned()
            }
        };
        if text.chars().any(char::is_control) {
            return Some(Framed::Rejected(Rejected::ControlCharacter));
        }
        Some(Framed::Code(text))
    }
}

/// Suppresses the same code seen again within `window` of its last sighting:
/// a continuous-mode scanner repeats a code as long as it stays in view.
#[derive(Debug, Clone)]
pub struct Deduper {
    window: Duration,
    recent: VecDeque<(String, Instant)>,
}

impl Deduper {
    pub fn new(window: Duration) -> Deduper {
        Deduper {
            window,
            recent: VecDeque::new(),
        }
    }

    /// True when `code` is new (or its last sighting is older than the window).
    pub fn accept(&mut self, code: &str, now: Instant) -> bool {
        let window = self.window;
        self.recent
            .retain(|(_, seen)| now.saturating_duration_since(*seen) < window);
        if let Some(entry) = self.recent.iter_mut().find(|(c, _)| c == code) {
            entry.1 = now;
            return false;
        }
        if self.recent.len() >= 8 {
            self.recent.pop_front();
        }
        self.recent.push_back((code.to_string(), now));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_codes_in_one_read_and_split_across_reads() {
        let mut f = Framer::new(Suffix::Cr, 64);
        assert_eq!(f.push(b"AB"), vec![]);
        assert_eq!(
            f.push(b"C\rDEF\rGH"),
            vec![Framed::Code("ABC".into()), Framed::Code("DEF".into())]
        );
        assert_eq!(f.push(b"\r"), vec![Framed::Code("GH".into())]);
    }

    #[test]
    fn neighbouring_suffixes_are_tolerated() {
        let mut cr = Framer::new(Suffix::Cr, 64);
        assert_eq!(
            cr.push(b"A\r\nB\r\n"),
            vec![Framed::Code("A".into()), Framed::Code("B".into())]
        );
        let mut lf = Framer::new(Suffix::Lf, 64);
        assert_eq!(
            lf.push(b"A\r\nB\n"),
            vec![Framed::Code("A".into()), Framed::Code("B".into())]
        );
        let mut crlf = Framer::new(Suffix::CrLf, 64);
        assert_eq!(crlf.push(b"\x02A\x03\r\n"), vec![Framed::Code("A".into())]);
    }

    #[test]
    fn limits_and_control_characters() {
        let mut f = Framer::new(Suffix::Cr, 4);
        assert_eq!(
            f.push(b"ABCDEFGHIJ\rOK\r"),
            vec![
                Framed::Rejected(Rejected::TooLong(4)),
                Framed::Code("OK".into())
            ]
        );
        assert_eq!(
            f.push(b"A\x07B\r"),
            vec![Framed::Rejected(Rejected::ControlCharacter)]
        );
        assert_eq!(
            f.push(b"\xFF\xFF\r"),
            vec![Framed::Rejected(Rejected::NotText)]
        );
        let (gb, _, _) = encoding_rs::GB18030.encode("办事");
        let mut input = gb.to_vec();
        input.push(b'\r');
        assert_eq!(f.push(&input), vec![Framed::Code("办事".into())]);
    }

    #[test]
    fn dedupe_window_slides_while_code_stays_in_view() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = Deduper::new(ms(1000));
        assert!(d.accept("X", t0));
        assert!(!d.accept("X", t0 + ms(600)));
        assert!(!d.accept("X", t0 + ms(1400)));
        assert!(d.accept("Y", t0 + ms(1400)));
        assert!(d.accept("X", t0 + ms(2500)));
    }
}
