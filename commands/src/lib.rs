//! Command handlers. [`app`] is the application layer every caller goes through (the
//! gateway's handlers, the CLI, process managers): one module per aggregate area with its
//! commands and queries, transport-neutral. Below it, the command loop loads an aggregate from
//! JetStream, decides with its pure rules and appends the resulting events under optimistic
//! concurrency; [`auth`] holds the keys tokens are signed with and device keys' checks.

pub mod app;
pub mod auth;
mod cache;
mod claim_first;
mod error;
mod handler;
mod limits;
mod load;
mod ride_out;
pub mod snapshot;
mod store;

pub use error::{CommandError, StoreError};
pub use handler::{ClaimOp, CommandMeta, CommandService, Outcome, envelope};
pub use limits::check_token;
pub use load::{Loaded, fold};
pub use store::{Appended, EventStore, StoreConfig, SubjectAppend};

/// The current time as an event timestamp (handlers read the clock, `decide` never does).
pub fn now() -> fleetlog_events::Timestamp {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default();
    fleetlog_events::Timestamp(micros)
}
