//! The approximate-nearest-neighbour index over sentence embeddings: an
//! HNSW graph (usearch, cosine, f32 storage) with, per key, the article id
//! and what [`Filter`] restricts on.
//!
//! Like the BM25 index it is derived: the vectors' source of truth is the
//! store. It is kept in memory and saved to two files (`dense.usearch`, the
//! graph, then `dense.meta`, ids and the store sequence it reflects) by
//! [`DenseIndex::save`]. Saving is not needed for correctness: an index
//! saved at sequence `s` catches up from the store's changes after `s`
//! when it is opened again. Because the graph is saved before the meta
//! that names its sequence, a crash between the two leaves a graph that is
//! at least as new as its meta claims, and replaying changes is idempotent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use readnext_core::{Permits, fnv1a64};
use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::{Filter, IndexError};

const GRAPH_FILE: &str = "dense.usearch";
const META_FILE: &str = "dense.meta";
/// 2: f32 storage. A graph saved by version 1 (f16) is rebuilt from the
/// store when it is opened.
const META_VERSION: u32 = 2;
/// Edges per node: usearch's default; recall at 13k documents is exact in
/// practice (see the recall test).
const CONNECTIVITY: usize = 16;
const EXPANSION_ADD: usize = 128;
const EXPANSION_SEARCH: usize = 96;

/// What the dense index needs of one article.
#[derive(Debug, Clone)]
pub struct DenseDoc<'a> {
    /// Article id.
    pub id: &'a str,
    /// Its unit-length embedding.
    pub vector: &'a [f32],
    /// Language code.
    pub lang: &'a str,
    /// Section, when known.
    pub section: Option<&'a str>,
    /// Publication time (Unix seconds).
    pub published: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    id: String,
    lang: String,
    section: Option<String>,
    published: Option<i64>,
}

impl Entry {
    fn passes(&self, f: &Filter) -> bool {
        f.lang.as_ref().is_none_or(|l| *l == self.lang)
            && f.section.as_ref().is_none_or(|s| self.section.as_ref() == Some(s))
            && f.since.is_none_or(|t| self.published.is_some_and(|p| p >= t))
            && f.until.is_none_or(|t| self.published.is_some_and(|p| p <= t))
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    dim: usize,
    seq: u64,
    entries: Vec<(u64, Entry)>,
}

struct State {
    graph: Index,
    entries: HashMap<u64, Entry>,
    seq: u64,
    saved_seq: u64,
}

/// The dense index. Searches share a read lock; writes take the write lock.
pub struct DenseIndex {
    dir: PathBuf,
    dim: usize,
    state: RwLock<State>,
    /// One slot per reserved search context (see [`contexts`]).
    contexts: Permits,
}

fn new_graph(dim: usize) -> Result<Index, String> {
    let opts = IndexOptions {
        dimensions: dim,
        metric: MetricKind::Cos,
        // f32, not f16: usearch is built without its SIMD kernel library
        // (NumKong, whose C build was the longest step of a clean build),
        // and without it f16 made hybrid queries slower (p50 8.78 against
        // 7.04 ms in `readnext bench --hybrid`). f32 costs 768 more bytes
        // per vector and is exact.
        quantization: ScalarKind::F32,
        connectivity: CONNECTIVITY,
        expansion_add: EXPANSION_ADD,
        expansion_search: EXPANSION_SEARCH,
        multi: false,
    };
    let graph = Index::new(&opts).map_err(|e| e.to_string())?;
    reserve(&graph, 1024)?;
    Ok(graph)
}

/// Search contexts the graph reserves. usearch fails a search outright when
/// every context is taken, so [`DenseIndex::search`] queues for one of
/// these instead of ever meeting that failure: however many requests run at
/// once (the server's blocking pool has hundreds of threads), usearch never
/// runs out.
fn contexts() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get()) * 4
}

/// Room for `capacity` vectors, and [`contexts`] search contexts.
fn reserve(graph: &Index, capacity: usize) -> Result<(), String> {
    graph.reserve_capacity_and_threads(capacity, contexts()).map_err(|e| e.to_string())
}

impl DenseIndex {
    /// Opens the index saved in `dir`, or an empty one (sequence 0) when
    /// there is none, or when what is there is unreadable or was built for
    /// vectors of another size: it is derived, so the caller rebuilds it
    /// from the store by replaying changes from [`DenseIndex::applied_seq`].
    pub fn open(dir: &Path, dim: usize) -> Result<DenseIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::Io { path: dir.to_path_buf(), source })?;
        let state = match Self::load(dir, dim) {
            Ok(Some(s)) => s,
            Ok(None) | Err(_) => State {
                graph: new_graph(dim).map_err(|reason| IndexError::Dense { path: dir.to_path_buf(), reason })?,
                entries: HashMap::new(),
                seq: 0,
                saved_seq: 0,
            },
        };
        Ok(DenseIndex { dir: dir.to_path_buf(), dim, state: RwLock::new(state), contexts: Permits::new(contexts()) })
    }

    fn load(dir: &Path, dim: usize) -> Result<Option<State>, String> {
        let (graph_path, meta_path) = (dir.join(GRAPH_FILE), dir.join(META_FILE));
        if !graph_path.is_file() || !meta_path.is_file() {
            return Ok(None);
        }
        let bytes = std::fs::read(&meta_path).map_err(|e| e.to_string())?;
        let meta: Meta = postcard::from_bytes(&bytes).map_err(|e| e.to_string())?;
        if meta.version != META_VERSION || meta.dim != dim {
            return Ok(None);
        }
        let graph = new_graph(dim)?;
        graph.load(&graph_path.to_string_lossy()).map_err(|e| e.to_string())?;
        if graph.size() != meta.entries.len() {
            return Err(format!("graph holds {} vectors, meta names {}", graph.size(), meta.entries.len()));
        }
        reserve(&graph, graph.size() + 1024)?;
        Ok(Some(State { graph, entries: meta.entries.into_iter().collect(), seq: meta.seq, saved_seq: meta.seq }))
    }

    fn err(&self, reason: impl std::fmt::Display) -> IndexError {
        IndexError::Dense { path: self.dir.clone(), reason: reason.to_string() }
    }

    /// Dimensions of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The store sequence number this index reflects (0 for a new index).
    pub fn applied_seq(&self) -> u64 {
        self.state.read().unwrap_or_else(|p| p.into_inner()).seq
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.state.read().unwrap_or_else(|p| p.into_inner()).entries.len()
    }

    /// Whether the index holds no vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds or replaces `upserts`, removes `removes` (ids without a vector:
    /// deleted articles, or articles whose text changed and whose vector is
    /// not computed yet), and records `seq` as applied.
    pub fn apply(&self, upserts: &[DenseDoc<'_>], removes: &[&str], seq: u64) -> Result<(), IndexError> {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        for id in removes.iter().copied().chain(upserts.iter().map(|d| d.id)) {
            let key = fnv1a64(id.as_bytes());
            if st.entries.get(&key).is_some_and(|e| e.id == id) {
                st.graph.remove(key).map_err(|e| self.err(e))?;
                st.entries.remove(&key);
            }
        }
        let need = st.graph.size() + upserts.len();
        if need > st.graph.capacity() {
            reserve(&st.graph, need.max(st.graph.capacity() * 2)).map_err(|e| self.err(e))?;
        }
        for d in upserts {
            if d.vector.len() != self.dim {
                return Err(self.err(format!(
                    "vector of {:?} has {} dimensions, not {}",
                    d.id,
                    d.vector.len(),
                    self.dim
                )));
            }
            let key = fnv1a64(d.id.as_bytes());
            if st.entries.contains_key(&key) {
                // Another id with the same 64-bit hash: about one chance in
                // 10^8 at a million articles. That article is found by its
                // words only.
                continue;
            }
            if st.graph.contains(key) {
                // Only after a crash between saving the graph and its meta:
                // the graph already holds a vector its meta does not name.
                st.graph.remove(key).map_err(|e| self.err(e))?;
            }
            st.graph.add(key, d.vector).map_err(|e| self.err(e))?;
            st.entries.insert(
                key,
                Entry {
                    id: d.id.to_string(),
                    lang: d.lang.to_string(),
                    section: d.section.map(str::to_string),
                    published: d.published,
                },
            );
        }
        st.seq = seq;
        Ok(())
    }

    /// Removes every vector (before a rebuild).
    pub fn clear(&self) -> Result<(), IndexError> {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        st.graph = new_graph(self.dim).map_err(|e| self.err(e))?;
        st.entries.clear();
        st.seq = 0;
        Ok(())
    }

    /// Saves the index if it changed since it was last saved or loaded.
    pub fn save(&self) -> Result<(), IndexError> {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if st.seq == st.saved_seq {
            return Ok(());
        }
        let graph_tmp = self.dir.join(format!("{GRAPH_FILE}.tmp"));
        st.graph.save(&graph_tmp.to_string_lossy()).map_err(|e| self.err(e))?;
        self.rename(&graph_tmp, &self.dir.join(GRAPH_FILE))?;
        let mut entries: Vec<(u64, Entry)> = st.entries.iter().map(|(k, e)| (*k, e.clone())).collect();
        entries.sort_by_key(|(k, _)| *k);
        let meta = Meta { version: META_VERSION, dim: self.dim, seq: st.seq, entries };
        let bytes = postcard::to_allocvec(&meta).map_err(|e| self.err(e))?;
        let meta_tmp = self.dir.join(format!("{META_FILE}.tmp"));
        std::fs::write(&meta_tmp, bytes).map_err(|source| IndexError::Io { path: meta_tmp.clone(), source })?;
        self.rename(&meta_tmp, &self.dir.join(META_FILE))?;
        st.saved_seq = st.seq;
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<(), IndexError> {
        std::fs::rename(from, to).map_err(|source| IndexError::Io { path: to.to_path_buf(), source })
    }

    /// Up to `k` nearest articles to `query` by cosine, best first, with
    /// their cosine; `exclude` (the query article itself) and articles that
    /// `filter` rules out are skipped.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: &Filter,
        exclude: Option<&str>,
    ) -> Result<Vec<(String, f32)>, IndexError> {
        if k == 0 || query.len() != self.dim {
            return Ok(vec![]);
        }
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        if st.entries.is_empty() {
            return Ok(vec![]);
        }
        let _context = self.contexts.acquire();
        let plain = filter.is_empty();
        let excluded = exclude.map(|id| fnv1a64(id.as_bytes()));
        let m = if plain && excluded.is_none() {
            st.graph.search(query, k)
        } else {
            st.graph.filtered_search(query, k, |key| {
                Some(key) != excluded && st.entries.get(&key).is_some_and(|e| e.passes(filter))
            })
        }
        .map_err(|e| IndexError::DenseSearch { path: self.dir.clone(), reason: e.to_string() })?;
        Ok(m.keys
            .iter()
            .zip(&m.distances)
            .filter_map(|(key, d)| st.entries.get(key).map(|e| (e.id.clone(), 1.0 - d)))
            .collect())
    }

    /// Bytes of memory the graph uses.
    pub fn memory_bytes(&self) -> usize {
        self.state.read().unwrap_or_else(|p| p.into_inner()).graph.memory_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    /// Deterministic pseudo-random unit vectors.
    fn vectors(n: usize, dim: usize) -> Vec<Vec<f32>> {
        let mut s: u64 = 42;
        (0..n)
            .map(|_| {
                unit(
                    (0..dim)
                        .map(|_| {
                            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
                        })
                        .collect(),
                )
            })
            .collect()
    }

    fn doc<'a>(id: &'a str, v: &'a [f32], lang: &'a str) -> DenseDoc<'a> {
        DenseDoc { id, vector: v, lang, section: None, published: Some(0) }
    }

    #[test]
    fn finds_the_nearest_and_follows_updates_deletes_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let idx = DenseIndex::open(dir.path(), 8).unwrap();
        let vs = vectors(200, 8);
        let ids: Vec<String> = (0..200).map(|i| format!("a{i}")).collect();
        let docs: Vec<DenseDoc> = ids
            .iter()
            .zip(&vs)
            .enumerate()
            .map(|(i, (id, v))| doc(id, v, if i % 2 == 0 { "en" } else { "es" }))
            .collect();
        idx.apply(&docs, &[], 200).unwrap();
        assert_eq!(idx.len(), 200);
        // Exact neighbours by brute force.
        let q = &vs[7];
        let mut exact: Vec<(usize, f32)> =
            vs.iter().enumerate().map(|(i, v)| (i, v.iter().zip(q).map(|(a, b)| a * b).sum())).collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let got = idx.search(q, 5, &Filter::default(), None).unwrap();
        assert_eq!(got[0].0, "a7");
        assert!((got[0].1 - 1.0).abs() < 1e-2);
        let want: Vec<String> = exact.iter().take(5).map(|(i, _)| format!("a{i}")).collect();
        assert_eq!(got.iter().map(|g| g.0.clone()).collect::<Vec<_>>(), want);
        // Excluding the query, and filtering by language.
        let got = idx.search(q, 5, &Filter { lang: Some("en".into()), ..Default::default() }, Some("a7")).unwrap();
        assert!(got.iter().all(|(id, _)| id != "a7"));
        assert!(got.iter().all(|(id, _)| id[1..].parse::<usize>().unwrap() % 2 == 0), "{got:?}");
        // An update moves a7 onto a9's vector; a delete removes a9.
        idx.apply(&[doc("a7", &vs[9], "es")], &["a9"], 202).unwrap();
        let got = idx.search(&vs[9], 1, &Filter::default(), None).unwrap();
        assert_eq!(got[0].0, "a7");
        assert_eq!(idx.len(), 199);
        assert_eq!(idx.applied_seq(), 202);
    }

    #[test]
    fn saved_index_reopens_with_its_sequence_and_a_broken_one_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let vs = vectors(50, 4);
        let ids: Vec<String> = (0..50).map(|i| format!("d{i}")).collect();
        {
            let idx = DenseIndex::open(dir.path(), 4).unwrap();
            let docs: Vec<DenseDoc> = ids.iter().zip(&vs).map(|(id, v)| doc(id, v, "en")).collect();
            idx.apply(&docs, &[], 50).unwrap();
            idx.save().unwrap();
        }
        let idx = DenseIndex::open(dir.path(), 4).unwrap();
        assert_eq!((idx.len(), idx.applied_seq()), (50, 50));
        assert_eq!(idx.search(&vs[3], 1, &Filter::default(), None).unwrap()[0].0, "d3");
        // Another vector size: the saved index is not used.
        assert_eq!(DenseIndex::open(dir.path(), 8).unwrap().applied_seq(), 0);
        // A truncated meta file: start over, to be rebuilt from the store.
        std::fs::write(dir.path().join(META_FILE), b"\x01\x02").unwrap();
        let idx = DenseIndex::open(dir.path(), 4).unwrap();
        assert_eq!((idx.len(), idx.applied_seq()), (0, 0));
        assert!(idx.search(&vs[3], 3, &Filter::default(), None).unwrap().is_empty());
    }
}
