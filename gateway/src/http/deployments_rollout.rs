//! Rollout controls on Mender's deployments wire: `phases`, `update_control_map` and
//! `max_devices` as Mender's enterprise API takes them, fleetlog's `max_failure_rate`, the
//! deployment's rollout fields in its JSON, and the operator's `PATCH` of a control map.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use fleetlog_events::deployment::DeploymentSpec;
use fleetlog_events::deployment::rollout::{
    ControlMap, ControlState, ControlStep, FailureLimit, PhaseRequest,
};
use fleetlog_projections::deployments::DeploymentView;
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{AppJson, rfc3339};
use super::{ApiError, UserAuth};
use crate::state::AppState;

/// Finished devices needed before `max_failure_rate` counts, unless the request says.
pub const DEFAULT_FAILURE_SAMPLE: u64 = 10;

/// One phase as the request gives it (`start_ts` in RFC 3339).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhaseIn {
    #[serde(default)]
    batch_size: Option<u32>,
    #[serde(default)]
    start_ts: Option<String>,
}

/// The rollout fields of a new deployment (flattened into its body).
#[derive(Debug, Default, Deserialize)]
pub struct RolloutIn {
    #[serde(default)]
    phases: Option<Vec<PhaseIn>>,
    #[serde(default)]
    update_control_map: Option<ControlMap>,
    #[serde(default)]
    max_devices: Option<u64>,
    /// fleetlog: pause when more than this percent of finished devices failed.
    #[serde(default)]
    max_failure_rate: Option<u32>,
    /// fleetlog: finished devices needed before the rate counts.
    #[serde(default)]
    failure_rate_min_devices: Option<u64>,
}

fn parse_time(s: &str) -> Result<i64, ApiError> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| ApiError::BadRequest(format!("start_ts {:?} is not an RFC 3339 time", bounded(s))))?;
    Ok((t.unix_timestamp_nanos() / 1000) as i64)
}

fn bounded(s: &str) -> String {
    s.chars().take(64).collect()
}

impl RolloutIn {
    /// Puts the rollout fields on `spec` and answers the phases to plan (the deployment id they
    /// are spread by is chosen when it is stored).
    pub fn apply(self, spec: &mut DeploymentSpec) -> Result<Vec<PhaseRequest>, ApiError> {
        let phases = match self.phases {
            None => Vec::new(),
            Some(p) if p.is_empty() => return Err(ApiError::BadRequest("phases must not be empty".into())),
            Some(p) => p
                .into_iter()
                .map(|p| {
                    Ok(PhaseRequest {
                        batch_size: p.batch_size,
                        start_ts: p.start_ts.as_deref().map(parse_time).transpose()?,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
        };
        // The ranges of the rate, the map and the phases are the aggregate's rules (`decide`).
        if let Some(rate) = self.max_failure_rate {
            let min_devices = self.failure_rate_min_devices.unwrap_or(DEFAULT_FAILURE_SAMPLE).max(1);
            spec.failure_limit = Some(FailureLimit { max_failure_rate: rate, min_devices });
        } else if self.failure_rate_min_devices.is_some() {
            return Err(ApiError::BadRequest("failure_rate_min_devices needs max_failure_rate".into()));
        }
        spec.update_control_map = self.update_control_map;
        match (&mut spec.dynamic, self.max_devices) {
            (Some(d), max) => d.max_devices = max.filter(|m| *m > 0),
            (None, Some(_)) => {
                return Err(ApiError::BadRequest("max_devices applies to a deployment to a filter".into()));
            }
            (None, None) => {}
        }
        Ok(phases)
    }
}

/// The rollout fields of a deployment's JSON: Mender's `phases` (each with the devices that
/// asked within it as `device_count`), `update_control_map`, `max_devices`, `dynamic`, `filter`
/// (its terms as at creation; the name while the saved filter exists), `initial_device_count`;
/// fleetlog's `paused`/`pause_reason` and `max_failure_rate`.
pub fn add_json(state: &AppState, v: &mut Value, d: &DeploymentView) {
    if !d.phases.is_empty() {
        let phases: Vec<Value> = d
            .phases
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "id": format!("{}-{}", d.id, i + 1),
                    "batch_size": p.batch_size,
                    "start_ts": rfc3339(p.start_ts),
                    "device_count": p.requested,
                    "devices": p.device_count,
                    "started": p.started,
                })
            })
            .collect();
        v["phases"] = phases.into();
    }
    if let Some(map) = &d.control_map {
        v["update_control_map"] = crate::app::rollouts::control_map_json(&d.id, map);
    }
    if let Some(dynamic) = &d.dynamic {
        v["dynamic"] = true.into();
        let id = d.target.strip_prefix("filter:").unwrap_or_default();
        let name =
            crate::app::filters::saved(state, crate::DEFAULT_TENANT, id).map(|f| f.name).unwrap_or_default();
        let terms: Vec<Value> =
            dynamic.filter.iter().map(fleetlog_projections::inventory::wire::to_json).collect();
        v["filter"] = json!({ "id": id, "name": name, "terms": terms });
        v["initial_device_count"] = d.initial_device_count.into();
        if let Some(max) = dynamic.max_devices {
            v["max_devices"] = max.into();
        }
    }
    if let Some(limit) = d.failure_limit {
        v["max_failure_rate"] = limit.max_failure_rate.into();
        v["failure_rate_min_devices"] = limit.min_devices.into();
    }
    v["paused"] = d.paused.is_some().into();
    if let Some(reason) = &d.paused {
        v["pause_reason"] = reason.as_str().into();
    }
}

/// `PATCH .../deployments/{id}`: `{"update_control_map": {"states": {...}}}` continues or
/// fails paused steps (Mender: 204; 409 for a deployment without a map).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchIn {
    update_control_map: PatchMap,
}

/// The states to change (a priority, if given, must be the map's own).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchMap {
    #[serde(default)]
    priority: Option<i32>,
    #[serde(default)]
    id: Option<String>,
    states: BTreeMap<ControlState, ControlStep>,
}

/// Changes a deployment's update control map.
pub async fn patch(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    AppJson(body): AppJson<PatchIn>,
) -> Result<StatusCode, ApiError> {
    let map = body.update_control_map;
    if map.states.is_empty() {
        return Err(ApiError::BadRequest("update_control_map.states must not be empty".into()));
    }
    if map.id.as_ref().is_some_and(|given| *given != id) {
        return Err(ApiError::BadRequest("update_control_map.id must be the deployment's id".into()));
    }
    crate::app::rollouts::update_control_map(&state, &user.caller, &id, map.priority, map.states).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT .../deployments/{id}/status`: Mender's `aborted`, and fleetlog's `paused` and
/// `resumed`.
pub async fn set_status(state: &AppState, user: &UserAuth, id: &str, status: &str) -> Result<(), ApiError> {
    match status {
        "aborted" => crate::app::deployments::abort(state, &user.caller, id).await?,
        "paused" => crate::app::rollouts::pause(state, &user.caller, id).await?,
        "resumed" => crate::app::rollouts::resume(state, &user.caller, id).await?,
        _ => {
            return Err(ApiError::BadRequest("status must be \"aborted\", \"paused\" or \"resumed\"".into()));
        }
    }
    Ok(())
}

/// Answers the JSON body of a device's `GET .../{id}/update_control_map`.
pub fn device_map_json(map: Value) -> Json<Value> {
    Json(json!({ "update_control_map": map }))
}
