//! Snapshots of aggregates whose histories keep growing (a device's inventory gets a report
//! every few hours for years), so that loading one reads a bounded tail of its subject instead
//! of every event since the device was born.
//!
//! A snapshot is derived data, never the truth: it lives in a JetStream key-value bucket beside
//! the log (`<stream>-snapshots`, one key per aggregate, only the newest kept), and a snapshot
//! that cannot be trusted is ignored and the aggregate replayed from the log. It is ignored when
//! it does not decode (corrupt), when its state shape version is not this build's (the state's
//! type changed: bump [`policy`]'s `shape` with it), when it belongs to another aggregate, or
//! when the event it claims to end at is not in the log (a stream recreated under the same
//! name). Which aggregates are snapshotted is the table in [`policy`].

use std::any::Any;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use fleetlog_events::Aggregate;
use fleetlog_events::inventory::{Inventory, InventoryState};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::store::EventStore;

/// How an aggregate type is snapshotted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A new snapshot after this many events past the last one.
    pub every: usize,
    /// The version of the state's stored shape; a snapshot of another version is ignored.
    pub shape: u32,
}

/// The aggregates worth a snapshot: those whose histories grow without bound while the state
/// stays small. Others (most: a device's auth sets, a deployment) load from the log.
pub fn policy(aggregate_type: &str) -> Option<Policy> {
    match aggregate_type {
        // Shape 1: InventoryState { attributes, tags, tags_etag, group }.
        Inventory::TYPE => Some(Policy { every: 64, shape: 1 }),
        _ => None,
    }
}

/// How many command ids a snapshot keeps, so that a retry of a recent command is still
/// recognised as a repeat after a load from the snapshot.
pub const KEPT_COMMANDS: usize = 32;

/// The stored form: the state with where in the log it stands.
#[derive(Serialize, Deserialize)]
struct Stored<S> {
    aggregate: String,
    shape: u32,
    /// Stream sequence of the last event folded in.
    seq: u64,
    /// That event's id: the check that the log still holds it.
    event_id: String,
    /// Ids of the commands of the last events, newest last.
    commands: Vec<String>,
    state: S,
}

/// A snapshot read back.
pub struct Snapshot<S> {
    /// The state after the event at `seq`.
    pub state: S,
    /// Stream sequence of the last event folded in.
    pub seq: u64,
    /// Ids of the commands of the last events, newest last.
    pub commands: Vec<String>,
}

/// The bucket name of a stream's snapshots.
pub fn bucket(stream: &str) -> String {
    format!("{stream}-snapshots")
}

/// The key of a subject's snapshot (subject tokens may hold `:`, which keys may not; `=` is
/// never in a token, so the mapping is one to one).
pub fn key(subject: &str) -> String {
    subject.replace(':', "=")
}

/// Encodes the snapshot of `A`'s `state` after the event at stream sequence `seq` with id
/// `event_id` (`None` if `A` is not snapshotted).
pub fn encode<A: Aggregate>(
    state: &A::State,
    seq: u64,
    event_id: &str,
    commands: &[String],
) -> Option<Vec<u8>> {
    let policy = policy(A::TYPE)?;
    let state: &dyn Any = state;
    let keep = &commands[commands.len().saturating_sub(KEPT_COMMANDS)..];
    let stored = |state| Stored {
        aggregate: A::TYPE.to_owned(),
        shape: policy.shape,
        seq,
        event_id: event_id.to_owned(),
        commands: keep.to_vec(),
        state,
    };
    match A::TYPE {
        Inventory::TYPE => rmp_serde::to_vec_named(&stored(state.downcast_ref::<InventoryState>()?)).ok(),
        _ => None,
    }
}

/// Decodes a snapshot of `A`; `None` when it is corrupt, of another shape version or of another
/// aggregate type. Also returns the id of the event it ends at, to check against the log.
pub fn decode<A: Aggregate>(bytes: &[u8]) -> Option<(Snapshot<A::State>, String)> {
    let policy = policy(A::TYPE)?;
    match A::TYPE {
        Inventory::TYPE => decode_as::<InventoryState, A::State>(bytes, A::TYPE, policy.shape),
        _ => None,
    }
}

fn decode_as<T: DeserializeOwned + 'static, S: 'static>(
    bytes: &[u8],
    aggregate: &str,
    shape: u32,
) -> Option<(Snapshot<S>, String)> {
    let stored: Stored<T> = rmp_serde::from_slice(bytes).ok()?;
    if stored.aggregate != aggregate || stored.shape != shape {
        return None;
    }
    let state = (Box::new(stored.state) as Box<dyn Any>).downcast::<S>().ok()?;
    Some((Snapshot { state: *state, seq: stored.seq, commands: stored.commands }, stored.event_id))
}

/// The snapshot bucket of one store, opened on first use.
pub(crate) struct Snapshots {
    store: EventStore,
    bucket: tokio::sync::OnceCell<kv::Store>,
}

impl Snapshots {
    pub(crate) fn new(store: EventStore) -> Snapshots {
        Snapshots { store, bucket: tokio::sync::OnceCell::new() }
    }

    /// The bucket, created if missing; `None` (and a warning) when JetStream refuses: loads
    /// then replay from the log, and the next use tries again.
    async fn bucket(&self) -> Option<&kv::Store> {
        let open = || async {
            let js = jetstream::new(self.store.client().clone());
            let cfg = self.store.config();
            js.create_or_update_key_value(kv::Config {
                bucket: bucket(&cfg.stream),
                description: "aggregate snapshots (derived from the log; safe to delete)".into(),
                history: 1,
                storage: jetstream::stream::StorageType::File,
                num_replicas: cfg.replicas,
                ..Default::default()
            })
            .await
        };
        match self.bucket.get_or_try_init(open).await {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!(error = %e, "snapshot bucket unavailable; loading from the log");
                None
            }
        }
    }

    /// The newest snapshot of `subject` that can be trusted, if any.
    pub(crate) async fn get<A: Aggregate>(&self, subject: &str) -> Option<Snapshot<A::State>> {
        let bytes = match self.bucket().await?.get(key(subject)).await {
            Ok(bytes) => bytes?,
            Err(e) => {
                tracing::warn!(%subject, error = %e, "snapshot unreadable; loading from the log");
                return None;
            }
        };
        let Some((snapshot, event_id)) = decode::<A>(&bytes) else {
            tracing::info!(%subject, "snapshot of another shape or corrupt; replaying from the log");
            return None;
        };
        // The event it ends at must be in the log, on this subject, with this id.
        let msg = self.store.stream().direct_get(snapshot.seq).await.ok()?;
        let envelope = fleetlog_schemas::decode(&msg.payload).ok()?;
        if msg.subject.as_str() != subject || envelope.event_id != event_id {
            tracing::warn!(%subject, seq = snapshot.seq, "snapshot does not match the log; replaying");
            return None;
        }
        Some(snapshot)
    }

    /// Stores `A`'s state after the event at `seq` with id `event_id`. A failure only costs a
    /// longer load later.
    pub(crate) async fn put<A: Aggregate>(
        &self,
        subject: &str,
        state: &A::State,
        (seq, event_id): (u64, &str),
        commands: &[String],
    ) {
        let Some(bytes) = encode::<A>(state, seq, event_id, commands) else { return };
        let Some(bucket) = self.bucket().await else { return };
        if let Err(e) = bucket.put(key(subject), Bytes::from(bytes)).await {
            tracing::warn!(%subject, error = %e, "snapshot not stored");
        }
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
