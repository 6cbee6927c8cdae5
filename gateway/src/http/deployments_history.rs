//! An operator's actions on one device's deployments: abort every unfinished one
//! (`DELETE .../deployments/devices/{id}`) and reset its deployment history
//! (`DELETE .../deployments/devices/{id}/history`: finished parts leave the device's history).
//! Each part changed is an event on its own device-deployment aggregate.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::delete;
use fleetlog_events::deployment::device::{DeviceDeployment, DeviceDeploymentCommand};

use super::deployments::BASE;
use super::{ApiError, UserAuth};
use crate::services::deployments::{deployments, part_id};
use crate::state::AppState;

/// The routes (the device's history list, `GET` on the first path, is in `deployments`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{BASE}/devices/{{id}}"), delete(abort_all))
        .route(&format!("{BASE}/devices/{{id}}/history"), delete(reset_history))
}

/// Runs `command` on each of the device's parts that `wanted` picks (by "finished").
async fn on_parts(
    state: &AppState,
    user: &UserAuth,
    device: &str,
    wanted: impl Fn(bool) -> bool,
    command: DeviceDeploymentCommand,
) -> Result<StatusCode, ApiError> {
    // Device ids are UUIDs; anything longer cannot have parts and must not reach a subject.
    if device.is_empty() || device.len() > 64 {
        return Ok(StatusCode::NO_CONTENT);
    }
    let parts = deployments(state, |q| q.history(crate::DEFAULT_TENANT, device))?;
    let mut last = 0;
    for p in parts.iter().filter(|p| wanted(p.status.is_finished())) {
        let id = part_id(&p.deployment_id, device);
        let out = state.commands.execute::<DeviceDeployment>(&user.meta(), &id, &command).await?;
        last = last.max(out.position);
    }
    if last > 0 {
        state.seen(last).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn abort_all(
    State(state): State<AppState>,
    user: UserAuth,
    Path(device): Path<String>,
) -> Result<StatusCode, ApiError> {
    on_parts(&state, &user, &device, |finished| !finished, DeviceDeploymentCommand::Abort).await
}

async fn reset_history(
    State(state): State<AppState>,
    user: UserAuth,
    Path(device): Path<String>,
) -> Result<StatusCode, ApiError> {
    let command = DeviceDeploymentCommand::DeleteFromHistory { finished: true };
    on_parts(&state, &user, &device, |finished| finished, command).await
}
