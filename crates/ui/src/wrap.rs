//! Where a line of Chinese may break. Slint wraps Chinese between any two
//! characters, so a hint in a narrow column could read "提交申" on one line
//! and "请" on the next. Words are kept whole by joining their characters
//! with U+2060 WORD JOINER, which the text layout never breaks at and draws
//! as nothing; lines then break between words and after punctuation. A
//! word longer than a whole line is still broken (the layout must), and the
//! UI audit ([`crate::audit::broken_words`]) reports it.

use bianmin_core::ime::ImeIndex;

/// U+2060 WORD JOINER: no line break on either side, nothing drawn.
pub const WORD_JOINER: char = '\u{2060}';

/// A Han character (CJK unified ideographs and their extension A and
/// compatibility blocks): the characters a line may break between.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// `text` with every word of two or more Han characters joined, so that a
/// wrapped line breaks only between words. Text without Han comes back
/// unchanged, and so does what is shown once the joiners are taken out.
pub fn keep_words(text: &str) -> String {
    if !text.chars().any(is_han) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut start = 0;
    let mut ends = ImeIndex::global().word_ends(text);
    // A short name in quotes is what the resident looks for on a button
    // (点“提交申请”): it stays on one line as if it were one word.
    ends.retain(|&end| !inside_short_quote(text, end));
    for end in ends {
        push_joined(&mut out, &text[start..end]);
        start = end;
    }
    out.push_str(&text[start..]);
    out
}

/// Longest quoted name (in Han characters) kept on one line.
const SHORT_QUOTE: usize = 6;

/// Whether byte `at` lies strictly inside a quoted run of at most
/// [`SHORT_QUOTE`] Han characters and nothing else: “提交申请”, 「首页」.
fn inside_short_quote(text: &str, at: usize) -> bool {
    let Some(open) = text[..at].rfind(['“', '「', '‘']) else {
        return false;
    };
    let inner_start = open + text[open..].chars().next().map_or(0, char::len_utf8);
    let Some(close) = text[inner_start..].find(['”', '」', '’']) else {
        return false;
    };
    let inner = &text[inner_start..inner_start + close];
    at > inner_start
        && at < inner_start + close
        && inner.chars().count() <= SHORT_QUOTE
        && inner.chars().all(is_han)
}

fn push_joined(out: &mut String, word: &str) {
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if chars.peek().is_some_and(|&next| is_han(c) && is_han(next)) {
            out.push(WORD_JOINER);
        }
    }
}

/// Build the dictionary behind [`keep_words`] (and the pinyin keyboard) on
/// a thread of its own, so the first screen that needs it does not wait
/// for it on the UI thread.
pub fn warm_up() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("dictionary".into())
            .spawn(|| {
                ImeIndex::global();
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "dictionary not built ahead; built on first use");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_joined_and_nothing_else_changes() {
        let text = "签好了，点“提交申请”\n第 2 步";
        let kept = keep_words(text);
        assert_eq!(kept.replace(WORD_JOINER, ""), text);
        // 申请 is one word: no break between its characters; the short
        // name in quotes is kept whole too.
        assert!(kept.contains("申\u{2060}请"), "{kept:?}");
        assert!(kept.contains("交\u{2060}申"), "{kept:?}");
        // A long quoted passage still breaks between its words.
        let long = keep_words("点“本人已阅读，承诺以上内容属实”");
        assert!(!long.contains("诺\u{2060}以"), "{long:?}");
        // Between words and around punctuation the line may still break.
        assert!(!kept.contains("，\u{2060}"), "{kept:?}");
        assert!(kept.contains("\n第 2 步"), "{kept:?}");
        assert_eq!(keep_words("Step 2 of 5"), "Step 2 of 5");
    }
}
