//! Mender's artifact and release management: streamed multipart upload (parsed on the way to
//! storage), lists, get, edit, delete, download links, and generating a
//! single-file artifact on the server.

use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fleetlog_projections::deployments::ArtifactView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{AppJson, Paging, paged, rfc3339};
use super::{ApiError, UserAuth};
use crate::app::artifacts;
use crate::app::deployments::deployments;
use crate::state::AppState;

const BASE: &str = "/api/management/v1/deployments/artifacts";

/// The artifact routes.
pub fn router() -> Router<AppState> {
    Router::new()
        // Uploads stream up to the configured artifact limit, not the 1 MiB of other requests.
        .route(BASE, post(upload).get(list).layer(DefaultBodyLimit::disable()))
        .route(
            &format!("{BASE}/generate"),
            post(super::artifacts_generate::generate).layer(DefaultBodyLimit::disable()),
        )
        .route(&format!("{BASE}/list"), get(list_paged))
        .route("/api/management/v2/deployments/artifacts", get(list_paged))
        .route(&format!("{BASE}/{{id}}"), get(one).put(edit).delete(remove))
        .route(&format!("{BASE}/{{id}}/download"), get(download))
}

/// Mender's Artifact JSON.
pub fn artifact_json(a: &ArtifactView) -> Value {
    let mut v: Value = serde_json::from_str(&a.info.meta_json).unwrap_or_else(|_| json!({}));
    v["id"] = a.id.clone().into();
    v["name"] = a.info.name.clone().into();
    v["description"] = a.info.description.clone().into();
    v["size"] = a.info.size.into();
    v["modified"] = rfc3339(a.modified_ts).into();
    if let Some(o) = v.as_object_mut() {
        o.remove("scripts");
    }
    v
}

async fn upload(
    State(state): State<AppState>,
    user: UserAuth,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::BadRequest(format!("invalid multipart body: {e}"))
    };
    let (mut description, mut size) = (String::new(), None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "size" => {
                let text = field.text().await.map_err(bad)?;
                size = Some(
                    text.trim()
                        .parse::<u64>()
                        .map_err(|_| ApiError::BadRequest(format!("invalid size {text:?}")))?,
                );
            }
            "description" => description = field.text().await.map_err(bad)?,
            // The artifact is the last part: Mender stops reading there.
            "artifact" => {
                let id = artifacts::upload(&state, &user.caller, description, size, field).await?;
                let location = format!("{BASE}/{id}");
                return Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response());
            }
            // Unknown parts (and artifact_id, which we do not let clients choose) are skipped.
            _ => {
                field.bytes().await.map_err(bad)?;
            }
        }
    }
    Err(ApiError::BadRequest("request does not contain the artifact".into()))
}

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    device_type: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per_page: Option<String>,
}

fn filtered(state: &AppState, q: &ListQuery) -> Result<Vec<ArtifactView>, ApiError> {
    let mut all = deployments(state, |m| m.artifacts(crate::DEFAULT_TENANT))?;
    all.retain(|a| {
        q.name.as_deref().is_none_or(|n| a.info.name.contains(n))
            && q.description.as_deref().is_none_or(|d| a.info.description.contains(d))
            && q.device_type.as_deref().is_none_or(|t| a.info.device_types.iter().any(|x| x == t))
    });
    all.sort_by(|a, b| a.info.name.cmp(&b.info.name).then(b.modified_ts.cmp(&a.modified_ts)));
    Ok(all)
}

async fn list(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(filtered(&state, &q)?.iter().map(artifact_json).collect()))
}

async fn list_paged(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (page, per_page) = Paging::new(q.page.clone(), q.per_page.clone()).validate()?;
    let all = filtered(&state, &q)?;
    let total = all.len();
    let body: Vec<Value> = all.iter().skip((page - 1) * per_page).take(per_page).map(artifact_json).collect();
    Ok(paged(&format!("{BASE}/list"), &[], (page, per_page), total, body))
}

fn find(state: &AppState, id: &str) -> Result<ArtifactView, ApiError> {
    deployments(state, |q| q.artifact(crate::DEFAULT_TENANT, id))?
        .ok_or_else(|| ApiError::NotFound("artifact not found".into()))
}

async fn one(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(artifact_json(&find(&state, &id)?)))
}

#[derive(Debug, Deserialize)]
struct EditIn {
    description: String,
}

async fn edit(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<EditIn>,
) -> Result<StatusCode, ApiError> {
    find(&state, &id)?;
    artifacts::edit(&state, &user.caller, &id, body.description).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    artifacts::delete(&state, &user.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{uri, expire}`: a link valid for the configured time (Mender: 900 s).
async fn download(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let a = find(&state, &id)?;
    let lifetime = std::time::Duration::from_secs(900);
    let uri = state
        .storage
        .download_link(&a.info.storage_key, lifetime, Some(&format!("{}.mender", a.info.name)))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let expire = fleetlog_commands::now().0 + lifetime.as_micros() as i64;
    Ok(Json(json!({ "uri": uri, "expire": rfc3339(expire) })))
}
