//! Mender's releases (v1 lists too): the paged list (name, tag and update-type filters, sort), one
//! release, its notes (PATCH) and tags (PUT), deleting releases with their artifacts, and the
//! tags and update types in use.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use fleetlog_commands::app::AppError;
use fleetlog_projections::releases::ReleaseView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{AppJson, Paging, paged, rfc3339};
use super::{ApiError, UserAuth};
use crate::app::releases::{self as svc, DeleteRefused, releases};
use crate::state::AppState;

const BASE: &str = "/api/management/v2/deployments/deployments/releases";
const V1: &str = "/api/management/v1/deployments/deployments/releases";

/// The v2 release routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list).delete(remove))
        .route(V1, get(list_v1))
        .route(&format!("{V1}/list"), get(list_v1_paged))
        .route(&format!("{BASE}/{{name}}"), get(one).patch(edit))
        .route(&format!("{BASE}/{{name}}/tags"), put(set_tags))
        .route("/api/management/v2/deployments/releases/all/tags", get(all_tags))
        .route("/api/management/v2/deployments/releases/all/types", get(all_types))
}

/// The filters and sort shared by the v2 release list and the v1alpha1 software list.
pub struct ReleaseFilter {
    /// Exact names (any of them).
    pub names: Vec<String>,
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
    /// Name prefix.
    pub name_prefix: Option<String>,
    /// Tags (any of them).
    pub tags: Vec<String>,
    /// An update type one of its artifacts has.
    pub update_type: Option<String>,
}

impl ReleaseFilter {
    /// Reads the filters from query pairs (`name` is exact when `exact_names`, else a part).
    pub fn from_params(params: &[(String, String)], exact_names: bool) -> Self {
        let all =
            |k: &str| params.iter().filter(|(key, _)| key == k).map(|(_, v)| v.clone()).collect::<Vec<_>>();
        let one = |k: &str| all(k).into_iter().next().filter(|v| !v.is_empty());
        ReleaseFilter {
            names: if exact_names { all("name") } else { Vec::new() },
            name_contains: if exact_names { None } else { one("name") },
            name_prefix: one("name_prefix"),
            tags: all("tag").iter().map(|t| t.to_lowercase()).collect(),
            update_type: one("update_type"),
        }
    }

    fn keeps(&self, r: &ReleaseView) -> bool {
        (self.names.is_empty() || self.names.contains(&r.name))
            && self.name_contains.as_ref().is_none_or(|n| r.name.to_lowercase().contains(&n.to_lowercase()))
            && self.name_prefix.as_ref().is_none_or(|p| r.name.starts_with(p.as_str()))
            && (self.tags.is_empty() || r.tags.iter().any(|t| self.tags.contains(t)))
            && self
                .update_type
                .as_ref()
                .is_none_or(|u| r.artifacts.values().any(|a| a.update_types.contains(u)))
    }
}

/// The releases matching `filter`, sorted by `sort` (`field:asc|desc`, default `name:asc`;
/// `fields` are the ones the endpoint allows).
pub fn matching(
    state: &AppState,
    filter: &ReleaseFilter,
    sort: Option<&str>,
    fields: &[&str],
) -> Result<Vec<ReleaseView>, ApiError> {
    let sort = sort.filter(|s| !s.is_empty()).unwrap_or("name:asc");
    let (field, dir) = sort.split_once(':').unwrap_or((sort, "asc"));
    if !fields.contains(&field) || !matches!(dir, "asc" | "desc") {
        return Err(ApiError::BadRequest(format!(
            "invalid sort parameter {:?}",
            sort.chars().take(64).collect::<String>()
        )));
    }
    let mut all = releases(state, |q| q.releases(crate::DEFAULT_TENANT))?;
    all.retain(|r| filter.keeps(r));
    all.sort_by(|a, b| {
        let by = match field {
            "modified" => a.modified_ts.cmp(&b.modified_ts),
            "artifacts_count" => a.artifacts.len().cmp(&b.artifacts.len()),
            "tags" => a.tags.cmp(&b.tags),
            _ => std::cmp::Ordering::Equal,
        };
        by.then_with(|| a.name.cmp(&b.name))
    });
    if dir == "desc" {
        all.reverse();
    }
    Ok(all)
}

/// Mender's v2 Release JSON, with its artifacts.
fn release_json(state: &AppState, r: &ReleaseView) -> Result<Value, ApiError> {
    let mut artifacts =
        crate::app::deployments::deployments(state, |q| q.artifacts_named(crate::DEFAULT_TENANT, &r.name))?;
    artifacts.sort_by_key(|a| a.modified_ts);
    let artifacts: Vec<Value> = artifacts.iter().map(super::artifacts::artifact_json).collect();
    Ok(json!({
        "name": r.name,
        "modified": rfc3339(r.modified_ts),
        "artifacts": artifacts,
        "artifacts_count": artifacts.len(),
        "tags": r.tags,
        "notes": r.notes,
    }))
}

async fn list(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let value = |k: &str| super::json::first(&params, k);
    let (page, per_page) = Paging::from_pairs(&params).validate()?;
    let filter = ReleaseFilter::from_params(&params, false);
    let sort = value("sort");
    let all = matching(&state, &filter, sort.as_deref(), &["name", "modified", "artifacts_count", "tags"])?;
    let total = all.len();
    let body = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| release_json(&state, r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut query: Vec<(&str, String)> = Vec::new();
    for key in ["name", "sort", "update_type"] {
        if let Some(v) = value(key) {
            query.push((key, v));
        }
    }
    query.extend(filter.tags.iter().map(|t| ("tag", t.clone())));
    Ok(paged(BASE, &query, (page, per_page), total, body))
}

/// The v1 lists: the v2 filters plus `description` and `device_type` (on any artifact).
fn v1_matching(state: &AppState, params: &[(String, String)]) -> Result<Vec<ReleaseView>, ApiError> {
    let value =
        |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let sort = value("sort");
    let fields = ["name", "modified", "artifacts_count", "tags"];
    let mut all = matching(state, &ReleaseFilter::from_params(params, false), sort.as_deref(), &fields)?;
    let (description, device_type) = (value("description"), value("device_type"));
    if description.is_some() || device_type.is_some() {
        let artifacts = crate::app::deployments::deployments(state, |q| q.artifacts(crate::DEFAULT_TENANT))?;
        all.retain(|r| {
            artifacts.iter().any(|a| {
                a.info.name == r.name
                    && description.as_ref().is_none_or(|d| a.info.description.contains(d.as_str()))
                    && device_type.as_ref().is_none_or(|t| a.info.device_types.contains(t))
            })
        });
    }
    Ok(all)
}

async fn list_v1(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let all = v1_matching(&state, &params)?;
    Ok(Json(all.iter().map(|r| release_json(&state, r)).collect::<Result<_, _>>()?))
}

async fn list_v1_paged(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let value = |k: &str| super::json::first(&params, k);
    let (page, per_page) = Paging::from_pairs(&params).validate()?;
    let all = v1_matching(&state, &params)?;
    let body = all.iter().skip((page - 1) * per_page).take(per_page).map(|r| release_json(&state, r));
    let body = body.collect::<Result<Vec<_>, _>>()?;
    let query: Vec<(&str, String)> = ["name", "description", "device_type", "update_type", "sort"]
        .into_iter()
        .filter_map(|k| value(k).map(|v| (k, v)))
        .collect();
    Ok(paged(&format!("{V1}/list"), &query, (page, per_page), all.len(), body))
}

async fn one(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(release_json(&state, &svc::find(&state, &name)?)?))
}

#[derive(Debug, Deserialize)]
struct ReleaseUpdate {
    #[serde(default)]
    notes: String,
}

async fn edit(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
    AppJson(body): AppJson<ReleaseUpdate>,
) -> Result<StatusCode, ApiError> {
    svc::set_notes(&state, &user.caller, &name, body.notes).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_tags(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
    AppJson(tags): AppJson<Vec<String>>,
) -> Result<StatusCode, ApiError> {
    // Checked before the release is looked up, so that a huge list is not carried further.
    if tags.len() > 10 * fleetlog_events::release::MAX_TAGS {
        return Err(AppError::from(fleetlog_events::release::ReleaseError::TooManyTags).into());
    }
    svc::set_tags(&state, &user.caller, &name, tags).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(state): State<AppState>,
    user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let names: Vec<String> =
        params.into_iter().filter(|(k, v)| k == "name" && !v.is_empty()).map(|(_, v)| v).collect();
    if names.is_empty() {
        return Err(ApiError::BadRequest("name: cannot be blank".into()));
    }
    if names.len() > 100 {
        return Err(ApiError::BadRequest("at most 100 releases at once".into()));
    }
    match svc::delete(&state, &user.caller, &names).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(DeleteRefused::InUse(ids)) => Ok((
            StatusCode::CONFLICT,
            Json(json!({
                "error": "active deployments are using some of the releases from the request",
                "active_deployments": ids,
            })),
        )
            .into_response()),
        Err(DeleteRefused::Error(e)) => Err(e.into()),
    }
}

async fn all_tags(State(state): State<AppState>, user: UserAuth) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(releases(&state, |q| q.tags(user.tenant()))?))
}

async fn all_types(State(state): State<AppState>, user: UserAuth) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(releases(&state, |q| q.update_types(user.tenant()))?))
}
