//! Tailing the log for people and other tools: events from a position (or from now on),
//! filtered by tenant, aggregate type and id on the server (subject filter) and by event type
//! here, decoded into the current domain shape.

use async_nats::jetstream::consumer::{DeliverPolicy, push::Ordered, push::OrderedConfig};
use fleetlog_events::{AGGREGATE_TYPES, EVENT_TYPES, RecordedEvent};
use futures::StreamExt;

use crate::ProjectionError;
use crate::feed::nats;

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct TailFilter {
    /// Only this tenant.
    pub tenant: Option<String>,
    /// Only this aggregate type (`device`, `user`, ...).
    pub aggregate_type: Option<String>,
    /// Only this aggregate id.
    pub id: Option<String>,
    /// Only this event type (`AuthSetAccepted`, ...).
    pub event_type: Option<String>,
}

/// Why a tail cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    /// A filter names something that does not exist or cannot be a subject token.
    #[error("{0}")]
    BadFilter(String),
    /// The start position is past the end of the log.
    #[error("position {from} is beyond the end of the log (last position {last})")]
    BeyondEnd {
        /// Asked for.
        from: u64,
        /// The last position.
        last: u64,
    },
    /// NATS failed.
    #[error(transparent)]
    Nats(#[from] ProjectionError),
}

impl TailFilter {
    /// Checks the filter and returns the subject filter for the stream with `prefix`.
    pub fn subject(&self, prefix: &str) -> Result<String, TailError> {
        let token = |name: &str, v: &Option<String>| match v.as_deref() {
            None | Some("") => Ok("*".to_owned()),
            // The filter is part of the consumer's subject (and its API request's subject).
            Some(t) if !fleetlog_events::token::is_subject_token(t) => {
                let shown: String = t.chars().take(64).collect();
                Err(TailError::BadFilter(format!("invalid {name} {shown:?}")))
            }
            Some(t) => Ok(t.to_owned()),
        };
        if let Some(t) =
            self.aggregate_type.as_deref().filter(|t| !t.is_empty() && !AGGREGATE_TYPES.contains(t))
        {
            return Err(TailError::BadFilter(format!(
                "unknown aggregate type {t:?}; known: {}",
                AGGREGATE_TYPES.join(", ")
            )));
        }
        if let Some(t) = self.event_type.as_deref().filter(|t| !t.is_empty() && !EVENT_TYPES.contains(t)) {
            return Err(TailError::BadFilter(format!(
                "unknown event type {t:?}; known: {}",
                EVENT_TYPES.join(", ")
            )));
        }
        Ok(format!(
            "{prefix}.{}.{}.{}",
            token("tenant", &self.tenant)?,
            token("aggregate type", &self.aggregate_type)?,
            token("id", &self.id)?
        ))
    }
}

/// A live, filtered view of the log.
pub struct Tail {
    messages: Ordered,
    event_type: Option<String>,
    pending: u64,
    follow: bool,
}

impl Tail {
    /// Starts at position `from` (inclusive), or with the next new event when `None`. Without
    /// `follow`, the tail ends once it has caught up with the log as it was when opened.
    pub async fn open(
        client: &async_nats::Client,
        stream: &str,
        prefix: &str,
        filter: &TailFilter,
        from: Option<u64>,
        follow: bool,
    ) -> Result<Tail, TailError> {
        let subject = filter.subject(prefix)?;
        let js = async_nats::jetstream::new(client.clone());
        let mut stream = js.get_stream(stream).await.map_err(nats)?;
        let last = stream.info().await.map_err(nats)?.state.last_sequence;
        let deliver_policy = match from {
            None => DeliverPolicy::New,
            Some(from) if from > last + 1 => return Err(TailError::BeyondEnd { from, last }),
            Some(0 | 1) => DeliverPolicy::All,
            Some(from) => DeliverPolicy::ByStartSequence { start_sequence: from },
        };
        let config = OrderedConfig {
            deliver_subject: client.new_inbox(),
            filter_subject: subject,
            deliver_policy,
            ..Default::default()
        };
        let consumer = stream.create_consumer(config).await.map_err(nats)?;
        let pending = consumer.cached_info().num_pending;
        let messages = consumer.messages().await.map_err(nats)?;
        let event_type = filter.event_type.clone().filter(|t| !t.is_empty());
        Ok(Tail { messages, event_type, pending, follow })
    }

    /// Events of the subject filter still to come from the log as it was at the last event read
    /// (0: caught up). The event-type filter may skip some of them.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// The next matching event; waits for one. `None` when the connection closed for good.
    pub async fn next(&mut self) -> Option<Result<RecordedEvent, ProjectionError>> {
        loop {
            if !self.follow && self.pending == 0 {
                return None;
            }
            let m = match self.messages.next().await? {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "tail consumer error; it resumes by itself");
                    continue;
                }
            };
            let seq = match m.info() {
                Ok(info) => {
                    self.pending = info.pending;
                    info.stream_sequence
                }
                Err(e) => return Some(Err(nats(e))),
            };
            if let Some(wanted) = &self.event_type {
                // The header names the event type: no need to decode what is filtered out.
                let header = m.headers.as_ref().and_then(|h| h.get("Fleetlog-Event")).map(|v| v.as_str());
                if header.is_some_and(|t| t != wanted) {
                    continue;
                }
            }
            let envelope = match fleetlog_schemas::decode(&m.payload) {
                Ok(e) => e,
                Err(source) => return Some(Err(ProjectionError::Decode { seq, source })),
            };
            if self.event_type.as_deref().is_some_and(|t| t != envelope.event.event_type()) {
                continue;
            }
            return Some(Ok(RecordedEvent { seq, envelope }));
        }
    }
}
