//! Story threads: articles grouped into stories as they arrive, in one pass.
//!
//! Each article is compared with the centroids of the open stories and
//! joins the best one when the similarity clears [`StoryOptions::join`];
//! otherwise it starts a story of its own. An article that clears the
//! threshold for a second story too is evidence that the two are one: they
//! merge when their centroids are close enough ([`StoryOptions::merge`]).
//!
//! Why the similarity looks the way it does:
//! - **Headline and lead, not the whole text.** A threshold on the cosine of
//!   whole-article vectors does not carry from long articles to short items:
//!   the cosine of two short texts about one event is much lower than that
//!   of two long ones. Cutting every article to its headline and the first
//!   [`StoryOptions::lead_words`] words of its body puts a wire brief and a
//!   2,000-word feature on the same footing, and the lead is where news
//!   writing states the event.
//! - **Entities from the whole text**, as a second cosine: who and where
//!   separates two events of one kind (two earthquakes, two rehab stays)
//!   better than their shared vocabulary does.
//! - **Statistics of the stream itself.** Document frequencies are those of
//!   the articles seen so far, so the assignment needs nothing but the
//!   stream, and the same stream in the same order gives the same stories,
//!   to the bit.
//! - **Time.** A story whose newest article is more than
//!   [`StoryOptions::quiet_days`] older than a dated newcomer takes no more
//!   articles (undated articles are not held to it).
//!
//! Invariants: a story's id is the id of its first article, and a merge
//! keeps the id of the story that started first; stories are numbered in
//! the order they started.

use readnext_core::{Analysis, Article, FastMap, fnv1a64};

use crate::RecommendError;
use crate::vectors::{CorpusStats, tf_weight};

/// How articles are grouped. One frozen configuration: the defaults are the
/// configuration every evaluation runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryOptions {
    /// Similarity to a story's centroid an article needs to join it.
    pub join: f32,
    /// Share of the entity cosine in the similarity (the rest is the text
    /// cosine of headline and lead).
    pub entity_share: f32,
    /// Words of the body kept after the headline.
    pub lead_words: usize,
    /// Days after its newest article a story takes no more.
    pub quiet_days: f64,
    /// Centroid cosine at which two stories an article joins both of merge.
    pub merge: f32,
    /// Terms and entities in more than this share of the last
    /// [`StoryOptions::window`] articles (once there are
    /// [`MIN_DOCS_FOR_MAX_DF`]) weigh nothing: a publisher's boilerplate of
    /// the moment ("Fact Sheet: President Donald J. Trump …" in every 2025
    /// release) would otherwise chain every article into the story that
    /// gathered most of it. Recent, not all-time, shares: boilerplate comes
    /// and goes with an administration or a desk.
    pub max_df: f32,
    /// Articles the recent shares of [`StoryOptions::max_df`] count.
    pub window: usize,
    /// Share of the entity cosine when an article's language is not its
    /// story's: headlines in two languages share no stems, only names.
    pub cross_entity_share: f32,
}

const ENTITY_BIT: u64 = 1 << 63;

/// Articles seen before [`StoryOptions::max_df`] applies: below this, the
/// shares are noise.
pub const MIN_DOCS_FOR_MAX_DF: u64 = 100;

impl Default for StoryOptions {
    fn default() -> Self {
        StoryOptions {
            join: 0.25,
            entity_share: 0.3,
            lead_words: 60,
            quiet_days: 35.0,
            merge: 0.5,
            max_df: 0.25,
            window: 200,
            cross_entity_share: 0.6,
        }
    }
}

/// A sparse vector keyed by hashed stem or entity key, unit length.
type Vector = Vec<(u64, f32)>;

/// What the assigner reads of one article: small, computed once per
/// write and kept, so that rebuilding the stories needs no analysis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoryFeatures {
    /// Publication time (Unix seconds).
    pub published: Option<i64>,
    /// Hashed stems of the headline and lead with their counts, sorted by
    /// hash.
    pub lead: Vec<(u64, u32)>,
    /// Hashed entity match keys of the whole article with their mention
    /// counts, sorted by hash.
    pub entities: Vec<(u64, u32)>,
    /// Its language, hashed (0 when unknown).
    pub lang: u64,
}

impl StoryFeatures {
    /// The features of `article`, given its stored analysis (for the
    /// language and the entities): the headline and the first
    /// `lead_words` words of the body are stemmed again.
    pub fn of(article: &Article, analysis: &Analysis, lead_words: usize) -> StoryFeatures {
        let body = lead(&article.body, lead_words).join("\n");
        let title = readnext_analysis::words(&article.title);
        let body = readnext_analysis::words(&body);
        let terms = readnext_analysis::stem_terms(&analysis.lang, &title, &body);
        let lead = summed(terms.iter().map(|t| (fnv1a64(t.stem.as_bytes()), t.tf)));
        let entities = summed(analysis.entities.iter().map(|e| (fnv1a64(e.match_key().as_bytes()), e.count)));
        // A language detected on a few words is a guess: only a given one,
        // or one detected on a full article, tells two languages apart.
        let lang = analysis.comparable_lang(article.lang_given()).map_or(0, |l| fnv1a64(l.as_bytes()));
        StoryFeatures { published: analysis.published.or(article.published), lead, entities, lang }
    }
}

/// Sorts by key, keeping the largest count of equal keys.
fn summed(items: impl Iterator<Item = (u64, u32)>) -> Vec<(u64, u32)> {
    let mut v: Vec<(u64, u32)> = items.collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

#[derive(Debug, Clone, Default)]
struct Centroid {
    sum: FastMap<u64, f32>,
    norm2: f32,
}

impl Centroid {
    /// Cosine of a unit vector with the centroid.
    fn cosine(&self, v: &Vector) -> f32 {
        self.cosine_of(self.dot(v))
    }

    /// Dot product of a vector with the centroid's sum, over the vector's
    /// keys in order.
    fn dot(&self, v: &Vector) -> f32 {
        let mut dot = 0.0;
        for (k, w) in v {
            if let Some(c) = self.sum.get(k) {
                dot += w * c;
            }
        }
        dot
    }

    /// The cosine of a unit vector whose dot product with the sum is `dot`.
    fn cosine_of(&self, dot: f32) -> f32 {
        if self.norm2 <= 0.0 { 0.0 } else { dot / self.norm2.sqrt() }
    }

    fn add(&mut self, v: &Vector) {
        // |s + v|² = |s|² + 2 s·v + |v|²; adding keys in sorted order keeps
        // the float sums the same on every run.
        let dot = self.dot(v);
        let vv: f32 = v.iter().map(|(_, w)| w * w).sum();
        for (k, w) in v {
            *self.sum.entry(*k).or_default() += w;
        }
        self.norm2 += 2.0 * dot + vv;
    }

    fn absorb(&mut self, other: &Centroid) {
        let mut keys: Vec<(&u64, &f32)> = other.sum.iter().collect();
        keys.sort_unstable_by_key(|e| *e.0);
        for (k, w) in keys {
            *self.sum.entry(*k).or_default() += w;
        }
        let mut entries: Vec<(&u64, &f32)> = self.sum.iter().collect();
        entries.sort_unstable_by_key(|e| *e.0);
        self.norm2 = entries.iter().map(|(_, w)| *w * *w).sum();
    }

    fn cosine_with(&self, other: &Centroid) -> f32 {
        if self.norm2 <= 0.0 || other.norm2 <= 0.0 {
            return 0.0;
        }
        let (small, large) = if self.sum.len() <= other.sum.len() { (self, other) } else { (other, self) };
        let mut entries: Vec<(&u64, &f32)> = small.sum.iter().collect();
        entries.sort_unstable_by_key(|e| *e.0);
        let dot: f32 = entries.iter().map(|(k, w)| *w * large.sum.get(*k).copied().unwrap_or(0.0)).sum();
        dot / (self.norm2.sqrt() * other.norm2.sqrt())
    }
}

/// One story being built.
#[derive(Debug, Clone)]
struct Building {
    id: String,
    members: Vec<usize>,
    text: Centroid,
    ents: Centroid,
    newest: Option<i64>,
    /// Publication time of its oldest dated article.
    oldest: Option<i64>,
    /// Merged into another story (its index).
    merged_into: Option<usize>,
    /// Started by an article an editor split off: never merged.
    split: bool,
    /// The language of its first article (hashed; 0 when unknown).
    lang: u64,
    /// Still in the assigner's open list (leaving it is for good).
    listed: bool,
}

/// Groups a stream of articles into stories ([module docs](self)).
#[derive(Debug, Clone)]
pub struct StoryAssigner {
    opts: StoryOptions,
    /// The stream's own statistics: every article added so far.
    stats: CorpusStats,
    /// The hashes of the last [`StoryOptions::window`] articles, and their
    /// document frequencies.
    recent: std::collections::VecDeque<Vec<u64>>,
    recent_df: FastMap<u64, u32>,
    stories: Vec<Building>,
    /// Article index → story index (before following merges).
    story_of: Vec<usize>,
    /// The stories that may still take articles, in the order they
    /// started: while the dated articles come in time order, a story gone
    /// quiet before the newest one can never take another and leaves this
    /// list, so an assignment costs the open stories, not all of them.
    open_list: Vec<usize>,
    /// The newest dated article so far, and whether every dated article
    /// came at or after the ones before it.
    watermark: Option<i64>,
    in_order: bool,
    ids: Vec<String>,
    /// Key → the stories whose text (entity) centroid holds it: an article
    /// is weighed against the stories it shares a key with, not against
    /// every open story. A story that left the open list, or was merged
    /// away, leaves these lists when next met.
    text_post: FastMap<u64, Vec<usize>>,
    ent_post: FastMap<u64, Vec<usize>>,
    /// Per story, the text and entity dot products being summed for the
    /// article being assigned (all zero between assignments).
    dots: Vec<(f32, f32)>,
    /// Weigh every open story, as the definition does (tests check the
    /// postings against it).
    brute: bool,
}

impl StoryAssigner {
    /// An assigner with no article yet.
    pub fn new(opts: StoryOptions) -> StoryAssigner {
        StoryAssigner {
            opts,
            stats: CorpusStats::default(),
            recent: std::collections::VecDeque::new(),
            recent_df: FastMap::default(),
            stories: Vec::new(),
            story_of: Vec::new(),
            open_list: Vec::new(),
            watermark: None,
            in_order: true,
            ids: Vec::new(),
            text_post: FastMap::default(),
            ent_post: FastMap::default(),
            dots: Vec::new(),
            brute: false,
        }
    }

    /// Analyses `article` and assigns it; returns its story's id.
    pub fn add(&mut self, article: &Article) -> Result<String, RecommendError> {
        let full = readnext_analysis::analyze(article)?;
        let f = StoryFeatures::of(article, &full, self.opts.lead_words);
        Ok(self.add_features(&article.id, &f))
    }

    /// Assigns an article given what the assigner reads of it
    /// ([`StoryFeatures::of`]); returns its story's id.
    pub fn add_features(&mut self, id: &str, f: &StoryFeatures) -> String {
        self.add_with(id, f, false)
    }

    /// [`StoryAssigner::add_features`], where `split` (an editor split the
    /// article off its story) makes the article start a story of its own.
    pub fn add_with(&mut self, id: &str, f: &StoryFeatures, split: bool) -> String {
        // The article counts in the statistics it is weighed with, as a
        // store's statistics count an article once it is written.
        self.stats.docs += 1;
        for (t, _) in &f.lead {
            *self.stats.term_df.entry(*t).or_default() += 1;
        }
        for (e, _) in &f.entities {
            *self.stats.entity_df.entry(*e).or_default() += 1;
        }
        // Entity hashes are kept apart from stem hashes by a flipped top bit.
        let keys: Vec<u64> = f.lead.iter().map(|k| k.0).chain(f.entities.iter().map(|k| k.0 ^ ENTITY_BIT)).collect();
        for k in &keys {
            *self.recent_df.entry(*k).or_default() += 1;
        }
        self.recent.push_back(keys);
        if self.recent.len() > self.opts.window.max(1)
            && let Some(gone) = self.recent.pop_front()
        {
            for k in gone {
                if let Some(d) = self.recent_df.get_mut(&k) {
                    *d -= 1;
                    if *d == 0 {
                        self.recent_df.remove(&k);
                    }
                }
            }
        }
        let (text, ent) = self.vectors(f);
        let published = f.published;

        // Best and second-best open story.
        let mut best: Option<(usize, f32)> = None;
        let mut second: Option<(usize, f32)> = None;
        if let Some(p) = published {
            if self.watermark.is_some_and(|w| p < w) {
                self.in_order = false;
            }
            self.watermark = Some(self.watermark.map_or(p, |w| w.max(p)));
        }
        if self.in_order
            && let Some(w) = self.watermark
        {
            let (stories, quiet) = (&mut self.stories, self.opts.quiet_days * 86_400.0);
            self.open_list.retain(|&i| {
                let s = &mut stories[i];
                s.listed = s.merged_into.is_none() && s.newest.is_none_or(|n| (w - n) as f64 <= quiet);
                s.listed
            });
        }
        for (i, text_dot, ent_dot) in self.candidates(&text, &ent) {
            let s = &self.stories[i];
            if !self.open(s, published) {
                continue;
            }
            let sim = self.similarity_of(s, text_dot, ent_dot, ent.is_empty(), f.lang);
            if best.is_none_or(|(_, b)| sim > b) {
                second = best;
                best = Some((i, sim));
            } else if second.is_none_or(|(_, b)| sim > b) {
                second = Some((i, sim));
            }
        }
        let index = self.ids.len();
        self.ids.push(id.to_string());
        let best = if split { None } else { best };
        let story = match best {
            Some((i, sim)) if sim >= self.opts.join => i,
            _ => {
                self.stories.push(Building {
                    id: id.to_string(),
                    members: Vec::new(),
                    text: Centroid::default(),
                    ents: Centroid::default(),
                    newest: None,
                    oldest: None,
                    merged_into: None,
                    split,
                    lang: f.lang,
                    listed: true,
                });
                self.open_list.push(self.stories.len() - 1);
                self.stories.len() - 1
            }
        };
        let s = &mut self.stories[story];
        post_new_keys(&mut self.text_post, &s.text, text.iter().map(|e| e.0), story);
        post_new_keys(&mut self.ent_post, &s.ents, ent.iter().map(|e| e.0), story);
        s.members.push(index);
        s.text.add(&text);
        s.ents.add(&ent);
        s.newest = match (s.newest, published) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        s.oldest = match (s.oldest, published) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.story_of.push(story);
        if let (Some((b, _)), Some((other, sim))) = (best, second)
            && b == story
            && sim >= self.opts.join
        {
            self.maybe_merge(story, other);
        }
        self.story_id(index)
    }

    /// The weighted, unit-length text and entity vectors of `f`, with the
    /// stream's statistics as they are now.
    fn vectors(&self, f: &StoryFeatures) -> (Vector, Vector) {
        let docs = self.recent.len() as u64;
        let cap = if docs >= MIN_DOCS_FOR_MAX_DF { (self.opts.max_df * docs as f32) as u32 } else { u32::MAX };
        let common = |key: u64| self.recent_df.get(&key).is_some_and(|&d| d > cap);
        let text = unit(
            f.lead
                .iter()
                .filter(|(h, _)| !common(*h))
                .map(|&(h, tf)| (h, tf_weight(tf.max(1)) * self.stats.term_idf(h))),
        );
        let ent = unit(
            f.entities
                .iter()
                .filter(|(h, _)| !common(h ^ ENTITY_BIT))
                .map(|&(h, n)| (h, tf_weight(n.max(1)) * self.stats.entity_idf(h))),
        );
        (text, ent)
    }

    /// The open story most similar to an article, without adding it (an
    /// unsaved page), and its similarity: the article would join it if the
    /// similarity clears [`StoryOptions::join`].
    pub fn peek(&self, f: &StoryFeatures) -> Option<(String, f32)> {
        let (text, ent) = self.vectors(f);
        let mut best: Option<(usize, f32)> = None;
        for (i, s) in self.stories.iter().enumerate() {
            if s.merged_into.is_some() || !self.open(s, f.published) {
                continue;
            }
            let sim = self.similarity(s, &text, &ent, f.lang);
            if best.is_none_or(|(_, b)| sim > b) {
                best = Some((i, sim));
            }
        }
        best.map(|(i, sim)| (self.stories[i].id.clone(), sim))
    }

    /// How close each article of the stream is to its story's centroid
    /// (the text cosine), by index of addition: the story's most
    /// representative headline is that of its closest article.
    pub fn centrality(&self, index: usize, f: &StoryFeatures) -> f32 {
        let s = &self.stories[self.resolve(self.story_of[index])];
        s.text.cosine(&self.vectors(f).0)
    }

    /// The stories, each as its id and the indexes of its articles in the
    /// order they were added; stories in the order they started.
    pub fn stories(&self) -> Vec<(&str, &[usize])> {
        self.stories.iter().filter(|s| s.merged_into.is_none()).map(|s| (s.id.as_str(), s.members.as_slice())).collect()
    }

    /// The indexes of the articles in the story of the `index`-th article
    /// added (following merges), in the order they were added.
    pub fn members_of(&self, index: usize) -> &[usize] {
        &self.stories[self.resolve(self.story_of[index])].members
    }

    /// The id of the `index`-th article added.
    pub fn article_id(&self, index: usize) -> &str {
        &self.ids[index]
    }

    fn maybe_merge(&mut self, a: usize, b: usize) {
        let (sa, sb) = (&self.stories[a], &self.stories[b]);
        if sa.split || sb.split {
            // An editor said the split article's story is not the other one.
            return;
        }
        let share = self.opts.entity_share;
        let sim = (1.0 - share) * sa.text.cosine_with(&sb.text) + share * sa.ents.cosine_with(&sb.ents);
        if sim < self.opts.merge {
            return;
        }
        // The story that started first keeps its id.
        let (keep, gone) = if a < b { (a, b) } else { (b, a) };
        let g = std::mem::replace(
            &mut self.stories[gone],
            Building {
                id: String::new(),
                members: Vec::new(),
                text: Centroid::default(),
                ents: Centroid::default(),
                newest: None,
                oldest: None,
                merged_into: Some(keep),
                split: false,
                lang: 0,
                listed: false,
            },
        );
        let k = &mut self.stories[keep];
        post_new_keys(&mut self.text_post, &k.text, g.text.sum.keys().copied(), keep);
        post_new_keys(&mut self.ent_post, &k.ents, g.ents.sum.keys().copied(), keep);
        k.members.extend(g.members);
        k.members.sort_unstable();
        k.text.absorb(&g.text);
        k.ents.absorb(&g.ents);
        k.newest = match (k.newest, g.newest) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        k.oldest = match (k.oldest, g.oldest) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
    }

    /// Whether story `s` may take an article published at `published`: not
    /// gone quiet before it, and not started more than the quiet period
    /// after it (an article written out of order, an archive's, is not
    /// taken into a story of years later). Undated articles and stories
    /// are not held to either.
    fn open(&self, s: &Building, published: Option<i64>) -> bool {
        let Some(p) = published else { return true };
        let quiet = self.opts.quiet_days * 86_400.0;
        s.newest.is_none_or(|n| (p - n) as f64 <= quiet) && s.oldest.is_none_or(|o| (o - p) as f64 <= quiet)
    }

    fn similarity(&self, s: &Building, text: &Vector, ent: &Vector, lang: u64) -> f32 {
        self.similarity_of(s, s.text.dot(text), s.ents.dot(ent), ent.is_empty(), lang)
    }

    /// [`Self::similarity`] from the dot products of the article's unit
    /// vectors with the story's centroids.
    fn similarity_of(&self, s: &Building, text_dot: f32, ent_dot: f32, no_entities: bool, lang: u64) -> f32 {
        let share = if no_entities || s.ents.norm2 <= 0.0 {
            0.0
        } else if lang != 0 && s.lang != 0 && lang != s.lang {
            self.opts.cross_entity_share
        } else {
            self.opts.entity_share
        };
        (1.0 - share) * s.text.cosine_of(text_dot) + share * s.ents.cosine_of(ent_dot)
    }

    /// The open stories an article's vectors may join, in the order they
    /// started, with the dot products of the vectors and their centroids.
    /// A story that shares no key with the article has both dots zero,
    /// below any positive join threshold, so only the stories on the
    /// article's keys' postings are weighed; the sums run over the
    /// article's keys in the same order as [`Centroid::dot`], so each
    /// similarity is the same to the bit as weighing every open story.
    fn candidates(&mut self, text: &Vector, ent: &Vector) -> Vec<(usize, f32, f32)> {
        let eligible = |s: &Building| s.listed && s.merged_into.is_none();
        if self.brute || self.opts.join <= 0.0 {
            return self
                .open_list
                .iter()
                .filter(|&&i| eligible(&self.stories[i]))
                .map(|&i| (i, self.stories[i].text.dot(text), self.stories[i].ents.dot(ent)))
                .collect();
        }
        self.dots.resize(self.stories.len(), (0.0, 0.0));
        let mut touched: Vec<usize> = Vec::new();
        for (post, v, ents) in [(&mut self.text_post, text, false), (&mut self.ent_post, ent, true)] {
            for (k, w) in v {
                let Some(list) = post.get_mut(k) else { continue };
                list.retain(|&i| eligible(&self.stories[i]));
                for &i in list.iter() {
                    let s = &self.stories[i];
                    let c = if ents { &s.ents } else { &s.text };
                    let d = w * c.sum.get(k).copied().unwrap_or(0.0);
                    let slot = &mut self.dots[i];
                    if *slot == (0.0, 0.0) {
                        touched.push(i);
                    }
                    if ents { slot.1 += d } else { slot.0 += d }
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        touched
            .into_iter()
            .map(|i| {
                let (t, e) = std::mem::take(&mut self.dots[i]);
                (i, t, e)
            })
            .collect()
    }

    fn resolve(&self, mut story: usize) -> usize {
        while let Some(next) = self.stories[story].merged_into {
            story = next;
        }
        story
    }

    /// [`StoryAssigner::story_id`], borrowed.
    pub fn story_id_ref(&self, index: usize) -> &str {
        &self.stories[self.resolve(self.story_of[index])].id
    }

    /// The story id of the `index`-th article added (following merges).
    pub fn story_id(&self, index: usize) -> String {
        self.stories[self.resolve(self.story_of[index])].id.clone()
    }

    /// The story of every article added, in the order they were added: a
    /// story number (stories numbered in the order they started) each.
    pub fn assignments(&self) -> Vec<usize> {
        let mut number: FastMap<usize, usize> = FastMap::default();
        (0..self.story_of.len())
            .map(|i| {
                let s = self.resolve(self.story_of[i]);
                let next = number.len();
                *number.entry(s).or_insert(next)
            })
            .collect()
    }

    /// How many stories there are.
    pub fn len(&self) -> usize {
        self.stories.iter().filter(|s| s.merged_into.is_none()).count()
    }

    /// How many articles were added.
    pub fn added(&self) -> usize {
        self.ids.len()
    }

    /// Whether no article was added.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Posts `story` on the lists of the keys that `centroid` does not hold
/// yet (it is about to).
fn post_new_keys(
    post: &mut FastMap<u64, Vec<usize>>,
    centroid: &Centroid,
    keys: impl Iterator<Item = u64>,
    story: usize,
) {
    for k in keys {
        if !centroid.sum.contains_key(&k) {
            post.entry(k).or_default().push(story);
        }
    }
}

/// The first `words` words of the body, as one paragraph.
fn lead(body: &[String], words: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut left = words;
    for p in body {
        if left == 0 {
            break;
        }
        let w: Vec<&str> = p.split_whitespace().take(left).collect();
        left -= w.len();
        if !w.is_empty() {
            out.push(w.join(" "));
        }
    }
    out
}

/// Merges weights of equal keys (max), sorts by key and scales to unit
/// length.
fn unit(weights: impl Iterator<Item = (u64, f32)>) -> Vector {
    let mut v: Vector = weights.collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    v.dedup_by(|a, b| a.0 == b.0);
    let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, w)| *w /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn art(id: &str, title: &str, body: &str) -> Article {
        Article { id: id.into(), title: title.into(), body: vec![body.into()], ..Default::default() }
    }

    fn stream() -> Vec<Article> {
        vec![
            art(
                "q1",
                "Earthquake of magnitude 6.1 strikes Aceh",
                "A strong earthquake hit Aceh province in Indonesia on Tuesday, killing at least ten people in Bener Meriah.",
            ),
            art(
                "r1",
                "Tara Reid checks into rehab in Malibu",
                "Actress Tara Reid has entered the Promises rehab centre in Malibu, her publicist said.",
            ),
            art(
                "q2",
                "Aceh earthquake death toll rises",
                "The toll of the Aceh earthquake in Indonesia rose to 22 as rescuers searched Bener Meriah for survivors.",
            ),
            art(
                "r2",
                "Tara Reid enters Promises rehab",
                "Tara Reid is at the Promises centre in Malibu for rehab, a spokesman for the actress confirmed.",
            ),
            art(
                "x1",
                "Central bank holds interest rates",
                "The European Central Bank left its main rate unchanged on Thursday in Frankfurt.",
            ),
        ]
    }

    #[test]
    fn articles_of_one_event_share_a_story_and_the_story_keeps_its_first_id() {
        let mut a = StoryAssigner::new(StoryOptions::default());
        let ids: Vec<String> = stream().iter().map(|x| a.add(x).unwrap()).collect();
        assert_eq!(ids, ["q1", "r1", "q1", "r1", "x1"]);
        assert_eq!(a.assignments(), [0, 1, 0, 1, 2]);
        assert_eq!(a.len(), 3);
    }

    /// A stream of synthetic features: events of a few topics, each
    /// worded from its topic's and its own vocabulary, with dates that
    /// mostly advance (some undated, some backdated when `shuffled`).
    fn synthetic(n: usize, shuffled: bool) -> Vec<(String, StoryFeatures)> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        (0..n)
            .map(|i| {
                let event = next(40);
                let topic = event % 5;
                let mut lead: Vec<(u64, u32)> = (0..8).map(|_| (1000 * topic + next(30), 1 + next(2) as u32)).collect();
                lead.extend((0..6).map(|_| (100_000 + 50 * event + next(12), 1)));
                lead.extend((0..3).map(|_| (900_000 + next(400), 1)));
                let entities: Vec<(u64, u32)> =
                    (0..3).map(|_| (7_000 + 10 * event + next(6), 1 + next(3) as u32)).collect();
                let day = (i as i64 / 3 + event as i64 * 4) * 86_400;
                let published = match next(10) {
                    0 => None,
                    1 if shuffled => Some(1_600_000_000 + day - 90 * 86_400),
                    _ => Some(1_600_000_000 + day),
                };
                let f = StoryFeatures {
                    published,
                    lead: summed(lead.into_iter()),
                    entities: summed(entities.into_iter()),
                    lang: 0,
                };
                (format!("a{i}"), f)
            })
            .collect()
    }

    #[test]
    fn weighing_the_stories_on_shared_keys_assigns_as_weighing_every_open_story() {
        for shuffled in [false, true] {
            let stream = synthetic(1500, shuffled);
            let run = |brute: bool| {
                let mut a = StoryAssigner::new(StoryOptions::default());
                a.brute = brute;
                let ids: Vec<String> = stream.iter().map(|(id, f)| a.add_features(id, f)).collect();
                (ids, a.assignments())
            };
            let (fast, brute) = (run(false), run(true));
            assert_eq!(fast, brute, "shuffled: {shuffled}");
            let stories = fast.1.iter().max().map_or(0, |m| m + 1);
            assert!(stories > 20 && stories < 1000, "a stream that joins and splits: {stories} stories");
        }
    }

    #[test]
    fn the_same_stream_gives_the_same_stories() {
        let run = || {
            let mut a = StoryAssigner::new(StoryOptions::default());
            stream().iter().for_each(|x| {
                a.add(x).unwrap();
            });
            a.assignments()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn a_quiet_story_takes_no_more_articles() {
        let mut a = StoryAssigner::new(StoryOptions::default());
        let mut first = stream()[0].clone();
        first.published = Some(1_700_000_000);
        let mut later = stream()[2].clone();
        later.published = Some(1_700_000_000 + 40 * 86_400);
        a.add(&first).unwrap();
        assert_eq!(a.add(&later).unwrap(), "q2", "40 days on, past the 35-day quiet period");
    }

    #[test]
    fn an_article_in_another_language_joins_its_story_on_the_names_they_share() {
        let en = Article {
            lang: Some("en".into()),
            ..art(
                "en",
                "Sheinbaum and Trudeau meet in Ottawa over tariffs",
                "Claudia Sheinbaum met Justin Trudeau in Ottawa on Monday. Sheinbaum and Trudeau discussed the \
                 tariffs that Donald Trump threatened. Trudeau said Canada and Mexico would answer together. \
                 Chrystia Freeland and Dominic LeBlanc joined them; Freeland and LeBlanc spoke after.",
            )
        };
        // The headline and the lead share no word with the English one: only
        // the names further down do.
        let es = Article {
            lang: Some("es".into()),
            ..art(
                "es",
                "Reunión en la capital por los aranceles",
                "La presidenta viajó el lunes a la capital del país vecino para una reunión de varias horas con el \
                 primer ministro, en la que ambos hablaron de los aranceles con que amenazó el presidente de los \
                 Estados Unidos y de la respuesta conjunta que preparan sus gobiernos, según dijeron después a la \
                 prensa sus portavoces, que no dieron más detalles sobre las medidas que se tomarán en las próximas \
                 semanas. Claudia Sheinbaum y Justin Trudeau se vieron en Ottawa. Sheinbaum y Trudeau responderán \
                 a Donald Trump. Trudeau lo confirmó. Marcelo Ebrard y Juan Ramón de la Fuente la acompañaron; \
                 Ebrard y De la Fuente hablaron luego.",
            )
        };
        let other = Article { lang: Some("en".into()), ..stream()[4].clone() };
        let run = |opts: StoryOptions| {
            let mut a = StoryAssigner::new(opts);
            [&en, &other, &es].iter().map(|x| a.add(x).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(StoryOptions::default()), ["en", "x1", "en"]);
        let monolingual =
            StoryOptions { cross_entity_share: StoryOptions::default().entity_share, ..Default::default() };
        assert_eq!(run(monolingual), ["en", "x1", "es"], "weighed as in one language, the names alone fall short");
    }

    #[test]
    fn the_lead_is_the_first_words_of_the_body() {
        let body = vec!["one two three".to_string(), "four five".to_string(), "six".to_string()];
        assert_eq!(lead(&body, 4), ["one two three", "four"]);
        assert_eq!(lead(&body, 0), Vec::<String>::new());
    }
}
