//! Mender's deployments management API: create (to devices, all devices, a group or a saved
//! filter), get, statistics and abort. The list is in `deployments_list`, devices' parts in
//! `deployment_devices`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use fleetlog_commands::app::Caller;
use fleetlog_events::deployment::{ALL_STATUSES, DeploymentSpec, DynamicTarget};
use fleetlog_projections::deployments::DeploymentView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::deployments_rollout::RolloutIn;
use super::idempotency::IdempotencyKey;
use super::json::{AppJson, rfc3339};
use super::{ApiError, UserAuth, deployment_devices};
use crate::app::deployments::{accepted_devices, deployments};
use crate::state::AppState;
use fleetlog_projections::inventory::predicate::Predicate;

pub(super) const BASE: &str = "/api/management/v1/deployments/deployments";

/// The management routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, post(create).get(super::deployments_list::list))
        .route("/api/management/v2/deployments/deployments", get(super::deployments_list::list).post(create))
        .route(&format!("{BASE}/group/{{name}}"), post(create_for_group))
        .route(&format!("{BASE}/statistics/list"), post(statistics_list))
        .route(&format!("{BASE}/{{id}}"), get(one).patch(super::deployments_rollout::patch))
        .route(&format!("{BASE}/{{id}}/status"), put(put_status))
        .route(&format!("{BASE}/{{id}}/statistics"), get(statistics))
        .route(&format!("{BASE}/{{id}}/devices"), get(deployment_devices::devices))
        .route(&format!("{BASE}/{{id}}/devices/list"), get(deployment_devices::devices_paged))
        .route(&format!("{BASE}/{{id}}/device_list"), get(deployment_devices::device_list))
        .route(&format!("{BASE}/{{id}}/devices/{{device}}/log"), get(deployment_devices::device_log))
        .route(&format!("{BASE}/devices/{{id}}"), get(deployment_devices::device_history))
}

/// `{status: count}` over every status, as Mender's statistics show them.
fn stats_json(d: &DeploymentView) -> Value {
    let mut m = serde_json::Map::new();
    for s in ALL_STATUSES {
        m.insert(s.as_str().to_owned(), d.stats.get(&s).copied().unwrap_or(0).into());
    }
    Value::Object(m)
}

pub(super) fn deployment_json(state: &AppState, d: &DeploymentView) -> Result<Value, ApiError> {
    let artifacts = deployments(state, |q| q.artifacts_named(crate::DEFAULT_TENANT, &d.artifact_name))?;
    let total_size: u64 = artifacts.iter().map(|a| a.info.size).sum();
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "artifact_name": d.artifact_name,
        "created": rfc3339(d.created_ts),
        "status": d.status(),
        "device_count": d.device_count,
        "artifacts": artifacts.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        "type": if d.configuration.is_some() { "configuration" } else { "software" },
        "retries": d.retries,
        "statistics": { "status": stats_json(d), "total_size": total_size },
    });
    if let Some(f) = d.finished_ts {
        v["finished"] = rfc3339(f).into();
    }
    if let Some(group) = d.target.strip_prefix("group:") {
        v["groups"] = json!([group]);
    }
    super::deployments_rollout::add_json(state, &mut v, d);
    Ok(v)
}

/// `POST .../deployments`: exactly one of `devices`, `all_devices` or `filter_id`.
#[derive(Debug, Deserialize)]
struct NewDeployment {
    name: String,
    artifact_name: String,
    #[serde(default)]
    devices: Option<Vec<String>>,
    #[serde(default)]
    all_devices: bool,
    #[serde(default)]
    filter_id: Option<String>,
    #[serde(default)]
    force_installation: bool,
    #[serde(default)]
    retries: u32,
    #[serde(flatten)]
    rollout: RolloutIn,
}

async fn store(
    state: &AppState,
    user: &Caller,
    key: &IdempotencyKey,
    mut spec: DeploymentSpec,
    rollout: RolloutIn,
) -> Result<Response, ApiError> {
    let phases = rollout.apply(&mut spec)?;
    if let Some(max) = spec.dynamic.as_ref().and_then(|d| d.max_devices) {
        // A dynamic deployment takes at most max_devices, the ones matching at creation first.
        spec.devices.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    let id = crate::app::deployments::create(state, user, spec, &phases, key.value()).await?;
    let location = format!("{BASE}/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

async fn create(
    State(state): State<AppState>,
    user: UserAuth,
    key: IdempotencyKey,
    AppJson(body): AppJson<NewDeployment>,
) -> Result<Response, ApiError> {
    let chosen = usize::from(body.devices.is_some())
        + usize::from(body.all_devices)
        + usize::from(body.filter_id.is_some());
    if chosen != 1 {
        return Err(ApiError::BadRequest("give exactly one of devices, all_devices or filter_id".into()));
    }
    let mut dynamic = None;
    let (devices, target) = if let Some(devices) = body.devices {
        let mut devices = devices;
        devices.sort();
        devices.dedup();
        (crate::app::deployments::known_devices(&state, devices).await?, "devices".to_owned())
    } else if let Some(filter_id) = body.filter_id {
        // A deployment to a filter that is not there is a bad request, not a missing resource.
        let saved = match crate::app::filters::saved(&state, &user.caller.tenant, &filter_id) {
            Err(fleetlog_commands::app::AppError::NotFound(_)) => {
                return Err(ApiError::BadRequest("filter not found".into()));
            }
            other => other?,
        };
        let filters = crate::app::filters::filters_of(&saved)?;
        // As in Mender, a deployment to a filter is dynamic: devices that come to match it
        // while it is open take part too.
        dynamic = Some(DynamicTarget { filter: saved.terms.clone(), max_devices: None });
        (accepted_devices(&state, filters).await?, format!("filter:{filter_id}"))
    } else {
        (accepted_devices(&state, Vec::new()).await?, "all".to_owned())
    };
    let spec = DeploymentSpec {
        name: body.name,
        artifact_name: body.artifact_name,
        devices,
        retries: body.retries,
        force_installation: body.force_installation,
        target,
        dynamic,
        ..Default::default()
    };
    store(&state, &user.caller, &key, spec, body.rollout).await
}

#[derive(Debug, Deserialize)]
struct NewGroupDeployment {
    name: String,
    artifact_name: String,
    #[serde(default)]
    force_installation: bool,
    #[serde(default)]
    retries: u32,
    #[serde(flatten)]
    rollout: RolloutIn,
}

async fn create_for_group(
    State(state): State<AppState>,
    user: UserAuth,
    key: IdempotencyKey,
    Path(group): Path<String>,
    AppJson(body): AppJson<NewGroupDeployment>,
) -> Result<Response, ApiError> {
    let devices = accepted_devices(
        &state,
        vec![Predicate::equals("system", "group", vec![Value::from(group.as_str())])],
    )
    .await?;
    let spec = DeploymentSpec {
        name: body.name,
        artifact_name: body.artifact_name,
        devices,
        retries: body.retries,
        force_installation: body.force_installation,
        target: format!("group:{group}"),
        ..Default::default()
    };
    store(&state, &user.caller, &key, spec, body.rollout).await
}

pub(super) fn find(state: &AppState, id: &str) -> Result<DeploymentView, ApiError> {
    deployments(state, |q| q.deployment(crate::DEFAULT_TENANT, id))?
        .ok_or_else(|| ApiError::NotFound("deployment not found".into()))
}

async fn one(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(deployment_json(&state, &find(&state, &id)?)?))
}

async fn statistics(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(stats_json(&find(&state, &id)?)))
}

#[derive(Debug, Deserialize)]
struct StatsListIn {
    deployment_ids: Vec<String>,
}

async fn statistics_list(
    State(state): State<AppState>,
    user: UserAuth,
    AppJson(body): AppJson<StatsListIn>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let mut out = Vec::new();
    for id in &body.deployment_ids {
        if let Some(d) = deployments(&state, |q| q.deployment(user.tenant(), id))? {
            out.push(json!({ "id": d.id, "stats": stats_json(&d) }));
        }
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
struct AbortIn {
    status: String,
}

async fn put_status(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<AbortIn>,
) -> Result<StatusCode, ApiError> {
    super::deployments_rollout::set_status(&state, &user, &id, &body.status).await?;
    Ok(StatusCode::NO_CONTENT)
}
