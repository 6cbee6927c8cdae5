//! Command handlers: load an aggregate from JetStream, decide with its pure rules, append the
//! resulting events under optimistic concurrency. Queries never come here.

mod cache;
mod error;
mod handler;
mod limits;
mod store;

pub use error::{CommandError, StoreError};
pub use handler::{ClaimOp, CommandMeta, CommandService, Outcome, envelope, fold};
pub use limits::check_token;
pub use store::{Appended, EventStore, StoreConfig, SubjectAppend};

/// The current time as an event timestamp (handlers read the clock, `decide` never does).
pub fn now() -> fleetlog_events::Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    fleetlog_events::Timestamp(micros)
}
