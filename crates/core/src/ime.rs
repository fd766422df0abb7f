//! Candidates for the touch pinyin keyboard (name, address details).
//!
//! Readings come from the `pinyin` crate; frequencies from the word list
//! jieba-rs ships (349k words with corpus counts). jieba-rs does not let its
//! dictionary be listed, only queried (`has_word`, `suggest_freq`), so the
//! index is built the other way round: every CJK character's readings give
//! syllable → characters, each character ranked by its jieba count; words
//! are found by combining the most frequent characters of each typed
//! syllable and asking jieba whether the combination is a word. That covers
//! the common words a resident types (街道, 小区, 单元); rarer words are typed
//! character by character, which is how names are typed anyway.

use jieba_rs::Jieba;
use pinyin::ToPinyinMulti;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// One entry of the candidate bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub text: String,
    /// How many letters of the (normalised) input this candidate uses; the
    /// rest stays in the buffer for the next pick.
    pub consumed: usize,
    pub frequency: u64,
}

/// A character under one reading. Rare readings from the Unihan data
/// (受 also reads "dao") would otherwise put 接受 first for `jiedao`: a
/// character matched through a reading that is not its most common one
/// counts for a sixteenth of its frequency, in characters and in words.
#[derive(Debug, Clone, Copy)]
struct Reading {
    ch: char,
    weight: u64,
    primary: bool,
}

const SECONDARY_SHIFT: u32 = 4;

/// How many of a unit's most frequent characters enter word combinations,
/// by the number of units: keeps every query to a few thousand lookups.
const BEAM: [usize; 5] = [0, 0, 64, 16, 8];
const MAX_WORD_UNITS: usize = 4;

pub struct ImeIndex {
    jieba: Jieba,
    /// Every prefix of every syllable (including the whole syllable) →
    /// characters with a reading starting so, most frequent first.
    by_prefix: HashMap<String, Vec<Reading>>,
    /// Whole syllables → characters with exactly that reading.
    by_syllable: HashMap<String, Vec<Reading>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Unit {
    /// A whole syllable: `bao`.
    Syllable(String),
    /// An initial or an unfinished syllable: `b`, `zh`, `zho`.
    Prefix(String),
}

impl Unit {
    fn text(&self) -> &str {
        match self {
            Unit::Syllable(s) | Unit::Prefix(s) => s,
        }
    }
}

impl std::fmt::Debug for ImeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImeIndex")
            .field("syllables", &self.by_syllable.len())
            .finish_non_exhaustive()
    }
}

impl ImeIndex {
    /// The shared index, built on first use (about a second in a debug
    /// build, mostly loading jieba's dictionary).
    pub fn global() -> &'static ImeIndex {
        static INDEX: OnceLock<ImeIndex> = OnceLock::new();
        INDEX.get_or_init(ImeIndex::build)
    }

    pub fn build() -> ImeIndex {
        let jieba = Jieba::new();
        let mut by_syllable: HashMap<String, Vec<Reading>> = HashMap::new();
        let mut by_prefix: HashMap<String, Vec<Reading>> = HashMap::new();
        // The CJK Unified Ideographs block: every character of GB 18030's
        // common set, which is what names and addresses on ID cards use.
        for code in 0x4E00u32..=0x9FFF {
            let Some(ch) = char::from_u32(code) else {
                continue;
            };
            let Some(readings) = ch.to_pinyin_multi() else {
                continue;
            };
            let mut buf = [0u8; 4];
            let frequency = jieba.suggest_freq(ch.encode_utf8(&mut buf)) as u64;
            // Reading sets, each with whether the most common reading is in it.
            let mut prefixes: BTreeMap<String, bool> = BTreeMap::new();
            let mut syllables: BTreeMap<String, bool> = BTreeMap::new();
            for (i, reading) in readings.into_iter().enumerate() {
                let plain = reading.plain().replace('ü', "v");
                for end in 1..=plain.len() {
                    if plain.is_char_boundary(end) {
                        *prefixes.entry(plain[..end].to_string()).or_default() |= i == 0;
                    }
                }
                *syllables.entry(plain).or_default() |= i == 0;
            }
            let reading = |primary: bool| Reading {
                ch,
                weight: if primary {
                    frequency
                } else {
                    (frequency >> SECONDARY_SHIFT).max(1)
                },
                primary,
            };
            for (syllable, primary) in syllables {
                by_syllable
                    .entry(syllable)
                    .or_default()
                    .push(reading(primary));
            }
            for (prefix, primary) in prefixes {
                by_prefix.entry(prefix).or_default().push(reading(primary));
            }
        }
        for list in by_syllable.values_mut().chain(by_prefix.values_mut()) {
            list.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.ch.cmp(&b.ch)));
        }
        ImeIndex {
            jieba,
            by_prefix,
            by_syllable,
        }
    }

    /// Where `text`'s words end, as byte offsets (the last is `text.len()`),
    /// by jieba's dictionary alone: what the UI audit needs to tell a line
    /// broken between two words from one broken inside a word ("提交申/请").
    /// Without the HMM, runs the dictionary does not know fall apart into
    /// single characters, so an unknown name never counts as one long word.
    pub fn word_ends(&self, text: &str) -> Vec<usize> {
        let mut end = 0;
        self.jieba
            .cut(text, false)
            .into_iter()
            .map(|word| {
                end += word.word.len();
                end
            })
            .collect()
    }

    /// Candidates for what was typed, best first: whole-input words, then
    /// words for the start of the input, then characters for the first
    /// syllable. Apostrophes separate syllables (`xi'an`); anything other
    /// than letters is ignored.
    pub fn candidates(&self, typed: &str, limit: usize) -> Vec<Candidate> {
        let input: String = typed
            .chars()
            .filter(|c| c.is_ascii_alphabetic() || *c == '\'')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let units = self.segment(&input);
        if units.is_empty() || limit == 0 {
            return Vec::new();
        }
        // Letters consumed by the first n units, counting the apostrophes.
        let consumed_by = |n: usize| -> usize {
            let mut letters = 0;
            let mut consumed = 0;
            let target: usize = units[..n].iter().map(|u| u.text().len()).sum();
            for c in input.chars() {
                if letters == target {
                    break;
                }
                consumed += 1;
                if c != '\'' {
                    letters += 1;
                }
            }
            consumed
        };
        let mut out: Vec<Candidate> = Vec::new();
        let mut seen = BTreeSet::new();
        for span in (2..=units.len().min(MAX_WORD_UNITS)).rev() {
            let mut words = self.words(&units[..span]);
            words.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (text, frequency) in words {
                if seen.insert(text.clone()) {
                    out.push(Candidate {
                        text,
                        consumed: consumed_by(span),
                        frequency,
                    });
                }
            }
        }
        for reading in self.chars_for(&units[0]) {
            if out.len() >= limit {
                break;
            }
            let text = reading.ch.to_string();
            if seen.insert(text.clone()) {
                out.push(Candidate {
                    text,
                    consumed: consumed_by(1),
                    frequency: reading.weight,
                });
            }
        }
        out.truncate(limit);
        out
    }

    fn chars_for(&self, unit: &Unit) -> &[Reading] {
        let list = match unit {
            Unit::Syllable(s) => self.by_syllable.get(s),
            Unit::Prefix(p) => self.by_prefix.get(p),
        };
        list.map_or(&[], Vec::as_slice)
    }

    /// Dictionary words spelled by exactly these units.
    fn words(&self, units: &[Unit]) -> Vec<(String, u64)> {
        let beam = BEAM[units.len()];
        let lists: Vec<&[Reading]> = units
            .iter()
            .map(|u| {
                let all = self.chars_for(u);
                &all[..all.len().min(beam)]
            })
            .collect();
        let mut found = Vec::new();
        let mut word = String::new();
        self.combine(&lists, &mut word, 0, &mut found);
        found
    }

    fn combine(
        &self,
        lists: &[&[Reading]],
        word: &mut String,
        secondary: u32,
        found: &mut Vec<(String, u64)>,
    ) {
        let Some((first, rest)) = lists.split_first() else {
            if self.jieba.has_word(word) {
                let frequency = self.jieba.suggest_freq(word) as u64;
                let shift = (secondary * SECONDARY_SHIFT).min(63);
                found.push((word.clone(), (frequency >> shift).max(1)));
            }
            return;
        };
        for reading in *first {
            word.push(reading.ch);
            self.combine(rest, word, secondary + u32::from(!reading.primary), found);
            word.pop();
        }
    }

    /// Split letters into syllables and prefixes, fewest units first, whole
    /// syllables preferred: `shebaoka` → she bao ka, `sbk` → s b k,
    /// `beij` → bei j. Letters that start no syllable are dropped.
    fn segment(&self, input: &str) -> Vec<Unit> {
        let mut units = Vec::new();
        for part in input.split('\'').filter(|p| !p.is_empty()) {
            units.extend(self.segment_part(part));
        }
        units
    }

    fn segment_part(&self, part: &str) -> Vec<Unit> {
        let n = part.len();
        // best[i]: (cost in half-units, units) for part[i..]; syllables cost
        // 2, prefixes 3, a dropped letter 8.
        let mut best: Vec<Option<(u32, Vec<Unit>)>> = vec![None; n + 1];
        best[n] = Some((0, Vec::new()));
        for i in (0..n).rev() {
            let mut choice: Option<(u32, Vec<Unit>)> = None;
            for j in (i + 1..=n.min(i + 6)).rev() {
                let piece = &part[i..j];
                let unit = if self.by_syllable.contains_key(piece) {
                    Some((2, Unit::Syllable(piece.to_string())))
                } else if self.by_prefix.contains_key(piece) {
                    Some((3, Unit::Prefix(piece.to_string())))
                } else {
                    None
                };
                if let (Some((cost, unit)), Some((rest_cost, rest))) = (unit, &best[j]) {
                    let total = cost + rest_cost;
                    if choice.as_ref().is_none_or(|(c, _)| total < *c) {
                        let mut units = vec![unit];
                        units.extend(rest.iter().cloned());
                        choice = Some((total, units));
                    }
                }
            }
            if choice.is_none() {
                if let Some((rest_cost, rest)) = &best[i + 1] {
                    choice = Some((rest_cost + 8, rest.clone()));
                }
            }
            best[i] = choice;
        }
        best[0].take().map(|(_, units)| units).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(typed: &str, limit: usize) -> Vec<String> {
        ImeIndex::global()
            .candidates(typed, limit)
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    #[test]
    fn segmentation() {
        let index = ImeIndex::global();
        let show = |s: &str| -> Vec<String> {
            index
                .segment(s)
                .iter()
                .map(|u| u.text().to_string())
                .collect()
        };
        assert_eq!(show("shebaoka"), ["she", "bao", "ka"]);
        assert_eq!(show("sbk"), ["s", "b", "k"]);
        assert_eq!(show("xian"), ["xian"]);
        assert_eq!(show("xi'an"), ["xi", "an"]);
        assert_eq!(show("beij"), ["bei", "j"]);
        assert_eq!(show("zho"), ["zho"]);
        assert!(show("").is_empty());
    }

    #[test]
    fn common_characters_and_words_come_first() {
        let de = texts("de", 5);
        assert_eq!(de.first().map(String::as_str), Some("的"), "{de:?}");
        let word = texts("jiedao", 5);
        assert_eq!(word.first().map(String::as_str), Some("街道"), "{word:?}");
        let xiaoqu = texts("xiaoqu", 5);
        assert!(xiaoqu.iter().any(|w| w == "小区"), "{xiaoqu:?}");
        let initials = texts("bj", 10);
        assert!(initials.iter().any(|w| w == "北京"), "{initials:?}");
        let surname = texts("zhang", 8);
        assert!(surname.iter().any(|w| w == "张"), "{surname:?}");
    }

    #[test]
    fn partial_picks_report_what_they_consume() {
        let index = ImeIndex::global();
        let candidates = index.candidates("zhangsan", 50);
        let zhang = candidates.iter().find(|c| c.text == "张").unwrap();
        assert_eq!(zhang.consumed, "zhang".len());
        let word = candidates.iter().find(|c| c.text.chars().count() == 2);
        assert!(word.is_some_and(|w| w.consumed == 8), "{candidates:?}");
        let with_quote = index.candidates("xi'an", 5);
        assert!(
            with_quote
                .iter()
                .any(|c| c.text == "西安" && c.consumed == 5),
            "{with_quote:?}"
        );
    }

    #[test]
    fn words_end_between_words_not_inside_them() {
        let text = "签好了，点“提交申请”";
        let ends = ImeIndex::global().word_ends(text);
        assert_eq!(ends.last(), Some(&text.len()));
        let inside = text.find("申请").unwrap() + "申".len();
        assert!(!ends.contains(&inside), "{ends:?}");
        // Punctuation is a word of its own: a break after "，" is fine.
        assert!(ends.contains(&text.find('点').unwrap()), "{ends:?}");
    }

    proptest! {
        #[test]
        fn any_typing_gives_bounded_candidates_without_panicking(typed in "[a-z']{0,12}|\\PC{0,8}", limit in 0usize..20) {
            let candidates = ImeIndex::global().candidates(&typed, limit);
            prop_assert!(candidates.len() <= limit);
            let letters = typed.chars().filter(|c| c.is_ascii_alphabetic() || *c == '\'').count();
            for c in &candidates {
                prop_assert!(c.consumed <= letters && !c.text.is_empty());
            }
        }
    }
}
