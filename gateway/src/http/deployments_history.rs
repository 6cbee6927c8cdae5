//! An operator's actions on one device's deployments: abort every unfinished one
//! (`DELETE .../deployments/devices/{id}`) and reset its deployment history
//! (`DELETE .../deployments/devices/{id}/history`: finished parts leave the device's history).
//! Each part changed is an event on its own device-deployment aggregate.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::delete;
use fleetlog_events::deployment::device::DeviceDeploymentCommand;

use super::deployments::BASE;
use super::{ApiError, UserAuth};
use crate::app::deployments::on_device_parts;
use crate::state::AppState;

/// The routes (the device's history list, `GET` on the first path, is in `deployments`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{BASE}/devices/{{id}}"), delete(abort_all))
        .route(&format!("{BASE}/devices/{{id}}/history"), delete(reset_history))
}

async fn abort_all(
    State(state): State<AppState>,
    user: UserAuth,
    Path(device): Path<String>,
) -> Result<StatusCode, ApiError> {
    on_device_parts(&state, &user.caller, &device, |finished| !finished, &DeviceDeploymentCommand::Abort)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_history(
    State(state): State<AppState>,
    user: UserAuth,
    Path(device): Path<String>,
) -> Result<StatusCode, ApiError> {
    let command = DeviceDeploymentCommand::DeleteFromHistory { finished: true };
    on_device_parts(&state, &user.caller, &device, |finished| finished, &command).await?;
    Ok(StatusCode::NO_CONTENT)
}
