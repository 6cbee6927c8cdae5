//! The command loop: load an aggregate, decide, append under optimistic concurrency, retry.

use fleetlog_events::claim::{Claim, ClaimCommand, ClaimError};
use fleetlog_events::{Actor, Aggregate, AggregateRef, EventEnvelope, Timestamp};

use crate::cache::StateCache;
use crate::error::{CommandError, StoreError};
use crate::load::fold;
use crate::ride_out::RideOut;
use crate::snapshot::Snapshots;
use crate::store::{EventStore, SubjectAppend};

/// How often a command is decided again after losing a race, before answering 409.
pub(crate) const MAX_ATTEMPTS: usize = 5;

/// A uniqueness claim to take or release together with a command.
#[derive(Debug, Clone, Copy)]
pub enum ClaimOp<'a> {
    /// Take this claim id for the aggregate ([`CommandError::Taken`] if another holds it).
    Take(&'a str),
    /// Release this claim id if the aggregate holds it.
    Release(&'a str),
}

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

impl CommandMeta {
    /// Metadata for a new command (fresh command id, the current time) by `actor`, on behalf
    /// of request `correlation_id`.
    pub fn new(tenant: &str, actor: Actor, correlation_id: &str) -> Self {
        CommandMeta {
            tenant: tenant.to_owned(),
            actor,
            command_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: correlation_id.to_owned(),
            now: crate::now(),
        }
    }
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
    cache: std::sync::Arc<StateCache>,
    snapshots: std::sync::Arc<Snapshots>,
}

/// Aggregates whose state this process keeps between commands.
const CACHED_AGGREGATES: usize = 50_000;

impl CommandService {
    /// A service over one store.
    pub fn new(store: EventStore) -> Self {
        let snapshots = std::sync::Arc::new(Snapshots::new(store.clone()));
        CommandService { store, cache: std::sync::Arc::new(StateCache::new(CACHED_AGGREGATES)), snapshots }
    }

    pub(crate) fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    pub(crate) fn cache(&self) -> &StateCache {
        &self.cache
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
        self.execute_with_claims::<A>(meta, id, command, &[]).await
    }

    /// Like [`CommandService::execute`], and also takes the uniqueness claim `claim_id` for this
    /// aggregate in the same atomic batch: two aggregates racing for one unique value (an
    /// e-mail, a device identity) cannot both win. A claim held by another aggregate is
    /// [`CommandError::Taken`].
    pub async fn execute_claiming<A: Aggregate>(
        &self,
        meta: &CommandMeta,
        id: &str,
        command: &A::Command,
        claim_id: &str,
    ) -> Result<Outcome, CommandError<A::Error>> {
        self.execute_with_claims::<A>(meta, id, command, &[ClaimOp::Take(claim_id)]).await
    }

    /// Like [`CommandService::execute`], and also releases claim `claim_id` if this aggregate
    /// holds it, in the same atomic batch (e.g. decommissioning frees the device identity).
    pub async fn execute_releasing<A: Aggregate>(
        &self,
        meta: &CommandMeta,
        id: &str,
        command: &A::Command,
        claim_id: &str,
    ) -> Result<Outcome, CommandError<A::Error>> {
        self.execute_with_claims::<A>(meta, id, command, &[ClaimOp::Release(claim_id)]).await
    }

    /// Who holds claim `claim_id`, read from the log (authoritative, unlike a read model).
    pub async fn claim_holder(&self, tenant: &str, claim_id: &str) -> Result<Option<String>, StoreError> {
        let agg =
            AggregateRef { tenant: tenant.to_owned(), kind: Claim::TYPE.to_owned(), id: claim_id.to_owned() };
        let history = self.store.load(&self.store.subject(&agg)?).await?;
        Ok(fold::<Claim>(&history)?.0.holder)
    }

    /// Like [`CommandService::execute`], with any number of claims taken or released for this
    /// aggregate in the same atomic batch (changing an e-mail releases the old and takes the new).
    pub async fn execute_with_claims<A: Aggregate>(
        &self,
        meta: &CommandMeta,
        id: &str,
        command: &A::Command,
        claim_ops: &[ClaimOp<'_>],
    ) -> Result<Outcome, CommandError<A::Error>> {
        let agg = AggregateRef { tenant: meta.tenant.clone(), kind: A::TYPE.to_owned(), id: id.to_owned() };
        let subject = self.store.subject(&agg)?;
        let claims = claim_ops
            .iter()
            .map(|op| {
                let (claim_id, holder) = match op {
                    ClaimOp::Take(c) | ClaimOp::Release(c) => (*c, id.to_owned()),
                };
                let agg = AggregateRef {
                    tenant: meta.tenant.clone(),
                    kind: Claim::TYPE.to_owned(),
                    id: claim_id.to_owned(),
                };
                let command = match op {
                    ClaimOp::Take(_) => ClaimCommand::Take { holder },
                    ClaimOp::Release(_) => ClaimCommand::Release { holder },
                };
                self.store.subject(&agg).map(|s| (agg, s, command))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut ride = RideOut::new();
        let mut attempt = 0;
        'attempts: while attempt < MAX_ATTEMPTS {
            attempt += 1;
            // The first attempt decides on the cached state when there is one; a conflict
            // means it was stale, and the next attempt reads the log.
            let cached = if attempt == 1 { self.cache.get::<A::State>(&subject) } else { None };
            let (state, expected, mut commands, since_snapshot) = match cached {
                Some(c) => (c.state, c.last_seq, c.commands, c.since_snapshot),
                None => match self.load_subject::<A>(&subject).await {
                    Ok(l) => (l.state, l.last_seq, l.commands, l.since_snapshot),
                    // Not a lost race: this attempt does not count.
                    Err(e) if ride.retry(&e).await => {
                        attempt -= 1;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if commands.contains(&meta.command_id) {
                return Ok(Outcome { position: expected, appended: 0, duplicate: true });
            }
            let events = A::decide(&state, command).map_err(CommandError::Rejected)?;
            let next_state = events.iter().fold(state, |s, e| A::evolve(s, e));
            let own_events = events.len();
            let mut envelopes =
                vec![events.into_iter().map(|e| envelope(meta, &agg, e.into())).collect::<Vec<_>>()];
            let mut appends_meta = vec![(subject.clone(), expected)];
            for (claim_agg, claim_subject, op) in &claims {
                let claim_history = match self.store.load(claim_subject).await {
                    Ok(h) => h,
                    Err(e) if ride.retry(&e).await => {
                        attempt -= 1;
                        continue 'attempts;
                    }
                    Err(e) => return Err(e.into()),
                };
                let (claim_state, claim_expected) = fold::<Claim>(&claim_history)?;
                let taken = Claim::decide(&claim_state, op).map_err(|e| match e {
                    ClaimError::Taken(holder) => CommandError::Taken { holder },
                    // Only a new aggregate's take (`TakeNew`, not used here) is refused so.
                    ClaimError::Released(_) => CommandError::Conflict,
                })?;
                envelopes.push(taken.into_iter().map(|e| envelope(meta, claim_agg, e.into())).collect());
                appends_meta.push((claim_subject.clone(), claim_expected));
            }
            let appends: Vec<SubjectAppend<'_>> = appends_meta
                .into_iter()
                .zip(&envelopes)
                .filter(|(_, events)| !events.is_empty())
                .map(|((subject, expected_last_seq), events)| SubjectAppend {
                    subject,
                    expected_last_seq,
                    events,
                })
                .collect();
            if appends.is_empty() {
                return Ok(Outcome { position: expected, appended: 0, duplicate: false });
            }
            let appended: usize = appends.iter().map(|a| a.events.len()).sum();
            match self.store.append(&meta.command_id, &appends).await {
                Ok(done) => {
                    if own_events > 0 {
                        // The aggregate's events come first in the batch.
                        let last_own = done.last_seq - appended as u64 + own_events as u64;
                        commands.push(meta.command_id.clone());
                        let last = (last_own, envelopes[0][own_events - 1].event_id.as_str());
                        let since = since_snapshot + own_events;
                        let since =
                            self.after_append::<A>(&subject, &next_state, last, &commands, since).await;
                        self.cache.put(&subject, next_state, last_own, commands, since);
                    }
                    return Ok(Outcome { position: done.last_seq, appended, duplicate: false });
                }
                // Someone else wrote first, or our own earlier attempt did: the reload tells which.
                Err(StoreError::Conflict { .. } | StoreError::Duplicate) => {
                    self.cache.forget(&subject);
                    tracing::debug!(%subject, attempt, "append lost a race; deciding again");
                }
                // Nothing stored, or not known: decide again on what the log says once it answers.
                Err(e) if ride.retry(&e).await => {
                    self.cache.forget(&subject);
                    attempt -= 1;
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
