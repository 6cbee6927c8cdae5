//! Mender's inventory API: the device's attribute reports, and v1 management reads (one
//! device, a filtered and sorted page of devices) and deletion.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fleetlog_events::inventory::{AttrValue, Attributes, InventoryCommand};
use serde::Deserialize;
use serde_json::Value;

use super::json::{AppJson, Paging, paged};
use super::{ApiError, DeviceAuth, RequestId, UserAuth};
use crate::app::inventory::{self, doc_json, inventory};
use crate::state::AppState;
use fleetlog_projections::inventory::predicate::{Predicate, SCOPES};
use fleetlog_projections::inventory::search::{SortKey, search};

/// The inventory routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/devices/v1/inventory/device/attributes",
            axum::routing::put(put_attributes).patch(patch_attributes),
        )
        .route("/api/management/v1/inventory/devices", get(list))
        .route("/api/management/v1/inventory/devices/{id}", get(one).delete(delete))
}

/// One reported attribute.
#[derive(Debug, Deserialize)]
struct AttributeIn {
    name: String,
    value: Value,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

/// Checks a report as Mender does: names of 1..1024 characters; values a string, a number, or
/// a list of strings or of numbers (not mixed).
fn parse(report: Vec<AttributeIn>) -> Result<Attributes, ApiError> {
    let mut out = Attributes::new();
    for a in report {
        if a.name.is_empty() || a.name.chars().count() > 1024 {
            return Err(ApiError::BadRequest("attribute name must be 1 to 1024 characters".into()));
        }
        let bad = || {
            ApiError::BadRequest(format!(
                "attribute {:?}: value must be a string, a number or a list of one of them",
                a.name
            ))
        };
        let value = inventory::attr_value(&a.value).ok_or_else(bad)?;
        if let AttrValue::List(list) = &value {
            let mixed =
                list.windows(2).any(|w| std::mem::discriminant(&w[0]) != std::mem::discriminant(&w[1]));
            if mixed {
                return Err(bad());
            }
        }
        out.insert(a.name, value);
    }
    Ok(out)
}

async fn report(
    state: &AppState,
    device: &DeviceAuth,
    request_id: String,
    body: Vec<AttributeIn>,
    replace: bool,
) -> Result<StatusCode, ApiError> {
    let attributes = parse(body)?;
    inventory::report(state, &device.caller(&request_id), attributes, replace).await?;
    Ok(StatusCode::OK)
}

async fn put_attributes(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<Vec<AttributeIn>>,
) -> Result<StatusCode, ApiError> {
    report(&state, &device, request_id, body, true).await
}

async fn patch_attributes(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<Vec<AttributeIn>>,
) -> Result<StatusCode, ApiError> {
    report(&state, &device, request_id, body, false).await
}

async fn one(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = inventory::device(&state, &id)?;
    let etag = d.tags_etag.clone();
    let mut response = Json(doc_json(&d)).into_response();
    if !etag.is_empty()
        && let Ok(v) = etag.parse()
    {
        response.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(response)
}

async fn delete(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    inventory::execute(&state, &user.caller, &id, &InventoryCommand::Delete).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `scope/name` or a bare name (the `inventory` scope, as Mender's v1 API has it).
fn scoped(key: &str) -> Result<(String, String), ApiError> {
    match key.split_once('/') {
        Some((scope, name)) if SCOPES.contains(&scope) && !name.is_empty() => Ok((scope.into(), name.into())),
        Some(_) => Err(ApiError::BadRequest(format!("invalid attribute {key:?}"))),
        None if key.is_empty() => Err(ApiError::BadRequest("empty attribute name".into())),
        None => Ok(("inventory".into(), key.into())),
    }
}

/// `sort=attr[:asc|desc],...` (descending unless told, as Mender's v1 list does).
fn parse_sort(s: &str) -> Result<Vec<SortKey>, ApiError> {
    s.split(',')
        .map(|part| {
            let (attr, order) = part.split_once(':').unwrap_or((part, "desc"));
            let desc = match order {
                "asc" => false,
                "desc" => true,
                other => return Err(ApiError::BadRequest(format!("invalid sort order {other:?}"))),
            };
            let (scope, attribute) = scoped(attr)?;
            Ok(SortKey { scope, attribute, desc })
        })
        .collect()
}

async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(params): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(params.get("page").cloned(), params.get("per_page").cloned());
    let (page, per_page) = paging.validate()?;
    let mut filters = Vec::new();
    let mut sort = Vec::new();
    for (key, value) in &params {
        match key.as_str() {
            "page" | "per_page" => {}
            "sort" => sort = parse_sort(value)?,
            "has_group" => {
                let present = value
                    .parse::<bool>()
                    .map_err(|_| ApiError::BadRequest("has_group must be true or false".into()))?;
                filters.push(Predicate::exists("system", "group", present));
            }
            "group" => filters.push(Predicate::equals("system", "group", vec![Value::from(value.as_str())])),
            attr => {
                let (scope, name) = scoped(attr)?;
                // Query values are text; a numeric one also matches the number.
                let value = value.strip_prefix("eq:").unwrap_or(value);
                let mut values = vec![Value::from(value)];
                if let Ok(n) = value.parse::<f64>()
                    && let Some(n) = serde_json::Number::from_f64(n)
                {
                    values.push(Value::Number(n));
                }
                filters.push(Predicate::equals(&scope, &name, values));
            }
        }
    }
    let found = inventory(&state, |q| {
        Ok(search(q, user.tenant(), &filters, &sort, (page - 1) * per_page, per_page)?)
    })?;
    let body: Vec<Value> = found.page.iter().map(doc_json).collect();
    let query: Vec<(&str, String)> = params
        .iter()
        .filter(|(k, _)| *k != "page" && *k != "per_page")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    Ok(paged("/api/management/v1/inventory/devices", &query, (page, per_page), found.total, body))
}
