//! Devices' parts in deployments, for operators: a deployment's devices (unpaged, paged, ids),
//! a device's log as Mender prints it, and a device's deployment history.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use fleetlog_events::deployment::DeviceDeploymentStatus;
use fleetlog_projections::deployments::DeviceDeploymentView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::deployments::{BASE, find};
use super::json::{Paging, paged, rfc3339};
use super::{ApiError, UserAuth};
use crate::app::deployments::deployments;
use crate::state::AppState;

/// One device's part, as Mender's DeviceDeployment.
fn part_json(p: &DeviceDeploymentView) -> Value {
    let mut v = json!({
        "id": p.device_id,
        "deployment_id": p.deployment_id,
        "status": p.status.as_str(),
        "substate": p.substate,
        "created": rfc3339(p.created_ts),
        "log": p.has_log,
        "attempts": p.attempts,
    });
    if let Some(s) = p.started_ts {
        v["started"] = rfc3339(s).into();
    }
    if let Some(f) = p.finished_ts {
        v["finished"] = rfc3339(f).into();
    }
    if let Some(a) = &p.artifact_id {
        v["artifact_id"] = a.clone().into();
    }
    v
}

fn parts(state: &AppState, id: &str) -> Result<Vec<DeviceDeploymentView>, ApiError> {
    find(state, id)?;
    Ok(deployments(state, |q| q.parts(crate::DEFAULT_TENANT, id))?)
}

pub(super) async fn devices(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(parts(&state, &id)?.iter().map(part_json).collect()))
}

#[derive(Debug, Deserialize)]
pub(super) struct DevicesQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per_page: Option<String>,
}

pub(super) async fn devices_paged(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, ApiError> {
    let (page, per_page) = Paging::new(q.page, q.per_page).validate()?;
    let wanted = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            DeviceDeploymentStatus::parse(s)
                .ok_or_else(|| ApiError::BadRequest(format!("invalid status {s:?}")))?,
        ),
    };
    let mut all = parts(&state, &id)?;
    all.retain(|p| wanted.is_none_or(|w| p.status == w));
    let total = all.len();
    let body: Vec<Value> = all.iter().skip((page - 1) * per_page).take(per_page).map(part_json).collect();
    let path = format!("{BASE}/{id}/devices/list");
    Ok(paged(&path, &[], (page, per_page), total, body))
}

pub(super) async fn device_list(
    State(state): State<AppState>,
    _user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(parts(&state, &id)?.into_iter().map(|p| p.device_id).collect()))
}

/// The log as Mender serves it: `<time> <level>: <message>` per line, time as Go prints it.
pub(super) async fn device_log(
    State(state): State<AppState>,
    user: UserAuth,
    Path((id, device)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let text = deployments(&state, |q| q.log(user.tenant(), &id, &device))?
        .ok_or_else(|| ApiError::NotFound("no log for this device in this deployment".into()))?;
    let messages: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    let mut out = String::new();
    for m in messages {
        let ts = m["timestamp"].as_str().unwrap_or_default();
        let shown = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
            .ok()
            .and_then(|t| {
                let f = time::macros::format_description!(
                    "[year]-[month]-[day] [hour]:[minute]:[second] +0000 UTC"
                );
                t.to_offset(time::UtcOffset::UTC).format(&f).ok()
            })
            .unwrap_or_else(|| ts.to_owned());
        out.push_str(&format!(
            "{shown} {}: {}\n",
            m["level"].as_str().unwrap_or_default(),
            m["message"].as_str().unwrap_or_default()
        ));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}

pub(super) async fn device_history(
    State(state): State<AppState>,
    user: UserAuth,
    Path(device): Path<String>,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, ApiError> {
    let (page, per_page) = Paging::new(q.page, q.per_page).validate()?;
    let mut all = deployments(&state, |m| m.history(user.tenant(), &device))?;
    if let Some(s) = q.status.as_deref() {
        let wanted = DeviceDeploymentStatus::parse(s)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid status {s:?}")))?;
        all.retain(|p| p.status == wanted);
    }
    let mut body = Vec::new();
    for p in all.iter().skip((page - 1) * per_page).take(per_page) {
        let dep = deployments(&state, |m| m.deployment(user.tenant(), &p.deployment_id))?;
        let mut v = json!({ "id": format!("{}:{}", p.deployment_id, p.device_id), "device": part_json(p) });
        if let Some(d) = dep {
            v["deployment"] = json!({ "id": d.id, "name": d.name, "artifact_name": d.artifact_name, "status": d.status(), "created": rfc3339(d.created_ts) });
        }
        body.push(v);
    }
    Ok(Json(body).into_response())
}
