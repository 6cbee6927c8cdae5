//! Mender's useradm users API.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use fleetlog_projections::users::{UserView, UsersQueries};
use serde::Deserialize;

use super::idempotency::IdempotencyKey;
use super::json::{AppJson, rfc3339};
use super::useradm_filter::UserFilter;
use super::{ApiError, UserAuth};
use crate::app::users::{self, UserUpdate};
use crate::state::AppState;

/// The users routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/useradm/users", get(list).post(create))
        .route("/api/management/v1/useradm/users/{id}", get(one).put(update).delete(remove))
        .route("/api/management/v2/useradm/users/me", put(update_me_v2))
}

/// The users read model.
pub fn users_model(state: &AppState) -> Result<std::sync::Arc<fleetlog_projections::ReadModel>, ApiError> {
    Ok(state.model(fleetlog_projections::Model::Users)?)
}

fn user_json(u: &UserView) -> serde_json::Value {
    serde_json::json!({ "id": u.id, "email": u.email, "created_ts": rfc3339(u.created_ts), "updated_ts": rfc3339(u.updated_ts) })
}

fn find(state: &AppState, caller: &UserAuth, id: &str) -> Result<UserView, ApiError> {
    let id = if id == "me" { caller.id.as_str() } else { id };
    let model = users_model(state)?;
    UsersQueries(&model).get(caller.tenant(), id)?.ok_or_else(|| ApiError::NotFound("user not found".into()))
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
    key: IdempotencyKey,
    AppJson(body): AppJson<NewUser>,
) -> Result<Response, ApiError> {
    let (caller, id) = user.caller.creating("user", key.value());
    users::create(&state, &caller, &id, &body.email, &body.password).await?;
    let location = format!("/api/management/v1/useradm/users/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// `GET /users` with Mender's filters (`id` and `email` may repeat; times are Unix seconds).
async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let filter = UserFilter::parse(&params)?;
    let model = users_model(&state)?;
    let all = UsersQueries(&model).list(user.tenant())?;
    let shown: Vec<_> = all.iter().filter(|u| filter.matches(u)).map(user_json).collect();
    Ok(Json(shown).into_response())
}

async fn one(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(user_json(&find(&state, &user, &id)?)).into_response())
}

/// Body of a user update.
#[derive(Debug, Deserialize)]
struct UpdateBody {
    email: Option<String>,
    password: Option<String>,
    current_password: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<UpdateBody>,
) -> Result<StatusCode, ApiError> {
    let target = find(&state, &user, &id)?;
    if target.id != user.id && body.password.is_some() {
        return Err(ApiError::Unprocessable("only the user can change their own password".into()));
    }
    apply_update(&state, &user, &target, body).await
}

async fn remove(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // Mender's delete is idempotent: an unknown user is already gone (nothing is written).
    let target = match find(&state, &user, &id) {
        Err(ApiError::NotFound(_)) => return Ok(StatusCode::NO_CONTENT),
        other => other?,
    };
    users::delete_user(&state, &user.caller, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/management/v2/useradm/users/me` (mender-server main): the caller changes their
/// own password (and, as v1 allows, e-mail) with their current password, through the same
/// service function as v1, so both versions follow the same rules.
async fn update_me_v2(
    State(state): State<AppState>,
    user: UserAuth,
    AppJson(body): AppJson<UpdateBody>,
) -> Result<StatusCode, ApiError> {
    if body.email.is_none() && body.password.is_none() {
        return Err(ApiError::BadRequest("no update information provided".into()));
    }
    let target = find(&state, &user, "me")?;
    apply_update(&state, &user, &target, body).await
}

/// Carries out a user update (v1 and v2 alike) as the caller's session, and waits until it
/// shows: the password rules and the end of other sessions live in the service and domain.
async fn apply_update(
    state: &AppState,
    user: &UserAuth,
    target: &UserView,
    body: UpdateBody,
) -> Result<StatusCode, ApiError> {
    let update = UserUpdate {
        email: body.email,
        password: body.password,
        current_password: body.current_password,
        session: user.jti.clone(),
    };
    users::update_user(state, &user.caller, target, update).await?;
    Ok(StatusCode::NO_CONTENT)
}
