//! Deployments as the handlers need them: resolving a deployment's devices when it is
//! created, and the device's `next` — which deployment, which artifact, and the download link.

use std::time::Duration;

use fleetlog_commands::CommandMeta;
use fleetlog_events::Actor;
use fleetlog_events::deployment::device::{DeviceDeployment, DeviceDeploymentCommand, DeviceDeploymentError};
use fleetlog_events::deployment::next::{Candidate, NextChoice, choose};
use fleetlog_events::deployment::{DeploymentError, DeviceDeploymentStatus};
use fleetlog_projections::deployments::DeploymentsQueries;
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::http::json::rfc3339;
use crate::services::filters::Filter;
use crate::services::inventory::inventory;
use crate::services::search::search;
use crate::state::AppState;

/// How long a download link given to a device lives (Mender: 24 h).
pub const DOWNLOAD_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Runs `f` over the deployments read model.
pub fn deployments<T>(
    state: &AppState,
    f: impl FnOnce(&DeploymentsQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, ApiError> {
    let model = state.model(fleetlog_projections::Model::Deployments)?;
    Ok(f(&DeploymentsQueries(&model))?)
}

/// The accepted devices matching `filters` (all accepted devices for none), by id.
pub fn accepted_devices(state: &AppState, mut filters: Vec<Filter>) -> Result<Vec<String>, ApiError> {
    filters.push(Filter::equals("identity", "status", vec![Value::from("accepted")]));
    inventory(state, |q| {
        let found = search(q, crate::DEFAULT_TENANT, &filters, &[], 0, usize::MAX)?;
        Ok(found.page.into_iter().map(|d| d.id).collect())
    })
}

/// Refuses (400, naming a few) device ids that are not devices here: each becomes part of an
/// aggregate id, and a deployment to a device that does not exist would stay pending forever.
pub fn known_devices(state: &AppState, ids: &[String]) -> Result<(), ApiError> {
    let unknown: Vec<&String> = crate::services::devices::devices(state, |q| {
        let mut unknown = Vec::new();
        for id in ids {
            if !fleetlog_events::token::is_subject_token(id) || q.get(crate::DEFAULT_TENANT, id)?.is_none() {
                unknown.push(id);
            }
        }
        Ok(unknown)
    })?;
    if unknown.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = unknown.iter().take(10).map(|id| format!("{:?}", bounded(id))).collect();
    let more = if unknown.len() > 10 { format!(" and {} more", unknown.len() - 10) } else { String::new() };
    Err(ApiError::BadRequest(format!("unknown devices: {}{more}", shown.join(", "))))
}

/// At most 64 characters of a client's value, for an error message.
fn bounded(s: &str) -> String {
    s.chars().take(64).collect()
}

impl From<DeploymentError> for ApiError {
    fn from(e: DeploymentError) -> Self {
        match e {
            DeploymentError::NotFound => ApiError::NotFound(e.to_string()),
            DeploymentError::Finished => ApiError::Unprocessable(e.to_string()),
            DeploymentError::AlreadyExists => ApiError::Conflict(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<DeviceDeploymentError> for ApiError {
    fn from(e: DeviceDeploymentError) -> Self {
        match e {
            DeviceDeploymentError::Aborted | DeviceDeploymentError::Finished(_) => {
                ApiError::Conflict(e.to_string())
            }
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// The aggregate id of one device's part in one deployment.
pub fn part_id(deployment: &str, device: &str) -> String {
    format!("{deployment}:{device}")
}

/// Runs a command on a device's part in a deployment, as the device.
pub async fn device_command(
    state: &AppState,
    device: &str,
    deployment: &str,
    request_id: &str,
    command: &DeviceDeploymentCommand,
) -> Result<u64, ApiError> {
    let meta = CommandMeta::new(crate::DEFAULT_TENANT, Actor::device(device), request_id);
    let out =
        state.commands.execute::<DeviceDeployment>(&meta, &part_id(deployment, device), command).await?;
    Ok(out.position)
}

/// Runs an operator's `command` on each of `device`'s parts whose finished state `wanted`
/// picks (abort the unfinished ones, drop the finished ones from its history), and waits until
/// the read models show the last change. A device with no parts changes nothing.
pub async fn on_device_parts(
    state: &AppState,
    meta: &CommandMeta,
    device: &str,
    wanted: impl Fn(bool) -> bool,
    command: &DeviceDeploymentCommand,
) -> Result<(), ApiError> {
    let parts = deployments(state, |q| q.history(crate::DEFAULT_TENANT, device))?;
    let mut last = 0;
    for p in parts.iter().filter(|p| wanted(p.status.is_finished())) {
        let id = part_id(&p.deployment_id, device);
        last = last.max(state.commands.execute::<DeviceDeployment>(meta, &id, command).await?.position);
    }
    if last > 0 {
        state.seen(last).await?;
    }
    Ok(())
}

/// What the device asked `next` with.
pub struct NextQuery<'a> {
    /// The artifact it runs.
    pub artifact_name: &'a str,
    /// Its device type.
    pub device_type: &'a str,
}

/// Mender's `next`: the device's oldest unfinished deployment with an artifact for its device
/// type, or `None` (204). Finding no fitting artifact, or the artifact already installed,
/// finishes the device's part (`noartifact`, `already-installed`) and answers `None`.
pub async fn next(
    state: &AppState,
    device: &str,
    request_id: &str,
    asked: NextQuery<'_>,
) -> Result<Option<Value>, ApiError> {
    let t = crate::DEFAULT_TENANT;
    let Some(dep_id) = deployments(state, |q| q.next_for(t, device))? else { return Ok(None) };
    let (dep, part, artifacts) = deployments(state, |q| {
        let dep = q.deployment(t, &dep_id)?;
        let part = q.part(t, &dep_id, device)?;
        let artifacts = match &dep {
            Some(d) => q.artifacts_named(t, &d.artifact_name)?,
            None => Vec::new(),
        };
        Ok((dep, part, artifacts))
    })?;
    let (Some(dep), Some(part)) = (dep, part) else { return Ok(None) };
    if dep.configuration.is_some() {
        let instructions = crate::services::configuration::instructions(
            state,
            &dep_id,
            &dep.artifact_name,
            device,
            asked.device_type,
        )?;
        if part.artifact_id.is_none() {
            let assign = DeviceDeploymentCommand::Assign { artifact_id: format!("{dep_id}:{device}") };
            device_command(state, device, &dep_id, request_id, &assign).await?;
        }
        return Ok(Some(instructions));
    }
    let candidates: Vec<Candidate<'_>> = artifacts
        .iter()
        .map(|a| Candidate { id: &a.id, name: &a.info.name, device_types: &a.info.device_types })
        .collect();
    let chosen = choose(
        &candidates,
        part.artifact_id.as_deref(),
        asked.device_type,
        asked.artifact_name,
        dep.force_installation,
    );
    let artifact = match chosen {
        NextChoice::Install(id) => artifacts.iter().find(|a| a.id == id),
        NextChoice::AlreadyInstalled | NextChoice::NoArtifact => {
            let status = if chosen == NextChoice::AlreadyInstalled {
                DeviceDeploymentStatus::AlreadyInstalled
            } else {
                DeviceDeploymentStatus::Noartifact
            };
            let skip = DeviceDeploymentCommand::Skip { status };
            let at = device_command(state, device, &dep_id, request_id, &skip).await?;
            state.seen(at).await?;
            return Ok(None);
        }
    }
    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("chosen artifact not among the candidates")))?;
    if part.artifact_id.as_deref() != Some(artifact.id.as_str()) {
        let assign = DeviceDeploymentCommand::Assign { artifact_id: artifact.id.clone() };
        device_command(state, device, &dep_id, request_id, &assign).await?;
    }
    let file_name = format!("{}.mender", artifact.info.name);
    let uri = state
        .storage
        .download_link(&artifact.info.storage_key, DOWNLOAD_LINK_LIFETIME, Some(&file_name))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let expire = fleetlog_commands::now().0 + DOWNLOAD_LINK_LIFETIME.as_micros() as i64;
    Ok(Some(json!({
        "id": dep_id,
        "artifact": {
            "id": artifact.id,
            "artifact_name": artifact.info.name,
            "source": { "uri": uri, "expire": rfc3339(expire) },
            "device_types_compatible": artifact.info.device_types,
        }
    })))
}
