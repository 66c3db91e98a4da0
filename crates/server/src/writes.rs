//! Where a write goes: straight to the local engine on a single node, or,
//! in cluster mode, to the replicated log, from which every node (this one
//! included) applies it. Every handler that changes state calls
//! [`submit`], and nothing else writes.

use std::sync::Arc;

use readnext_cluster::{Apply, ClusterError, Follower, Log, split_events};
use readnext_recommend::Engine;
use readnext_store::{Applied, Write};

use crate::error::ApiError;
use crate::{Shared, blocking};

/// How soon a single node's write must reach the BM25 index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    /// At the next periodic commit (article writes: the acknowledgement
    /// is one store transaction).
    Deferred,
    /// Before the answer (rules, events, forgetting).
    Now,
}

/// What became of submitted writes.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Per write as it was applied (in cluster mode, events are cut into
    /// one message per reader, so there may be more entries than writes
    /// submitted): what it did, or `None` when the log acknowledged it but
    /// this node had not applied it when the answer was due.
    pub(crate) applied: Vec<Option<Applied>>,
    /// In cluster mode, the stream sequence of the last write.
    pub(crate) sequence: Option<u64>,
}

impl Outcome {
    /// How many events the writes recorded (`None`: some are not applied
    /// here yet).
    pub(crate) fn recorded(&self) -> Option<usize> {
        self.applied
            .iter()
            .map(|a| match a {
                Some(Applied::Recorded(n)) => Some(*n),
                Some(_) => Some(0),
                None => None,
            })
            .sum()
    }
}

/// The node's side of a cluster: the log it publishes to, and the
/// follower that applies the log here.
pub(crate) struct ClusterNode {
    pub(crate) log: Arc<Log>,
    pub(crate) follower: Arc<Follower>,
}

/// The engine as the follower's target: log positions are stream
/// sequences, and article writes commit BM25 at the periodic commit, as a
/// single node's do.
pub(crate) struct EngineApply(pub(crate) Arc<Engine>);

impl Apply for EngineApply {
    fn applied(&self) -> Result<u64, String> {
        self.0.store().applied_position().map_err(|e| e.to_string())
    }

    fn apply(&self, first: u64, writes: &[Write]) -> Result<Vec<Applied>, String> {
        self.0.write_at_deferred(first, writes).map(|o| o.applied).map_err(|e| e.to_string())
    }
}

/// Applies `writes`: locally, or through the log. In cluster mode the
/// answer comes once the log has acknowledged every write, and (with read
/// your writes, the default) once this node has applied them.
pub(crate) async fn submit(s: &Shared, writes: Vec<Write>, commit: Commit) -> Result<Outcome, ApiError> {
    let Some(node) = &s.cluster else {
        let engine = s.engine.clone();
        let applied = blocking(move || {
            let out = match commit {
                Commit::Deferred => engine.write_deferred(&writes)?,
                Commit::Now => engine.write(&writes)?,
            };
            Ok(out.applied)
        })
        .await?;
        return Ok(Outcome { applied: applied.into_iter().map(Some).collect(), sequence: None });
    };
    let writes = split_events(writes);
    let seqs = node.log.publish_all(&writes).await.map_err(log_error)?;
    for (w, seq) in writes.iter().zip(&seqs) {
        if let Write::Forget(user) = w {
            // The reader is erased on every node by the write itself; the
            // purge keeps a node that replays the log later from bringing
            // the events back.
            node.log.purge_reader(user, *seq).await.map_err(log_error)?;
        }
    }
    let config = node.log.config();
    let applied = if config.read_your_writes {
        node.follower.wait_all(&seqs, config.apply_timeout).await
    } else {
        vec![None; seqs.len()]
    };
    Ok(Outcome { applied, sequence: seqs.iter().max().copied() })
}

/// A log failure as the API answers it: 503 with `Retry-After` when the
/// log cannot take writes now (nothing was acknowledged), 413 when a
/// write is larger than the log takes.
fn log_error(e: ClusterError) -> ApiError {
    match e {
        ClusterError::TooLarge { .. } => ApiError {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: e.to_string(),
        },
        ClusterError::Encode(_) => ApiError::internal(e),
        other => ApiError::unavailable(other.to_string()),
    }
}
