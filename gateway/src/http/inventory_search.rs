//! `POST /api/management/v2/inventory/filters/search`: devices by Mender's filter language over
//! all scopes, sorted and paged (`X-Total-Count`).
//!
//! It evaluates the filters over every device of the tenant: right for the fleets this first
//! version is tested with, not for 100k devices (attribute indexes are the next step).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::json::AppJson;
use super::{ApiError, UserAuth};
use crate::services::devices::devices;
use crate::services::filters::{Filter, FilterTerm, SCOPES};
use crate::state::AppState;

/// The search route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/management/v2/inventory/filters/search", post(search))
}

/// One sort key.
#[derive(Debug, Deserialize)]
struct SortTerm {
    scope: String,
    attribute: String,
    #[serde(default)]
    order: Option<String>,
}

/// The search body (paging in the body, as Mender's v2 search has it).
#[derive(Debug, Deserialize)]
struct SearchBody {
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    per_page: Option<usize>,
    #[serde(default)]
    filters: Vec<FilterTerm>,
    #[serde(default)]
    sort: Vec<SortTerm>,
}

fn lookup(device: &Value, scope: &str, name: &str) -> Option<Value> {
    let attrs = device["attributes"].as_array()?;
    let found = attrs.iter().find(|a| a["scope"] == scope && a["name"] == name);
    found
        .map(|a| a["value"].clone())
        .or_else(|| (scope == "identity" && name == "id").then(|| device["id"].clone()))
}

async fn search(
    State(state): State<AppState>,
    _user: UserAuth,
    AppJson(body): AppJson<SearchBody>,
) -> Result<Response, ApiError> {
    let page = body.page.unwrap_or(1);
    let per_page = body.per_page.unwrap_or(10);
    if page == 0 || per_page == 0 || per_page > 500 {
        return Err(ApiError::BadRequest("page must be ≥ 1 and per_page 1..500".into()));
    }
    let filters = body.filters.iter().map(Filter::parse).collect::<Result<Vec<_>, _>>()?;
    for s in &body.sort {
        if !SCOPES.contains(&s.scope.as_str()) || s.attribute.is_empty() {
            return Err(ApiError::BadRequest(format!("invalid sort field {}/{}", s.scope, s.attribute)));
        }
        if !matches!(s.order.as_deref(), None | Some("asc") | Some("desc")) {
            return Err(ApiError::BadRequest("sort order must be asc or desc".into()));
        }
    }
    let all = devices(&state, |q| q.list(crate::DEFAULT_TENANT, None, 0, usize::MAX))?;
    let mut found = Vec::new();
    for d in &all {
        let json = super::inventory::device_json(&state, d)?;
        if filters.iter().all(|f| f.matches(|scope, name| lookup(&json, scope, name))) {
            found.push(json);
        }
    }
    for s in body.sort.iter().rev() {
        let desc = s.order.as_deref() == Some("desc");
        found.sort_by(|a, b| {
            let (x, y) = (lookup(a, &s.scope, &s.attribute), lookup(b, &s.scope, &s.attribute));
            let o = match (x.as_ref().and_then(Value::as_f64), y.as_ref().and_then(Value::as_f64)) {
                (Some(p), Some(q)) => p.total_cmp(&q),
                _ => x.map(|v| v.to_string()).cmp(&y.map(|v| v.to_string())),
            };
            if desc { o.reverse() } else { o }
        });
    }
    let total = found.len();
    let page_items: Vec<Value> = found.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    Ok(([("x-total-count", total.to_string())], Json(page_items)).into_response())
}
