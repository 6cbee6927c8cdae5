//! Events from the log in batches, through an ordered consumer starting after a checkpoint.

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig, pull::Ordered};
use async_nats::jetstream::stream::Stream;
use fleetlog_events::RecordedEvent;
use futures::{FutureExt, StreamExt};

use crate::ProjectionError;

/// A batch of decoded events and how many more the server had at the last one.
pub(crate) struct Batch {
    pub events: Vec<RecordedEvent>,
    pub pending: u64,
}

/// An ordered consumer over the whole stream. Ordered consumers recreate themselves after a
/// gap or a reconnect, resuming after the last sequence they delivered.
pub(crate) struct Feed {
    messages: Ordered,
}

impl Feed {
    /// Starts reading at stream sequence `after + 1`.
    pub async fn open(stream: &Stream, after: u64) -> Result<Feed, ProjectionError> {
        let deliver_policy = if after == 0 {
            DeliverPolicy::All
        } else {
            DeliverPolicy::ByStartSequence { start_sequence: after + 1 }
        };
        let consumer = stream
            .create_consumer(OrderedConfig { deliver_policy, ..Default::default() })
            .await
            .map_err(nats)?;
        let messages = consumer.messages().await.map_err(nats)?;
        Ok(Feed { messages })
    }

    /// Waits for at least one event, then takes whatever else is already buffered, up to `max`.
    pub async fn next_batch(&mut self, max: usize) -> Result<Batch, ProjectionError> {
        let mut events = Vec::with_capacity(max.min(1024));
        let mut pending = 0;
        let first = loop {
            match self.messages.next().await {
                Some(Ok(m)) => break m,
                // Transient (missed heartbeats, reconnects): the ordered consumer recovers itself.
                Some(Err(e)) => tracing::warn!(error = %e, "ordered consumer error; it resumes by itself"),
                None => return Err(ProjectionError::Nats("ordered consumer ended".into())),
            }
        };
        push(&mut events, &mut pending, first)?;
        while events.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(m))) => push(&mut events, &mut pending, m)?,
                Some(Some(Err(e))) => {
                    tracing::warn!(error = %e, "ordered consumer error; it resumes by itself");
                    break;
                }
                Some(None) | None => break,
            }
        }
        Ok(Batch { events, pending })
    }
}

fn push(
    events: &mut Vec<RecordedEvent>,
    pending: &mut u64,
    m: async_nats::jetstream::Message,
) -> Result<(), ProjectionError> {
    let info = m.info().map_err(nats)?;
    let seq = info.stream_sequence;
    *pending = info.pending;
    let envelope = fleetlog_schemas::decode(&m.payload).map_err(|source| ProjectionError::Decode { seq, source })?;
    events.push(RecordedEvent { seq, envelope });
    Ok(())
}

pub(crate) fn nats(e: impl std::fmt::Display) -> ProjectionError {
    ProjectionError::Nats(e.to_string())
}
