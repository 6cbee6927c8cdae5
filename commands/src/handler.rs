//! The command loop: load an aggregate, decide, append under optimistic concurrency, retry.

use fleetlog_events::{Actor, Aggregate, AggregateRef, EventEnvelope, Timestamp};

use crate::error::{CommandError, StoreError};
use crate::store::{EventStore, SubjectAppend};

/// How often a command is decided again after losing a race, before answering 409.
const MAX_ATTEMPTS: usize = 5;

/// Who asks, on whose behalf, and under which ids; resolved by the caller before deciding.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    /// Tenant id.
    pub tenant: String,
    /// Who acts.
    pub actor: Actor,
    /// Idempotency key: a retry of the same command must reuse it.
    pub command_id: String,
    /// The request id (`X-MEN-RequestID`).
    pub correlation_id: String,
    /// The decision time.
    pub now: Timestamp,
}

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The log position that read models must reach for the caller to see the result.
    pub position: u64,
    /// How many events were appended (0 for an idempotent repeat or a retried command).
    pub appended: usize,
    /// True when this command id had already been stored: nothing new was written.
    pub duplicate: bool,
}

/// Runs commands against aggregates in the event store.
#[derive(Clone)]
pub struct CommandService {
    store: EventStore,
}

impl CommandService {
    /// A service over one store.
    pub fn new(store: EventStore) -> Self {
        CommandService { store }
    }

    /// The underlying store.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// Decides `command` against aggregate `A` with id `id` and appends the resulting events.
    ///
    /// A command whose id is already in the aggregate's history is not decided again: its
    /// first outcome stands (idempotent retries). Losing a race reloads and decides again.
    pub async fn execute<A: Aggregate>(
        &self,
        meta: &CommandMeta,
        id: &str,
        command: &A::Command,
    ) -> Result<Outcome, CommandError<A::Error>> {
        let agg = AggregateRef { tenant: meta.tenant.clone(), kind: A::TYPE.to_owned(), id: id.to_owned() };
        let subject = self.store.subject(&agg)?;
        for attempt in 1..=MAX_ATTEMPTS {
            let history = self.store.load(&subject).await?;
            let expected = history.last().map_or(0, |r| r.seq);
            if history.iter().any(|r| r.envelope.command_id == meta.command_id) {
                return Ok(Outcome { position: expected, appended: 0, duplicate: true });
            }
            let mut state = A::initial();
            for r in &history {
                let event = A::Event::try_from(r.envelope.event.clone()).map_err(|_| StoreError::Decode {
                    seq: r.seq,
                    source: fleetlog_schemas::DecodeError::InvalidField("aggregate_type"),
                })?;
                state = A::evolve(state, &event);
            }
            let events = A::decide(&state, command).map_err(CommandError::Rejected)?;
            if events.is_empty() {
                return Ok(Outcome { position: expected, appended: 0, duplicate: false });
            }
            let envelopes: Vec<EventEnvelope> =
                events.into_iter().map(|e| envelope(meta, &agg, e.into())).collect();
            let append =
                SubjectAppend { subject: subject.clone(), expected_last_seq: expected, events: &envelopes };
            match self.store.append(&meta.command_id, &[append]).await {
                Ok(done) => {
                    return Ok(Outcome {
                        position: done.last_seq,
                        appended: envelopes.len(),
                        duplicate: false,
                    });
                }
                // Someone else wrote first, or our own earlier attempt did: the reload tells which.
                Err(StoreError::Conflict { .. } | StoreError::Duplicate) => {
                    tracing::debug!(%subject, attempt, "append lost a race; deciding again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Conflict)
    }
}

/// Wraps one decided event with the command's metadata and a fresh UUIDv7.
pub fn envelope(
    meta: &CommandMeta,
    agg: &AggregateRef,
    event: fleetlog_events::DomainEvent,
) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate: agg.clone(),
        occurred_at: meta.now,
        actor: meta.actor.clone(),
        command_id: meta.command_id.clone(),
        correlation_id: meta.correlation_id.clone(),
        event,
    }
}
