//! Mender's deviceconfig ("configure" add-on): operators set a device's wanted configuration
//! and read it with what the device last reported; the device reads the wanted one and
//! reports what it applied. Every change is an event; a repeat of the same values is not.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use fleetlog_commands::app::Caller;
use fleetlog_events::devconfig::{Configuration, DeviceConfigCommand};
use fleetlog_projections::remote::ConfigView;
use serde_json::{Value, json};

use super::json::{AppJson, rfc3339};
use super::{ApiError, DeviceAuth, RequestId, UserAuth};
use crate::app::connect::remote;
use crate::state::AppState;

/// The deviceconfig routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/deviceconfig/configurations/device/{id}", get(get_config).put(set_config))
        .route(
            "/api/management/v1/deviceconfig/configurations/device/{id}/deploy",
            axum::routing::post(deploy),
        )
        .route("/api/devices/v1/deviceconfig/configuration", get(device_get).put(device_report))
}

/// A JSON object of strings, as Mender requires.
fn configuration(v: Value) -> Result<Configuration, ApiError> {
    let Value::Object(map) = v else {
        return Err(ApiError::BadRequest("configuration must be a JSON object".into()));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(ApiError::BadRequest(format!("value of {k:?} must be a string"))),
        })
        .collect()
}

fn view_json(id: &str, v: &ConfigView) -> Value {
    let mut out = json!({ "id": id, "configured": v.configured, "reported": v.reported });
    if let Some(d) = &v.deployment_id {
        out["deployment_id"] = d.clone().into();
    }
    if let Some(t) = v.reported_ts {
        out["reported_ts"] = rfc3339(t).into();
    }
    if let Some(t) = v.updated_ts {
        out["updated_ts"] = rfc3339(t).into();
    }
    out
}

async fn get_config(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::app::inventory::device(&state, &id)?;
    let view = remote(&state, |q| q.config(user.tenant(), &id))?.unwrap_or_default();
    Ok(Json(view_json(&id, &view)))
}

async fn run(
    state: &AppState,
    caller: &Caller,
    device: &str,
    command: DeviceConfigCommand,
) -> Result<StatusCode, ApiError> {
    crate::app::devconfig::run(state, caller, device, &command).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_config(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<StatusCode, ApiError> {
    crate::app::inventory::device(&state, &id)?;
    run(&state, &user.caller, &id, DeviceConfigCommand::Set(configuration(body)?)).await
}

async fn device_get(
    State(state): State<AppState>,
    device: DeviceAuth,
) -> Result<Json<Configuration>, ApiError> {
    let view = remote(&state, |q| q.config(device.tenant(), device.device_id()))?.unwrap_or_default();
    Ok(Json(view.configured))
}

async fn device_report(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<Value>,
) -> Result<StatusCode, ApiError> {
    let caller = device.caller(&request_id);
    run(&state, &caller, device.device_id(), DeviceConfigCommand::Report(configuration(body)?)).await
}

#[derive(Debug, Default, serde::Deserialize)]
struct DeployIn {
    #[serde(default)]
    retries: u32,
    /// Mender's pause points for the configuration's update (checked like a deployment's).
    #[serde(default)]
    update_control_map: Option<fleetlog_events::deployment::rollout::ControlMap>,
}

/// `{deployment_id}`: the wanted configuration goes out as a configuration deployment.
async fn deploy(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<DeployIn>,
) -> Result<Json<Value>, ApiError> {
    crate::app::inventory::device(&state, &id)?;
    let configured = remote(&state, |q| q.config(user.tenant(), &id))?.unwrap_or_default().configured;
    let deployment_id = crate::app::devconfig::deploy(
        &state,
        &user.caller,
        &id,
        configured,
        body.retries,
        body.update_control_map,
    )
    .await?;
    Ok(Json(json!({ "deployment_id": deployment_id })))
}
