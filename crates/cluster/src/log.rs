//! Publishing to the stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use readnext_store::Write;

use crate::{ClusterConfig, ClusterError, SUBJECTS, reader_subject, subject_of};

/// The write log: one JetStream stream, and the node's connection to it.
pub struct Log {
    js: Context,
    client: async_nats::Client,
    config: ClusterConfig,
    /// Message ids are `node-boot-counter`: unique in the cluster, and the
    /// same across the retries of one write, so that JetStream keeps only
    /// one copy of a write whose first acknowledgement was lost.
    boot: u64,
    counter: AtomicU64,
}

/// How long a node waits at start for the stream (the NATS servers elect
/// a JetStream leader first).
const STREAM_WAIT: Duration = Duration::from_secs(60);

/// The wait between two tries of one publish.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

impl Log {
    /// Connects to the servers and finds the stream, or creates it (with
    /// `replicas` replicas on file storage, subjects [`SUBJECTS`], the
    /// default two-minute window that drops a retried message id).
    pub async fn connect(config: ClusterConfig) -> Result<Log, ClusterError> {
        config.validate()?;
        let servers = config.servers.join(",");
        let addrs: Vec<async_nats::ServerAddr> = config
            .servers
            .iter()
            .map(|s| s.parse::<async_nats::ServerAddr>())
            .collect::<Result<_, _>>()
            .map_err(|e| ClusterError::Config(format!("{servers}: {e}")))?;
        let client = async_nats::ConnectOptions::new()
            .name(format!("readnext-{}", config.node))
            .connection_timeout(Duration::from_secs(5))
            .max_reconnects(None)
            .connect(addrs)
            .await
            .map_err(|e| ClusterError::Connect { servers: servers.clone(), reason: e.to_string() })?;
        let js = async_nats::jetstream::ContextBuilder::new().timeout(Duration::from_secs(5)).build(client.clone());
        let boot =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let log = Log { js, client, config, boot, counter: AtomicU64::new(0) };
        log.ensure_stream().await?;
        Ok(log)
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    async fn ensure_stream(&self) -> Result<(), ClusterError> {
        let cfg = StreamConfig {
            name: self.config.stream.clone(),
            subjects: vec![SUBJECTS.into()],
            storage: StorageType::File,
            num_replicas: self.config.replicas,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let started = Instant::now();
        loop {
            match self.js.get_or_create_stream(cfg.clone()).await {
                Ok(s) => {
                    let have = s.cached_info().config.num_replicas;
                    if have != self.config.replicas {
                        tracing::warn!(stream = %self.config.stream, have, want = self.config.replicas,
                            "the stream exists with another replica count; it is kept as it is");
                    }
                    return Ok(());
                }
                Err(e) if started.elapsed() < STREAM_WAIT => {
                    tracing::info!(stream = %self.config.stream, "waiting for JetStream: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    return Err(ClusterError::Stream { stream: self.config.stream.clone(), reason: e.to_string() });
                }
            }
        }
    }

    /// Publishes one write and answers its stream sequence once a quorum
    /// of the stream's servers has it. A publish that fails for want of a
    /// leader or an answer is tried again with the same message id (the
    /// stream keeps one copy) until [`ClusterConfig::publish_timeout`];
    /// then it is [`ClusterError::Unavailable`] and the write is not
    /// acknowledged (it may still be in the log, once: its retry by the
    /// client is the same write again, which applies as a no-op if
    /// unchanged).
    pub async fn publish(&self, w: &Write) -> Result<u64, ClusterError> {
        let payload = self.encoded(w)?;
        let id = self.next_id();
        self.publish_with(w, &id, payload).await
    }

    /// The write as a message payload, or [`ClusterError::TooLarge`] past
    /// the servers' `max_payload` (less room for the headers).
    fn encoded(&self, w: &Write) -> Result<bytes::Bytes, ClusterError> {
        let bytes = w.encode().map_err(|e| ClusterError::Encode(e.to_string()))?;
        let max = self.client.server_info().max_payload;
        if max > 0 && bytes.len() + 256 > max {
            return Err(ClusterError::TooLarge { bytes: bytes.len(), max });
        }
        Ok(bytes::Bytes::from(bytes))
    }

    fn next_id(&self) -> String {
        format!("{}-{:x}-{}", self.config.node, self.boot, self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Publishes `payload` (the write `w`) under the message id `id`,
    /// trying again until the publish timeout.
    async fn publish_with(&self, w: &Write, id: &str, payload: bytes::Bytes) -> Result<u64, ClusterError> {
        let max = self.client.server_info().max_payload;
        let subject = subject_of(w);
        let deadline = Instant::now() + self.config.publish_timeout;
        let mut last_error;
        loop {
            let msg = PublishMessage::build().payload(payload.clone()).message_id(id);
            let tried = match self.js.send_publish(subject.clone(), msg).await {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match tried {
                Ok(ack) => return Ok(ack.sequence),
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    return Err(ClusterError::TooLarge { bytes: payload.len(), max });
                }
                Err(e) => last_error = e.to_string(),
            }
            if Instant::now() + RETRY_PAUSE >= deadline {
                return Err(ClusterError::Unavailable(last_error));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Publishes writes in order and answers their sequences. The
    /// messages are sent one after the other on the node's connection
    /// before any acknowledgement is awaited, so the stream takes them in
    /// this order; a write whose acknowledgement failed is then tried again
    /// alone (with its message id), which may put it after the others.
    pub async fn publish_all(&self, writes: &[Write]) -> Result<Vec<u64>, ClusterError> {
        let mut pending = Vec::with_capacity(writes.len());
        for w in writes {
            let payload = self.encoded(w)?;
            let id = self.next_id();
            let msg = PublishMessage::build().payload(payload.clone()).message_id(&id);
            let sent = self.js.send_publish(subject_of(w), msg).await.ok();
            pending.push((w, id, payload, sent));
        }
        let mut seqs = Vec::with_capacity(writes.len());
        for (w, id, payload, sent) in pending {
            let first = match sent {
                Some(ack) => ack.await.ok(),
                None => None,
            };
            match first {
                Some(ack) => seqs.push(ack.sequence),
                None => seqs.push(self.publish_with(w, &id, payload).await?),
            }
        }
        Ok(seqs)
    }

    /// Removes a reader's events from the log, those before `before` (the
    /// sequence of the [`Write::Forget`] that erased them), so that a node
    /// replaying the stream later does not bring the reader back. Events
    /// the reader sends after being forgotten stay.
    pub async fn purge_reader(&self, user: &str, before: u64) -> Result<u64, ClusterError> {
        let stream = self.stream().await?;
        let purged = stream
            .purge()
            .filter(reader_subject(user))
            .sequence(before)
            .await
            .map_err(|e| ClusterError::Unavailable(format!("purging reader events: {e}")))?;
        Ok(purged.purged)
    }

    /// The sequence of the last message in the stream.
    pub async fn last_sequence(&self) -> Result<u64, ClusterError> {
        let stream = self.stream().await?;
        let info = stream.get_info().await.map_err(|e| ClusterError::Unavailable(format!("stream info: {e}")))?;
        Ok(info.state.last_sequence)
    }

    pub(crate) async fn stream(&self) -> Result<async_nats::jetstream::stream::Stream, ClusterError> {
        self.js
            .get_stream(&self.config.stream)
            .await
            .map_err(|e| ClusterError::Unavailable(format!("stream {}: {e}", self.config.stream)))
    }
}
