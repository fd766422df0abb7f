//! Finding a service by what a resident can type on a kiosk: pinyin initials
//! (`sbk` → 社保卡), full pinyin (`shebaoka`), or hanzi. Results are ranked
//! by how well they match, then by how often residents use the service.

use crate::catalogue::{Catalogue, Service};
use pinyin::ToPinyinMulti;

/// One searchable text of a service (its name or a keyword) in every form a
/// resident might type it.
#[derive(Debug, Clone)]
struct Term {
    hanzi: String,
    /// A 64-bit Bloom filter of the characters of `hanzi`: a hanzi query
    /// with a character outside it is skipped without a substring search.
    hanzi_bloom: u64,
    /// Every combination of initials across heteronyms would explode, so each
    /// character contributes the set of its readings' first letters at its
    /// position, as a letter mask (see `letter_bit`): a keystroke then costs
    /// a few AND operations per term and no allocation.
    initials: Vec<u64>,
    /// Union of `initials`: a query with two letters outside it cannot match
    /// even with one letter forgiven, so most terms are skipped at once.
    initial_letters: u64,
    full: String,
    full_letters: u64,
    weight: u32,
}

fn char_bloom(text: &str) -> u64 {
    text.chars().fold(0, |bloom, c| {
        bloom | 1 << ((c as u32).wrapping_mul(0x9E37_79B9) >> 26)
    })
}

/// a–z and 0–9 as bits of a mask; anything else has no bit.
fn letter_bit(c: char) -> u64 {
    match c {
        'a'..='z' => 1 << (c as u32 - 'a' as u32),
        '0'..='9' => 1 << (26 + c as u32 - '0' as u32),
        _ => 0,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    code: String,
    popularity: u8,
    terms: Vec<Term>,
}

/// An index over a catalogue, built once per catalogue version.
#[derive(Debug, Clone, Default)]
pub struct SearchIndex {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub code: String,
    pub score: u32,
}

impl SearchIndex {
    pub fn build(catalogue: &Catalogue) -> SearchIndex {
        let entries = catalogue
            .services
            .iter()
            .map(|service| Entry {
                code: service.code.clone(),
                popularity: service.popularity,
                terms: terms_of(service),
            })
            .collect();
        SearchIndex { entries }
    }

    /// Services matching `query`, best first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let query: String = query
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        if query.is_empty() {
            return Vec::new();
        }
        let ascii = query.chars().all(|c| c.is_ascii_alphabetic());
        let query = Query {
            bits: query.chars().map(letter_bit).collect(),
            letters: query.chars().map(letter_bit).fold(0, |a, b| a | b),
            bloom: char_bloom(&query),
            text: query,
        };
        let mut hits: Vec<(u32, u8, &str)> = self
            .entries
            .iter()
            .filter_map(|entry| {
                let best = entry
                    .terms
                    .iter()
                    .map(|term| term_score(term, &query, ascii))
                    .max()
                    .unwrap_or(0);
                (best > 0).then_some((best, entry.popularity, entry.code.as_str()))
            })
            .collect();
        let best_first = |a: &(u32, u8, &str), b: &(u32, u8, &str)| {
            b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2))
        };
        // A forgiving query can match thousands of items; only the shown
        // ones need sorting.
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit, best_first);
            hits.truncate(limit);
        }
        hits.sort_by(best_first);
        hits.into_iter()
            .map(|(score, _, code)| Hit {
                code: code.to_string(),
                score,
            })
            .collect()
    }
}

fn terms_of(service: &Service) -> Vec<Term> {
    let mut terms = vec![term(&service.name, 3)];
    terms.extend(service.keywords.iter().map(|k| term(k, 2)));
    terms
}

fn term(text: &str, weight: u32) -> Term {
    let mut initials = Vec::new();
    let mut full = String::new();
    for (ch, readings) in text.chars().zip(text.to_pinyin_multi()) {
        match readings {
            Some(multi) => {
                let mut letters = 0;
                for (i, reading) in multi.into_iter().enumerate() {
                    let plain = reading.plain();
                    if i == 0 {
                        full.push_str(plain);
                    }
                    if let Some(first) = plain.chars().next() {
                        letters |= letter_bit(first);
                    }
                }
                initials.push(letters);
            }
            None if ch.is_ascii_alphanumeric() => {
                let lower = ch.to_ascii_lowercase();
                initials.push(letter_bit(lower));
                full.push(lower);
            }
            None => {}
        }
    }
    Term {
        hanzi: text.to_string(),
        hanzi_bloom: char_bloom(text),
        initial_letters: initials.iter().fold(0, |a, b| a | b),
        initials,
        full_letters: full.chars().map(letter_bit).fold(0, |a, b| a | b),
        full,
        weight,
    }
}

/// The lowercased query, with its letters as masks, computed once per keystroke.
struct Query {
    text: String,
    bloom: u64,
    bits: Vec<u64>,
    letters: u64,
}

fn term_score(term: &Term, query: &Query, ascii: bool) -> u32 {
    if !ascii {
        return if query.bloom & !term.hanzi_bloom != 0 {
            0
        } else if term.hanzi.starts_with(&query.text) {
            100 * term.weight
        } else if term.hanzi.contains(&query.text) {
            80 * term.weight
        } else {
            0
        };
    }
    let q = &query.bits;
    if initials_match_at(&term.initials, q, 0) {
        return 100 * term.weight;
    }
    if (1..term.initials.len()).any(|start| initials_match_at(&term.initials, q, start)) {
        return 75 * term.weight;
    }
    if query.letters & !term.full_letters == 0 {
        if term.full.starts_with(&query.text) {
            return 90 * term.weight;
        }
        if q.len() >= 3 && term.full.contains(&query.text) {
            return 60 * term.weight;
        }
    }
    // One wrong letter is forgiven once the query is long enough to still
    // mean something.
    let foreign = q.iter().filter(|b| *b & term.initial_letters == 0).count();
    if q.len() >= 3 && foreign <= 1 && initials_within_one_edit(&term.initials, q) {
        return 40 * term.weight;
    }
    0
}

fn initials_match_at(initials: &[u64], query: &[u64], start: usize) -> bool {
    initials.len() >= start + query.len()
        && query
            .iter()
            .zip(&initials[start..])
            .all(|(q, options)| q & options != 0)
}

/// True when the query equals the start of the initials with one letter
/// substituted, dropped or added.
fn initials_within_one_edit(initials: &[u64], query: &[u64]) -> bool {
    let n = query.len();
    let fits = |q: &u64, options: &u64| q & options != 0;
    let substituted = initials.len() >= n
        && query
            .iter()
            .zip(initials)
            .filter(|(q, options)| !fits(q, options))
            .count()
            == 1;
    let extra_letter = initials.len() + 1 >= n
        && (0..n).any(|skip| {
            query[..skip].iter().zip(initials).all(|(q, o)| fits(q, o))
                && query[skip + 1..]
                    .iter()
                    .zip(&initials[skip..])
                    .all(|(q, o)| fits(q, o))
        });
    let missing_letter = initials.len() > n
        && (0..=n).any(|gap| {
            query[..gap]
                .iter()
                .zip(&initials[..gap])
                .all(|(q, o)| fits(q, o))
                && query[gap..]
                    .iter()
                    .zip(&initials[gap + 1..])
                    .all(|(q, o)| fits(q, o))
        });
    substituted || extra_letter || missing_letter
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The scoring as first written, with plain letter lists and no
    /// prefilters: the fast version must agree with it on every query.
    fn reference_score(term: &Term, query: &str, ascii: bool) -> u32 {
        if !ascii {
            return if term.hanzi.starts_with(query) {
                100 * term.weight
            } else if term.hanzi.contains(query) {
                80 * term.weight
            } else {
                0
            };
        }
        let options: Vec<Vec<char>> = term
            .initials
            .iter()
            .map(|mask| {
                ('a'..='z')
                    .chain('0'..='9')
                    .filter(|c| mask & letter_bit(*c) != 0)
                    .collect()
            })
            .collect();
        let q: Vec<char> = query.chars().collect();
        let at = |q: &[char], start: usize| {
            options.len() >= start + q.len()
                && q.iter().zip(&options[start..]).all(|(c, o)| o.contains(c))
        };
        if at(&q, 0) {
            return 100 * term.weight;
        }
        if (1..options.len()).any(|s| at(&q, s)) {
            return 75 * term.weight;
        }
        if term.full.starts_with(query) {
            return 90 * term.weight;
        }
        if q.len() >= 3 && term.full.contains(query) {
            return 60 * term.weight;
        }
        let n = q.len();
        let substituted = options.len() >= n
            && q.iter()
                .zip(&options)
                .filter(|(c, o)| !o.contains(c))
                .count()
                == 1;
        let extra = (0..n).any(|skip| {
            let shorter: Vec<char> = q
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, c)| *c)
                .collect();
            at(&shorter, 0)
        });
        let missing = options.len() > n
            && (0..=n).any(|gap| {
                q[..gap]
                    .iter()
                    .zip(&options[..gap])
                    .all(|(c, o)| o.contains(c))
                    && q[gap..]
                        .iter()
                        .zip(&options[gap + 1..])
                        .all(|(c, o)| o.contains(c))
            });
        if n >= 3 && (substituted || extra || missing) {
            40 * term.weight
        } else {
            0
        }
    }

    #[test]
    fn a_short_list_is_the_head_of_the_long_one() {
        let index = SearchIndex::build(&Catalogue::demo());
        for query in ["s", "sb", "sbj", "社", "zm", "bl"] {
            let all = index.search(query, usize::MAX);
            for limit in [0, 1, 3, 5] {
                let head = &all[..all.len().min(limit)];
                assert_eq!(index.search(query, limit), head, "{query} {limit}");
            }
        }
    }

    proptest! {
        #[test]
        fn fast_scoring_agrees_with_the_reference(
            query in "[a-z]{1,9}|[社会保障卡出生登记户口医疗残疾人证]{1,3}"
        ) {
            let index = SearchIndex::build(&Catalogue::demo());
            let ascii = query.chars().all(|c| c.is_ascii_alphabetic());
            let prepared = Query {
                bits: query.chars().map(letter_bit).collect(),
                letters: query.chars().map(letter_bit).fold(0, |a, b| a | b),
                bloom: char_bloom(&query),
                text: query.clone(),
            };
            for entry in &index.entries {
                for term in &entry.terms {
                    prop_assert_eq!(
                        term_score(term, &prepared, ascii),
                        reference_score(term, &query, ascii),
                        "{} / {}", term.hanzi, query
                    );
                }
            }
        }
    }

    fn names(catalogue: &Catalogue, hits: &[Hit]) -> Vec<String> {
        hits.iter()
            .map(|h| catalogue.service(&h.code).unwrap().name.clone())
            .collect()
    }

    #[test]
    fn initials_full_pinyin_and_hanzi_find_social_security_card() {
        let catalogue = Catalogue::demo();
        let index = SearchIndex::build(&catalogue);
        for query in ["sbk", "shebaoka", "社保卡", "SBK"] {
            let found = names(&catalogue, &index.search(query, 5));
            assert!(
                found
                    .first()
                    .is_some_and(|n| n.contains("社保卡") || n.contains("社会保障卡")),
                "{query}: {found:?}"
            );
        }
    }

    #[test]
    fn one_wrong_letter_is_tolerated() {
        let catalogue = Catalogue::demo();
        let index = SearchIndex::build(&catalogue);
        let found = names(&catalogue, &index.search("sbj", 5));
        assert!(
            found
                .iter()
                .any(|n| n.contains("社会保障卡") || n.contains("社保卡")),
            "{found:?}"
        );
    }

    #[test]
    fn nonsense_finds_nothing_and_never_panics() {
        let catalogue = Catalogue::demo();
        let index = SearchIndex::build(&catalogue);
        assert!(index.search("qqqqqqq", 5).is_empty());
        assert!(index.search("", 5).is_empty());
        assert!(index.search("\u{0}☃️𠮷", 5).is_empty());
    }
}
