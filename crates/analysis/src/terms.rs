//! Stemmed bag of words, the lexical representation every index and score uses.

use std::collections::HashMap;

use readnext_core::Term;
use rust_stemmers::{Algorithm, Stemmer};

use crate::stopwords::is_stop;
use crate::tokens::{Word, fold};

/// How many times a headline word counts: headlines say what a story is about.
pub const TITLE_WEIGHT: u32 = 3;

fn stemmer(lang: &str) -> Option<Stemmer> {
    let alg = match lang {
        "en" => Algorithm::English,
        "es" => Algorithm::Spanish,
        "de" => Algorithm::German,
        "fr" => Algorithm::French,
        "it" => Algorithm::Italian,
        "pt" => Algorithm::Portuguese,
        "ru" => Algorithm::Russian,
        "tr" => Algorithm::Turkish,
        "nl" => Algorithm::Dutch,
        "sv" => Algorithm::Swedish,
        "ar" => Algorithm::Arabic,
        "ro" => Algorithm::Romanian,
        "el" => Algorithm::Greek,
        _ => return None,
    };
    Some(Stemmer::create(alg))
}

/// Stems the words of a headline and a body into sorted terms with counts;
/// headline words count [`TITLE_WEIGHT`] times. Stop words and one-letter
/// words are dropped. Stems are folded (no accents) so that `México` and
/// `Mexico` meet.
pub fn stem_terms(lang: &str, title: &[Word<'_>], body: &[Word<'_>]) -> Vec<Term> {
    let stemmer = stemmer(lang);
    let mut counts: HashMap<String, (u32, HashMap<String, u32>)> = HashMap::new();
    let mut add = |w: &Word<'_>, weight: u32| {
        let lower = w.text.trim_end_matches('.').to_lowercase();
        if lower.chars().count() < 2 || is_stop(lang, &lower) {
            return;
        }
        let stem = match &stemmer {
            Some(s) => fold(&s.stem(&lower)),
            None => fold(&lower),
        };
        let e = counts.entry(stem).or_default();
        e.0 += weight;
        *e.1.entry(lower).or_default() += 1;
    };
    for w in title {
        add(w, TITLE_WEIGHT);
    }
    for w in body {
        add(w, 1);
    }
    let mut terms: Vec<Term> = counts
        .into_iter()
        .map(|(stem, (tf, surfaces))| {
            let surface = surfaces
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(s, _)| s)
                .unwrap_or_else(|| stem.clone());
            Term { stem, surface, tf }
        })
        .collect();
    terms.sort_by(|a, b| a.stem.cmp(&b.stem));
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::words;

    #[test]
    fn headline_words_weigh_more_and_stems_merge() {
        let t = words("Cartels");
        let b = words("The cartel and the cartels.");
        let terms = stem_terms("en", &t, &b);
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].stem, "cartel");
        assert_eq!(terms[0].tf, TITLE_WEIGHT + 2);
    }
}
