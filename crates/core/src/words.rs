//! What the kiosk says to a resident, in both of its languages. The layers
//! under the UI (this core, the drivers, the store, the service desk) word
//! their messages but do not know which language the screen shows; they
//! hand over [`Words`] and the UI picks one. Chinese is the source language
//! and the one printed and sent to the platform; English is a run-time
//! option of the screen.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One message in Chinese and in English. Deliberately not `Display`: every
/// use must say which language it wants, so a Chinese sentence cannot slip
/// onto an English screen by a `to_string()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Words {
    zh: Cow<'static, str>,
    en: Cow<'static, str>,
}

impl Words {
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Words {
        Words {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// Words known at compile time (usable in `const`s, no allocation).
    pub const fn fixed(zh: &'static str, en: &'static str) -> Words {
        Words {
            zh: Cow::Borrowed(zh),
            en: Cow::Borrowed(en),
        }
    }

    /// Chinese: the source language, and what is printed or sent on.
    pub fn zh(&self) -> &str {
        &self.zh
    }

    pub fn en(&self) -> &str {
        &self.en
    }

    /// The words in the screen's language.
    pub fn pick(&self, english: bool) -> &str {
        if english {
            &self.en
        } else {
            &self.zh
        }
    }

    /// Nothing to say (in Chinese, the language every message has).
    pub fn is_empty(&self) -> bool {
        self.zh.is_empty()
    }

    /// These words, then `more`: Chinese runs on, English sentences are
    /// spaced. Either side may be empty.
    pub fn then(self, more: &Words) -> Words {
        let join = |a: &str, b: &str, gap: &str| {
            if a.is_empty() || b.is_empty() {
                format!("{a}{b}")
            } else {
                format!("{a}{gap}{b}")
            }
        };
        Words::new(join(&self.zh, &more.zh, ""), join(&self.en, &more.en, " "))
    }
}

/// "1 entry" / "3 entries": English counts need the noun's number
/// (Chinese counts do not).
pub fn count_en(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_picks_a_language() {
        const FULL: Words = Words::fixed("打印机缺纸。", "The printer is out of paper.");
        assert_eq!(FULL.pick(false), "打印机缺纸。");
        assert_eq!(FULL.pick(true), "The printer is out of paper.");
        let owned = Words::new(format!("还有 {} 项", 2), format!("{} left", 2));
        assert_eq!((owned.zh(), owned.en()), ("还有 2 项", "2 left"));
        assert!(Words::default().is_empty() && !FULL.is_empty());
    }

    #[test]
    fn english_counts_agree() {
        assert_eq!(count_en(1, "entry", "entries"), "1 entry");
        assert_eq!(count_en(0, "entry", "entries"), "0 entries");
        assert_eq!(count_en(7, "entry", "entries"), "7 entries");
    }

    #[test]
    fn words_follow_one_another() {
        let first = Words::fixed("打印机缺纸。", "The printer is out of paper.");
        let next = Words::fixed("请稍后补打。", "Ask staff to reprint it.");
        let both = first.clone().then(&next);
        assert_eq!(both.zh(), "打印机缺纸。请稍后补打。");
        assert_eq!(
            both.en(),
            "The printer is out of paper. Ask staff to reprint it."
        );
        assert_eq!(Words::default().then(&next), next);
        assert_eq!(first.clone().then(&Words::default()), first);
    }
}
