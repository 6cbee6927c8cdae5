//! Mender's v1alpha1 software lists (releases in the shape shared with manifests, which
//! open-source Mender does not have: `kind=manifest` is always empty) and the storage limit
//! and usage of the artifact store.

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::json::{Paging, paged, rfc3339};
use super::releases::{ReleaseFilter, matching};
use super::{ApiError, UserAuth};
use crate::app::releases::releases;
use crate::state::AppState;

const SOFTWARE: &str = "/api/management/v1alpha1/deployments/software";

/// The software and storage-limit routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(SOFTWARE, get(list))
        .route(&format!("{SOFTWARE}/tags"), get(tags))
        .route("/api/management/v1/deployments/limits/storage", get(storage))
}

/// `release` (true), `manifest` (false), or both (none); anything else is a 400.
fn kind(value: Option<&str>) -> Result<Option<bool>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some("release") => Ok(Some(true)),
        Some("manifest") => Ok(Some(false)),
        Some(other) => Err(ApiError::BadRequest(format!(
            "invalid kind {:?}: must be release or manifest",
            other.chars().take(64).collect::<String>()
        ))),
    }
}

async fn list(
    State(state): State<AppState>,
    _user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let value = |k: &str| super::json::first(&params, k);
    let (page, per_page) = Paging::from_pairs(&params).validate()?;
    let releases_wanted = kind(value("kind").as_deref())?.unwrap_or(true);
    let filter = ReleaseFilter::from_params(&params, true);
    if !filter.names.is_empty() && filter.name_prefix.is_some() {
        return Err(ApiError::BadRequest("name and name_prefix are mutually exclusive".into()));
    }
    let sort = value("sort");
    let mut all = matching(&state, &filter, sort.as_deref(), &["name", "modified", "tags"])?;
    if !releases_wanted {
        all.clear();
    }
    let total = all.len();
    let body: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| {
            let types: BTreeSet<&String> = r.artifacts.values().flat_map(|a| &a.device_types).collect();
            json!({
                "name": r.name,
                "kind": "release",
                "modified": rfc3339(r.modified_ts),
                "compatible_types": types,
                "tags": r.tags,
                "notes": r.notes,
            })
        })
        .collect();
    let mut query: Vec<(&str, String)> = Vec::new();
    for key in ["kind", "name_prefix", "sort", "update_type"] {
        if let Some(v) = value(key) {
            query.push((key, v));
        }
    }
    query.extend(filter.names.iter().map(|n| ("name", n.clone())));
    query.extend(filter.tags.iter().map(|t| ("tag", t.clone())));
    Ok(paged(SOFTWARE, &query, (page, per_page), total, body))
}

async fn tags(
    State(state): State<AppState>,
    user: UserAuth,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<String>>, ApiError> {
    let value = params.iter().find(|(k, _)| k == "kind").map(|(_, v)| v.as_str());
    if kind(value)? == Some(false) {
        return Ok(Json(Vec::new()));
    }
    Ok(Json(releases(&state, |q| q.tags(user.tenant()))?))
}

/// `{limit, usage}`: open-source Mender has no storage limit (0 means none); usage is the sum
/// of the stored artifacts' sizes.
async fn storage(State(state): State<AppState>, user: UserAuth) -> Result<Json<Value>, ApiError> {
    let usage = releases(&state, |q| q.usage(user.tenant()))?;
    Ok(Json(json!({ "limit": 0, "usage": usage })))
}
