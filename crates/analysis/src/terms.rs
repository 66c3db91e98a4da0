//! Stemmed bag of words, the lexical representation every index and score uses.

use std::borrow::Cow;
use std::cell::RefCell;

use readnext_core::{FastMap, Term, fnv1a64};
use rust_stemmers::{Algorithm, Stemmer};

use crate::stopwords::is_stop;
use crate::tokens::{Word, fold};

/// How many times a headline word counts: headlines say what a story is about.
pub const TITLE_WEIGHT: u32 = 2;

/// Past this many words, a thread's memo of stems starts over (bounds its
/// memory on a corpus with an open vocabulary).
const MEMO_WORDS: usize = 200_000;

thread_local! {
    /// (language, lower-case word) -> folded stem, shared by the articles a
    /// thread analyses: news vocabulary repeats across articles, and the
    /// Snowball stemmer is the costliest step of analysis.
    static MEMO: RefCell<(String, FastMap<String, String>)> = RefCell::new((String::new(), FastMap::default()));
}

/// Stems of one article's words, each looked up once per article.
pub(crate) struct StemCache {
    stemmer: Option<Stemmer>,
    lang: String,
    /// word -> index into `stems`
    ids: FastMap<String, u32>,
    /// (folded stem, its FNV-1a hash)
    stems: Vec<(String, u64)>,
}

impl StemCache {
    pub(crate) fn new(lang: &str) -> StemCache {
        StemCache { stemmer: stemmer(lang), lang: lang.to_string(), ids: FastMap::default(), stems: Vec::new() }
    }

    /// The id of the folded stem of a lower-case word: one hash lookup for
    /// a word seen before.
    pub(crate) fn stem_id(&mut self, lower: &str) -> u32 {
        if let Some(&id) = self.ids.get(lower) {
            return id;
        }
        let stem = MEMO.with(|m| {
            let mut m = m.borrow_mut();
            if m.0 != self.lang || m.1.len() >= MEMO_WORDS {
                m.0.clone_from(&self.lang);
                m.1.clear();
            }
            if let Some(s) = m.1.get(lower) {
                return s.clone();
            }
            let stem = match &self.stemmer {
                Some(s) => fold(&s.stem(lower)),
                None => fold(lower),
            };
            m.1.insert(lower.to_string(), stem.clone());
            stem
        });
        let id = u32::try_from(self.stems.len()).unwrap_or(u32::MAX);
        let hash = fnv1a64(stem.as_bytes());
        self.stems.push((stem, hash));
        self.ids.insert(lower.to_string(), id);
        id
    }

    /// The stem of an id from [`StemCache::stem_id`].
    pub(crate) fn by_id(&self, id: u32) -> &str {
        self.stems.get(id as usize).map_or("", |s| s.0.as_str())
    }

    /// The FNV-1a hash of the stem of an id.
    pub(crate) fn hash_of(&self, id: u32) -> u64 {
        self.stems.get(id as usize).map_or(0, |s| s.1)
    }

    /// The folded stem of a lower-case word.
    pub(crate) fn stem(&mut self, lower: &str) -> &str {
        let id = self.stem_id(lower);
        self.by_id(id)
    }
}

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
    stem_terms_with(&mut StemCache::new(lang), lang, &lowers(title), &lowers(body))
}

/// The lower-case form of each word (a trailing period cut), computed once
/// per article and shared by terms and keyphrases.
pub(crate) fn lowers<'a>(words: &[Word<'a>]) -> Vec<Lower<'a>> {
    words
        .iter()
        .map(|w| {
            let t = w.text.trim_end_matches('.');
            // Most words are already lower-case ASCII: borrow them.
            if t.bytes().all(|b| !b.is_ascii_uppercase() && b.is_ascii()) {
                Cow::Borrowed(t)
            } else {
                Cow::Owned(t.to_lowercase())
            }
        })
        .collect()
}

/// A lower-cased word, borrowed from the text when it already was.
pub(crate) type Lower<'a> = Cow<'a, str>;

pub(crate) fn stem_terms_with(stems: &mut StemCache, lang: &str, title: &[Lower<'_>], body: &[Lower<'_>]) -> Vec<Term> {
    // stem -> (weighted count, surfaces with counts; usually one or two)
    let mut counts: FastMap<String, (u32, Vec<(String, u32)>)> = FastMap::default();
    let mut add = |lower: &str, weight: u32| {
        if lower.chars().nth(1).is_none() || is_stop(lang, lower) {
            return;
        }
        let stem = stems.stem(lower);
        let e = match counts.get_mut(stem) {
            Some(e) => e,
            None => counts.entry(stem.to_string()).or_default(),
        };
        e.0 += weight;
        match e.1.iter_mut().find(|s| s.0 == lower) {
            Some(s) => s.1 += 1,
            None => e.1.push((lower.to_string(), 1)),
        }
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
