//! Mender's deployments device API: `next` (v2 POST with `device_provides`, which carries the
//! deployment's update control map to clients that ask for it; v1 POST with flat provides; v1
//! GET), the control map refresh, status reports and log uploads. A poll that finds nothing
//! records nothing.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use fleetlog_events::deployment::DeviceDeploymentStatus;
use fleetlog_events::deployment::device::DeviceDeploymentCommand;
use serde::Deserialize;
use serde_json::Value;

use super::json::AppJson;
use super::{ApiError, DeviceAuth, RequestId};
use crate::app::deployments::{NextQuery, deployments, device_command, next};
use crate::state::AppState;

/// Largest deployment log kept (JSON bytes).
const MAX_LOG_BYTES: usize = 512 * 1024;

/// The device routes.
pub fn router() -> Router<AppState> {
    let base = "/api/devices/v1/deployments/device/deployments";
    Router::new()
        .route(&format!("{base}/next"), post(next_post).get(next_get))
        .route(&format!("{base}/{{id}}/status"), put(status))
        .route(&format!("{base}/{{id}}/log"), put(log))
        .route("/api/devices/v2/deployments/device/deployments/next", post(next_v2))
        .route("/api/devices/v2/deployments/device/deployments/{id}/update_control_map", get(control_map))
}

/// What the device runs; further keys (the 3.4 client's flat provides) are ignored.
#[derive(Debug, Deserialize)]
struct Provides {
    #[serde(default)]
    artifact_name: String,
    #[serde(default)]
    device_type: String,
}

fn check(p: &Provides) -> Result<(), ApiError> {
    let ok = |s: &str| !s.is_empty() && s.len() <= 4096;
    if ok(&p.artifact_name) && ok(&p.device_type) {
        Ok(())
    } else {
        Err(ApiError::BadRequest("artifact_name and device_type are required (1 to 4096 characters)".into()))
    }
}

async fn answer(
    state: &AppState,
    device: &DeviceAuth,
    request_id: &str,
    p: &Provides,
    control_map: bool,
) -> Result<Response, ApiError> {
    check(p)?;
    let asked = NextQuery { artifact_name: &p.artifact_name, device_type: &p.device_type, control_map };
    Ok(match next(state, device.borrowed(request_id), asked).await? {
        Some(instructions) => Json(instructions).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn next_post(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(p): AppJson<Provides>,
) -> Result<Response, ApiError> {
    answer(&state, &device, &request_id, &p, false).await
}

/// The v2 body: what the device provides, and whether it takes update control maps.
#[derive(Debug, Deserialize)]
struct NextV2 {
    device_provides: Provides,
    #[serde(default)]
    update_control_map: bool,
}

async fn next_v2(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<NextV2>,
) -> Result<Response, ApiError> {
    answer(&state, &device, &request_id, &body.device_provides, body.update_control_map).await
}

/// `GET v2/.../{id}/update_control_map`: the map a paused client refreshes (404 without one).
async fn control_map(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match crate::app::rollouts::device_control_map(&state, device.borrowed(&request_id), &id)? {
        Some(map) => Ok(super::deployments_rollout::device_map_json(map)),
        None => Err(ApiError::NotFound("no update control map for this device and deployment".into())),
    }
}

async fn next_get(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    Query(p): Query<Provides>,
) -> Result<Response, ApiError> {
    answer(&state, &device, &request_id, &p, false).await
}

#[derive(Debug, Deserialize)]
struct StatusIn {
    status: String,
    #[serde(default)]
    substate: String,
}

async fn status(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    Path(id): Path<String>,
    AppJson(body): AppJson<StatusIn>,
) -> Result<StatusCode, ApiError> {
    let reported = DeviceDeploymentStatus::parse(&body.status)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid status {:?}", body.status)))?;
    crate::app::deployments::report(&state, &device.caller(&request_id), &id, reported, body.substate)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct LogMessage {
    timestamp: String,
    level: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct LogIn {
    messages: Vec<LogMessage>,
}

async fn log(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    Path(id): Path<String>,
    AppJson(body): AppJson<LogIn>,
) -> Result<StatusCode, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::BadRequest("deployment id must be a UUID".into()));
    }
    if body.messages.is_empty() {
        return Err(ApiError::BadRequest("messages must not be empty".into()));
    }
    let t = device.tenant();
    if deployments(&state, |q| q.part(t, &id, device.device_id()))?.is_none() {
        return Err(ApiError::NotFound("deployment not found for this device".into()));
    }
    let messages_json = serde_json::to_string(&body.messages).map_err(|e| ApiError::Internal(e.into()))?;
    // One event carries the log, and an event must fit one NATS message.
    if messages_json.len() > MAX_LOG_BYTES {
        return Err(ApiError::BadRequest(format!(
            "log too large: at most {MAX_LOG_BYTES} bytes of messages"
        )));
    }
    let command = DeviceDeploymentCommand::SaveLog { messages_json };
    device_command(&state, &device.caller(&request_id), &id, &command).await?;
    Ok(StatusCode::NO_CONTENT)
}
