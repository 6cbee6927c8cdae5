//! Mender's deviceauth API: the device auth request and the management v2 device routes.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use fleetlog_events::device::DeviceStatus;
use fleetlog_projections::devices::DeviceView;
use serde::Deserialize;

use super::idempotency::IdempotencyKey;
use super::json::{AppJson, Paging, link_header, rfc3339};
use super::{ApiError, RequestId, UserAuth};
use crate::app::devices::{self as svc, devices};
use crate::state::AppState;

/// The deviceauth routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/devices/v1/authentication/auth_requests", post(auth_request))
        .route("/api/management/v2/devauth/devices", get(list).post(preauthorize))
        .route("/api/management/v2/devauth/devices/search", post(super::devauth_search::search))
        .route("/api/management/v2/devauth/devices/count", get(count))
        .route("/api/management/v2/devauth/devices/{id}", get(one).delete(decommission))
        .route("/api/management/v2/devauth/devices/{id}/auth/{aid}", delete(dismiss))
        .route("/api/management/v2/devauth/tokens/{id}", delete(revoke_token))
        .route("/api/management/v2/devauth/limits/{name}", get(limit))
        .route("/api/management/v2/devauth/devices/{id}/auth/{aid}/status", put(set_status).get(get_status))
}

/// Answers a device's auth request with a bare JWT (`application/jwt`) once it is accepted.
async fn auth_request(
    State(state): State<AppState>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    headers: HeaderMap,
    super::json_body::TimedBytes(body): super::json_body::TimedBytes,
) -> Result<Response, ApiError> {
    let signature = headers.get("x-men-signature").and_then(|v| v.to_str().ok());
    let token = svc::auth_request(&state, &body, signature, &request_id).await?;
    Ok(([(header::CONTENT_TYPE, "application/jwt")], token).into_response())
}

pub(super) fn parse_status(s: Option<&str>) -> Result<Option<DeviceStatus>, ApiError> {
    match s {
        None | Some("") => Ok(None),
        Some("pending") => Ok(Some(DeviceStatus::Pending)),
        Some("accepted") => Ok(Some(DeviceStatus::Accepted)),
        Some("rejected") => Ok(Some(DeviceStatus::Rejected)),
        Some("noauth") => Ok(Some(DeviceStatus::Noauth)),
        Some("preauthorized") => Ok(Some(DeviceStatus::Preauthorized)),
        Some(other) => Err(ApiError::BadRequest(format!("invalid status {other:?}"))),
    }
}

pub(super) fn device_json(d: &DeviceView) -> serde_json::Value {
    let identity: serde_json::Value = serde_json::from_str(&d.identity_data).unwrap_or_default();
    let sets: Vec<_> = d
        .auth_sets
        .iter()
        .map(|a| {
            serde_json::json!({
                "id": a.id, "identity_data": identity, "pubkey": a.pubkey, "ts": rfc3339(a.ts), "status": a.status,
            })
        })
        .collect();
    serde_json::json!({
        "id": d.id,
        "identity_data": identity,
        "status": d.status().as_str(),
        "decommissioning": false,
        "created_ts": rfc3339(d.created_ts),
        "updated_ts": rfc3339(d.updated_ts),
        "auth_sets": sets,
    })
}

/// `GET /devices?status=&id=&id=&page=&per_page=`: `id` may repeat, so the query is read as
/// pairs.
async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let value = |k: &str| super::json::first(&params, k);
    let status_text = value("status");
    let status = parse_status(status_text.as_deref())?;
    let paging = Paging::from_pairs(&params);
    let (page, per_page) = paging.validate()?;
    let ids: Vec<&str> = params.iter().filter(|(k, _)| k == "id").map(|(_, v)| v.as_str()).collect();
    let mut found = if ids.is_empty() {
        // One more than a page tells whether there is a next one (deviceauth gives no total).
        devices(&state, |d| d.list(user.tenant(), status, (page - 1) * per_page, per_page + 1))?
    } else {
        let wanted = ids.iter().filter_map(|id| find(&state, id).ok());
        wanted
            .filter(|d| status.is_none_or(|s| d.status() == s))
            .skip((page - 1) * per_page)
            .take(per_page + 1)
            .collect()
    };
    let has_next = found.len() > per_page;
    found.truncate(per_page);
    let mut extra: Vec<(&str, String)> = status_text.iter().map(|s| ("status", s.clone())).collect();
    extra.extend(ids.iter().map(|id| ("id", (*id).to_owned())));
    let links = link_header("/api/management/v2/devauth/devices", &extra, page, per_page, has_next);
    let body: Vec<_> = found.iter().map(device_json).collect();
    Ok((links, Json(body)).into_response())
}

/// Query of the count.
#[derive(Debug, Deserialize)]
struct CountQuery {
    status: Option<String>,
}

async fn count(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<CountQuery>,
) -> Result<Response, ApiError> {
    let status = parse_status(q.status.as_deref())?;
    let n = devices(&state, |d| d.count(user.tenant(), status))?;
    Ok(Json(serde_json::json!({ "count": n })).into_response())
}

pub(super) fn find(state: &AppState, id: &str) -> Result<DeviceView, ApiError> {
    devices(state, |d| d.get(crate::DEFAULT_TENANT, id))?
        .ok_or_else(|| ApiError::NotFound("device not found".into()))
}

async fn one(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(device_json(&find(&state, &id)?)).into_response())
}

async fn decommission(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let device = find(&state, &id)?;
    let outcome = svc::decommission(&state, &user.caller, &device).await?;
    state.seen(outcome.position).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the status change.
#[derive(Debug, Deserialize)]
struct StatusBody {
    status: String,
}

async fn set_status(
    State(state): State<AppState>,
    user: UserAuth,
    Path((id, aid)): Path<(String, String)>,
    AppJson(body): AppJson<StatusBody>,
) -> Result<StatusCode, ApiError> {
    find(&state, &id)?;
    let outcome = svc::set_auth_status(&state, &user.caller, &id, &aid, &body.status).await?;
    state.seen(outcome.position).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_status(
    State(state): State<AppState>,
    _user: UserAuth,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let device = find(&state, &id)?;
    let set = device
        .auth_sets
        .iter()
        .find(|a| a.id == aid)
        .ok_or_else(|| ApiError::NotFound("authentication set not found".into()))?;
    Ok(Json(serde_json::json!({ "status": set.status })).into_response())
}

async fn dismiss(
    State(state): State<AppState>,
    user: UserAuth,
    Path((id, aid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    find(&state, &id)?;
    let outcome = svc::dismiss(&state, &user.caller, &id, &aid).await?;
    state.seen(outcome.position).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a preauthorization.
#[derive(Debug, Deserialize)]
struct PreAuthSet {
    identity_data: serde_json::Value,
    pubkey: String,
    #[serde(default)]
    #[allow(dead_code)]
    force: bool,
}

async fn preauthorize(
    State(state): State<AppState>,
    user: UserAuth,
    key: IdempotencyKey,
    AppJson(body): AppJson<PreAuthSet>,
) -> Result<Response, ApiError> {
    let (caller, id) = user.caller.creating("device", key.value());
    match svc::preauthorize(&state, &caller, &id, &body.identity_data, &body.pubkey).await? {
        svc::Preauthorized::Created(id, _) => {
            let location = format!("/api/management/v2/devauth/devices/{id}");
            Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
        }
        // Mender answers 409 with the existing device as the body.
        svc::Preauthorized::Exists(id) => {
            let existing = find(&state, &id)
                .map(|d| device_json(&d))
                .unwrap_or_else(|_| serde_json::json!({ "id": id }));
            Ok((StatusCode::CONFLICT, Json(existing)).into_response())
        }
    }
}

/// Revokes the tokens of an auth set (a device token's `jti`): the device must authenticate again.
async fn revoke_token(
    State(state): State<AppState>,
    user: UserAuth,
    Path(jti): Path<String>,
) -> Result<StatusCode, ApiError> {
    svc::revoke_tokens(&state, &user.caller, &jti).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Device limits: fleetlog has none (`0` means unlimited, as in Mender).
async fn limit(_user: UserAuth, Path(name): Path<String>) -> Result<Response, ApiError> {
    if name != "max_devices" {
        return Err(ApiError::BadRequest(format!("unsupported limit {name}")));
    }
    Ok(Json(serde_json::json!({ "limit": 0 })).into_response())
}
