//! Mender's `POST /api/management/v2alpha1/inventory/identities/search` (mender-server main):
//! devices whose identity attribute, `tags/name`, or system-assigned id starts with a prefix.
//! A prefix is searched as an anchored, escaped regular expression through the same planner as
//! `filters/search`, so it sees exactly what the v2 search sees.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;

use super::json::{AppJson, paged};
use super::{ApiError, UserAuth};
use crate::app::inventory::{doc_json, inventory};
use crate::state::AppState;
use fleetlog_projections::inventory::predicate::Predicate;
use fleetlog_projections::inventory::search::search;

const PATH: &str = "/api/management/v2alpha1/inventory/identities/search";

/// Longest prefix taken: identity values are bounded by the same limit as attribute names.
const MAX_PREFIX: usize = 1024;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(search_identities))
}

/// One attribute to return.
#[derive(Debug, Deserialize)]
struct Select {
    attribute: String,
    scope: String,
}

/// `SearchIdentityParams` of the spec.
#[derive(Debug, Deserialize)]
struct Params {
    scope: String,
    name: String,
    value_prefix: String,
    #[serde(default)]
    attributes: Vec<Select>,
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    per_page: Option<usize>,
}

async fn search_identities(
    State(state): State<AppState>,
    user: UserAuth,
    AppJson(p): AppJson<Params>,
) -> Result<Response, ApiError> {
    if p.scope != "identity" && p.scope != "tags" {
        return Err(ApiError::BadRequest("scope must be identity or tags".into()));
    }
    if p.scope == "tags" && p.name != "name" {
        return Err(ApiError::BadRequest("with scope tags only the attribute \"name\" is searched".into()));
    }
    if p.name.is_empty() || p.name.len() > MAX_PREFIX || p.value_prefix.len() > MAX_PREFIX {
        return Err(ApiError::BadRequest(format!("name and value_prefix must be 1..{MAX_PREFIX} bytes")));
    }
    let (page, per_page) = (p.page.unwrap_or(1), p.per_page.unwrap_or(20));
    if page == 0 || per_page == 0 || per_page > 500 {
        return Err(ApiError::BadRequest("page must be ≥ 1 and per_page 1..500".into()));
    }
    let prefix = Value::String(format!("^{}", regex::escape(&p.value_prefix)));
    let term = fleetlog_projections::inventory::wire::term(&p.scope, &p.name, "$regex", &prefix);
    let filter = Predicate::parse(&term)?;
    let found = inventory(&state, |q| {
        Ok(search(q, user.tenant(), std::slice::from_ref(&filter), &[], (page - 1) * per_page, per_page)?)
    })?;
    let items: Vec<Value> = found.page.iter().map(|d| select(doc_json(d), &p.attributes)).collect();
    Ok(paged(PATH, &[], (page, per_page), found.total, items))
}

/// Keeps only the selected attributes (all of them when none is selected).
fn select(mut doc: Value, wanted: &[Select]) -> Value {
    if wanted.is_empty() {
        return doc;
    }
    if let Some(attrs) = doc["attributes"].as_array_mut() {
        attrs.retain(|a| {
            wanted.iter().any(|w| a["name"] == w.attribute.as_str() && a["scope"] == w.scope.as_str())
        });
    }
    doc
}
