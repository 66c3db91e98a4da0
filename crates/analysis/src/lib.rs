//! Text analysis: language, tokens, stems, entities, keyphrases and
//! near-duplicate fingerprints, for English and Spanish (and, with less care,
//! the other languages Snowball stems).
//!
//! Everything here is a pure function of an article's text, so analysis can
//! run on any thread, and a query article that is not stored is analysed
//! exactly like a stored one.
#![warn(missing_docs)]

mod entities;
mod fingerprint;
mod keyphrases;
mod lang;
mod stopwords;
mod terms;
mod tokens;

pub use fingerprint::{hamming, simhash};
pub use lang::detect_lang;
pub use stopwords::{ENGLISH as ENGLISH_STOP_WORDS, is_stop};
pub use terms::{TITLE_WEIGHT, stem_terms};
pub use tokens::{Word, fold, words};

use std::sync::OnceLock;

use readnext_core::{Analysis, Article, FastSet};

/// A fixed word list with constant-time lookups, built on first use: the
/// lists are consulted for nearly every word of every article.
pub(crate) struct WordSet {
    words: &'static [&'static str],
    set: OnceLock<FastSet<&'static str>>,
}

impl WordSet {
    pub(crate) const fn new(words: &'static [&'static str]) -> WordSet {
        WordSet { words, set: OnceLock::new() }
    }

    pub(crate) fn contains(&self, w: &str) -> bool {
        self.set.get_or_init(|| self.words.iter().copied().collect()).contains(w)
    }
}

/// Errors of the analysis crate.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The article has no text at all to analyse.
    #[error("article {0:?} has no text to analyse")]
    Empty(String),
}

/// Analyses one article: language (the article's own when given), stems,
/// entities, keyphrases, SimHash and content hash.
pub fn analyze(article: &Article) -> Result<Analysis, AnalysisError> {
    let body_text = {
        let mut t = String::new();
        for part in [&article.dek, &article.caption].into_iter().flatten() {
            t.push_str(part);
            t.push('\n');
        }
        for s in &article.subheads {
            t.push_str(s);
            t.push('\n');
        }
        for p in &article.body {
            t.push_str(p);
            t.push('\n');
        }
        t
    };
    if article.title.trim().is_empty() && body_text.trim().is_empty() {
        return Err(AnalysisError::Empty(article.id.clone()));
    }
    let lang = match article.lang.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => l.to_lowercase(),
        // Only the start is read: copy no more than that.
        None => detect_lang(&format!("{}\n{}", article.title, prefix(&body_text, 1024))),
    };
    let title_words = words(&article.title);
    let body_words = words(&body_text);
    let mut stems = terms::StemCache::new(&lang);
    let (title_lower, body_lower) = (terms::lowers(&title_words), terms::lowers(&body_words));
    let terms = terms::stem_terms_with(&mut stems, &lang, &title_lower, &body_lower);
    // Words written in lower case somewhere in the article: a capitalised
    // one of them is a common word at a sentence start, not a name.
    let lower_vocab: FastSet<std::borrow::Cow<'_, str>> = title_words
        .iter()
        .chain(&body_words)
        .filter(|w| w.text.chars().next().is_some_and(char::is_lowercase))
        .map(|w| if w.text.bytes().all(|b| b.is_ascii_lowercase()) { w.text.into() } else { fold(w.text).into() })
        .collect();
    let title_case = is_title_case(&lang, &title_words);
    let entities = if title_case {
        entities::extract(&body_words, &lang, &lower_vocab, &title_words)
    } else {
        let mut all = title_words.clone();
        all.extend(body_words.iter().copied().enumerate().map(|(i, mut w)| {
            // The headline has no final period: the body starts a sentence.
            if i == 0 {
                w.sentence_start = true;
                w.after_break = true;
            }
            w
        }));
        entities::extract(&all, &lang, &lower_vocab, &[])
    };
    let keyphrases = keyphrases::extract(&mut stems, &lang, (&title_words, &title_lower), (&body_words, &body_lower));
    let token_hashes: Vec<u64> =
        title_words.iter().chain(&body_words).map(|w| fingerprint::token_hash(w.text)).collect();
    let simhash = fingerprint::simhash_of_hashes(&token_hashes);
    let content_hash = token_hashes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, t| fingerprint::mix(h, *t));
    Ok(Analysis {
        lang,
        terms,
        entities,
        keyphrases,
        simhash,
        tokens: u32::try_from(token_hashes.len()).unwrap_or(u32::MAX),
        content_hash,
        published: article.published,
    })
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    &s[..tokens::floor_boundary(s, max)]
}

/// A headline in Title Case capitalises most of its words, so capitals there
/// say nothing about names.
fn is_title_case(lang: &str, title: &[Word<'_>]) -> bool {
    let content: Vec<&Word<'_>> = title.iter().filter(|w| !is_stop(lang, &w.text.to_lowercase())).collect();
    let caps = content.iter().filter(|w| w.text.chars().next().is_some_and(char::is_uppercase)).count();
    content.len() >= 3 && caps * 10 >= content.len() * 7
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(title: &str, body: &str) -> Article {
        Article { id: "t".into(), title: title.into(), body: vec![body.into()], ..Default::default() }
    }

    #[test]
    fn analyses_english_and_spanish() {
        let en = analyze(&article(
            "Hegseth threatens to enter Mexico militarily to confront cartels",
            "Defense Secretary Pete Hegseth told Mexican officials that the military would act against the cartels. \
             Tariffs on Mexican products were discussed.",
        ))
        .unwrap();
        assert_eq!(en.lang, "en");
        assert!(en.terms.iter().any(|t| t.stem == "cartel" && t.tf >= 2));
        assert!(en.entities.iter().any(|e| e.key == "pete_hegseth"));
        assert!(en.entities.iter().any(|e| e.key == "mexico" && e.count >= 2));
        let es = analyze(&article(
            "El presidente anuncia aranceles",
            "El presidente Andrés Manuel López Obrador dijo que los aranceles de Estados Unidos no afectarán a \
             México y que el gobierno seguirá trabajando con las autoridades.",
        ))
        .unwrap();
        assert_eq!(es.lang, "es");
        assert!(es.terms.iter().all(|t| t.stem != "los" && t.stem != "que"));
        assert!(es.entities.iter().any(|e| e.key == "andres_manuel_lopez_obrador"));
    }

    #[test]
    fn title_case_headlines_do_not_invent_names() {
        let a = analyze(&article(
            "President Donald J. Trump Imposes Tariffs on Imports from Mexico",
            "President Donald J. Trump is imposing tariffs on Mexico. Trump said so.",
        ))
        .unwrap();
        assert!(a.entities.iter().any(|e| e.key == "donald_trump" && e.count >= 2), "{:?}", a.entities);
        assert!(!a.entities.iter().any(|e| e.key.contains("imposes")));
    }

    #[test]
    fn empty_article_is_an_error() {
        assert!(analyze(&article("  ", "")).is_err());
    }
}
