//! Applying the stream in order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use futures_util::{FutureExt, StreamExt};
use readnext_store::{Applied, Write};
use tokio::sync::watch;

use crate::{ClusterError, Log};

/// What applies the writes of the log: the node's engine. The contract:
/// [`Apply::apply`] applies `writes[i]` at position `first + i` in one
/// store transaction, records the last position, and answers
/// [`Applied::Replayed`] for a position already applied; so a write
/// delivered twice, or after a crash between apply and acknowledgement,
/// changes nothing. [`Apply::applied`] answers the last recorded position.
pub trait Apply: Send + Sync + 'static {
    /// The position of the last applied write (0 before any).
    fn applied(&self) -> Result<u64, String>;
    /// Applies `writes` at positions `first..`, in one transaction.
    fn apply(&self, first: u64, writes: &[Write]) -> Result<Vec<Applied>, String>;
}

/// How far behind the stream a node is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    /// Writes in the stream that this node has not applied.
    pub messages: u64,
    /// Age of the oldest of them, roughly: how long ago the last applied
    /// write was published, while any is pending; 0 when none is.
    pub seconds: f64,
    /// The position of the last applied write.
    pub applied: u64,
    /// The stream's last sequence, as last read.
    pub last: u64,
}

/// Outcomes kept for waiting requests: the writes of about the last
/// minute at a high rate.
const RESULTS_KEPT: usize = 100_000;

/// Messages applied in one transaction at most.
const APPLY_BATCH: usize = 512;

/// How often the stream's last sequence is read, for the lag.
const LAG_EVERY: Duration = Duration::from_millis(500);

/// Applies the stream to one node, in order, and tells waiting requests
/// when their write is applied.
pub struct Follower {
    applied: watch::Sender<u64>,
    results: Mutex<BTreeMap<u64, Applied>>,
    last: AtomicU64,
    /// Publish time (ms) of the last applied message.
    applied_published_ms: AtomicU64,
    /// The last error that stopped applying, if applying is stopped.
    stuck: Mutex<Option<String>>,
    stopped: AtomicBool,
}

impl Follower {
    /// Starts following `log` into `target`, from the position after the
    /// one `target` recorded, on the current tokio runtime. The consumer is
    /// durable, named after the node, and three-way replicated like the
    /// stream, so that it survives the loss of a NATS server; it is made
    /// anew at every start from the store's position, since the store, not
    /// the consumer, knows what was applied.
    ///
    /// The stream's last sequence is read before this returns, so that a
    /// node far behind never reports itself caught up.
    pub async fn start(log: Arc<Log>, target: Arc<dyn Apply>) -> Result<Arc<Follower>, ClusterError> {
        let at = target.applied().map_err(|e| ClusterError::Stream {
            stream: log.config().stream.clone(),
            reason: format!("reading the applied position: {e}"),
        })?;
        let last = log.last_sequence().await?;
        let (applied, _) = watch::channel(at);
        let f = Arc::new(Follower {
            applied,
            results: Mutex::new(BTreeMap::new()),
            last: AtomicU64::new(last.max(at)),
            applied_published_ms: AtomicU64::new(0),
            stuck: Mutex::new(None),
            stopped: AtomicBool::new(false),
        });
        {
            let (f, log, target) = (f.clone(), log.clone(), target.clone());
            tokio::spawn(async move { f.follow(log, target).await });
        }
        {
            let (f, log) = (f.clone(), log);
            tokio::spawn(async move { f.watch_lag(log).await });
        }
        Ok(f)
    }

    /// Stops following (at the next message).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// The position of the last applied write.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// How far behind the stream this node is.
    pub fn lag(&self) -> Lag {
        let applied = self.applied();
        let last = self.last.load(Ordering::Relaxed).max(applied);
        let messages = last - applied;
        let seconds = if messages == 0 {
            0.0
        } else {
            let at = self.applied_published_ms.load(Ordering::Relaxed);
            let now = now_ms();
            if at == 0 { 0.0 } else { now.saturating_sub(at) as f64 / 1000.0 }
        };
        Lag { messages, seconds, applied, last }
    }

    /// Why applying is stopped, when it is (a message that cannot be
    /// decoded or applied: the node retries it, and is not ready).
    pub fn stuck(&self) -> Option<String> {
        self.stuck.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until the write at `seq` is applied here, up to `timeout`;
    /// answers what it did, or `None` if it is not applied in time (or its
    /// outcome is no longer kept).
    pub async fn wait(&self, seq: u64, timeout: Duration) -> Option<Applied> {
        let mut rx = self.applied.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|at| *at >= seq)).await;
        if !matches!(reached, Ok(Ok(_))) {
            return None;
        }
        self.results.lock().unwrap_or_else(|p| p.into_inner()).get(&seq).copied()
    }

    /// [`Follower::wait`] for many writes: waits for the last, then
    /// answers each one's outcome.
    pub async fn wait_all(&self, seqs: &[u64], timeout: Duration) -> Vec<Option<Applied>> {
        let Some(&max) = seqs.iter().max() else { return vec![] };
        if self.wait(max, timeout).await.is_none() && self.applied() < max {
            return vec![None; seqs.len()];
        }
        let results = self.results.lock().unwrap_or_else(|p| p.into_inner());
        seqs.iter().map(|s| results.get(s).copied()).collect()
    }

    async fn watch_lag(&self, log: Arc<Log>) {
        while !self.stopped.load(Ordering::Relaxed) {
            match log.last_sequence().await {
                Ok(last) => self.last.store(last, Ordering::Relaxed),
                Err(e) => tracing::debug!("reading the stream's last sequence: {e}"),
            }
            tokio::time::sleep(LAG_EVERY).await;
        }
    }

    async fn follow(&self, log: Arc<Log>, target: Arc<dyn Apply>) {
        while !self.stopped.load(Ordering::Relaxed) {
            match self.follow_once(&log, &target).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!("following the write log: {e}; starting again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// One consumer's life: made at the store's position, read until it
    /// fails.
    async fn follow_once(&self, log: &Log, target: &Arc<dyn Apply>) -> Result<(), String> {
        let start = target.applied()? + 1;
        let stream = log.stream().await.map_err(|e| e.to_string())?;
        let name = log.config().node.clone();
        // The store knows what was applied; a consumer left by an earlier
        // run may be ahead of it (the store was restored) or behind.
        let _ = stream.delete_consumer(&name).await;
        let consumer = stream
            .create_consumer(PullConfig {
                durable_name: Some(name.clone()),
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start },
                ack_policy: AckPolicy::All,
                max_ack_pending: 20_000,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("consumer {name}: {e}"))?;
        let mut messages = consumer.messages().await.map_err(|e| format!("consumer {name}: {e}"))?;
        tracing::info!(node = %name, from = start, "following the write log");
        while !self.stopped.load(Ordering::Relaxed) {
            let first = match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
                Err(_) => continue,
                Ok(None) => return Err("the consumer's message stream ended".into()),
                Ok(Some(m)) => m.map_err(|e| e.to_string())?,
            };
            // What else is ready joins the first in one transaction.
            let mut batch = vec![first];
            while batch.len() < APPLY_BATCH {
                match messages.next().now_or_never() {
                    Some(Some(Ok(m))) => batch.push(m),
                    Some(Some(Err(e))) => return Err(e.to_string()),
                    _ => break,
                }
            }
            self.apply_batch(&stream, target, &batch).await?;
            if let Some(last) = batch.last() {
                last.ack().await.map_err(|e| format!("acknowledging: {e}"))?;
            }
        }
        Ok(())
    }

    /// Applies messages, in runs of consecutive sequences, each run in one
    /// transaction. A run must start right after the last applied position,
    /// or after sequences the stream no longer holds (a purge's gap): a
    /// consumer that failed over may deliver past a message it had sent to
    /// a dead connection, and applying past it would lose it for good (its
    /// redelivery would be a replay). Then this consumer is given up, and
    /// the next one starts at the first missing sequence.
    async fn apply_batch(
        &self,
        stream: &async_nats::jetstream::stream::Stream,
        target: &Arc<dyn Apply>,
        batch: &[async_nats::jetstream::Message],
    ) -> Result<(), String> {
        let mut runs: Vec<(u64, Vec<Write>, u64)> = Vec::new();
        for m in batch {
            let info = m.info().map_err(|e| format!("a message without its metadata: {e}"))?;
            let seq = info.stream_sequence;
            let published = (info.published.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
            let w = match Write::decode(&m.payload) {
                Ok(w) => w,
                Err(e) => {
                    // Skipping it would make this node diverge for good;
                    // stopping here keeps it behind, and says why.
                    let why = format!("the write at sequence {seq} cannot be read: {e}");
                    *self.stuck.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                    return Err(why);
                }
            };
            match runs.last_mut() {
                Some((first, ws, p)) if *first + ws.len() as u64 == seq => {
                    ws.push(w);
                    *p = published;
                }
                _ => runs.push((seq, vec![w], published)),
            }
        }
        for (first, writes, published) in runs {
            let applied_at = self.applied();
            if first + writes.len() as u64 - 1 <= applied_at {
                continue; // a redelivery of what is applied: nothing to do
            }
            let mut missing = applied_at + 1;
            while missing < first {
                match stream.get_raw_message(missing).await {
                    Ok(_) => {
                        return Err(format!("sequence {missing} was skipped by the consumer; following again from it"));
                    }
                    Err(e) if e.kind() == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
                        missing += 1;
                    }
                    Err(e) => return Err(format!("checking sequence {missing}: {e}")),
                }
            }
            let t = target.clone();
            let n = writes.len() as u64;
            let applied = tokio::task::spawn_blocking(move || t.apply(first, &writes))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| {
                    let why = format!("applying sequences {first}..{}: {e}", first + n - 1);
                    *self.stuck.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                    why
                })?;
            *self.stuck.lock().unwrap_or_else(|p| p.into_inner()) = None;
            {
                let mut results = self.results.lock().unwrap_or_else(|p| p.into_inner());
                for (i, a) in applied.into_iter().enumerate() {
                    results.entry(first + i as u64).or_insert(a);
                }
                while results.len() > RESULTS_KEPT {
                    results.pop_first();
                }
            }
            self.applied_published_ms.store(published, Ordering::Relaxed);
            self.applied.send_modify(|at| *at = (*at).max(first + n - 1));
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
