//! Deployments as the handlers need them: resolving a deployment's devices when it is
//! created, and the device's `next` — which deployment, which artifact, and the download link.

use std::time::Duration;

use fleetlog_events::deployment::DeviceDeploymentStatus;
use fleetlog_events::deployment::device::{DeviceDeployment, DeviceDeploymentCommand};
use fleetlog_events::deployment::next::{Candidate, NextChoice, choose};
use fleetlog_projections::deployments::{DeploymentView, DeploymentsQueries, DeviceDeploymentView};
use fleetlog_projections::inventory::predicate::Predicate;
use fleetlog_projections::{ProjectionError, rfc3339};
use serde_json::{Value, json};

use super::{App, AppError, Caller, DEFAULT_TENANT, DeviceCaller};
use fleetlog_projections::Model;
use fleetlog_projections::devices::DevicesQueries;

/// How long a download link given to a device lives (Mender: 24 h).
pub const DOWNLOAD_LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Runs `f` over the deployments read model.
pub fn deployments<T>(
    app: &App,
    f: impl FnOnce(&DeploymentsQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, AppError> {
    let model = app.model(fleetlog_projections::Model::Deployments)?;
    Ok(f(&DeploymentsQueries(&model))?)
}

/// The accepted devices matching `filters` (all accepted devices for none), by id.
pub async fn accepted_devices(app: &App, mut filters: Vec<Predicate>) -> Result<Vec<String>, AppError> {
    filters.push(Predicate::equals("identity", "status", vec![Value::from("accepted")]));
    super::inventory::matching_ids(app, filters).await
}

/// Refuses (400, naming a few) device ids that are not devices here: each becomes part of an
/// aggregate id, and a deployment to a device that does not exist would stay pending forever.
/// Gives the ids back when all are known.
pub async fn known_devices(app: &App, ids: Vec<String>) -> Result<Vec<String>, AppError> {
    let (ids, unknown) = app
        .off_worker(Model::Devices, move |m| {
            let q = DevicesQueries(m);
            let mut unknown = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                if !fleetlog_events::token::is_subject_token(id) || q.get(DEFAULT_TENANT, id)?.is_none() {
                    unknown.push(i);
                }
            }
            Ok((ids, unknown))
        })
        .await?;
    if unknown.is_empty() {
        return Ok(ids);
    }
    let shown: Vec<String> = unknown.iter().take(10).map(|&i| format!("{:?}", bounded(&ids[i]))).collect();
    let more = if unknown.len() > 10 { format!(" and {} more", unknown.len() - 10) } else { String::new() };
    Err(AppError::Invalid(format!("unknown devices: {}{more}", shown.join(", "))))
}

/// At most 64 characters of a client's value, for an error message.
fn bounded(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The aggregate id of one device's part in one deployment.
pub fn part_id(deployment: &str, device: &str) -> String {
    format!("{deployment}:{device}")
}

/// Runs a command on the calling device's part in a deployment.
pub async fn device_command(
    app: &App,
    device: &Caller,
    deployment: &str,
    command: &DeviceDeploymentCommand,
) -> Result<(), AppError> {
    let id = part_id(deployment, &device.actor.id);
    app.execute::<DeviceDeployment>(device, &id, command).await?;
    Ok(())
}

/// The calling device reports `status` in deployment `id` (404 when it has no part there).
/// Waits until the read models show it: the next poll must see this report (a finished
/// deployment is not served again). A failure in a deployment with a failure limit is checked
/// against it at once rather than at the scheduler's next tick.
pub async fn report(
    app: &App,
    device: &Caller,
    id: &str,
    status: DeviceDeploymentStatus,
    substate: String,
) -> Result<(), AppError> {
    let (t, me) = (&device.tenant, &device.actor.id);
    let (dep, part) = deployments(app, |q| Ok((q.deployment(t, id)?, q.part(t, id, me)?)))?;
    let (Some(dep), Some(_)) = (dep, part) else {
        return Err(AppError::NotFound("deployment not found for this device".into()));
    };
    let command =
        DeviceDeploymentCommand::Report { status, substate, aborted: dep.aborted, retries: dep.retries };
    device_command(app, device, id, &command).await?;
    if status == DeviceDeploymentStatus::Failure
        && dep.failure_limit.is_some()
        && let Err(e) = super::rollouts::advance(app, t, id).await
    {
        // The report is stored; the scheduler checks the limit again within a second.
        tracing::warn!(deployment = %id, error = %e, "checking the failure limit after a report");
    }
    Ok(())
}

/// Runs an operator's `command` on each of `device`'s parts whose finished state `wanted`
/// picks (abort the unfinished ones, drop the finished ones from its history), and waits until
/// the read models show the last change. A device with no parts changes nothing.
pub async fn on_device_parts(
    app: &App,
    caller: &Caller,
    device: &str,
    wanted: impl Fn(bool) -> bool,
    command: &DeviceDeploymentCommand,
) -> Result<(), AppError> {
    let parts = deployments(app, |q| q.history(&caller.tenant, device))?;
    for p in parts.iter().filter(|p| wanted(p.status.is_finished())) {
        app.execute::<DeviceDeployment>(caller, &part_id(&p.deployment_id, device), command).await?;
    }
    Ok(())
}

/// What the device asked `next` with.
pub struct NextQuery<'a> {
    /// The artifact it runs.
    pub artifact_name: &'a str,
    /// Its device type.
    pub device_type: &'a str,
    /// It takes update control maps (the v2 `next`).
    pub control_map: bool,
}

/// The deployment `next` serves the device: its oldest unfinished one it may have now — one it
/// has started, or one whose phase has started and that is not paused — with its part.
fn servable(
    app: &App,
    t: &str,
    device: &str,
) -> Result<Option<(DeploymentView, DeviceDeploymentView)>, AppError> {
    deployments(app, |q| {
        let may_have = |id: &str| -> Result<Option<(DeploymentView, DeviceDeploymentView)>, ProjectionError> {
            let (Some(dep), Some(part)) = (q.deployment(t, id)?, q.part(t, id, device)?) else {
                return Ok(None);
            };
            let open = part.status != DeviceDeploymentStatus::Pending || dep.open_to(part.phase);
            Ok(open.then_some((dep, part)))
        };
        // One seek in the usual case: the oldest unfinished deployment is the one served.
        let Some(first) = q.next_for(t, device)? else { return Ok(None) };
        if let Some(found) = may_have(&first)? {
            return Ok(Some(found));
        }
        // It is held back (a phase not started, a pause): a later one may be served.
        for id in q.active_for(t, device)?.iter().filter(|id| **id != first) {
            if let Some(found) = may_have(id)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    })
}

/// Mender's `next`: the device's oldest unfinished deployment it may have now (see
/// [`servable`]; a device matching a dynamic deployment's filter joins it here) with an
/// artifact for its device type, or `None` (204). Finding no fitting artifact, or the
/// artifact already installed, finishes the device's part (`noartifact`,
/// `already-installed`) and answers `None`.
pub async fn next(app: &App, who: DeviceCaller<'_>, asked: NextQuery<'_>) -> Result<Option<Value>, AppError> {
    let (t, device) = (who.tenant, who.device);
    let found = match servable(app, t, device)? {
        Some(found) => Some(found),
        None if super::rollouts::join_dynamic(app, who).await? => servable(app, t, device)?,
        None => None,
    };
    let Some((dep, part)) = found else { return Ok(None) };
    let dep_id = dep.id.clone();
    let artifacts = deployments(app, |q| q.artifacts_named(t, &dep.artifact_name))?;
    if dep.configuration.is_some() {
        let mut instructions =
            super::devconfig::instructions(app, &dep_id, &dep.artifact_name, device, asked.device_type)?;
        with_control_map(&mut instructions, &asked, &dep);
        if part.artifact_id.is_none() {
            let assign = DeviceDeploymentCommand::Assign { artifact_id: format!("{dep_id}:{device}") };
            device_command(app, &who.caller(), &dep_id, &assign).await?;
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
            device_command(app, &who.caller(), &dep_id, &skip).await?;
            return Ok(None);
        }
    }
    .ok_or_else(|| AppError::Internal(anyhow::anyhow!("chosen artifact not among the candidates")))?;
    if part.artifact_id.as_deref() != Some(artifact.id.as_str()) {
        let assign = DeviceDeploymentCommand::Assign { artifact_id: artifact.id.clone() };
        device_command(app, &who.caller(), &dep_id, &assign).await?;
    }
    let file_name = format!("{}.mender", artifact.info.name);
    let uri = app
        .storage
        .download_link(&artifact.info.storage_key, DOWNLOAD_LINK_LIFETIME, Some(&file_name))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let expire = crate::now().0 + DOWNLOAD_LINK_LIFETIME.as_micros() as i64;
    let mut instructions = json!({
        "id": dep_id,
        "artifact": {
            "id": artifact.id,
            "artifact_name": artifact.info.name,
            "source": { "uri": uri, "expire": rfc3339(expire) },
            "device_types_compatible": artifact.info.device_types,
        }
    });
    with_control_map(&mut instructions, &asked, &dep);
    Ok(Some(instructions))
}

/// Adds the deployment's update control map to `next`'s answer for a client that takes maps.
fn with_control_map(instructions: &mut Value, asked: &NextQuery<'_>, dep: &DeploymentView) {
    if asked.control_map
        && let Some(map) = &dep.control_map
    {
        instructions["update_control_map"] = super::rollouts::control_map_json(&dep.id, map);
    }
}

/// Creates a software deployment of an existing artifact name under a new id (derived from
/// the idempotency key when one is given); returns the id.
pub async fn create(
    app: &App,
    caller: &Caller,
    mut spec: fleetlog_events::deployment::DeploymentSpec,
    phases: &[fleetlog_events::deployment::rollout::PhaseRequest],
    idempotency_key: Option<&str>,
) -> Result<String, AppError> {
    let artifacts = deployments(app, |q| q.artifacts_named(&caller.tenant, &spec.artifact_name))?;
    fleetlog_events::deployment::check_deployable(&spec, artifacts.len())?;
    // A retry with the same key finds its command stored and answers with the same deployment.
    let (caller, id) = caller.creating("deployment", idempotency_key);
    super::rollouts::plan(&id, &mut spec, phases)?;
    let rollout = !spec.phases.is_empty();
    let command = fleetlog_events::deployment::DeploymentCommand::Create(spec);
    app.execute::<fleetlog_events::deployment::Deployment>(&caller, &id, &command).await?;
    if rollout {
        // A first phase due now starts before the answer; the scheduler starts later ones.
        super::rollouts::advance(app, &caller.tenant, &id).await?;
    }
    Ok(id)
}

/// Aborts a deployment (refused once it has finished).
pub async fn abort(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    let dep = deployments(app, |q| q.deployment(&caller.tenant, id))?
        .ok_or_else(|| AppError::NotFound("deployment not found".into()))?;
    let command =
        fleetlog_events::deployment::DeploymentCommand::Abort { finished: dep.finished_ts.is_some() };
    app.execute::<fleetlog_events::deployment::Deployment>(caller, id, &command).await?;
    Ok(())
}
