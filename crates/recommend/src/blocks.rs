//! The block cache: computed blocks of stored articles, by owner and
//! options, with what each block shows, so that a write invalidates only the
//! blocks it can change.
//!
//! Invariants:
//! - an entry is the block `Engine::related` computed for its owner and
//!   options from the store as of some write epoch;
//! - a computation that started before an invalidation is not stored
//!   ([`BlockCache::insert`] checks the epoch it started in), so a block
//!   never misses an invalidation that happened while it was computed;
//! - a block computed when the corpus held more than 1% (and more than
//!   `DRIFT_MIN_DOCS`) more or fewer articles than now (`set_docs`) is
//!   *drifted*: its scores rest on statistics that moved, as the feature
//!   cache's do when it is dropped. It is served all the same, and
//!   recomputed by the read that finds it only within the budget the
//!   engine keeps for that (none on a single node; in cluster mode, so
//!   that two nodes with the same store serve the same blocks whatever
//!   order they cached them in);
//! - a computation that started before a BM25 commit (`note_commit`) and is
//!   stored after it is stored stale: the newly searchable articles were
//!   checked against the blocks cached at the commit, not against this one,
//!   so it is refreshed instead of trusted;
//! - `shown_in[x]` holds every owner whose cached block shows `x` (it may
//!   hold more: an extra invalidation is harmless);
//! - a *dropped* block is gone (it showed an article that changed or went,
//!   or a rule changed it); a *stale* block (a new article may now enter
//!   it) is still served, and its owner waits in `queue` until
//!   [`BlockCache::refresh`] replaces it with a block computed after the
//!   write that made it stale (a `marks` count per owner says whether a
//!   later write made it stale again meanwhile).

use std::sync::Arc;

use std::collections::VecDeque;

use readnext_core::{FastMap, Pick};

use crate::options::RelatedOptions;
use crate::rank::Gate;

/// Blocks kept before the cache evicts a tenth of them.
pub(crate) const BLOCK_CACHE_ENTRIES: usize = 200_000;

/// The cache key of a block's options: every field, floats included, so
/// that two options share a block only when they rank alike.
pub(crate) fn block_key(opts: &RelatedOptions) -> String {
    format!("{opts:?}")
}

/// One cached block.
pub(crate) struct Entry {
    /// The options' key.
    pub(crate) key: String,
    /// The options it was computed with.
    pub(crate) opts: RelatedOptions,
    /// The block.
    pub(crate) block: Arc<Vec<Pick>>,
    /// What a new article must beat to enter it.
    pub(crate) gate: Arc<Gate>,
    /// The owner's headline when the block was computed (a write of the
    /// owner drops the block), so that a cached read needs no store read.
    pub(crate) title: Arc<str>,
    /// The corpus's article count when its computation started.
    docs: u64,
}

impl Entry {
    /// The entry of a block computed with `opts` for the owner headlined
    /// `title`.
    pub(crate) fn new(opts: RelatedOptions, block: Vec<Pick>, gate: Gate, title: &str) -> Entry {
        Entry {
            key: block_key(&opts),
            opts,
            block: Arc::new(block),
            gate: Arc::new(gate),
            title: title.into(),
            docs: 0,
        }
    }
}

#[derive(Default)]
pub(crate) struct BlockCache {
    /// owner -> its blocks, one per options
    by_owner: FastMap<String, Vec<Entry>>,
    /// stale owner -> how often it was made stale
    stale: FastMap<String, u64>,
    /// stale owners, in the order they were made stale (with repeats)
    queue: VecDeque<String>,
    /// shown id -> owners whose blocks show it
    shown_in: FastMap<String, Vec<String>>,
    entries: usize,
    /// Bumped by every invalidation.
    epoch: u64,
    /// Bumped by every BM25 commit ([`BlockCache::note_commit`]).
    commits: u64,
    /// The corpus's article count now ([`BlockCache::set_docs`]).
    docs: u64,
    /// Owners to compute a block for: those whose blocks a write dropped,
    /// and new articles once searchable (the server's warmer drains it, so
    /// that it never needs to walk every id after its first pass).
    to_warm: VecDeque<String>,
    /// Bumped when every block went at once, or the warm queue overflowed:
    /// the warmer then walks every id again.
    clears: u64,
}

/// When a block's computation started: the cache's epoch and commit count
/// then ([`BlockCache::since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Since {
    epoch: u64,
    commits: u64,
    docs: u64,
}

/// Articles a corpus may gain or lose, whatever its size, before a block
/// computed on it is drifted: on a small corpus every write moves the
/// statistics by more than 1%, and recomputing every block at each would
/// undo what the cache keeps.
const DRIFT_MIN_DOCS: u64 = 100;

/// Whether statistics of a corpus of `at` articles are too far off those
/// of `now`: more than 1% of it (the feature cache's rule), and more than
/// [`DRIFT_MIN_DOCS`] articles.
fn drifted(at: u64, now: u64) -> bool {
    let d = at.abs_diff(now);
    d > DRIFT_MIN_DOCS && d.saturating_mul(100) > now
}

/// Owners the warm queue holds before it gives up on them and asks for a
/// walk over every id instead.
const WARM_QUEUE_MAX: usize = 100_000;

impl BlockCache {
    /// The cached block of `owner` with options `key`, and whether it is
    /// stale.
    pub(crate) fn get(&self, owner: &str, key: &str) -> Option<(Arc<Vec<Pick>>, bool)> {
        let e = self.by_owner.get(owner)?.iter().find(|e| e.key == key)?;
        Some((e.block.clone(), self.stale.contains_key(owner) || drifted(e.docs, self.docs)))
    }

    /// The cached block of `owner` with options `key` when it is not stale,
    /// with the owner's headline, and whether it is drifted (served all the
    /// same: the caller decides whether to recompute it).
    pub(crate) fn get_fresh(&self, owner: &str, key: &str) -> Option<(Arc<Vec<Pick>>, Arc<str>, bool)> {
        if self.stale.contains_key(owner) {
            return None;
        }
        let e = self.by_owner.get(owner)?.iter().find(|e| e.key == key)?;
        Some((e.block.clone(), e.title.clone(), drifted(e.docs, self.docs)))
    }

    /// Whether the block of `owner` with options `key` is drifted and not
    /// marked stale (no write made a new article a candidate for it).
    pub(crate) fn drifted_only(&self, owner: &str, key: &str) -> bool {
        !self.stale.contains_key(owner)
            && self.by_owner.get(owner).is_some_and(|b| b.iter().any(|e| e.key == key && drifted(e.docs, self.docs)))
    }

    /// The corpus now holds `docs` articles.
    pub(crate) fn set_docs(&mut self, docs: u64) {
        self.docs = docs;
    }

    /// Marks the blocks of `owners` stale: still served, queued to be
    /// refreshed.
    pub(crate) fn mark_stale(&mut self, owners: &[&str]) {
        for o in owners {
            if self.by_owner.contains_key(*o) {
                *self.stale.entry(o.to_string()).or_default() += 1;
                self.queue.push_back(o.to_string());
            }
        }
    }

    /// The next stale owner, with its marks and the options of its blocks.
    pub(crate) fn next_stale(&mut self) -> Option<(String, u64, Vec<RelatedOptions>)> {
        while let Some(o) = self.queue.pop_front() {
            if let (Some(m), Some(blocks)) = (self.stale.get(&o), self.by_owner.get(&o)) {
                return Some((o.clone(), *m, blocks.iter().map(|e| e.opts.clone()).collect()));
            }
        }
        None
    }

    /// `owner`'s marks and options when it is stale (a read that recomputed
    /// its block refreshes it).
    pub(crate) fn next_stale_of(&self, owner: &str) -> Option<(String, u64, Vec<RelatedOptions>)> {
        let m = self.stale.get(owner)?;
        let blocks = self.by_owner.get(owner)?;
        Some((owner.to_string(), *m, blocks.iter().map(|e| e.opts.clone()).collect()))
    }

    /// The options and gates of `owner`'s cached blocks, stale or not (a
    /// refresh in flight may predate the write that asks).
    pub(crate) fn gates_of(&self, owner: &str) -> Vec<(RelatedOptions, Arc<Gate>)> {
        self.by_owner.get(owner).map_or_else(Vec::new, |b| b.iter().map(|e| (e.opts.clone(), e.gate.clone())).collect())
    }

    /// How many owners wait to be refreshed.
    pub(crate) fn stale_owners(&self) -> usize {
        self.stale.len()
    }

    /// Replaces the blocks of a stale `owner` with `fresh` ones, computed
    /// since `epoch` when it had `marks` marks. A drop since then discards
    /// them (the owner is queued again if still stale); a mark since then
    /// keeps the owner stale and queued.
    pub(crate) fn refresh(&mut self, owner: &str, fresh: Vec<Entry>, marks: u64, since: Since) {
        if since.epoch != self.epoch {
            if self.stale.contains_key(owner) {
                self.queue.push_back(owner.to_string());
            }
            return;
        }
        let still = self.stale.get(owner).copied();
        self.drop_owner(owner);
        for e in fresh {
            self.store(owner, Entry { docs: since.docs, ..e });
        }
        match still {
            Some(m) if m != marks => {
                self.stale.insert(owner.to_string(), m);
                self.queue.push_back(owner.to_string());
            }
            _ if since.commits != self.commits => self.mark_stale(&[owner]),
            _ => {}
        }
    }

    /// The epoch a computation starts in.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// What a computation starting now passes to [`BlockCache::insert`] or
    /// [`BlockCache::refresh`].
    pub(crate) fn since(&self) -> Since {
        Since { epoch: self.epoch, commits: self.commits, docs: self.docs }
    }

    /// Records that the BM25 index committed: computations that started
    /// before it searched without the articles it made searchable.
    pub(crate) fn note_commit(&mut self) {
        self.commits += 1;
    }

    /// Stores a block computed since `since`: nothing when an invalidation
    /// happened meanwhile (the block may predate it), and stale when a
    /// commit did.
    pub(crate) fn insert(&mut self, owner: &str, entry: Entry, since: Since) {
        if since.epoch != self.epoch {
            return;
        }
        self.store(owner, Entry { docs: since.docs, ..entry });
        if since.commits != self.commits {
            self.mark_stale(&[owner]);
        }
    }

    /// Stores a block, evicting when full.
    fn store(&mut self, owner: &str, entry: Entry) {
        if self.entries >= BLOCK_CACHE_ENTRIES {
            self.evict(BLOCK_CACHE_ENTRIES / 10);
        }
        for p in entry.block.iter() {
            let owners = self.shown_in.entry(p.id.clone()).or_default();
            if !owners.iter().any(|o| o == owner) {
                owners.push(owner.to_string());
            }
        }
        let slot = self.by_owner.entry(owner.to_string()).or_default();
        match slot.iter_mut().find(|e| e.key == entry.key) {
            Some(e) => *e = entry,
            None => {
                slot.push(entry);
                self.entries += 1;
            }
        }
    }

    /// Drops `n` blocks (any: the map's order).
    fn evict(&mut self, n: usize) {
        let owners: Vec<String> = self.by_owner.keys().take(n).cloned().collect();
        for o in owners {
            self.drop_owner(&o);
        }
    }

    fn drop_owner(&mut self, owner: &str) -> bool {
        self.stale.remove(owner);
        let Some(blocks) = self.by_owner.remove(owner) else { return false };
        self.entries -= blocks.len();
        for e in &blocks {
            for p in e.block.iter() {
                if let Some(owners) = self.shown_in.get_mut(&p.id) {
                    owners.retain(|o| o != owner);
                    if owners.is_empty() {
                        self.shown_in.remove(&p.id);
                    }
                }
            }
        }
        true
    }

    /// Drops the blocks of `owners`, and of every owner whose block shows
    /// one of `shown`, and queues those owners to be warmed again. Returns
    /// how many owners lost their blocks.
    pub(crate) fn invalidate(&mut self, owners: &[&str], shown: &[&str]) -> usize {
        self.epoch += 1;
        let mut dropped = 0;
        let mut all: Vec<String> = owners.iter().map(|o| o.to_string()).collect();
        for s in shown {
            if let Some(os) = self.shown_in.get(*s) {
                all.extend(os.iter().cloned());
            }
        }
        for o in all {
            if self.drop_owner(&o) {
                dropped += 1;
                self.queue_warm(o);
            }
        }
        dropped
    }

    /// Queues `owner` to have its block computed by the warmer.
    pub(crate) fn queue_warm(&mut self, owner: String) {
        if self.to_warm.len() >= WARM_QUEUE_MAX {
            self.to_warm.clear();
            self.clears += 1;
        }
        self.to_warm.push_back(owner);
    }

    /// Up to `n` owners from the warm queue, oldest first.
    pub(crate) fn next_to_warm(&mut self, n: usize) -> Vec<String> {
        let n = n.min(self.to_warm.len());
        self.to_warm.drain(..n).collect()
    }

    /// How often every block went at once (or the warm queue overflowed).
    pub(crate) fn clears(&self) -> u64 {
        self.clears
    }

    /// Drops every block.
    pub(crate) fn clear(&mut self) {
        self.epoch += 1;
        self.clears += 1;
        self.by_owner.clear();
        self.shown_in.clear();
        self.stale.clear();
        self.queue.clear();
        self.to_warm.clear();
        self.entries = 0;
    }

    /// Number of cached blocks.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ids: &[&str]) -> Entry {
        let block = ids
            .iter()
            .map(|id| Pick {
                id: id.to_string(),
                title: String::new(),
                url: None,
                published: None,
                image: None,
                score: 0.0,
                why: Default::default(),
            })
            .collect();
        Entry { key: "k".into(), ..Entry::new(RelatedOptions::default(), block, Gate::open(), "") }
    }

    #[test]
    fn invalidation_drops_the_owner_and_the_blocks_that_show_an_article_only() {
        let mut c = BlockCache::default();
        let e = c.since();
        c.insert("a", entry(&["x", "y"]), e);
        c.insert("b", entry(&["y", "z"]), e);
        c.insert("c", entry(&["z"]), e);
        assert_eq!(c.len(), 3);
        // x changed: only a showed it.
        assert_eq!(c.invalidate(&[], &["x"]), 1);
        assert!(c.get("a", "k").is_none() && c.get("b", "k").is_some());
        // c's own block, and those showing y (b; a is gone already).
        assert_eq!(c.invalidate(&["c"], &["y"]), 2);
        assert_eq!(c.len(), 0);
        // The owners that lost their blocks wait to be warmed again.
        assert_eq!(c.next_to_warm(10), ["a", "c", "b"]);
        assert!(c.next_to_warm(10).is_empty());
        // A block computed before an invalidation is not kept.
        let before = c.since();
        c.invalidate(&["nobody"], &[]);
        c.insert("a", entry(&["x"]), before);
        assert!(c.get("a", "k").is_none());
    }

    #[test]
    fn stale_blocks_are_served_until_refreshed_and_a_later_mark_keeps_them_stale() {
        let mut c = BlockCache::default();
        c.insert("a", entry(&["x"]), c.since());
        c.mark_stale(&["a", "not-cached"]);
        assert_eq!(c.get("a", "k").map(|(b, stale)| (b[0].id.clone(), stale)), Some(("x".into(), true)));
        let (owner, marks, opts) = c.next_stale().unwrap();
        assert_eq!((owner.as_str(), opts.len()), ("a", 1));
        assert!(c.next_stale().is_none(), "an uncached owner is not queued");
        // Made stale again while it was being refreshed: still stale after.
        let epoch = c.since();
        c.mark_stale(&["a"]);
        c.refresh("a", vec![entry(&["y"])], marks, epoch);
        assert_eq!(c.get("a", "k").map(|(b, stale)| (b[0].id.clone(), stale)), Some(("y".into(), true)));
        let (_, marks, _) = c.next_stale().unwrap();
        c.refresh("a", vec![entry(&["z"])], marks, c.since());
        assert_eq!(c.get("a", "k").map(|(b, stale)| (b[0].id.clone(), stale)), Some(("z".into(), false)));
        assert_eq!(c.stale_owners(), 0);
    }

    #[test]
    fn a_block_computed_across_a_commit_is_stored_stale_and_refreshed() {
        let mut c = BlockCache::default();
        let before = c.since();
        c.note_commit();
        c.insert("a", entry(&["x"]), before);
        assert_eq!(c.get("a", "k").map(|(_, stale)| stale), Some(true), "served, but queued to be refreshed");
        let (_, marks, _) = c.next_stale().unwrap();
        // A refresh that itself straddled another commit stays stale.
        let during = c.since();
        c.note_commit();
        c.refresh("a", vec![entry(&["y"])], marks, during);
        assert_eq!(c.get("a", "k").map(|(_, stale)| stale), Some(true));
        let (_, marks, _) = c.next_stale().unwrap();
        c.refresh("a", vec![entry(&["z"])], marks, c.since());
        assert_eq!(c.get("a", "k").map(|(b, stale)| (b[0].id.clone(), stale)), Some(("z".into(), false)));
    }

    #[test]
    fn a_block_computed_on_a_corpus_more_than_one_percent_off_is_served_stale_and_recomputed() {
        let mut c = BlockCache::default();
        c.set_docs(20_000);
        c.insert("a", entry(&["x"]), c.since());
        c.set_docs(20_200);
        assert_eq!(c.get("a", "k").map(|(_, stale)| stale), Some(false), "1% is within the bound");
        c.set_docs(150);
        c.insert("b", entry(&["x"]), c.since());
        c.set_docs(250);
        assert_eq!(c.get("b", "k").map(|(_, stale)| stale), Some(false), "so are 100 articles");
        c.set_docs(20_203);
        assert_eq!(c.get("a", "k").map(|(_, stale)| stale), Some(true));
        assert_eq!(c.get_fresh("a", "k").map(|(_, _, drifted)| drifted), Some(true));
        assert!(c.drifted_only("a", "k"));
        assert!(c.next_stale().is_none(), "not queued: the reads that find it recompute it");
        c.mark_stale(&["a"]);
        assert!(!c.drifted_only("a", "k"), "stale: the refresher's");
        let (owner, marks, _) = c.next_stale().unwrap();
        c.refresh(&owner, vec![entry(&["y"])], marks, c.since());
        assert_eq!(c.get("a", "k").map(|(b, stale)| (b[0].id.clone(), stale)), Some(("y".into(), false)));
        // Recomputed by a read: stored as a new block, fresh.
        c.set_docs(30_000);
        assert!(c.drifted_only("a", "k"));
        c.insert("a", entry(&["z"]), c.since());
        assert_eq!(c.get("a", "k").map(|(b, stale)| (b[0].id.clone(), stale)), Some(("z".into(), false)));
    }
}
