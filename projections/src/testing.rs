//! A given/when/then harness for read models: events go through a projection into a temporary
//! sled tree the way the runner applies them (one [`Writer`] batch, committed with its
//! checkpoint), and tests read the result through the model's own queries.
//!
//! ```ignore
//! Given::new(DevicesProjection)
//!     .event("device", "d1", submitted("as1"))
//!     .when("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as1".into() })
//!     .then(|m| assert_eq!(DevicesQueries(m).count(T, None).unwrap(), 1));
//! ```

use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope, RecordedEvent, Timestamp};

use crate::host::apply_batch;
use crate::writer::checkpoint;
use crate::{Projection, ReadModel};

/// The tenant of every harness event.
pub(crate) const T: &str = "default";

/// When the first event happened (2023-11-14T22:13:20Z), microseconds; each next one is 1 s on.
pub(crate) const START: i64 = 1_700_000_000_000_000;

/// The events that happened, in log order.
pub(crate) struct Given<P: Projection> {
    projection: P,
    events: Vec<RecordedEvent>,
    actor: Actor,
    at: i64,
}

impl<P: Projection> Given<P> {
    /// No events yet; the actor is an operator until [`Given::by`] says otherwise.
    pub fn new(projection: P) -> Self {
        Given {
            projection,
            events: Vec::new(),
            actor: Actor::user("u-admin", "admin@example.com"),
            at: START,
        }
    }

    /// Who causes the next events.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    /// When the next event happens, microseconds (later ones follow 1 s apart).
    pub fn at(mut self, micros: i64) -> Self {
        self.at = micros;
        self
    }

    /// One more event of aggregate `kind`/`id`, at the next stream sequence.
    pub fn event(mut self, kind: &str, id: &str, event: impl Into<DomainEvent>) -> Self {
        let seq = self.events.len() as u64 + 1;
        let envelope = EventEnvelope {
            event_id: format!("0190a5e0-0000-7000-8000-{seq:012}"),
            aggregate: AggregateRef { tenant: T.into(), kind: kind.into(), id: id.into() },
            occurred_at: Timestamp(self.at),
            actor: self.actor.clone(),
            command_id: format!("cmd-{seq}"),
            correlation_id: format!("req-{seq}"),
            event: event.into(),
        };
        self.events.push(RecordedEvent { seq, envelope });
        self.at += 1_000_000;
        self
    }

    /// The event under test (an [`Given::event`] that reads better last).
    pub fn when(self, kind: &str, id: &str, event: impl Into<DomainEvent>) -> Self {
        self.event(kind, id, event)
    }

    /// The events so far, as the log holds them.
    pub fn events(&self) -> &[RecordedEvent] {
        &self.events
    }

    /// Applies every event in one batch and hands the model to `check`.
    pub fn then(self, check: impl FnOnce(&ReadModel)) {
        check(&self.model());
    }

    /// Applies every event in one batch.
    pub fn model(&self) -> Applied {
        self.model_in_batches(usize::MAX)
    }

    /// Applies the events in batches of `size`, each committed with its checkpoint.
    pub fn model_in_batches(&self, size: usize) -> Applied {
        let db = sled::Config::new().temporary(true).open().expect("temporary sled");
        let tree = db.open_tree(format!("rm/{}/1", self.projection.name())).expect("tree");
        for batch in self.events.chunks(size.max(1)) {
            apply_batch(&tree, &self.projection, batch).expect("apply");
        }
        let position = checkpoint(&tree).expect("checkpoint");
        assert_eq!(position, self.events.last().map_or(0, |e| e.seq), "checkpoint after the last event");
        let model = ReadModel::new(self.projection.name(), tree, self.projection.version(), position);
        Applied { model, _db: db }
    }

    /// Replaying the log from scratch gives the same bytes, in one batch or one event per
    /// batch (the writer's pending writes must read like the tree).
    #[track_caller]
    pub fn assert_deterministic(&self) {
        let once = self.model().content_hash().expect("hash");
        assert_eq!(once, self.model().content_hash().expect("hash"), "a second replay differs");
        assert_eq!(once, self.model_in_batches(1).content_hash().expect("hash"), "batch size matters");
        assert_eq!(once, self.model_in_batches(2).content_hash().expect("hash"), "batch size matters");
    }

    /// An event of aggregate `kind`/`id` that the model must not be changed by.
    #[track_caller]
    pub fn assert_ignores(self, kind: &str, id: &str, event: impl Into<DomainEvent>) {
        let before = self.model().entries();
        assert!(!before.is_empty(), "a history to compare with");
        let after = self.event(kind, id, event).model().entries();
        assert_eq!(before, after, "the model changed");
    }
}

/// A read model after the given events, over its own temporary database.
pub(crate) struct Applied {
    model: ReadModel,
    _db: sled::Db,
}

impl Applied {
    /// Every key and value but the runner's own (checkpoint), in key order.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let tree = self.model.tree();
        let all =
            tree.iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<Vec<_>, _>>();
        all.expect("iterate").into_iter().filter(|(k, _)| !k.starts_with(&[0])).collect()
    }
}

impl std::ops::Deref for Applied {
    type Target = ReadModel;
    fn deref(&self) -> &ReadModel {
        &self.model
    }
}
