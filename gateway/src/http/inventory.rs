//! Mender's inventory API, first part: the device's attribute reports, and one device or a page
//! of devices with their attributes by scope (`identity` and `system` from deviceauth,
//! `inventory` from the device).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fleetlog_events::Actor;
use fleetlog_events::inventory::{
    AttrValue, Attributes, Inventory, InventoryCommand, InventoryError, Scalar,
};
use fleetlog_projections::devices::DeviceView;
use fleetlog_projections::inventory::InventoryQueries;
use serde::Deserialize;

use super::json::{AppJson, Paging, link_header, rfc3339};
use super::{ApiError, DeviceAuth, RequestId, UserAuth};
use crate::services::devices::devices;
use crate::state::AppState;

/// The inventory routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/devices/v1/inventory/device/attributes",
            axum::routing::put(put_attributes).patch(patch_attributes),
        )
        .route("/api/management/v1/inventory/devices", get(list))
        .route("/api/management/v1/inventory/devices/{id}", get(one))
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

/// One reported attribute.
#[derive(Debug, Deserialize)]
struct AttributeIn {
    name: String,
    value: serde_json::Value,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

fn scalar(v: &serde_json::Value) -> Option<Scalar> {
    match v {
        serde_json::Value::String(s) => Some(Scalar::Text(s.clone())),
        serde_json::Value::Number(n) => n.as_f64().map(Scalar::Number),
        _ => None,
    }
}

/// Checks a report as Mender does: names of 1..1024 characters; values a string, a number, or
/// a list of strings or of numbers (not mixed).
fn parse(report: Vec<AttributeIn>) -> Result<Attributes, ApiError> {
    let mut out = Attributes::new();
    for a in report {
        if a.name.is_empty() || a.name.chars().count() > 1024 {
            return Err(ApiError::BadRequest("attribute name must be 1 to 1024 characters".into()));
        }
        let bad = || {
            ApiError::BadRequest(format!(
                "attribute {:?}: value must be a string, a number or a list of one of them",
                a.name
            ))
        };
        let value = match &a.value {
            serde_json::Value::Array(items) => {
                let list: Vec<Scalar> = items.iter().map(scalar).collect::<Option<_>>().ok_or_else(bad)?;
                let mixed =
                    list.windows(2).any(|w| std::mem::discriminant(&w[0]) != std::mem::discriminant(&w[1]));
                if mixed {
                    return Err(bad());
                }
                AttrValue::List(list)
            }
            v => match scalar(v).ok_or_else(bad)? {
                Scalar::Text(s) => AttrValue::Text(s),
                Scalar::Number(n) => AttrValue::Number(n),
            },
        };
        out.insert(a.name, value);
    }
    Ok(out)
}

async fn report(
    state: &AppState,
    device: &DeviceAuth,
    request_id: String,
    body: Vec<AttributeIn>,
    replace: bool,
) -> Result<StatusCode, ApiError> {
    let attributes = parse(body)?;
    let meta = fleetlog_commands::CommandMeta::new(
        crate::DEFAULT_TENANT,
        Actor::device(device.device_id()),
        &request_id,
    );
    let command = InventoryCommand::Report { attributes, replace };
    state.commands.execute::<Inventory>(&meta, device.device_id(), &command).await?;
    Ok(StatusCode::OK)
}

async fn put_attributes(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<Vec<AttributeIn>>,
) -> Result<StatusCode, ApiError> {
    report(&state, &device, request_id, body, true).await
}

async fn patch_attributes(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<Vec<AttributeIn>>,
) -> Result<StatusCode, ApiError> {
    report(&state, &device, request_id, body, false).await
}

pub(super) fn device_json(state: &AppState, d: &DeviceView) -> Result<serde_json::Value, ApiError> {
    let model = state
        .read_models
        .model("inventory")
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no inventory model")))?;
    let reported = InventoryQueries(&model).get(crate::DEFAULT_TENANT, &d.id)?;
    let mut attributes = Vec::new();
    let identity: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&d.identity_data).unwrap_or_default();
    for (name, value) in identity {
        attributes.push(serde_json::json!({ "name": name, "value": value, "scope": "identity" }));
    }
    attributes
        .push(serde_json::json!({ "name": "status", "value": d.status().as_str(), "scope": "identity" }));
    attributes
        .push(serde_json::json!({ "name": "created_ts", "value": rfc3339(d.created_ts), "scope": "system" }));
    let mut updated = d.updated_ts;
    if let Some(r) = &reported {
        updated = updated.max(r.updated_ts);
        for (name, value) in &r.attributes {
            attributes.push(serde_json::json!({ "name": name, "value": value, "scope": "inventory" }));
        }
    }
    attributes
        .push(serde_json::json!({ "name": "updated_ts", "value": rfc3339(updated), "scope": "system" }));
    Ok(serde_json::json!({ "id": d.id, "attributes": attributes, "updated_ts": rfc3339(updated) }))
}

async fn one(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let device = devices(&state, |q| q.get(crate::DEFAULT_TENANT, &id))?
        .ok_or_else(|| ApiError::NotFound("device not found".into()))?;
    Ok(Json(device_json(&state, &device)?).into_response())
}

async fn list(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(paging): Query<Paging>,
) -> Result<Response, ApiError> {
    let (page, per_page) = paging.validate()?;
    let total = devices(&state, |q| q.count(crate::DEFAULT_TENANT, None))?;
    let found = devices(&state, |q| q.list(crate::DEFAULT_TENANT, None, (page - 1) * per_page, per_page))?;
    let body = found.iter().map(|d| device_json(&state, d)).collect::<Result<Vec<_>, _>>()?;
    let mut headers =
        link_header("/api/management/v1/inventory/devices", &[], page, per_page, page * per_page < total);
    headers.insert("x-total-count", total.into());
    Ok((headers, Json(body)).into_response())
}
