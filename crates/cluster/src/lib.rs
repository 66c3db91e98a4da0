//! Cluster mode: the write log on NATS JetStream.
//!
//! A cluster of readnext nodes shares no files. It shares one JetStream
//! stream, replicated across NATS servers, that carries every state change
//! as a [`Write`]. The node that accepts a write over HTTP analyses (and
//! embeds) it, publishes it, and answers once a quorum of NATS servers has
//! it. Every node, that one included, applies the stream in order through
//! the store's one write function, at the stream's sequence numbers, so a
//! redelivered message is a no-op and every node converges on the same
//! store. Reads are served from each node's own store and indexes.
//!
//! - [`Log`] publishes writes ([`Log::publish`]) and purges a forgotten
//!   reader's events ([`Log::purge_reader`]).
//! - [`Apply`] is the seam to whatever applies the writes (the engine).
//! - [`Follower`] applies the stream in order, keeps the outcome of the
//!   recent writes for the node's waiting requests (read your writes), and
//!   reports its lag.
//! - [`subject_of`] and [`split_events`] say how writes travel.
#![warn(missing_docs)]

mod follower;
mod log;

pub use follower::{Apply, Follower, Lag};
pub use log::Log;

use std::time::Duration;

use readnext_core::fnv1a64;
use readnext_store::Write;

/// Errors of the cluster crate.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No NATS server of the list answered.
    #[error("cannot reach NATS at {servers}: {reason}")]
    Connect {
        /// The servers tried.
        servers: String,
        /// Why.
        reason: String,
    },
    /// The stream cannot take writes now (no quorum, a leader election, a
    /// timeout): the write was not acknowledged, and may be retried.
    #[error("the write log is unavailable: {0}")]
    Unavailable(String),
    /// A write is larger than the NATS servers' `max_payload`.
    #[error("a write of {bytes} bytes is larger than the log takes ({max} bytes)")]
    TooLarge {
        /// The encoded write.
        bytes: usize,
        /// The servers' limit.
        max: usize,
    },
    /// The stream or its consumer could not be set up.
    #[error("stream {stream}: {reason}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// Why.
        reason: String,
    },
    /// A write could not be encoded.
    #[error("encoding a write: {0}")]
    Encode(String),
    /// The configuration is invalid.
    #[error("cluster configuration: {0}")]
    Config(String),
}

/// How a node joins the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// NATS URLs (`nats://127.0.0.1:4222`); the client fails over between
    /// them.
    pub servers: Vec<String>,
    /// The stream's name.
    pub stream: String,
    /// Replicas of the stream (3 survives the loss of any one server of
    /// three).
    pub replicas: usize,
    /// This node's name: its durable consumer's name, unique in the
    /// cluster.
    pub node: String,
    /// A node is ready (`/readyz`) once it is at most this many writes
    /// behind the stream.
    pub ready_lag: u64,
    /// How long a write may take to be acknowledged, retries included,
    /// before it is refused as unavailable.
    pub publish_timeout: Duration,
    /// How long an accepting node waits for its own follower to apply an
    /// acknowledged write (read your writes) before it answers without.
    pub apply_timeout: Duration,
    /// Whether the API waits until the local node has applied a write
    /// before answering it.
    pub read_your_writes: bool,
}

impl ClusterConfig {
    /// A configuration with the defaults, for `servers` and `node`.
    pub fn new(servers: Vec<String>, node: impl Into<String>) -> ClusterConfig {
        ClusterConfig {
            servers,
            stream: "READNEXT".into(),
            replicas: 3,
            node: node.into(),
            ready_lag: 100,
            publish_timeout: Duration::from_secs(10),
            apply_timeout: Duration::from_secs(10),
            read_your_writes: true,
        }
    }

    /// Parses `nats://HOST:PORT[,nats://…]`.
    pub fn parse_servers(list: &str) -> Result<Vec<String>, ClusterError> {
        let servers: Vec<String> =
            list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
        if servers.is_empty() {
            return Err(ClusterError::Config("no NATS server given (nats://HOST:PORT[,…])".into()));
        }
        for s in &servers {
            let rest = s.strip_prefix("nats://").unwrap_or(s);
            if rest.rsplit_once(':').is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err()) {
                return Err(ClusterError::Config(format!("{s:?} is not nats://HOST:PORT")));
            }
        }
        Ok(servers)
    }

    /// Checks the names NATS constrains: a stream or consumer name takes
    /// no spaces, dots, `*`, `>` or path separators.
    pub fn validate(&self) -> Result<(), ClusterError> {
        let ok = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !ok(&self.stream) {
            return Err(ClusterError::Config(format!("stream name {:?}: letters, digits, - and _ only", self.stream)));
        }
        if !ok(&self.node) {
            return Err(ClusterError::Config(format!("node name {:?}: letters, digits, - and _ only", self.node)));
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err(ClusterError::Config(format!("replicas {}: 1 to 5", self.replicas)));
        }
        Ok(())
    }
}

/// The subjects of the stream.
pub const SUBJECTS: &str = "readnext.>";

/// Events in one message at most: a reader's batch is cut to this, so
/// that a message stays well under the servers' payload limit.
pub const EVENTS_PER_MESSAGE: usize = 1_000;

/// The subject a write travels on. A reader's events travel on a subject
/// of their own (`readnext.events.<hash of the reader>`), so that
/// forgetting the reader can purge them from the log; everything else on a
/// subject per kind.
pub fn subject_of(w: &Write) -> String {
    match w {
        Write::Upsert(_) | Write::Delete(_) => "readnext.articles".into(),
        Write::Events(evs) => match evs.first() {
            Some(e) => reader_subject(&e.user),
            None => "readnext.events".into(),
        },
        Write::Forget(_) => "readnext.forget".into(),
        Write::Vectors(_) => "readnext.vectors".into(),
        Write::Model { .. } => "readnext.models".into(),
        Write::SetPins { .. }
        | Write::Block(_)
        | Write::Unblock(_)
        | Write::SplitStory(_)
        | Write::MergeStories { .. }
        | Write::UnsplitStory(_)
        | Write::UnmergeStory(_) => "readnext.rules".into(),
    }
}

/// The subject of one reader's events.
pub fn reader_subject(user: &str) -> String {
    format!("readnext.events.{:016x}", fnv1a64(user.as_bytes()))
}

/// Cuts writes into the messages they travel as: every write as it is,
/// but events, which are split by reader (in their order) and cut to
/// [`EVENTS_PER_MESSAGE`], so that each message has one reader's subject.
pub fn split_events(writes: Vec<Write>) -> Vec<Write> {
    let mut out = Vec::with_capacity(writes.len());
    for w in writes {
        match w {
            Write::Events(evs) => {
                let mut by_user: Vec<(String, Vec<readnext_core::Event>)> = Vec::new();
                for e in evs {
                    match by_user.iter_mut().find(|(u, _)| *u == e.user) {
                        Some((_, v)) => v.push(e),
                        None => by_user.push((e.user.clone(), vec![e])),
                    }
                }
                for (_, evs) in by_user {
                    for chunk in evs.chunks(EVENTS_PER_MESSAGE) {
                        out.push(Write::Events(chunk.to_vec()));
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use readnext_core::{Event, EventKind};

    fn ev(user: &str, article: &str) -> Event {
        Event {
            user: user.into(),
            article: article.into(),
            kind: EventKind::Click,
            time_ms: 1,
            position: None,
            slate: vec![],
        }
    }

    #[test]
    fn events_travel_per_reader_in_order_and_other_writes_as_they_are() {
        let writes = vec![
            Write::Block("x".into()),
            Write::Events(vec![ev("a", "1"), ev("b", "2"), ev("a", "3")]),
            Write::Delete("y".into()),
        ];
        let out = split_events(writes);
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], Write::Block("x".into()));
        assert_eq!(out[1], Write::Events(vec![ev("a", "1"), ev("a", "3")]));
        assert_eq!(out[2], Write::Events(vec![ev("b", "2")]));
        assert_eq!(out[3], Write::Delete("y".into()));
        assert_eq!(subject_of(&out[1]), reader_subject("a"));
        assert_ne!(subject_of(&out[1]), subject_of(&out[2]));
        assert_eq!(subject_of(&out[0]), "readnext.rules");
        assert_eq!(subject_of(&out[3]), "readnext.articles");
        // A subject token takes no dots or wildcards, whatever the id.
        let s = reader_subject("a.b *>");
        assert!(s.strip_prefix("readnext.events.").is_some_and(|t| t.chars().all(|c| c.is_ascii_hexdigit())));
    }

    #[test]
    fn a_large_batch_is_cut_to_the_message_limit() {
        let evs: Vec<Event> = (0..EVENTS_PER_MESSAGE * 2 + 5).map(|i| ev("a", &i.to_string())).collect();
        let out = split_events(vec![Write::Events(evs.clone())]);
        let sizes: Vec<usize> = out
            .iter()
            .map(|w| match w {
                Write::Events(e) => e.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, vec![EVENTS_PER_MESSAGE, EVENTS_PER_MESSAGE, 5]);
        let back: Vec<Event> = out
            .into_iter()
            .flat_map(|w| match w {
                Write::Events(e) => e,
                _ => vec![],
            })
            .collect();
        assert_eq!(back, evs);
    }

    #[test]
    fn servers_and_names_are_checked() {
        assert_eq!(
            ClusterConfig::parse_servers("nats://127.0.0.1:4222, nats://127.0.0.1:4223").ok(),
            Some(vec!["nats://127.0.0.1:4222".to_string(), "nats://127.0.0.1:4223".to_string()])
        );
        assert!(ClusterConfig::parse_servers("").is_err());
        assert!(ClusterConfig::parse_servers("nats://host").is_err());
        assert!(ClusterConfig::parse_servers("nats://:4222").is_err());
        let mut c = ClusterConfig::new(vec!["nats://127.0.0.1:4222".into()], "node-1");
        assert!(c.validate().is_ok());
        c.node = "node.1".into();
        assert!(c.validate().is_err());
        c.node = "n".into();
        c.replicas = 0;
        assert!(c.validate().is_err());
    }

    #[test]
    fn a_write_survives_the_trip_through_its_encoding() {
        let w = Write::Events(vec![ev("a", "1")]);
        let bytes = w.encode().ok().unwrap_or_default();
        assert_eq!(Write::decode(&bytes).ok(), Some(w));
        assert!(Write::decode(b"\x09garbage").is_err());
        assert!(Write::decode(b"").is_err());
    }
}
