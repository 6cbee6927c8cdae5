//! Mender's inventory v2 statistics (`GET /api/management/v2/inventory/statistics`): accepted
//! and pending devices per device tier, which the web GUI's dashboard and deployment dialog
//! read to decide whether there are devices to deploy to.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fleetlog_events::device::DeviceStatus;
use serde_json::json;

use super::{ApiError, UserAuth};
use crate::app::devices::devices;
use crate::state::AppState;

/// The statistics route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/management/v2/inventory/statistics", get(statistics))
}

/// Counts from the devices read model's status index. Mender's tiers are `standard`, `micro`
/// and `system`; fleetlog has no tiers, so every device is `standard` (Mender's default for a
/// device without a tier).
async fn statistics(State(state): State<AppState>, user: UserAuth) -> Result<Response, ApiError> {
    let count = |status| devices(&state, |d| d.count(user.tenant(), Some(status)));
    let tiers = |standard: usize| json!({ "standard": standard, "micro": 0, "system": 0 });
    let body = json!({
        "devices_by_status": {
            "accepted": tiers(count(DeviceStatus::Accepted)?),
            "pending": tiers(count(DeviceStatus::Pending)?),
        }
    });
    Ok(Json(body).into_response())
}
