//! Mender's useradm API: login and users.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use fleetlog_projections::users::{UserView, UsersQueries};
use serde::Deserialize;

use super::json::{AppJson, rfc3339};
use super::{ApiError, UserAuth};
use crate::auth::jwt::Claims;
use crate::services::users;
use crate::state::AppState;

/// How long a login token lives (Mender's default: one week).
pub const USER_TOKEN_SECONDS: i64 = 7 * 24 * 3600;

/// The useradm routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/useradm/auth/login", post(login))
        .route("/api/management/v1/useradm/users", get(list).post(create))
        .route("/api/management/v1/useradm/users/{id}", get(one))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let (email, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((email.to_lowercase(), password.to_owned()))
}

fn users_model(state: &AppState) -> Result<std::sync::Arc<fleetlog_projections::ReadModel>, ApiError> {
    state.read_models.model("users").ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no users model")))
}

/// Basic auth in, bare JWT (`application/jwt`) out.
async fn login(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (email, password) = basic_credentials(&headers)
        .ok_or_else(|| ApiError::Unauthorized("invalid or missing auth header".into()))?;
    let model = users_model(&state)?;
    let user = UsersQueries(&model).by_email(crate::DEFAULT_TENANT, &email)?;
    // Argon2 runs on a blocking thread: it is slow on purpose.
    let ok = match user.clone() {
        Some(u) => tokio::task::spawn_blocking(move || users::verify_password(&u.password_hash, &password))
            .await
            .unwrap_or(false),
        None => false,
    };
    let user = user.filter(|_| ok).ok_or_else(|| ApiError::Unauthorized("unauthorized".into()))?;
    let now = fleetlog_commands::now().unix_seconds();
    let claims = Claims {
        jti: uuid::Uuid::new_v4().to_string(),
        sub: user.id,
        iat: now,
        exp: now + USER_TOKEN_SECONDS,
        iss: "fleetlog".into(),
        device: false,
        user: true,
        tenant: String::new(),
    };
    Ok(([(header::CONTENT_TYPE, "application/jwt")], state.jwt.sign(&claims)).into_response())
}

fn user_json(u: &UserView) -> serde_json::Value {
    serde_json::json!({ "id": u.id, "email": u.email, "created_ts": rfc3339(u.created_ts), "updated_ts": rfc3339(u.updated_ts) })
}

/// Body of a new user.
#[derive(Debug, Deserialize)]
struct NewUser {
    email: String,
    password: String,
}

async fn create(
    State(state): State<AppState>,
    user: UserAuth,
    AppJson(body): AppJson<NewUser>,
) -> Result<Response, ApiError> {
    let (id, outcome) =
        users::create_user(&state.commands, &user.meta(), &body.email, &body.password).await?;
    state.seen(outcome.position).await?;
    let location = format!("/api/management/v1/useradm/users/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

async fn list(State(state): State<AppState>, _user: UserAuth) -> Result<Response, ApiError> {
    let model = users_model(&state)?;
    let all: Vec<_> = UsersQueries(&model).list(crate::DEFAULT_TENANT)?.iter().map(user_json).collect();
    Ok(Json(all).into_response())
}

async fn one(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = if id == "me" { user.id.clone() } else { id };
    let model = users_model(&state)?;
    let found = UsersQueries(&model)
        .get(crate::DEFAULT_TENANT, &id)?
        .ok_or_else(|| ApiError::NotFound("user not found".into()))?;
    Ok(Json(user_json(&found)).into_response())
}
