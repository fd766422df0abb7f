//! The state behind the on-screen pinyin keyboard: the letters typed but not
//! yet turned into hanzi, and the page of candidates the keyboard shows.
//! Candidates come from [`ImeIndex`] (ranked by jieba's word frequencies);
//! this type only keeps the letters, pages the list and says what a pick or a
//! backspace does to the field being filled.

use bianmin_core::ime::{Candidate, ImeIndex};
use zeroize::Zeroize;

/// Longest pinyin accepted before a pick: a four-character word of long
/// syllables (zhuang zhuang ...) fits, a stuck finger does not grow the
/// buffer (and the candidate search) without end.
pub const MAX_LETTERS: usize = 24;

/// Candidates fetched per change of the letters: more pages than a resident
/// will turn; a character further down is easier found by typing more.
const FETCH: usize = 120;

/// What a tap on 删除 did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backspace {
    /// A pinyin letter was removed; the field is unchanged.
    RemovedLetter,
    /// Nothing was being composed: the caller deletes the last character
    /// already committed to the field.
    DeleteCommitted,
}

/// Letters being composed and the candidates for them, paged.
pub struct PinyinComposer {
    letters: String,
    candidates: Vec<Candidate>,
    page: usize,
    page_size: usize,
}

impl PinyinComposer {
    /// `page_size`: candidates shown at once (fewer in large mode). At least 1.
    pub fn new(page_size: usize) -> PinyinComposer {
        PinyinComposer {
            letters: String::new(),
            candidates: Vec::new(),
            page: 0,
            page_size: page_size.max(1),
        }
    }

    /// Switch the page size (large mode toggled mid-typing), keeping the
    /// first candidate on screen in view.
    pub fn set_page_size(&mut self, page_size: usize) {
        let first = self.page * self.page_size;
        self.page_size = page_size.max(1);
        self.page = first / self.page_size;
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// The pinyin typed and not yet picked.
    pub fn composing(&self) -> &str {
        &self.letters
    }

    pub fn is_composing(&self) -> bool {
        !self.letters.is_empty()
    }

    /// Type a letter a–z (upper case is folded). Returns false, changing
    /// nothing, for anything else or when the buffer is full.
    pub fn letter(&mut self, c: char) -> bool {
        let c = c.to_ascii_lowercase();
        if !c.is_ascii_lowercase() || self.letters.len() >= MAX_LETTERS {
            return false;
        }
        self.letters.push(c);
        self.refresh();
        true
    }

    /// Like [`letter`](Self::letter) for the key's text as the keyboard
    /// sends it ("a".."z"); anything but a single letter is refused.
    pub fn key(&mut self, key: &str) -> bool {
        let mut chars = key.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => self.letter(c),
            _ => false,
        }
    }

    pub fn backspace(&mut self) -> Backspace {
        if self.letters.pop().is_some() {
            self.refresh();
            Backspace::RemovedLetter
        } else {
            Backspace::DeleteCommitted
        }
    }

    /// The candidates on the current page, best first.
    pub fn page(&self) -> Vec<String> {
        self.candidates
            .iter()
            .skip(self.page * self.page_size)
            .take(self.page_size)
            .map(|c| c.text.clone())
            .collect()
    }

    /// Zero-based number of the page shown.
    pub fn page_number(&self) -> usize {
        self.page
    }

    pub fn has_previous(&self) -> bool {
        self.page > 0
    }

    pub fn has_next(&self) -> bool {
        (self.page + 1) * self.page_size < self.candidates.len()
    }

    /// Turn to the next page; false (and no change) on the last one.
    pub fn next_page(&mut self) -> bool {
        let turned = self.has_next();
        if turned {
            self.page += 1;
        }
        turned
    }

    pub fn previous_page(&mut self) -> bool {
        let turned = self.has_previous();
        if turned {
            self.page -= 1;
        }
        turned
    }

    /// Pick the `index`-th candidate of the current page: returns the text
    /// to append to the field. Letters the candidate did not spell stay
    /// composing (张 out of `zhangsan` leaves `san`). None for an index off
    /// the page.
    pub fn pick(&mut self, index: usize) -> Option<String> {
        if index >= self.page_size {
            return None;
        }
        let candidate = self.candidates.get(self.page * self.page_size + index)?;
        let text = candidate.text.clone();
        let consumed = candidate.consumed;
        if consumed == 0 || consumed >= self.letters.len() {
            self.letters.zeroize();
        } else {
            self.letters.drain(..consumed);
        }
        self.refresh();
        Some(text)
    }

    /// Forget the letters (field cleared, keyboard closed, session ended).
    pub fn clear(&mut self) {
        self.letters.zeroize();
        self.wipe_candidates();
        self.page = 0;
    }

    fn refresh(&mut self) {
        self.page = 0;
        self.wipe_candidates();
        if !self.letters.is_empty() {
            self.candidates = ImeIndex::global().candidates(&self.letters, FETCH);
        }
    }

    fn wipe_candidates(&mut self) {
        for candidate in &mut self.candidates {
            candidate.text.zeroize();
        }
        self.candidates.clear();
    }
}

impl Default for PinyinComposer {
    fn default() -> Self {
        PinyinComposer::new(5)
    }
}

// What is composed is part of a name or an address: never printed.
impl std::fmt::Debug for PinyinComposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinyinComposer")
            .field("letters", &self.letters.len())
            .field("candidates", &self.candidates.len())
            .field("page", &self.page)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl Drop for PinyinComposer {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(letters: &str, page_size: usize) -> PinyinComposer {
        let mut composer = PinyinComposer::new(page_size);
        for c in letters.chars() {
            assert!(composer.letter(c), "{c} refused");
        }
        composer
    }

    /// Turn pages until `text` shows; its index on that page.
    fn find(composer: &mut PinyinComposer, text: &str, max_pages: usize) -> Option<usize> {
        for _ in 0..max_pages {
            if let Some(i) = composer.page().iter().position(|t| t == text) {
                return Some(i);
            }
            if !composer.next_page() {
                break;
            }
        }
        None
    }

    #[test]
    fn zhang_offers_the_surname_on_the_first_page() {
        let composer = typed("zhang", 5);
        assert_eq!(composer.composing(), "zhang");
        let page = composer.page();
        assert_eq!(page.len(), 5);
        assert!(page.iter().any(|t| t == "张"), "{page:?}");
        // Large mode: fewer, still there.
        let large = typed("zhang", 3);
        assert_eq!(large.page().len(), 3);
        assert!(large.page().iter().any(|t| t == "张"), "{:?}", large.page());
    }

    #[test]
    fn shebaoka_reaches_the_word_and_a_pick_empties_the_buffer() {
        let mut composer = typed("shebaoka", 5);
        let at = find(&mut composer, "社保卡", 3).expect("社保卡 within three pages");
        assert_eq!(composer.pick(at).as_deref(), Some("社保卡"));
        assert_eq!(composer.composing(), "");
        assert!(composer.page().is_empty());
        assert!(!composer.has_next() && !composer.has_previous());
    }

    #[test]
    fn a_partial_pick_leaves_the_rest_composing() {
        let mut composer = typed("zhangsan", 5);
        let at = find(&mut composer, "张", 10).expect("张 offered for zhangsan");
        assert_eq!(composer.pick(at).as_deref(), Some("张"));
        assert_eq!(composer.composing(), "san");
        assert_eq!(composer.page_number(), 0);
        let at = find(&mut composer, "三", 5).expect("三 offered for san");
        assert_eq!(composer.pick(at).as_deref(), Some("三"));
        assert!(!composer.is_composing());
    }

    #[test]
    fn backspace_removes_letters_before_committed_text() {
        let mut composer = typed("li", 5);
        let before = composer.page();
        assert_eq!(composer.backspace(), Backspace::RemovedLetter);
        assert_eq!(composer.composing(), "l");
        assert_ne!(composer.page(), before, "candidates follow the letters");
        assert_eq!(composer.backspace(), Backspace::RemovedLetter);
        assert!(composer.page().is_empty());
        assert_eq!(composer.backspace(), Backspace::DeleteCommitted);
        assert_eq!(composer.backspace(), Backspace::DeleteCommitted);
        assert_eq!(composer.composing(), "");
    }

    #[test]
    fn paging_walks_forward_and_back_without_overlap() {
        let mut composer = typed("shi", 3);
        assert!(!composer.has_previous());
        assert!(!composer.previous_page());
        let first = composer.page();
        assert!(composer.has_next());
        assert!(composer.next_page());
        let second = composer.page();
        assert_eq!(second.len(), 3);
        assert!(
            first.iter().all(|t| !second.contains(t)),
            "{first:?} {second:?}"
        );
        assert!(composer.has_previous());
        assert!(composer.previous_page());
        assert_eq!(composer.page(), first);
        // Walk to the end: the last page may be short, and stops there.
        let mut pages = 1;
        while composer.next_page() {
            pages += 1;
            assert!(!composer.page().is_empty());
        }
        assert!(pages > 2 && !composer.has_next());
        assert!(!composer.next_page());
        // Typing again starts from the first page.
        composer.letter('a');
        assert_eq!(composer.page_number(), 0);
    }

    #[test]
    fn picks_index_the_current_page_only() {
        let mut composer = typed("wang", 3);
        composer.next_page();
        let shown = composer.page();
        assert_eq!(composer.pick(3), None, "beyond the page");
        assert_eq!(composer.composing(), "wang");
        assert_eq!(composer.pick(1), Some(shown[1].clone()));
    }

    #[test]
    fn only_letters_are_typed_and_the_buffer_is_bounded() {
        let mut composer = PinyinComposer::new(5);
        for refused in ['1', ' ', '\'', 'ü', '张'] {
            assert!(!composer.letter(refused));
        }
        assert!(!composer.key("ab"));
        assert!(!composer.key(""));
        assert!(composer.key("B"));
        assert_eq!(composer.composing(), "b");
        for _ in 0..100 {
            composer.letter('a');
        }
        assert_eq!(composer.composing().len(), MAX_LETTERS);
        composer.clear();
        assert_eq!(composer.composing(), "");
        assert!(composer.page().is_empty());
    }

    #[test]
    fn changing_the_page_size_keeps_the_first_candidate_in_view() {
        let mut composer = typed("shi", 5);
        composer.next_page();
        composer.next_page();
        let first = composer.page()[0].clone();
        composer.set_page_size(3);
        assert!(
            composer.page().contains(&first),
            "{first} {:?}",
            composer.page()
        );
        composer.set_page_size(0);
        assert_eq!(composer.page_size(), 1);
    }

    #[test]
    fn debug_does_not_show_the_letters() {
        let composer = typed("zhangsan", 5);
        let shown = format!("{composer:?}");
        assert!(!shown.contains("zhang") && !shown.contains('张'), "{shown}");
    }
}
