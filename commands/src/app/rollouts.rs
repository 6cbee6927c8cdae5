//! Rollout controls: planning a phased deployment, the scheduler that starts phases on time and
//! stops a rollout whose failure rate is over its limit, an operator's pause, resume and
//! control-map changes, and devices joining dynamic deployments. Every decision is an event on
//! the deployment; the scheduler only reads the read model and asks.

use std::collections::BTreeMap;
use std::time::Duration;

use fleetlog_events::deployment::rollout::{
    ControlMap, ControlState, ControlStep, PhaseRequest, plan_phases,
};
use fleetlog_events::deployment::{Deployment, DeploymentCommand, DeploymentSpec};
use fleetlog_projections::deployments::DeploymentView;
use fleetlog_projections::inventory::predicate::Predicate;
use fleetlog_projections::inventory::search::lookup;
use serde_json::Value;

use super::deployments::deployments;
use super::inventory::inventory;
use super::{App, AppError, Caller, DeviceCaller};

/// How often the scheduler looks at unfinished rollouts.
pub const TICK: Duration = Duration::from_secs(1);

/// Orders the devices of deployment `id` into the asked phases (see [`plan_phases`]).
pub fn plan(id: &str, spec: &mut DeploymentSpec, asked: &[PhaseRequest]) -> Result<(), AppError> {
    if asked.is_empty() {
        return Ok(());
    }
    let devices = std::mem::take(&mut spec.devices);
    let (devices, phases) = plan_phases(id, devices, asked, crate::now().0)
        .map_err(fleetlog_events::deployment::DeploymentError::from)?;
    spec.devices = devices;
    spec.phases = phases;
    Ok(())
}

fn view(app: &App, tenant: &str, id: &str) -> Result<DeploymentView, AppError> {
    deployments(app, |q| q.deployment(tenant, id))?
        .ok_or_else(|| AppError::NotFound("deployment not found".into()))
}

/// Brings one deployment up to date: pauses it when its failure rate is over the limit, else
/// starts every phase whose time has come. Safe to run on several replicas at once (starting a
/// started phase changes nothing; a second pause is refused and ignored).
pub async fn advance(app: &App, tenant: &str, id: &str) -> Result<(), AppError> {
    let caller = Caller::system(tenant, "rollout-scheduler");
    let dep = view(app, tenant, id)?;
    if dep.finished_ts.is_some() || dep.paused.is_some() {
        return Ok(());
    }
    if let Some(reason) = dep.failure_stop() {
        let pause = DeploymentCommand::Pause { reason, finished: false };
        return match app.execute::<Deployment>(&caller, id, &pause).await {
            Err(AppError::Conflict(_)) => Ok(()),
            other => other.map(|_| ()),
        };
    }
    let now = crate::now().0;
    for (phase, p) in dep.phases.iter().enumerate().filter(|(_, p)| !p.started) {
        if p.start_ts > now {
            break;
        }
        app.execute::<Deployment>(&caller, id, &DeploymentCommand::StartPhase { phase, finished: false })
            .await?;
    }
    Ok(())
}

/// One pass of the scheduler over every tenant's unfinished rollouts; answers how many.
pub async fn tick(app: &App) -> Result<usize, AppError> {
    let rollouts = deployments(app, |q| q.rollouts())?;
    for (tenant, id) in &rollouts {
        if let Err(e) = advance(app, tenant, id).await {
            tracing::warn!(%tenant, deployment = %id, error = %e, "advancing a rollout");
        }
    }
    Ok(rollouts.len())
}

/// Runs [`tick`] every [`TICK`] until `shutdown` completes: phases start on time whether or
/// not a device polls.
pub async fn scheduler(app: &App, shutdown: impl std::future::Future<Output = ()>) {
    super::every(TICK, shutdown, "rollout scheduler", || tick(app)).await
}

/// An operator pauses a deployment: devices that have not started it get nothing.
pub async fn pause(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    let dep = view(app, &caller.tenant, id)?;
    let who = if caller.actor.email.is_empty() { &caller.actor.id } else { &caller.actor.email };
    let reason = format!("paused by {who}");
    let command = DeploymentCommand::Pause { reason, finished: dep.finished_ts.is_some() };
    app.execute::<Deployment>(caller, id, &command).await?;
    Ok(())
}

/// An operator resumes a paused deployment; phases whose time has come start at once.
pub async fn resume(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    let dep = view(app, &caller.tenant, id)?;
    app.execute::<Deployment>(caller, id, &DeploymentCommand::Resume { finished: dep.finished_ts.is_some() })
        .await?;
    advance(app, &caller.tenant, id).await
}

/// Puts `states` over the deployment's update control map (Mender's `PATCH` of a deployment).
pub async fn update_control_map(
    app: &App,
    caller: &Caller,
    id: &str,
    priority: Option<i32>,
    states: BTreeMap<ControlState, ControlStep>,
) -> Result<(), AppError> {
    let dep = view(app, &caller.tenant, id)?;
    let command =
        DeploymentCommand::UpdateControlMap { priority, states, finished: dep.finished_ts.is_some() };
    app.execute::<Deployment>(caller, id, &command).await?;
    Ok(())
}

/// The map as Mender's client takes it: its id is the deployment's (the client clears such a
/// map when the deployment ends).
pub fn control_map_json(deployment: &str, map: &ControlMap) -> Value {
    let mut v = serde_json::to_value(map).unwrap_or_default();
    v["id"] = Value::from(deployment);
    v
}

/// The update control map the calling device's deployment `id` has now, if any.
pub fn device_control_map(app: &App, who: DeviceCaller<'_>, id: &str) -> Result<Option<Value>, AppError> {
    let (dep, part) =
        deployments(app, |q| Ok((q.deployment(who.tenant, id)?, q.part(who.tenant, id, who.device)?)))?;
    Ok(match (dep, part) {
        (Some(dep), Some(_)) => dep.control_map.as_ref().map(|m| control_map_json(id, m)),
        _ => None,
    })
}

/// Lets the calling device join every unfinished dynamic deployment whose filter it matches
/// now and that it is not part of; answers whether it joined any.
pub async fn join_dynamic(app: &App, who: DeviceCaller<'_>) -> Result<bool, AppError> {
    let (t, device) = (who.tenant, who.device);
    let open = deployments(app, |q| {
        let mut open = Vec::new();
        for id in q.dynamic_deployments(t)? {
            if q.part(t, &id, device)?.is_none()
                && let Some(dep) = q.deployment(t, &id)?
            {
                open.push(dep);
            }
        }
        Ok(open)
    })?;
    if open.is_empty() {
        return Ok(false);
    }
    let Some(doc) = inventory(app, |q| Ok(q.get(t, device)?))? else { return Ok(false) };
    let mut joined = false;
    for dep in open {
        let Some(dynamic) = &dep.dynamic else { continue };
        let Ok(filter) = dynamic.filter.iter().map(Predicate::parse).collect::<Result<Vec<_>, _>>() else {
            continue;
        };
        let accepted = Predicate::equals("identity", "status", vec![Value::from("accepted")]);
        let matches =
            filter.iter().chain([&accepted]).all(|p| p.matches(|scope, name| lookup(&doc, scope, name)));
        if matches {
            let add =
                DeploymentCommand::AddDevice { device: device.to_owned(), member: false, finished: false };
            match app.execute::<Deployment>(&who.caller(), &dep.id, &add).await {
                Ok(outcome) => joined |= outcome.appended > 0,
                // It finished or was aborted meanwhile: nothing to join.
                Err(AppError::Refused(_) | AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(joined)
}
