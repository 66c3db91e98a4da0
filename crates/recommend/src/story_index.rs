//! The stories of a store: [`StoryAssigner`] run over every stored article
//! in `(published, id)` order, and kept so by the write path.
//!
//! Invariants:
//! - **Incremental equals rebuilt.** An article that is new and sorts after
//!   every article assigned so far (the newsroom's normal case) is assigned
//!   at once, exactly as a rebuild would assign it. Anything else (a
//!   backdated article, a correction, a delete) marks the index dirty, and
//!   the next refresh assigns everything again from the kept features, in
//!   the same order. So once refreshed, the stories are those of one pass
//!   over the store in `(published, id)` order, whatever the history of
//!   writes. Until then, a new article written out of order is in the
//!   story it joined as the last one in (provisional): every stored
//!   article has a story from its write on.
//! - **Stable ids.** A story's id is the id of its first article in that
//!   order, so a restart, which rebuilds, gives every story the same id.
//!   Only deleting a story's first article moves its id (to the next one's).

use std::sync::Arc;

use readnext_core::{Article, FastMap, Pick, Story, StoryEntry, StoryRules, format_date};
use readnext_store::Record;

use crate::stories::{StoryAssigner, StoryFeatures, StoryOptions};
use crate::{Engine, RecommendError};

type Result<T> = std::result::Result<T, RecommendError>;

/// The order articles are assigned in: undated ones first, then by
/// publication time, ties by id.
fn key(id: &str, f: &StoryFeatures) -> (i64, String) {
    (f.published.unwrap_or(i64::MIN), id.to_string())
}

/// A change to the stories: what the write path applies, and records while
/// a build runs outside the stories' lock, to replay on what it built.
/// Applying one twice changes nothing.
#[derive(Debug, Clone)]
pub(crate) enum StoryOp {
    /// An article was inserted or updated.
    Upsert(String, Arc<StoryFeatures>),
    /// An article was deleted.
    Remove(String),
    /// The editors' rules changed.
    Rules(StoryRules),
}

/// The features of every article, shared between an index and a rebuild
/// running beside it.
pub(crate) type FeatureMap = FastMap<String, Arc<StoryFeatures>>;

/// Every stored article's features and the stories they make.
pub(crate) struct StoryIndex {
    opts: StoryOptions,
    features: FeatureMap,
    assigner: StoryAssigner,
    /// Article id → its index in the assigner.
    index_of: FastMap<String, usize>,
    /// The key of the last article assigned.
    last: Option<(i64, String)>,
    /// Whether the assignment is behind `features`.
    dirty: bool,
    /// The editors' splits and merges.
    rules: StoryRules,
}

impl StoryIndex {
    /// The stories of `features`, assigned in order.
    pub(crate) fn build(opts: StoryOptions, features: FeatureMap, rules: StoryRules) -> StoryIndex {
        let mut index = StoryIndex {
            assigner: StoryAssigner::new(opts.clone()),
            opts,
            features,
            index_of: FastMap::default(),
            last: None,
            dirty: true,
            rules,
        };
        index.refresh();
        index
    }

    /// The options every assignment uses.
    pub(crate) fn options(&self) -> &StoryOptions {
        &self.opts
    }

    /// Assigns everything again if a write made the assignment stale;
    /// returns whether it did.
    pub(crate) fn refresh(&mut self) -> bool {
        if !self.dirty {
            return false;
        }
        let mut order: Vec<((i64, String), &StoryFeatures)> =
            self.features.iter().map(|(id, f)| (key(id, f), f.as_ref())).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut assigner = StoryAssigner::new(self.opts.clone());
        let mut index_of = FastMap::default();
        for (i, ((_, id), f)) in order.iter().enumerate() {
            assigner.add_with(id, f, self.rules.splits.contains(id.as_str()));
            index_of.insert(id.clone(), i);
        }
        self.last = order.last().map(|(k, _)| k.clone());
        self.assigner = assigner;
        self.index_of = index_of;
        self.dirty = false;
        true
    }

    /// How many articles it holds.
    pub(crate) fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether a read must [`refresh`](Self::refresh) first.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// What a rebuild beside this index starts from: its options, its
    /// features (shared, not copied) and its rules.
    pub(crate) fn snapshot(&self) -> (StoryOptions, FeatureMap, StoryRules) {
        (self.opts.clone(), self.features.clone(), self.rules.clone())
    }

    /// Applies one change.
    pub(crate) fn apply(&mut self, op: StoryOp) {
        match op {
            StoryOp::Upsert(id, f) => self.upsert(&id, f),
            StoryOp::Remove(id) => self.remove(&id),
            StoryOp::Rules(r) => self.set_rules(r),
        }
    }

    /// An article was written (inserted or updated).
    ///
    /// A new article is assigned at once, as the last one in: exactly as a
    /// rebuild would when it sorts after every article so far. Otherwise
    /// (a backdated article, or any article while the index is dirty) that
    /// assignment is provisional, so that it has a story from its write on,
    /// and the index is dirty until the next [`refresh`](Self::refresh)
    /// puts it where the pass in order would. A correction keeps its
    /// story until then.
    pub(crate) fn upsert(&mut self, id: &str, f: Arc<StoryFeatures>) {
        match self.features.get(id) {
            Some(old) if *old == f => return,
            Some(_) => self.dirty = true,
            None => {
                let k = key(id, &f);
                let in_order = !self.dirty && self.last.as_ref().is_none_or(|last| k > *last);
                let i = self.assigner.added();
                self.assigner.add_with(id, &f, self.rules.splits.contains(id));
                self.index_of.insert(id.to_string(), i);
                if in_order {
                    self.last = Some(k);
                } else {
                    self.dirty = true;
                }
            }
        }
        self.features.insert(id.to_string(), f);
    }

    /// An article was deleted: it leaves its story.
    pub(crate) fn remove(&mut self, id: &str) {
        if self.features.remove(id).is_some() {
            self.dirty = true;
        }
    }

    /// New editorial rules: everything is assigned again at the next read.
    pub(crate) fn set_rules(&mut self, rules: StoryRules) {
        if rules != self.rules {
            self.rules = rules;
            self.dirty = true;
        }
    }

    /// The story a story is shown as, following the editors' merges (a
    /// merge into a story that is gone, or a cycle, stops where it is).
    fn merged_ref<'a>(&'a self, story: &'a str) -> &'a str {
        let mut at = story;
        for _ in 0..self.rules.merges.len() {
            match self.rules.merges.get(at) {
                Some(into) if self.is_story(into) && into != at => at = into,
                _ => break,
            }
        }
        at
    }

    /// Whether `id` is the id of a story as assigned (merged or not).
    pub(crate) fn is_story(&self, id: &str) -> bool {
        self.index_of.get(id).is_some_and(|&i| self.assigner.story_id_ref(i) == id)
    }

    /// The story id of a stored article.
    pub(crate) fn story_of(&self, id: &str) -> Option<String> {
        self.story_of_ref(id).map(str::to_string)
    }

    /// [`StoryIndex::story_of`], borrowed: what the read path compares
    /// without allocating.
    pub(crate) fn story_of_ref(&self, id: &str) -> Option<&str> {
        self.index_of.get(id).map(|&i| self.merged_ref(self.assigner.story_id_ref(i)))
    }

    /// The ids of the articles of the story of article `id` (a story id is
    /// its first article's id), with the stories merged into it, in
    /// assignment order.
    pub(crate) fn members(&self, id: &str) -> Vec<String> {
        let Some(&i) = self.index_of.get(id) else { return Vec::new() };
        if self.rules.merges.is_empty() {
            return self
                .assigner
                .members_of(i)
                .iter()
                .filter(|&&m| self.current(m))
                .map(|&m| self.assigner.article_id(m).to_string())
                .collect();
        }
        let Some(story) = self.story_of(id) else { return Vec::new() };
        let mut all: Vec<usize> = self
            .assigner
            .stories()
            .into_iter()
            .filter(|(s, _)| self.merged_ref(s) == story)
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        all.sort_unstable();
        all.into_iter().filter(|&m| self.current(m)).map(|m| self.assigner.article_id(m).to_string()).collect()
    }

    /// Whether the `m`-th article assigned is its id's assignment now: an
    /// article deleted and written again before the next pass was assigned
    /// twice, and only the second counts.
    fn current(&self, m: usize) -> bool {
        self.index_of.get(self.assigner.article_id(m)) == Some(&m)
    }

    /// How central article `id` is to its story (its text cosine with the
    /// story's centroid).
    pub(crate) fn centrality(&self, id: &str) -> f32 {
        match (self.index_of.get(id), self.features.get(id)) {
            (Some(&i), Some(f)) => self.assigner.centrality(i, f),
            _ => 0.0,
        }
    }

    /// The story an unsaved article would join, and its similarity.
    pub(crate) fn matching(&self, f: &StoryFeatures) -> Option<(String, f32)> {
        let best = self.assigner.peek(f);
        tracing::debug!(?best, join = self.opts.join, "closest story of an unsaved article");
        best.filter(|(_, sim)| *sim >= self.opts.join)
    }

    /// Every story (merged ones within the story they joined): its id and
    /// its articles' ids.
    pub(crate) fn all(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut at: FastMap<String, usize> = FastMap::default();
        for (id, members) in self.assigner.stories() {
            let story = self.merged_ref(id).to_string();
            let ids: Vec<String> = members
                .iter()
                .filter(|&&m| self.current(m))
                .map(|&m| self.assigner.article_id(m).to_string())
                .collect();
            if ids.is_empty() {
                continue;
            }
            match at.get(&story) {
                Some(&k) => out[k].1.extend(ids),
                None => {
                    at.insert(story.clone(), out.len());
                    out.push((story, ids));
                }
            }
        }
        out
    }

    /// Publication time of a stored article.
    pub(crate) fn published(&self, id: &str) -> Option<i64> {
        self.features.get(id).and_then(|f| f.published)
    }
}

/// Which stories [`Engine::stories`] lists first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoryOrder {
    /// Newest last article first.
    #[default]
    Recent,
    /// Most read in the trending window first (stories nobody read are
    /// left out).
    Trending,
}

/// What [`Engine::stories`] lists.
#[derive(Debug, Clone)]
pub struct StoryQuery {
    /// Only stories with an article published at or after this (Unix
    /// seconds).
    pub since: Option<i64>,
    /// How many stories.
    pub k: usize,
    /// Their order.
    pub order: StoryOrder,
    /// Timeline entries kept per story (the newest; 0 keeps all).
    pub timeline: usize,
    /// Now, for the trending window (ms since the epoch).
    pub now_ms: i64,
    /// The trending window (ms).
    pub window_ms: i64,
}

/// Related picks an unsaved page's neighbours vote with.
pub const VOTE_PICKS: usize = 5;
/// Votes a story needs to be an unsaved page's story by its neighbours.
pub const VOTE_MIN: usize = 2;
/// Entities and keyphrases a story lists.
const STORY_TERMS: usize = 6;
/// The trending window a single story's `trending` counts.
const STORY_WINDOW_MS: i64 = 24 * 3_600_000;

impl Engine {
    /// Builds the stories now if they are not built yet (the server calls
    /// this at start, so that no reader waits for it); returns how many
    /// there are.
    pub fn build_stories(&self) -> Result<usize> {
        self.with_stories(|ix| ix.all().len())
    }

    /// The story `id` (a story's id is its first article's id), with its
    /// whole timeline; a story an editor merged into another is shown as
    /// that one. `None` when no story has that id.
    pub fn story(&self, id: &str, now_ms: i64) -> Result<Option<Story>> {
        let found = self.with_stories(|ix| {
            ix.is_story(id).then(|| ix.story_of(id)).flatten().map(|s| (members_with_centrality(ix, id), s))
        })?;
        let Some((members, story)) = found else { return Ok(None) };
        let trend = self.trend_map(now_ms, STORY_WINDOW_MS);
        self.story_view(story, members, &trend, 0).map(Some)
    }

    /// Whether `id` is a story's id (merged into another or not), without
    /// reading its articles.
    pub fn story_exists(&self, id: &str) -> Result<bool> {
        self.with_stories(|ix| ix.is_story(id))
    }

    /// The story of the stored article `id`.
    pub fn story_of_article(&self, id: &str, now_ms: i64) -> Result<Story> {
        // The store, not the stories (which may lag a delete), says whether
        // the article is there.
        if !self.store().contains(id)? {
            return Err(RecommendError::NotFound(id.to_string()));
        }
        self.stored_story(id, now_ms)
    }

    /// [`Engine::story_of_article`] of an article the store holds. Every
    /// stored article has a story once its write has answered (written out
    /// of order, a provisional one), so there is nothing to assign here.
    fn stored_story(&self, id: &str, now_ms: i64) -> Result<Story> {
        let found = self.with_stories(|ix| ix.story_of(id).map(|s| (members_with_centrality(ix, &s), s)))?;
        let Some((members, story)) = found else { return Err(RecommendError::NotFound(id.to_string())) };
        let trend = self.trend_map(now_ms, STORY_WINDOW_MS);
        self.story_view(story, members, &trend, 0)
    }

    /// The story an article belongs to: its own if it is stored, else the
    /// story it would join (an unsaved page is matched without being
    /// stored); `None` when it would start a story of its own.
    ///
    /// An unsaved page is first matched as the assigner would assign it. A
    /// page that clears no story's join threshold (another outlet's
    /// article, whose headline and lead word the event differently) is
    /// matched by its neighbours: the story holding the most, and at least
    /// [`VOTE_MIN`], of its [`VOTE_PICKS`] best related picks (ties to the
    /// better-ranked pick). One similar article is not a story; several
    /// agreeing are.
    pub fn story_for_article(&self, article: &Article, now_ms: i64) -> Result<Option<Story>> {
        if !article.id.is_empty() && self.store().contains(&article.id)? {
            return self.stored_story(&article.id, now_ms).map(Some);
        }
        let analysis = readnext_analysis::analyze(article)?;
        let mut found = self.with_stories(|ix| {
            let f = StoryFeatures::of(article, &analysis, ix.options().lead_words);
            ix.matching(&f).map(|(s, _)| (members_with_centrality(ix, &s), s))
        })?;
        if found.is_none() {
            found = self.voted_story(&self.query_for_article(article, false)?)?;
        }
        let Some((members, story)) = found else { return Ok(None) };
        let trend = self.trend_map(now_ms, STORY_WINDOW_MS);
        self.story_view(story, members, &trend, 0).map(Some)
    }

    /// The story that holds the most, and at least [`VOTE_MIN`], of the
    /// query's [`VOTE_PICKS`] best related picks, with its members.
    fn voted_story(&self, query: &crate::Query) -> Result<Option<(Members, String)>> {
        let opts = crate::RelatedOptions { k: VOTE_PICKS, ..Default::default() };
        let picks = self.related(query, &opts)?;
        self.with_stories(|ix| {
            let stories: Vec<Option<String>> = picks.iter().map(|p| ix.story_of(&p.id)).collect();
            let mut best: Option<(usize, &str)> = None;
            for s in stories.iter().flatten() {
                let votes = stories.iter().filter(|o| o.as_deref() == Some(s.as_str())).count();
                // Ties go to the better-ranked pick: the first seen.
                if votes >= VOTE_MIN && best.is_none_or(|(v, _)| votes > v) {
                    best = Some((votes, s.as_str()));
                }
            }
            tracing::debug!(?stories, ?best, "stories of an article's best picks");
            best.map(|(_, s)| (members_with_centrality(ix, s), s.to_string()))
        })
    }

    /// Recent or trending stories.
    pub fn stories(&self, q: &StoryQuery) -> Result<Vec<Story>> {
        let trend = self.trend_map(q.now_ms, q.window_ms);
        let mut listed: Vec<(String, Vec<String>, Option<i64>, f32)> = self.with_stories(|ix| {
            ix.all()
                .into_iter()
                .map(|(id, members)| {
                    let last = members.iter().filter_map(|m| ix.published(m)).max();
                    let score: f32 = members.iter().filter_map(|m| trend.get(m)).sum();
                    (id, members, last, score)
                })
                .filter(|(_, _, last, _)| q.since.is_none_or(|since| last.is_some_and(|l| l >= since)))
                .filter(|(_, _, _, score)| q.order == StoryOrder::Recent || *score > 0.0)
                .collect()
        })?;
        match q.order {
            StoryOrder::Recent => listed.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0))),
            StoryOrder::Trending => listed.sort_by(|a, b| b.3.total_cmp(&a.3).then_with(|| a.0.cmp(&b.0))),
        }
        listed.truncate(q.k);
        let mut out = Vec::with_capacity(listed.len());
        for (id, _, _, _) in listed {
            let members = self.with_stories(|ix| members_with_centrality(ix, &id))?;
            out.push(self.story_view(id, members, &trend, q.timeline)?);
        }
        Ok(out)
    }

    /// Marks the picks that belong to the story of `query` (a stored
    /// article): their why names the story and says so first. Uses the
    /// stories as they are, so a read never waits for them to be built.
    pub(crate) fn mark_same_story(&self, query: &str, picks: &mut [Pick]) {
        self.try_stories(|ix| {
            let Some(story) = ix.story_of_ref(query) else { return };
            for p in picks.iter_mut() {
                if ix.story_of_ref(&p.id) == Some(story) {
                    let date = p.published.as_deref().map(|d| format!(", {d}")).unwrap_or_default();
                    p.why.summary = if p.why.summary.is_empty() {
                        format!("Same story{date}")
                    } else {
                        format!("Same story{date}. {}", p.why.summary)
                    };
                    p.why.story = Some(story.to_string());
                }
            }
        });
    }

    /// The related block as "the story so far" plus background: the
    /// query's story (stored or matched; for a stored article alone in its
    /// story, the story its neighbours agree on, as for an unsaved page),
    /// and up to `opts.k` related picks from outside it. `page` is the unsaved article of a query that is not
    /// stored (without it, such a query has no story).
    pub fn story_block(
        &self,
        query: &crate::Query,
        page: Option<&Article>,
        opts: &crate::RelatedOptions,
        now_ms: i64,
    ) -> Result<(Option<Story>, Vec<Pick>)> {
        let story = match (&query.id, page) {
            (Some(id), _) => {
                let own = self.story_of_article(id, now_ms)?;
                // A story of one has no story so far to show: the block shows
                // the story the article's neighbours agree on, as for an
                // unsaved page.
                if own.articles > 1 {
                    Some(own)
                } else {
                    match self.voted_story(query)? {
                        Some((members, s)) => {
                            Some(self.story_view(s, members, &self.trend_map(now_ms, STORY_WINDOW_MS), 0)?)
                        }
                        None => Some(own),
                    }
                }
            }
            (None, Some(page)) => self.story_for_article(page, now_ms)?,
            (None, None) => None,
        };
        let members: readnext_core::FastSet<&str> = story
            .iter()
            .flat_map(|s| {
                s.timeline
                    .iter()
                    .flat_map(|e| std::iter::once(e.id.as_str()).chain(e.copies.iter().map(String::as_str)))
            })
            .collect();
        let wider = crate::RelatedOptions { k: opts.k + members.len().min(crate::NEIGHBOURS), ..opts.clone() };
        let mut picks: Vec<Pick> =
            self.related(query, &wider)?.into_iter().filter(|p| !members.contains(p.id.as_str())).collect();
        picks.truncate(opts.k);
        Ok((story, picks))
    }

    /// [`Engine::mark_same_story`], building the stories first if they are
    /// not (for one-shot commands, which have no warmer).
    pub fn mark_story(&self, query: &str, picks: &mut [Pick]) -> Result<()> {
        self.with_stories(|_| ())?;
        self.mark_same_story(query, picks);
        Ok(())
    }

    fn trend_map(&self, now_ms: i64, window_ms: i64) -> FastMap<String, f32> {
        self.trend_scores(now_ms, window_ms).into_iter().map(|(id, (score, _, _))| (id, score)).collect()
    }

    /// A story as readers see it, from its members' records.
    fn story_view(&self, id: String, members: Members, trend: &FastMap<String, f32>, timeline: usize) -> Result<Story> {
        let ids: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
        let mut records: Vec<(Record, f32)> = self
            .store()
            .get_many(&ids)?
            .into_iter()
            .zip(&members)
            .filter_map(|(r, (_, c))| r.map(|r| (r, *c)))
            .collect();
        records.sort_by(|a, b| {
            (a.0.analysis.published.unwrap_or(i64::MIN), &a.0.article.id)
                .cmp(&(b.0.analysis.published.unwrap_or(i64::MIN), &b.0.article.id))
        });
        let title = records
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.article.id.cmp(&a.0.article.id)))
            .map(|(r, _)| r.article.title.clone())
            .unwrap_or_default();
        let mut entities: Tally = Tally::default();
        let mut phrases: Tally = Tally::default();
        let mut sources: Tally = Tally::default();
        let mut langs: Tally = Tally::default();
        let dup_bits = crate::RelatedOptions::default().dup_bits;
        let mut entries: Vec<(StoryEntry, u64, u64)> = Vec::new();
        for (r, _) in &records {
            let a = &r.analysis;
            let mut seen = readnext_core::FastSet::default();
            for e in &a.entities {
                if seen.insert(e.match_key()) {
                    entities.add(e.match_key(), &e.name, e.count as f32);
                }
            }
            for k in a.keyphrases.iter().take(10) {
                phrases.add(&k.key, &k.text, k.score);
            }
            if let Some(src) = &r.article.source {
                sources.add(src, src, 1.0);
            }
            langs.add(&a.lang, &a.lang, 1.0);
            let copy_of = entries.iter_mut().find(|(_, hash, sim)| {
                *hash == a.content_hash || readnext_analysis::hamming(*sim, a.simhash) <= dup_bits
            });
            match copy_of {
                Some((entry, _, _)) => entry.copies.push(r.article.id.clone()),
                None => entries.push((
                    StoryEntry {
                        id: r.article.id.clone(),
                        title: r.article.title.clone(),
                        url: r.article.url.clone(),
                        published: a.published.map(format_date),
                        source: r.article.source.clone(),
                        lang: a.lang.clone(),
                        copies: Vec::new(),
                    },
                    a.content_hash,
                    a.simhash,
                )),
            }
        }
        let dated: Vec<i64> = records.iter().filter_map(|(r, _)| r.analysis.published).collect();
        let mut timeline_entries: Vec<StoryEntry> = entries.into_iter().map(|(e, _, _)| e).collect();
        if timeline > 0 && timeline_entries.len() > timeline {
            timeline_entries.drain(..timeline_entries.len() - timeline);
        }
        let min_share = if records.len() > 1 { 2 } else { 1 };
        Ok(Story {
            // `+ 0.0`: an empty sum is -0.0, which JSON would show.
            trending: records.iter().filter_map(|(r, _)| trend.get(&r.article.id)).sum::<f32>() + 0.0,
            id,
            title,
            entities: entities.top(STORY_TERMS, min_share),
            keyphrases: phrases.top(STORY_TERMS, min_share),
            first: dated.iter().min().copied().map(format_date),
            last: dated.iter().max().copied().map(format_date),
            articles: records.len(),
            sources: sources.top(usize::MAX, 1),
            languages: langs.top(usize::MAX, 1),
            timeline: timeline_entries,
        })
    }
}

/// A story's article ids, each with how central it is.
type Members = Vec<(String, f32)>;

/// The members of the story of `id` with how central each is.
fn members_with_centrality(ix: &StoryIndex, id: &str) -> Members {
    ix.members(id)
        .into_iter()
        .map(|m| {
            let c = ix.centrality(&m);
            (m, c)
        })
        .collect()
}

/// Counts of keys across a story's articles (and a weight summed over
/// them: mentions, salience), with a display name each.
#[derive(Default)]
struct Tally {
    counts: FastMap<String, (u32, f32, String)>,
}

impl Tally {
    fn add(&mut self, key: &str, name: &str, weight: f32) {
        let e = self.counts.entry(key.to_string()).or_insert_with(|| (0, 0.0, name.to_string()));
        e.0 += 1;
        e.1 += weight;
    }

    /// The `n` names in most articles, in at least `min`; ties by weight,
    /// then by name.
    fn top(self, n: usize, min: u32) -> Vec<String> {
        let mut v: Vec<(u32, f32, String)> = self.counts.into_values().filter(|(c, _, _)| *c >= min).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.total_cmp(&a.1)).then_with(|| a.2.cmp(&b.2)));
        v.into_iter().take(n).map(|(_, _, name)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(published: i64, terms: &[u64]) -> StoryFeatures {
        StoryFeatures {
            published: Some(published),
            lead: terms.iter().map(|&t| (t, 2)).collect(),
            entities: Vec::new(),
            lang: 0,
        }
    }

    fn stream() -> Vec<(&'static str, StoryFeatures)> {
        let d = 1_700_000_000;
        vec![
            ("a1", f(d, &[1, 2, 3, 4])),
            ("b1", f(d + 10, &[10, 11, 12, 13])),
            ("a2", f(d + 20, &[1, 2, 3, 5])),
            ("b2", f(d + 30, &[10, 11, 12, 14])),
            ("a3", f(d + 40, &[1, 2, 4, 5])),
        ]
    }

    /// The stories of [`stream`], built in one pass.
    fn rebuilt() -> StoryIndex {
        StoryIndex::build(
            StoryOptions::default(),
            stream().into_iter().map(|(id, f)| (id.to_string(), Arc::new(f))).collect(),
            StoryRules::default(),
        )
    }

    fn stories(index: &StoryIndex) -> Vec<(String, Vec<String>)> {
        let mut all = index.all();
        all.iter_mut().for_each(|(_, m)| m.sort());
        all.sort();
        all
    }

    #[test]
    fn incremental_writes_in_any_order_give_the_stories_of_a_rebuild() {
        let rebuilt = rebuilt();
        assert_eq!(rebuilt.story_of("a3").as_deref(), Some("a1"));
        assert_eq!(rebuilt.story_of("b2").as_deref(), Some("b1"));
        // In order: every write is assigned at once.
        let mut live = StoryIndex::build(StoryOptions::default(), FastMap::default(), StoryRules::default());
        for (id, f) in stream() {
            live.upsert(id, Arc::new(f));
            assert!(!live.is_dirty(), "{id} came in order");
        }
        assert_eq!(stories(&live), stories(&rebuilt));
        // Backwards: each write but the first is out of order, and a read
        // after a refresh sees the same stories with the same ids.
        let mut back = StoryIndex::build(StoryOptions::default(), FastMap::default(), StoryRules::default());
        for (id, f) in stream().into_iter().rev() {
            back.upsert(id, Arc::new(f));
        }
        assert!(back.is_dirty());
        assert!(back.refresh());
        assert_eq!(stories(&back), stories(&rebuilt));
    }

    #[test]
    fn a_deleted_article_leaves_its_story_and_a_rewrite_of_the_same_article_changes_nothing() {
        let mut index = rebuilt();
        let (id, same) = stream().remove(2);
        index.upsert(id, Arc::new(same));
        assert!(!index.is_dirty(), "an unchanged article moves nothing");
        index.remove("a2");
        index.refresh();
        assert_eq!(index.story_of("a2"), None);
        let mut members = index.members("a1");
        members.sort();
        assert_eq!(members, ["a1", "a3"]);
    }

    #[test]
    fn an_article_deleted_and_written_again_before_the_next_pass_is_in_one_story_once() {
        let mut index = rebuilt();
        let (id, f) = stream().remove(2);
        index.remove(id);
        index.upsert(id, Arc::new(f));
        assert!(index.is_dirty());
        let holding: Vec<(String, Vec<String>)> =
            index.all().into_iter().filter(|(_, m)| m.iter().any(|x| x == id)).collect();
        assert_eq!(holding.len(), 1, "{holding:?}");
        assert_eq!(holding[0].1.iter().filter(|x| *x == id).count(), 1, "{holding:?}");
        let story = index.story_of(id).unwrap();
        assert_eq!(index.members(&story).iter().filter(|x| *x == id).count(), 1);
        assert!(index.all().iter().all(|(_, m)| !m.is_empty()), "no story is left empty");
    }
}
