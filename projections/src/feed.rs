//! Events from the log in batches, through an ordered consumer starting after a checkpoint.
//!
//! A reader task fetches and decodes the next batches while the runner applies the current
//! one, so a rebuild costs about the slower of reading and applying, not their sum. One reader
//! can serve several feeds ([`Feed::open_shared`]): every read model then shares one consumer
//! and one decoded copy of each event, instead of nine of each.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, push::Ordered, push::OrderedConfig};
use async_nats::jetstream::stream::Stream;
use async_nats::{Client, Statistics};
use fleetlog_events::RecordedEvent;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use crate::ProjectionError;

/// A batch of decoded events and how many more the server had at the last one.
#[derive(Clone)]
pub(crate) struct Batch {
    pub events: Vec<RecordedEvent>,
    pub pending: u64,
}

impl Batch {
    /// The stream's last position as this batch saw it (`position` for an empty batch).
    pub fn end(&self, position: u64) -> u64 {
        self.events.last().map_or(position, |e| e.seq) + self.pending
    }
}

/// How long the feed waits idle before it checks whether the connection was re-established.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// How long the feed may sit idle before it asks the stream whether there is more than it has:
/// an ordered consumer whose stream leader died (a cluster node killed) only notices after
/// missed heartbeats (10 s), which would hold read-your-writes past its deadline.
const STALL_CHECK: Duration = Duration::from_secs(2);

/// How long one attempt to reopen the consumer (or to ask the stream) may take: during a
/// leader election a JetStream request waits out its whole timeout, and the feed must try
/// again as soon as there is a leader.
const REOPEN_TIMEOUT: Duration = Duration::from_secs(1);

/// Batches read ahead at most.
const READ_AHEAD: usize = 4;

/// What a reader hands each feed: the batch itself is shared, never copied per feed.
type Item = Result<Arc<Batch>, Arc<ProjectionError>>;

/// Decoded batches from a reader task, which stops once every feed it serves is dropped.
pub(crate) struct Feed {
    batches: mpsc::Receiver<Item>,
    _reader: Arc<AbortOnDrop>,
}

/// Stops the reader task when the last feed holding it goes.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Feed {
    /// Starts reading at stream sequence `after + 1`, in batches of at most `max` events.
    pub async fn open(
        stream: &Stream,
        client: &Client,
        after: u64,
        max: usize,
    ) -> Result<Feed, ProjectionError> {
        let mut feeds = Self::open_shared(stream, client, after, max, 1).await?;
        Ok(feeds.pop().expect("one feed was asked for"))
    }

    /// `n` feeds over one reader starting at stream sequence `after + 1`: each event is fetched
    /// and decoded once for all of them. The reader stays at most [`READ_AHEAD`] batches ahead
    /// of the slowest feed; a dropped feed is left out from then on.
    pub async fn open_shared(
        stream: &Stream,
        client: &Client,
        after: u64,
        max: usize,
        n: usize,
    ) -> Result<Vec<Feed>, ProjectionError> {
        let mut reader = Reader::open(stream, client, after).await?;
        let (mut senders, receivers): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel(READ_AHEAD)).unzip();
        let task = tokio::spawn(async move {
            loop {
                let item = reader.next_batch(max).await.map(Arc::new).map_err(Arc::new);
                let failed = item.is_err();
                senders = fan_out(senders, item).await;
                if senders.is_empty() || failed {
                    return;
                }
            }
        });
        let reader = Arc::new(AbortOnDrop(task));
        Ok(receivers.into_iter().map(|batches| Feed { batches, _reader: reader.clone() }).collect())
    }

    /// The next batch (waits for at least one event).
    pub async fn next_batch(&mut self) -> Result<Arc<Batch>, ProjectionError> {
        match self.batches.recv().await {
            Some(Ok(batch)) => Ok(batch),
            Some(Err(e)) => Err(ProjectionError::Shared(e)),
            None => Err(ProjectionError::Nats("feed reader stopped".into())),
        }
    }

    /// The next batch to own: a copy only when another feed still shares it.
    pub async fn next_owned(&mut self) -> Result<Batch, ProjectionError> {
        Ok(Arc::try_unwrap(self.next_batch().await?).unwrap_or_else(|shared| Batch::clone(&shared)))
    }
}

/// Hands `item` to every feed still open (the last one gets it without a clone of the handle,
/// so a single feed owns its batches) and returns those feeds.
async fn fan_out(senders: Vec<mpsc::Sender<Item>>, item: Item) -> Vec<mpsc::Sender<Item>> {
    let mut open = Vec::with_capacity(senders.len());
    let mut item = Some(item);
    let last = senders.len().saturating_sub(1);
    for (i, tx) in senders.into_iter().enumerate() {
        let this = if i == last { item.take() } else { item.clone() };
        if let Some(this) = this
            && tx.send(this).await.is_ok()
        {
            open.push(tx);
        }
    }
    open
}

/// A push ordered consumer over the whole stream (server-paced with flow control: the fastest
/// way to read the log in order). Ordered consumers recreate themselves after a gap, but only
/// notice a restarted server (which forgot the consumer) after missed heartbeats; the reader
/// reopens itself as soon as it sees the client has reconnected.
struct Reader {
    messages: Ordered,
    stream: Stream,
    client: Client,
    stats: Arc<Statistics>,
    connects: u64,
    last_seq: u64,
    /// When a message last arrived or the stream was last asked (see [`STALL_CHECK`]).
    checked: std::time::Instant,
}

impl Reader {
    async fn open(stream: &Stream, client: &Client, after: u64) -> Result<Reader, ProjectionError> {
        let stats = client.statistics();
        let connects = stats.connects.load(Ordering::Relaxed);
        let messages = Self::consume(stream, client, after).await?;
        Ok(Reader {
            messages,
            stream: stream.clone(),
            client: client.clone(),
            stats,
            connects,
            last_seq: after,
            checked: std::time::Instant::now(),
        })
    }

    async fn consume(stream: &Stream, client: &Client, after: u64) -> Result<Ordered, ProjectionError> {
        let deliver_policy = if after == 0 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence { start_sequence: after + 1 }
        };
        let config =
            OrderedConfig { deliver_subject: client.new_inbox(), deliver_policy, ..Default::default() };
        let consumer = stream.create_consumer(config).await.map_err(nats)?;
        consumer.messages().await.map_err(nats)
    }

    /// Reopens the consumer after the last delivered event if the client reconnected since.
    async fn reopen_if_reconnected(&mut self) -> Result<(), ProjectionError> {
        let connects = self.stats.connects.load(Ordering::Relaxed);
        if connects != self.connects {
            tracing::info!(after = self.last_seq, "NATS reconnected; reopening the feed");
            self.messages = Self::reopen(&self.stream, &self.client, self.last_seq).await?;
            self.connects = connects;
        }
        Ok(())
    }

    /// Reopens the consumer after the last delivered event if it has been idle for
    /// [`STALL_CHECK`] while the stream holds more (its leader moved, say).
    async fn reopen_if_stalled(&mut self) -> Result<(), ProjectionError> {
        if self.checked.elapsed() < STALL_CHECK {
            return Ok(());
        }
        self.checked = std::time::Instant::now();
        let mut stream = self.stream.clone();
        let info = tokio::time::timeout(REOPEN_TIMEOUT, stream.info())
            .await
            .map_err(|_| ProjectionError::Nats("asking the stream timed out".into()))?;
        let last = info.map_err(nats)?.state.last_sequence;
        if last > self.last_seq {
            tracing::info!(after = self.last_seq, last, "the feed stalled behind the stream; reopening it");
            self.messages = Self::reopen(&self.stream, &self.client, self.last_seq).await?;
        }
        Ok(())
    }

    /// A new consumer after the last delivered event, or a quick failure (retried at the next
    /// idle check).
    async fn reopen(stream: &Stream, client: &Client, after: u64) -> Result<Ordered, ProjectionError> {
        tokio::time::timeout(REOPEN_TIMEOUT, Self::consume(stream, client, after))
            .await
            .map_err(|_| ProjectionError::Nats("reopening the consumer timed out".into()))?
    }

    /// Waits for at least one event, then takes whatever else is already buffered, up to `max`.
    async fn next_batch(&mut self, max: usize) -> Result<Batch, ProjectionError> {
        let mut events = Vec::with_capacity(max.min(1024));
        let mut pending = 0;
        let first = loop {
            let next = match tokio::time::timeout(IDLE_CHECK, self.messages.next()).await {
                Ok(next) => next,
                Err(_idle) => {
                    // A failed reopen (server still starting) is retried at the next idle check.
                    let reopened = match self.reopen_if_reconnected().await {
                        Ok(()) => self.reopen_if_stalled().await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = reopened {
                        tracing::warn!(error = %e, "reopening the feed");
                    }
                    continue;
                }
            };
            match next {
                Some(Ok(m)) => break m,
                // Transient (missed heartbeats, reconnects): the ordered consumer recovers itself.
                Some(Err(e)) => tracing::warn!(error = %e, "ordered consumer error; it resumes by itself"),
                None => return Err(ProjectionError::Nats("ordered consumer ended".into())),
            }
        };
        self.checked = std::time::Instant::now();
        let floor = self.last_seq;
        push(&mut events, &mut pending, floor, first)?;
        while events.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => push(&mut events, &mut pending, floor, m)?,
                Some(Some(Err(e))) => {
                    tracing::warn!(error = %e, "ordered consumer error; it resumes by itself");
                    break;
                }
                Some(None) | None => break,
            }
        }
        self.last_seq = events.last().map_or(self.last_seq, |e| e.seq);
        Ok(Batch { events, pending })
    }
}

/// Decodes one message into the batch. A message at or below `floor` (or below the batch's
/// last) was already delivered before a reopen and is dropped, so nothing is applied twice.
fn push(
    events: &mut Vec<RecordedEvent>,
    pending: &mut u64,
    floor: u64,
    m: async_nats::jetstream::Message,
) -> Result<(), ProjectionError> {
    let info = m.info().map_err(nats)?;
    let seq = info.stream_sequence;
    *pending = info.pending;
    if seq <= events.last().map_or(floor, |e| e.seq) {
        return Ok(());
    }
    let envelope =
        fleetlog_schemas::decode(&m.payload).map_err(|source| ProjectionError::Decode { seq, source })?;
    events.push(RecordedEvent { seq, envelope });
    Ok(())
}

pub(crate) fn nats(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Nats(e.to_string())
}
