//! Mender's iot-manager management API: integrations (webhooks work end to end; `iot-hub` and
//! `iot-core` are refused with a reason), their credentials, the events pushed to them with
//! each delivery's outcome, and the device-state operations of cloud providers, which answer as
//! Mender does for a device without such an integration.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Json, Router};
use fleetlog_commands::app::integrations::{self, NewIntegration};
use fleetlog_events::integration::{Secret, WebhookTarget};
use fleetlog_projections::integrations::{IntegrationView, WebhookEventView};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::idempotency::IdempotencyKey;
use super::json::{AppJson, Paging};
use super::{ApiError, UserAuth};
use crate::state::AppState;

const BASE: &str = "/api/management/v1/iot-manager";

/// The nine iot-manager operations, plus `GET /integrations/{id}` (Mender's service has it).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{BASE}/integrations"), get(list).post(create))
        .route(&format!("{BASE}/integrations/{{id}}"), get(get_one).delete(remove))
        .route(&format!("{BASE}/integrations/{{id}}/credentials"), put(set_credentials))
        .route(&format!("{BASE}/devices/{{id}}"), delete(unregister_device))
        .route(&format!("{BASE}/devices/{{id}}/state"), get(device_states))
        .route(
            &format!("{BASE}/devices/{{id}}/state/{{integration}}"),
            get(device_state).put(put_device_state),
        )
        .route(&format!("{BASE}/events"), get(events))
}

/// Mender's `Credentials`: `type` and one provider's part.
#[derive(Debug, Deserialize)]
struct CredentialsIn {
    #[serde(rename = "type", default)]
    kind: String,
    http: Option<HttpIn>,
}

#[derive(Debug, Deserialize)]
struct HttpIn {
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
}

#[derive(Debug, Deserialize)]
struct IntegrationIn {
    #[serde(default)]
    provider: String,
    credentials: Option<CredentialsIn>,
    #[serde(default)]
    description: String,
    /// fleetlog's addition: the event types wanted (`device-alert` only when listed).
    #[serde(default)]
    event_types: Vec<String>,
}

/// The target of `http` credentials; other kinds carry none (the provider check refuses them).
fn target(c: &CredentialsIn) -> Result<WebhookTarget, ApiError> {
    match (&c.http, c.kind.as_str()) {
        (Some(h), _) => Ok(WebhookTarget { url: h.url.clone(), secret: Secret(h.secret.clone()) }),
        (None, "http") => Err(ApiError::BadRequest("credentials: (http: cannot be blank.)".into())),
        (None, _) => Ok(WebhookTarget::default()),
    }
}

fn credentials(body: Option<CredentialsIn>) -> Result<CredentialsIn, ApiError> {
    let c = body.ok_or_else(|| ApiError::BadRequest("credentials: cannot be blank.".into()))?;
    if c.kind.is_empty() {
        return Err(ApiError::BadRequest("credentials: (type: cannot be blank.)".into()));
    }
    Ok(c)
}

/// An integration as Mender shows it: the secret, when set, is `<omitted>`.
fn integration_json(i: &IntegrationView) -> Value {
    let mut http = json!({ "url": i.url });
    if !i.secret.is_empty() {
        http["secret"] = json!("<omitted>");
    }
    let mut out = json!({
        "id": i.id,
        "provider": i.provider,
        "credentials": { "type": "http", "http": http },
    });
    if !i.description.is_empty() {
        out["description"] = json!(i.description);
    }
    if !i.event_types.is_empty() {
        out["event_types"] = json!(i.event_types);
    }
    out
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(paging): Query<Paging>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (page, per_page) = paging.validate()?;
    let all = integrations::list(&state, &user.caller.tenant)?;
    Ok(Json(all.iter().skip((page - 1) * per_page).take(per_page).map(integration_json).collect()))
}

async fn create(
    State(state): State<AppState>,
    user: UserAuth,
    key: IdempotencyKey,
    AppJson(body): AppJson<IntegrationIn>,
) -> Result<Response, ApiError> {
    if body.provider.is_empty() {
        return Err(ApiError::BadRequest("provider: cannot be blank.".into()));
    }
    let creds = credentials(body.credentials)?;
    let new = NewIntegration {
        target: target(&creds)?,
        provider: body.provider,
        credential_type: creds.kind,
        description: body.description,
        event_types: body.event_types,
    };
    let id = integrations::create(&state, &user.caller, new, key.value()).await?;
    let location = format!("{BASE}/integrations/{id}");
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)]).into_response())
}

async fn get_one(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(integration_json(&integrations::get(&state, &user.caller.tenant, &id)?)))
}

async fn remove(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    integrations::delete(&state, &user.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_credentials(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<CredentialsIn>,
) -> Result<StatusCode, ApiError> {
    let creds = credentials(Some(body))?;
    let target = target(&creds)?;
    integrations::set_credentials(&state, &user.caller, &id, creds.kind, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unregister_device(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    integrations::unregister_device(&state, &user.caller.tenant, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn device_states(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    integrations::device_states(&state, &user.caller.tenant, &id)?;
    Ok(Json(Map::new()))
}

async fn device_state(
    State(state): State<AppState>,
    user: UserAuth,
    Path((id, integration)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    integrations::device_state(&state, &user.caller.tenant, &id, &integration)?;
    Ok(Json(json!({})))
}

async fn put_device_state(
    State(state): State<AppState>,
    user: UserAuth,
    Path((id, integration)): Path<(String, String)>,
    AppJson(_state): AppJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    integrations::device_state(&state, &user.caller.tenant, &id, &integration)?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    page: Option<String>,
    per_page: Option<String>,
    integration_id: Option<String>,
}

/// An event as Mender's events list shows it.
fn event_json(e: &WebhookEventView) -> Value {
    let statuses: Vec<Value> = e
        .statuses
        .iter()
        .map(|s| {
            let mut v = json!({ "integration_id": s.integration_id, "success": s.success });
            if s.status_code != 0 {
                v["status_code"] = json!(s.status_code);
            }
            if !s.error.is_empty() {
                v["error"] = json!(s.error);
            }
            v
        })
        .collect();
    let data: Value = serde_json::from_str(&e.data_json).unwrap_or(Value::Null);
    json!({
        "id": e.id,
        "type": e.event_type,
        "delivery_statuses": statuses,
        "time": fleetlog_projections::rfc3339(e.time),
        "data": data,
    })
}

async fn events(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (page, per_page) = Paging::new(q.page, q.per_page).validate()?;
    let all = integrations::events(&state, &user.caller.tenant, q.integration_id.as_deref(), page, per_page)?;
    Ok(Json(all.iter().map(event_json).collect()))
}
