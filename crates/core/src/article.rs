use serde::{Deserialize, Serialize};

/// One news article as readnext knows it, whatever format it came from.
///
/// Only `id` and `title` are always present; everything else depends on what
/// the source provided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Article {
    /// Stable identifier: the source's own id, else a hash of the canonical
    /// URL, else a hash of the content (see [`crate::stable_id`]).
    pub id: String,
    /// Canonical URL, when known.
    pub url: Option<String>,
    /// The headline.
    pub title: String,
    /// The standfirst under the headline.
    pub dek: Option<String>,
    /// The caption of the lead photo.
    pub caption: Option<String>,
    /// Body paragraphs, in order; subheads are not included.
    pub body: Vec<String>,
    /// Subheads found between body paragraphs.
    pub subheads: Vec<String>,
    /// Publication time, seconds since the Unix epoch (UTC).
    pub published: Option<i64>,
    /// ISO 639-1 language code given by the source (analysis detects it otherwise).
    pub lang: Option<String>,
    /// Section of the publication ("politics", "fact-sheets", ...).
    pub section: Option<String>,
    /// Free tags.
    pub tags: Vec<String>,
    /// Bylines.
    pub authors: Vec<String>,
    /// Where the article came from: the publisher's host or the ingested folder.
    pub source: Option<String>,
    /// URL of the lead image, when known.
    pub image: Option<String>,
}

impl Article {
    /// Whether the article came with its language (not detected).
    pub fn lang_given(&self) -> bool {
        self.lang.as_deref().is_some_and(|l| !l.trim().is_empty())
    }

    /// The whole text used for analysis: title, dek, caption, subheads and body.
    pub fn full_text(&self) -> String {
        let mut out = String::with_capacity(self.body.iter().map(|p| p.len() + 2).sum::<usize>() + 256);
        out.push_str(&self.title);
        for part in [&self.dek, &self.caption].into_iter().flatten() {
            out.push_str("\n\n");
            out.push_str(part);
        }
        for s in &self.subheads {
            out.push_str("\n\n");
            out.push_str(s);
        }
        for p in &self.body {
            out.push_str("\n\n");
            out.push_str(p);
        }
        out
    }
}

/// A stemmed term of an article with its weighted count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    /// The stem, lower-cased; the key used by the indexes.
    pub stem: String,
    /// The most frequent surface form, for explanations.
    pub surface: String,
    /// Occurrences, with headline words counted extra (see analysis).
    pub tf: u32,
}

/// What kind of thing an entity names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum EntityKind {
    /// A person.
    Person,
    /// A company, agency, party, newspaper...
    Organization,
    /// A country, city, region.
    Place,
    /// Anything else that is capitalised and repeated.
    Other,
}

impl Entity {
    /// The key an entity matches on across articles: a person with a full
    /// name matches on the bare surname (another article may only say
    /// "Sheinbaum"), everything else on its own key. One key per entity, so
    /// that a person does not weigh twice.
    pub fn match_key(&self) -> &str {
        match (self.kind, self.key.rsplit_once('_')) {
            (EntityKind::Person, Some((_, surname))) => surname,
            _ => &self.key,
        }
    }
}

impl EntityKind {
    /// Lower-case name used in JSON and explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Place => "place",
            EntityKind::Other => "other",
        }
    }
}

/// A named entity resolved within one article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Matching key: the canonical name folded to lower-case ASCII, words joined by `_`.
    pub key: String,
    /// The canonical name as written ("Claudia Sheinbaum").
    pub name: String,
    /// What it names.
    pub kind: EntityKind,
    /// Mentions in the article, aliases included.
    pub count: u32,
}

/// A keyphrase of an article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyphrase {
    /// Matching key: the stems joined by a space.
    pub key: String,
    /// The phrase as written.
    pub text: String,
    /// Salience score (higher is more central to the article).
    pub score: f32,
}

/// Everything analysis derives from an article; stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Analysis {
    /// Detected (or given) language, ISO 639-1 when known.
    pub lang: String,
    /// Stemmed terms with counts, sorted by stem.
    pub terms: Vec<Term>,
    /// Named entities, most mentioned first.
    pub entities: Vec<Entity>,
    /// Keyphrases, most salient first.
    pub keyphrases: Vec<Keyphrase>,
    /// 64-bit SimHash of word shingles, for near-duplicate detection.
    pub simhash: u64,
    /// Number of word tokens in the article.
    pub tokens: u32,
    /// Hash of the normalised text; equal hashes mean identical content.
    pub content_hash: u64,
    /// Publication time (Unix seconds): the article's own, kept here so that
    /// ranking reads it without decoding the article.
    pub published: Option<i64>,
}

/// The compact part of an analysis that ranking reads for every candidate:
/// hashed stems and entity keys with their counts, no strings, so that it
/// decodes in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RankInput {
    /// (FNV-1a of the stem, weighted count), sorted by hash.
    pub terms: Vec<(u64, u32)>,
    /// (FNV-1a of the entity match key, mentions), sorted by hash.
    pub entities: Vec<(u64, u32)>,
    /// FNV-1a of each keyphrase key, sorted.
    pub keyphrases: Vec<u64>,
    /// SimHash.
    pub simhash: u64,
    /// Content hash.
    pub content_hash: u64,
    /// Publication time.
    pub published: Option<i64>,
    /// The language that decides whether two articles are compared across
    /// languages: the analysis's when it was given with the article or the
    /// article has at least [`MIN_TOKENS_FOR_LANG`] words, "und" otherwise
    /// (and when unknown).
    pub lang: String,
}

/// Words an article needs for its language to tell it apart from another
/// article's. A language detected on a headline and a sentence is a guess:
/// on ECB+ cut to its leads (a few dozen words an article), weighing pairs
/// up as "another language" on detected languages cost 3.5 nDCG@10 points
/// (86.01 against 89.47 without the factor). A short article's detected language is
/// therefore not compared (the analysis keeps it, for stemming); a given one
/// is.
pub const MIN_TOKENS_FOR_LANG: u32 = 100;

impl Analysis {
    /// The language two articles are told apart by: the analysis's when it
    /// was given with the article (`lang_given`) or detected on at least
    /// [`MIN_TOKENS_FOR_LANG`] words; `None` when it is a guess or empty.
    pub fn comparable_lang(&self, lang_given: bool) -> Option<&str> {
        let known = lang_given || self.tokens >= MIN_TOKENS_FOR_LANG;
        (known && !self.lang.is_empty()).then_some(self.lang.as_str())
    }

    /// The compact ranking input of this analysis; `lang_given`: whether
    /// the article came with its language ([`Article::lang_given`]).
    pub fn rank_input(&self, lang_given: bool) -> RankInput {
        let mut terms: Vec<(u64, u32)> = self.terms.iter().map(|t| (crate::fnv1a64(t.stem.as_bytes()), t.tf)).collect();
        terms.sort_unstable();
        let mut entities: Vec<(u64, u32)> = Vec::with_capacity(self.entities.len());
        for e in &self.entities {
            let h = crate::fnv1a64(e.match_key().as_bytes());
            match entities.iter_mut().find(|x| x.0 == h) {
                Some(x) => x.1 = x.1.max(e.count),
                None => entities.push((h, e.count)),
            }
        }
        entities.sort_unstable();
        let mut keyphrases: Vec<u64> = self.keyphrases.iter().map(|k| crate::fnv1a64(k.key.as_bytes())).collect();
        keyphrases.sort_unstable();
        keyphrases.dedup();
        RankInput {
            terms,
            entities,
            keyphrases,
            simhash: self.simhash,
            content_hash: self.content_hash,
            published: self.published,
            lang: self.comparable_lang(lang_given).unwrap_or("und").to_string(),
        }
    }
}
