//! Mender's inventory v2: `filters/search` over all scopes (planned on the attribute index),
//! `filters/attributes`, and saved filters — the v2 filters resource, which is how a group
//! can be dynamic: a saved filter is searched again whenever it is used.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fleetlog_projections::inventory::SavedFilterView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::idempotency::IdempotencyKey;
use super::json::AppJson;
use super::{ApiError, UserAuth};
use crate::app::inventory::{doc_json, inventory};
use crate::state::AppState;
use fleetlog_projections::inventory::predicate::{FilterTerm, Predicate, SCOPES};
use fleetlog_projections::inventory::search::{SortKey, search};
use fleetlog_projections::inventory::wire;

/// The v2 routes.
pub fn router() -> Router<AppState> {
    let base = "/api/management/v2/inventory/filters";
    Router::new()
        .route(&format!("{base}/search"), post(search_devices))
        .route(&format!("{base}/attributes"), get(attributes))
        .route(base, post(create_filter).get(list_filters))
        .route(&format!("{base}/{{id}}"), get(get_filter).delete(delete_filter))
        .route(&format!("{base}/{{id}}/search"), post(search_saved))
}

/// One sort key as the client sends it.
#[derive(Debug, Deserialize)]
struct SortTerm {
    scope: String,
    attribute: String,
    #[serde(default)]
    order: Option<String>,
}

/// The search body (paging in the body, as Mender's v2 search has it).
#[derive(Debug, Default, Deserialize)]
struct SearchBody {
    #[serde(default)]
    page: Option<usize>,
    #[serde(default)]
    per_page: Option<usize>,
    #[serde(default)]
    #[serde(deserialize_with = "wire::terms")]
    filters: Vec<FilterTerm>,
    #[serde(default)]
    sort: Vec<SortTerm>,
}

fn sort_keys(sort: &[SortTerm]) -> Result<Vec<SortKey>, ApiError> {
    sort.iter()
        .map(|s| {
            if !SCOPES.contains(&s.scope.as_str()) || s.attribute.is_empty() {
                return Err(ApiError::BadRequest(format!("invalid sort field {}/{}", s.scope, s.attribute)));
            }
            let desc = match s.order.as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(_) => return Err(ApiError::BadRequest("sort order must be asc or desc".into())),
            };
            Ok(SortKey { scope: s.scope.clone(), attribute: s.attribute.clone(), desc })
        })
        .collect()
}

fn run(state: &AppState, body: &SearchBody, terms: &[FilterTerm]) -> Result<Response, ApiError> {
    let page = body.page.unwrap_or(1);
    let per_page = body.per_page.unwrap_or(10);
    if page == 0 || per_page == 0 || per_page > 500 {
        return Err(ApiError::BadRequest("page must be ≥ 1 and per_page 1..500".into()));
    }
    let filters = terms.iter().map(Predicate::parse).collect::<Result<Vec<_>, _>>()?;
    let sort = sort_keys(&body.sort)?;
    let found = inventory(state, |q| {
        Ok(search(q, crate::DEFAULT_TENANT, &filters, &sort, (page - 1) * per_page, per_page)?)
    })?;
    let items: Vec<Value> = found.page.iter().map(doc_json).collect();
    Ok(([("x-total-count", found.total.to_string())], Json(items)).into_response())
}

async fn search_devices(
    State(state): State<AppState>,
    _user: UserAuth,
    AppJson(body): AppJson<SearchBody>,
) -> Result<Response, ApiError> {
    run(&state, &body, &body.filters)
}

/// `[{name, scope, count}]`: most common first, then by scope and name; at most 500.
async fn attributes(State(state): State<AppState>, user: UserAuth) -> Result<Json<Vec<Value>>, ApiError> {
    let mut counts = inventory(&state, |q| Ok(q.attribute_counts(user.tenant())?))?;
    counts.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    counts.truncate(500);
    Ok(Json(
        counts
            .into_iter()
            .map(|(scope, name, count)| json!({"name": name, "scope": scope, "count": count}))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct FilterIn {
    name: String,
    #[serde(deserialize_with = "wire::terms")]
    terms: Vec<FilterTerm>,
}

fn to_json(f: &SavedFilterView) -> Value {
    let terms: Vec<Value> = f.terms.iter().map(wire::to_json).collect();
    json!({ "id": f.id, "name": f.name, "terms": terms })
}

async fn create_filter(
    State(state): State<AppState>,
    user: UserAuth,
    key: IdempotencyKey,
    AppJson(body): AppJson<FilterIn>,
) -> Result<Response, ApiError> {
    let id = crate::app::filters::create(&state, &user.caller, body.name, body.terms, key.value()).await?;
    let location = format!("/api/management/v2/inventory/filters/{id}");
    Ok((StatusCode::CREATED, [(axum::http::header::LOCATION, location)]).into_response())
}

fn saved(state: &AppState, id: &str) -> Result<SavedFilterView, ApiError> {
    Ok(crate::app::filters::saved(state, crate::DEFAULT_TENANT, id)?)
}

async fn list_filters(State(state): State<AppState>, user: UserAuth) -> Result<Json<Vec<Value>>, ApiError> {
    let all = inventory(&state, |q| Ok(q.saved_filters(user.tenant())?))?;
    Ok(Json(all.iter().map(to_json).collect()))
}

async fn get_filter(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(to_json(&saved(&state, &id)?)))
}

async fn delete_filter(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    crate::app::filters::delete(&state, &user.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Searches with a saved filter's terms (the body gives paging and sort only).
async fn search_saved(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
    super::json_body::TimedBytes(body): super::json_body::TimedBytes,
) -> Result<Response, ApiError> {
    let f = saved(&state, &id)?;
    // The body is optional here: without one, the first page in id order.
    let body: SearchBody = if body.iter().all(u8::is_ascii_whitespace) {
        SearchBody::default()
    } else {
        super::json_body::decode(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid search body: {e}")))?
    };
    run(&state, &body, &f.terms)
}
