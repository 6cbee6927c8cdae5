//! Read models fed from the log: each one a sled tree, applied in batches by a projection
//! runner that stores its checkpoint in the same atomic batch as its writes.
//!
//! A new read model is one [`Projection`] impl plus a line in the gateway's host set-up.

pub mod audit;
pub mod deployments;
pub mod devices;
mod feed;
mod host;
pub mod integrations;
pub mod inventory;
mod model;
pub mod monitor;
mod rebuild;
pub mod releases;
pub mod remote;
pub mod reporting;
pub mod snapshot;
pub mod tail;
#[cfg(test)]
mod testing;
pub mod users;
mod view;
mod writer;

pub use host::{HostConfig, ProjectionHost};
pub use model::Model;
pub use view::ReadModel;
pub use writer::Writer;

use fleetlog_events::RecordedEvent;

/// A read model's rules: how one event changes its sled tree.
///
/// `apply` must be deterministic and depend only on the event and what the tree holds, so that
/// a rebuild from position 1 yields the same bytes as live operation.
pub trait Projection: Send + Sync + 'static {
    /// Stable name: the sled tree prefix and the metric label.
    fn name(&self) -> &'static str;

    /// Shape version of the stored data. Bumping it rebuilds the model from the log at start.
    fn version(&self) -> u32;

    /// Applies one event. Keys starting with `0x00` are reserved for the runner.
    fn apply(&self, w: &mut Writer<'_>, event: &RecordedEvent) -> Result<(), ProjectionError>;
}

/// Why a read model could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The local sled store failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value could not be (de)serialized.
    #[error("codec: {0}")]
    Codec(String),
    /// An event in the log could not be decoded; the model stops rather than skip it.
    #[error("undecodable event at {seq}: {source}")]
    Decode {
        /// Stream sequence.
        seq: u64,
        /// What is wrong.
        #[source]
        source: fleetlog_schemas::DecodeError,
    },
    /// NATS failed.
    #[error("nats: {0}")]
    Nats(String),
    /// The shared reader of several read models failed (the same error reaches each of them).
    #[error(transparent)]
    Shared(std::sync::Arc<ProjectionError>),
    /// A rebuild of this model is already running.
    #[error("read model {0} is already being rebuilt")]
    AlreadyRebuilding(String),
    /// No read model has that name.
    #[error("no read model named {0}")]
    UnknownModel(String),
}

/// Why a query could not be answered: the client's question was wrong, or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query is invalid (an unknown operator, an operand of the wrong type…); the text
    /// says what, for the client.
    #[error("{0}")]
    Invalid(String),
    /// The read model failed.
    #[error(transparent)]
    Store(#[from] ProjectionError),
}

impl From<sled::Error> for QueryError {
    fn from(e: sled::Error) -> Self {
        QueryError::Store(e.into())
    }
}

/// Default page cache of the read models' sled store, MiB. sled's own default (1 GiB) alone
/// would spend the memory budget of a million-device server (1 GiB of RSS); sled counts its
/// cache in encoded bytes, so the process holds more than this for it. At 1M devices 64 MiB
/// beat 256 MiB on every figure of the scale bench (steady RSS 1.2 vs 1.7 GiB, first build
/// 1.35×, reports 2.9×, polls during a burst p99 89 ms vs 12.5 s: bench/RESULTS.md).
pub const DEFAULT_CACHE_MB: u64 = 64;

/// Opens the read models' sled database at `path` with a page cache of `cache_mb` MiB.
pub fn open_store(path: &std::path::Path, cache_mb: u64) -> Result<sled::Db, sled::Error> {
    sled::Config::new().path(path).cache_capacity(cache_mb.saturating_mul(1 << 20)).open()
}

/// Encodes a stored value (MessagePack: compact, schema-less, fast).
pub fn to_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ProjectionError> {
    rmp_serde::to_vec_named(value).map_err(|e| ProjectionError::Codec(e.to_string()))
}

/// Decodes a stored value.
pub fn from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ProjectionError> {
    rmp_serde::from_slice(bytes).map_err(|e| ProjectionError::Codec(e.to_string()))
}

/// Microseconds since the epoch as RFC 3339 (how Mender shows times).
pub fn rfc3339(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
