//! Mender's inventory v1 tags and static groups: a device's tags (ETag-guarded), its group
//! (at most one), the groups in use, a group's devices, and bulk moves in and out.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use fleetlog_commands::app::{AppError, Caller};
use fleetlog_events::inventory::{InventoryCommand, Tag, Tags, valid_group_name};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{AppJson, Paging, paged};
use super::{ApiError, UserAuth};
use crate::app::inventory::{self, inventory};
use crate::state::AppState;
use fleetlog_projections::inventory::predicate::Predicate;
use fleetlog_projections::inventory::search::search;

/// The tags and groups routes.
pub fn router() -> Router<AppState> {
    let base = "/api/management/v1/inventory";
    Router::new()
        .route(&format!("{base}/devices/{{id}}/tags"), axum::routing::put(put_tags).patch(patch_tags))
        .route(&format!("{base}/devices/{{id}}/group"), get(get_group).put(put_group))
        .route(&format!("{base}/devices/{{id}}/group/{{name}}"), delete(leave_group))
        .route(&format!("{base}/groups"), get(groups))
        .route(&format!("{base}/groups/{{name}}"), delete(delete_group))
        .route(
            &format!("{base}/groups/{{name}}/devices"),
            get(group_devices).patch(add_devices).delete(remove_devices),
        )
}

/// One tag as the client sends it.
#[derive(Debug, Deserialize)]
struct TagIn {
    name: String,
    value: String,
    #[serde(default)]
    description: Option<String>,
}

async fn set_tags(
    state: &AppState,
    user: &Caller,
    headers: &HeaderMap,
    id: &str,
    body: Vec<TagIn>,
    replace: bool,
) -> Result<StatusCode, ApiError> {
    let if_match = headers
        .get(axum::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_owned());
    let tags: Tags = body
        .into_iter()
        .map(|t| (t.name, Tag { value: t.value, description: t.description.unwrap_or_default() }))
        .collect();
    let command =
        InventoryCommand::SetTags { tags, replace, if_match, new_etag: uuid::Uuid::new_v4().to_string() };
    inventory::execute(state, user, id, &command).await?;
    Ok(StatusCode::OK)
}

async fn put_tags(
    State(state): State<AppState>,
    user: UserAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    AppJson(body): AppJson<Vec<TagIn>>,
) -> Result<StatusCode, ApiError> {
    set_tags(&state, &user.caller, &headers, &id, body, true).await
}

async fn patch_tags(
    State(state): State<AppState>,
    user: UserAuth,
    headers: HeaderMap,
    Path(id): Path<String>,
    AppJson(body): AppJson<Vec<TagIn>>,
) -> Result<StatusCode, ApiError> {
    set_tags(&state, &user.caller, &headers, &id, body, false).await
}

async fn get_group(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "group": inventory::device(&state, &id)?.group })))
}

#[derive(Debug, Deserialize)]
struct GroupIn {
    group: String,
}

async fn put_group(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<GroupIn>,
) -> Result<StatusCode, ApiError> {
    let command = InventoryCommand::AssignGroup { group: body.group };
    inventory::execute(&state, &user.caller, &id, &command).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave_group(
    State(state): State<AppState>,
    user: UserAuth,
    Path((id, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let command = InventoryCommand::UnassignGroup { group: Some(name) };
    inventory::execute(&state, &user.caller, &id, &command).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct GroupsQuery {
    #[serde(default)]
    status: Option<String>,
}

async fn groups(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<GroupsQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let tenant = user.tenant();
    let names = inventory(&state, |m| {
        let all = m.distinct_texts(tenant, "system", "group")?;
        let Some(status) = q.status.as_deref() else { return Ok(all) };
        // A group is listed when at least one of its devices has the status.
        let mut out = Vec::new();
        for g in all {
            let filters = [group_filter(&g), Predicate::equals("identity", "status", vec![status.into()])];
            if search(m, tenant, &filters, &[], 0, 1)?.total > 0 {
                out.push(g);
            }
        }
        Ok(out)
    })?;
    Ok(Json(names))
}

fn group_filter(name: &str) -> Predicate {
    Predicate::equals("system", "group", vec![Value::from(name)])
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_group_name(name) {
        Ok(())
    } else {
        Err(AppError::from(fleetlog_events::inventory::InventoryError::InvalidGroupName).into())
    }
}

/// All device ids of a group.
async fn members(state: &AppState, name: &str) -> Result<Vec<String>, ApiError> {
    Ok(inventory::matching_ids(state, vec![group_filter(name)]).await?)
}

async fn group_devices(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
    Query(paging): Query<Paging>,
) -> Result<Response, ApiError> {
    check_name(&name)?;
    let (page, per_page) = paging.validate()?;
    let found = inventory(&state, |m| {
        Ok(search(m, user.tenant(), &[group_filter(&name)], &[], (page - 1) * per_page, per_page)?)
    })?;
    if found.total == 0 {
        return Err(ApiError::NotFound("group not found".into()));
    }
    let ids: Vec<String> = found.page.into_iter().map(|d| d.id).collect();
    let path = format!("/api/management/v1/inventory/groups/{name}/devices");
    Ok(paged(&path, &[], (page, per_page), found.total, ids))
}

/// Runs one inventory command per device, a few at a time; counts (changed, existing).
async fn for_each(
    state: &AppState,
    user: &Caller,
    ids: Vec<String>,
    command: impl Fn() -> InventoryCommand,
) -> Result<(usize, usize), ApiError> {
    let results: Vec<Result<bool, AppError>> = futures::stream::iter(ids)
        .map(|id| {
            let command = command();
            async move { inventory::execute(state, user, &id, &command).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let (mut updated, mut matched) = (0, 0);
    for r in results {
        match r {
            Ok(changed) => {
                matched += 1;
                updated += usize::from(changed);
            }
            // Unknown devices, or devices no longer in the group, are not counted.
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok((updated, matched))
}

async fn add_devices(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
    AppJson(ids): AppJson<Vec<String>>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    if ids.is_empty() {
        return Err(ApiError::BadRequest("the list of device ids is empty".into()));
    }
    let (updated, matched) =
        for_each(&state, &user.caller, ids, || InventoryCommand::AssignGroup { group: name.clone() }).await?;
    Ok(Json(json!({ "updated_count": updated, "matched_count": matched })))
}

async fn remove_devices(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
    AppJson(ids): AppJson<Vec<String>>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let command = || InventoryCommand::UnassignGroup { group: Some(name.clone()) };
    let (updated, _) = for_each(&state, &user.caller, ids, command).await?;
    Ok(Json(json!({ "updated_count": updated })))
}

async fn delete_group(
    State(state): State<AppState>,
    user: UserAuth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let ids = members(&state, &name).await?;
    if ids.is_empty() {
        return Err(ApiError::NotFound("group not found".into()));
    }
    let command = || InventoryCommand::UnassignGroup { group: Some(name.clone()) };
    let (updated, _) = for_each(&state, &user.caller, ids, command).await?;
    Ok(Json(json!({ "updated_count": updated })))
}
