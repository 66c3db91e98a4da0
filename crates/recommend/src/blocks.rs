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
//! - `shown_in[x]` holds every owner whose cached block shows `x` (it may
//!   hold more: an extra invalidation is harmless).

use std::sync::Arc;

use readnext_core::{FastMap, Pick};

/// Blocks kept before the cache evicts a tenth of them.
pub(crate) const BLOCK_CACHE_ENTRIES: usize = 200_000;

#[derive(Default)]
pub(crate) struct BlockCache {
    /// owner -> (options key, block)
    by_owner: FastMap<String, Vec<(String, Arc<Vec<Pick>>)>>,
    /// shown id -> owners whose blocks show it
    shown_in: FastMap<String, Vec<String>>,
    entries: usize,
    /// Bumped by every invalidation.
    epoch: u64,
}

impl BlockCache {
    /// The cached block of `owner` with options `key`.
    pub(crate) fn get(&self, owner: &str, key: &str) -> Option<Arc<Vec<Pick>>> {
        self.by_owner.get(owner)?.iter().find(|(k, _)| k == key).map(|(_, b)| b.clone())
    }

    /// The epoch a computation starts in.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Stores a block computed since `epoch`; nothing when an invalidation
    /// happened meanwhile (the block may predate it).
    pub(crate) fn insert(&mut self, owner: &str, key: String, block: Arc<Vec<Pick>>, epoch: u64) {
        if epoch != self.epoch {
            return;
        }
        if self.entries >= BLOCK_CACHE_ENTRIES {
            self.evict(BLOCK_CACHE_ENTRIES / 10);
        }
        for p in block.iter() {
            let owners = self.shown_in.entry(p.id.clone()).or_default();
            if !owners.iter().any(|o| o == owner) {
                owners.push(owner.to_string());
            }
        }
        let slot = self.by_owner.entry(owner.to_string()).or_default();
        match slot.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = block,
            None => {
                slot.push((key, block));
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
        let Some(blocks) = self.by_owner.remove(owner) else { return false };
        self.entries -= blocks.len();
        for (_, b) in &blocks {
            for p in b.iter() {
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
    /// one of `shown`. Returns how many owners lost their blocks.
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
            dropped += usize::from(self.drop_owner(&o));
        }
        dropped
    }

    /// Drops every block.
    pub(crate) fn clear(&mut self) {
        self.epoch += 1;
        self.by_owner.clear();
        self.shown_in.clear();
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

    fn block(ids: &[&str]) -> Arc<Vec<Pick>> {
        Arc::new(
            ids.iter()
                .map(|id| Pick {
                    id: id.to_string(),
                    title: String::new(),
                    url: None,
                    published: None,
                    image: None,
                    score: 0.0,
                    why: Default::default(),
                })
                .collect(),
        )
    }

    #[test]
    fn invalidation_drops_the_owner_and_the_blocks_that_show_an_article_only() {
        let mut c = BlockCache::default();
        let e = c.epoch();
        c.insert("a", "k".into(), block(&["x", "y"]), e);
        c.insert("b", "k".into(), block(&["y", "z"]), e);
        c.insert("c", "k".into(), block(&["z"]), e);
        assert_eq!(c.len(), 3);
        // x changed: only a showed it.
        assert_eq!(c.invalidate(&[], &["x"]), 1);
        assert!(c.get("a", "k").is_none() && c.get("b", "k").is_some());
        // c's own block, and those showing y (b; a is gone already).
        assert_eq!(c.invalidate(&["c"], &["y"]), 2);
        assert_eq!(c.len(), 0);
        // A block computed before an invalidation is not kept.
        let before = c.epoch();
        c.invalidate(&["nobody"], &[]);
        c.insert("a", "k".into(), block(&["x"]), before);
        assert!(c.get("a", "k").is_none());
    }
}
