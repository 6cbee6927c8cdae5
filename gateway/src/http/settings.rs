//! Mender's useradm settings: a free-form JSON object for the tenant and one per user, with
//! an ETag (`If-Match` on save: 412 when stale).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fleetlog_commands::app::Caller;
use fleetlog_projections::users::UsersQueries;

use super::json::AppJson;
use super::{ApiError, UserAuth};
use crate::state::AppState;

/// The settings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/useradm/settings", get(get_global).post(save_global))
        .route("/api/management/v1/useradm/settings/me", get(get_mine).post(save_mine))
}

fn read(state: &AppState, scope: &str) -> Result<Response, ApiError> {
    let model = super::useradm::users_model(state)?;
    let settings = UsersQueries(&model).settings(crate::DEFAULT_TENANT, scope)?;
    let body: serde_json::Value = if settings.json.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(&settings.json).unwrap_or_default()
    };
    let mut res = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", settings.version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}

async fn save(
    state: &AppState,
    user: &Caller,
    scope: &str,
    headers: &HeaderMap,
    body: serde_json::Value,
) -> Result<StatusCode, ApiError> {
    if !body.is_object() {
        return Err(ApiError::BadRequest("settings must be a JSON object".into()));
    }
    let if_match = match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(v) => Some(v.trim().trim_matches('"').parse::<u64>().map_err(|_| precondition_failed())?),
    };
    crate::app::settings::save(state, user, scope, body.to_string(), if_match).await?;
    Ok(StatusCode::CREATED)
}

fn precondition_failed() -> ApiError {
    ApiError::PreconditionFailed("the settings were changed since they were read (ETag mismatch)".into())
}

async fn get_global(State(state): State<AppState>, _user: UserAuth) -> Result<Response, ApiError> {
    read(&state, "global")
}

async fn save_global(
    State(state): State<AppState>,
    user: UserAuth,
    headers: HeaderMap,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    save(&state, &user.caller, "global", &headers, body).await
}

async fn get_mine(State(state): State<AppState>, user: UserAuth) -> Result<Response, ApiError> {
    read(&state, &format!("user-{}", user.id))
}

async fn save_mine(
    State(state): State<AppState>,
    user: UserAuth,
    headers: HeaderMap,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    let scope = format!("user-{}", user.id);
    save(&state, &user.caller, &scope, &headers, body).await
}
