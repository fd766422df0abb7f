//! Finding a service by what a resident can type on a kiosk: pinyin initials
//! (`sbk` → 社保卡), full pinyin (`shebaoka`), or hanzi. Results are ranked
//! by how well they match, then by how often residents use the service.

use crate::core::catalogue::{Catalogue, Service};
use pinyin::ToPinyinMulti;

/// One searchable text of a service (its name or a keyword) in every form a
/// resident might type it.
#[derive(Debug, Clone)]
struct Term {
    hanzi: String,
    /// Every combination of initials across heteronyms would explode, so each
    /// character contributes its most common reading first and other
    /// readings as alternatives at the same position.
    initials: Vec<Vec<char>>,
    full: String,
    weight: u32,
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
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(b.2)));
        hits.truncate(limit);
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
                let mut letters: Vec<char> = Vec::new();
                for (i, reading) in multi.into_iter().enumerate() {
                    let plain = reading.plain();
                    if i == 0 {
                        full.push_str(plain);
                    }
                    if let Some(first) = plain.chars().next() {
                        if !letters.contains(&first) {
                            letters.push(first);
                        }
                    }
                }
                initials.push(letters);
            }
            None if ch.is_ascii_alphanumeric() => {
                let lower = ch.to_ascii_lowercase();
                initials.push(vec![lower]);
                full.push(lower);
            }
            None => {}
        }
    }
    Term {
        hanzi: text.to_string(),
        initials,
        full,
        weight,
    }
}

fn term_score(term: &Term, query: &str, ascii: bool) -> u32 {
    if !ascii {
        return if term.hanzi.starts_with(query) {
            100 * term.weight
        } else if term.hanzi.contains(query) {
            80 * term.weight
        } else {
            0
        };
    }
    let query: Vec<char> = query.chars().collect();
    if initials_match_at(&term.initials, &query, 0) {
        return 100 * term.weight;
    }
    if (1..term.initials.len()).any(|start| initials_match_at(&term.initials, &query, start)) {
        return 75 * term.weight;
    }
    let query_text: String = query.iter().collect();
    if term.full.starts_with(&query_text) {
        return 90 * term.weight;
    }
    if query.len() >= 3 && term.full.contains(&query_text) {
        return 60 * term.weight;
    }
    // One wrong letter is forgiven once the query is long enough to still
    // mean something.
    if query.len() >= 3 && initials_within_one_edit(&term.initials, &query) {
        return 40 * term.weight;
    }
    0
}

fn initials_match_at(initials: &[Vec<char>], query: &[char], start: usize) -> bool {
    initials.len() >= start + query.len()
        && query
            .iter()
            .zip(&initials[start..])
            .all(|(q, options)| options.contains(q))
}

/// True when the query equals the start of the initials with one letter
/// substituted, dropped or added.
fn initials_within_one_edit(initials: &[Vec<char>], query: &[char]) -> bool {
    let n = query.len();
    let substituted = initials.len() >= n
        && query
            .iter()
            .zip(initials)
            .filter(|(q, options)| !options.contains(q))
            .count()
            == 1;
    let extra_letter = (0..n).any(|skip| {
        let shorter: Vec<char> = query
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, c)| *c)
            .collect();
        initials_match_at(initials, &shorter, 0)
    });
    let missing_letter = initials.len() > n
        && (0..=n).any(|gap| {
            query[..gap]
                .iter()
                .zip(&initials[..gap])
                .all(|(q, o)| o.contains(q))
                && query[gap..]
                    .iter()
                    .zip(&initials[gap + 1..])
                    .all(|(q, o)| o.contains(q))
        });
    substituted || extra_letter || missing_letter
}

#[cfg(test)]
mod tests {
    use super::*;

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
