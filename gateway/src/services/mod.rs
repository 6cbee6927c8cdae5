//! What handlers and CLI subcommands call: build commands (ids, clock, hashing resolved
//! first), run them, and map the outcome. Rules stay in `fleetlog-events`.

pub mod artifacts;
pub mod configuration;
pub mod deployments;
pub mod devices;
pub mod direct_upload;
pub mod filters;
pub mod history;
pub mod inventory;
pub mod releases;
pub mod search;
pub mod users;

use sha2::{Digest, Sha256};

use crate::http::ApiError;
use crate::state::AppState;

/// The claim id of a unique value of some kind (see `fleetlog_events::claim`).
pub fn claim_id(kind: &str, value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    fleetlog_events::claim::claim_id(kind, &hex)
}

/// Runs `f` over the remote-access read model.
pub fn remote<T>(
    state: &AppState,
    f: impl FnOnce(
        &fleetlog_projections::remote::RemoteQueries<'_>,
    ) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, ApiError> {
    let model = state.model(fleetlog_projections::Model::Remote)?;
    Ok(f(&fleetlog_projections::remote::RemoteQueries(&model))?)
}
