//! Mender's useradm sessions: login, logout and personal access tokens.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use base64::Engine;
use fleetlog_commands::app::Caller;
use fleetlog_projections::users::UsersQueries;
use serde::Deserialize;

use super::json::{AppJson, rfc3339};
use super::{ApiError, RequestId, UserAuth};
use crate::app::users;
use crate::state::AppState;

/// How long a login token lives (Mender's default: one week).
pub const USER_TOKEN_SECONDS: i64 = 7 * 24 * 3600;

/// The session routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/useradm/auth/login", post(login))
        .route("/api/management/v1/useradm/auth/logout", post(logout))
        .route("/api/management/v1/useradm/settings/tokens", post(create_pat).get(list_pats))
        .route("/api/management/v1/useradm/settings/tokens/{id}", delete(delete_pat))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let (email, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((email.to_lowercase(), password.to_owned()))
}

fn jwt_response(token: String) -> Response {
    ([(header::CONTENT_TYPE, "application/jwt")], token).into_response()
}

/// Basic auth in, bare JWT (`application/jwt`) out; the session is recorded as an event.
async fn login(
    State(state): State<AppState>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (email, password) = basic_credentials(&headers)
        .ok_or_else(|| ApiError::Unauthorized("invalid or missing auth header".into()))?;
    let model = super::useradm::users_model(&state)?;
    let user = UsersQueries(&model).by_email(crate::DEFAULT_TENANT, &email)?;
    // Argon2 runs on a blocking thread: it is slow on purpose.
    let ok = match user.clone() {
        Some(u) => tokio::task::spawn_blocking(move || users::verify_password(&u.password_hash, &password))
            .await
            .unwrap_or(false),
        None => false,
    };
    let user = user.filter(|_| ok).ok_or_else(|| ApiError::Unauthorized("unauthorized".into()))?;
    let caller = Caller::user(crate::DEFAULT_TENANT, &user.id, &user.email, &request_id);
    Ok(jwt_response(users::issue_token(&state, &caller, &user.id, "", USER_TOKEN_SECONDS).await?))
}

/// Revokes the presented token on every replica (each applies the same log).
async fn logout(State(state): State<AppState>, user: UserAuth) -> Result<StatusCode, ApiError> {
    users::revoke_token(&state, &user.caller, &user.id, &user.jti).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Body of a new personal access token.
#[derive(Debug, Deserialize)]
struct NewToken {
    name: String,
    expires_in: Option<i64>,
}

async fn create_pat(
    State(state): State<AppState>,
    user: UserAuth,
    AppJson(body): AppJson<NewToken>,
) -> Result<Response, ApiError> {
    Ok(jwt_response(users::issue_personal_token(&state, &user.caller, &body.name, body.expires_in).await?))
}

async fn list_pats(State(state): State<AppState>, user: UserAuth) -> Result<Response, ApiError> {
    let model = super::useradm::users_model(&state)?;
    let tokens = UsersQueries(&model).tokens(user.tenant(), &user.id)?;
    let body: Vec<_> = tokens
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "name": t.name,
                "expiration_date": rfc3339(t.expiration * 1_000_000),
                "created_ts": rfc3339(t.created_ts),
            })
        })
        .collect();
    Ok(Json(body).into_response())
}

async fn delete_pat(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let model = super::useradm::users_model(&state)?;
    // Only personal access tokens are listed and deleted here, and only one's own.
    if !UsersQueries(&model).tokens(user.tenant(), &user.id)?.iter().any(|t| t.id == id) {
        return Err(ApiError::NotFound("token not found".into()));
    }
    users::revoke_token(&state, &user.caller, &user.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
