//! Loading an aggregate for a command: its state, where its subject stands and the ids of the
//! commands in it. An aggregate with a snapshot policy ([`crate::snapshot::policy`]) starts
//! from its newest trusted snapshot and reads only the events after it, and writes a new
//! snapshot once that tail has grown to the policy's length; any other loads its whole subject.

use fleetlog_events::{Aggregate, AggregateRef, RecordedEvent};

use crate::error::StoreError;
use crate::handler::CommandService;
use crate::snapshot;

/// An aggregate as loaded from the log.
#[derive(Debug, Clone)]
pub struct Loaded<S> {
    /// The folded state.
    pub state: S,
    /// Stream sequence of the subject's last event (0 if none): the append guard.
    pub last_seq: u64,
    /// Ids of the commands in the history: all of them, or after a snapshot the last
    /// [`snapshot::KEPT_COMMANDS`] before it and all after it.
    pub commands: Vec<String>,
    /// Events read from the log (those after the snapshot when one was used).
    pub replayed: usize,
    /// The stream sequence the snapshot used stands at, if one was.
    pub from_snapshot: Option<u64>,
    /// Events past the newest snapshot (0 right after one was written).
    pub(crate) since_snapshot: usize,
}

impl CommandService {
    /// Loads aggregate `A` with id `id` the way a command does (snapshot and tail, or the whole
    /// history), without the state cache: for tools and tests.
    pub async fn load<A: Aggregate>(&self, tenant: &str, id: &str) -> Result<Loaded<A::State>, StoreError> {
        let agg = AggregateRef { tenant: tenant.to_owned(), kind: A::TYPE.to_owned(), id: id.to_owned() };
        self.load_subject::<A>(&self.store().subject(&agg)?).await
    }

    pub(crate) async fn load_subject<A: Aggregate>(
        &self,
        subject: &str,
    ) -> Result<Loaded<A::State>, StoreError> {
        let policy = snapshot::policy(A::TYPE);
        let snap = match policy {
            Some(_) => self.snapshots().get::<A>(subject).await,
            None => None,
        };
        let from_snapshot = snap.as_ref().map(|s| s.seq);
        let (state, after, mut commands) = match snap {
            Some(s) => (s.state, s.seq, s.commands),
            None => (A::initial(), 0, Vec::new()),
        };
        let history = self.store().load_after(subject, after).await?;
        let state = fold_onto::<A>(state, &history)?;
        commands.extend(history.iter().map(|r| r.envelope.command_id.clone()));
        let mut loaded = Loaded {
            state,
            last_seq: history.last().map_or(after, |r| r.seq),
            commands,
            replayed: history.len(),
            from_snapshot,
            since_snapshot: history.len(),
        };
        if let (Some(p), Some(last)) = (policy, history.last())
            && history.len() >= p.every
        {
            let at = (last.seq, last.envelope.event_id.as_str());
            self.snapshots().put::<A>(subject, &loaded.state, at, &loaded.commands).await;
            loaded.since_snapshot = 0;
        }
        Ok(loaded)
    }

    /// After an append whose last event is `last` (stream sequence, event id): writes a
    /// snapshot of `state` when the events past the newest snapshot reach the policy's length;
    /// returns the new count of events past it.
    pub(crate) async fn after_append<A: Aggregate>(
        &self,
        subject: &str,
        state: &A::State,
        last: (u64, &str),
        commands: &[String],
        since_snapshot: usize,
    ) -> usize {
        match snapshot::policy(A::TYPE) {
            Some(p) if since_snapshot >= p.every => {
                self.snapshots().put::<A>(subject, state, last, commands).await;
                0
            }
            _ => since_snapshot,
        }
    }
}

/// Folds a subject's history into the aggregate's state; returns it with the last sequence.
pub fn fold<A: Aggregate>(history: &[RecordedEvent]) -> Result<(A::State, u64), StoreError> {
    Ok((fold_onto::<A>(A::initial(), history)?, history.last().map_or(0, |r| r.seq)))
}

/// Folds events into a state (the initial one, or a snapshot's).
fn fold_onto<A: Aggregate>(mut state: A::State, history: &[RecordedEvent]) -> Result<A::State, StoreError> {
    for r in history {
        let event = A::Event::try_from(r.envelope.event.clone()).map_err(|_| StoreError::Decode {
            seq: r.seq,
            source: fleetlog_schemas::DecodeError::InvalidField("aggregate_type"),
        })?;
        state = A::evolve(state, &event);
    }
    Ok(state)
}
