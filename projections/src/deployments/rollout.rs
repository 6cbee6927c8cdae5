//! The rollout side of the deployments model: a deployment's phases, pause, control map and
//! dynamic membership, and the indexes the rollout scheduler (`R/`) and polling devices
//! joining dynamic deployments (`Y/`) read. Both indexes hold unfinished deployments only.

use fleetlog_events::deployment::rollout::Phase;
use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus as S};

use super::keys::{by_artifact_key, deployment_key, dynamic_key, rollout_key};
use super::{DeploymentView, PhaseView, get};
use crate::{ProjectionError, Writer, to_bytes};

/// The view of a new deployment, before its devices are listed (the caller stores it then),
/// entered in the indexes it belongs to.
pub(super) fn created(
    w: &mut Writer<'_>,
    t: &str,
    id: &str,
    at: i64,
    spec: &DeploymentSpec,
) -> DeploymentView {
    let phases = spec.phases.iter().map(|p: &Phase| PhaseView {
        batch_size: p.batch_size,
        start_ts: p.start_ts,
        device_count: p.device_count,
        requested: 0,
        started: false,
    });
    let view = DeploymentView {
        id: id.to_owned(),
        name: spec.name.clone(),
        artifact_name: spec.artifact_name.clone(),
        target: spec.target.clone(),
        retries: spec.retries,
        force_installation: spec.force_installation,
        created_ts: at,
        finished_ts: None,
        aborted: false,
        // The devices are counted as their list is applied (`list_devices`).
        device_count: 0,
        stats: std::collections::BTreeMap::new(),
        configuration: spec.configuration.clone(),
        phases: phases.collect(),
        paused: None,
        failure_limit: spec.failure_limit,
        control_map: spec.update_control_map.clone(),
        dynamic: spec.dynamic.clone(),
        initial_device_count: 0,
        resumed_at_counts: (0, 0),
    };
    index(w, t, &view);
    view
}

/// The phase of the device at `position` in the deployment's device list.
pub(super) fn phase_at(phases: &[PhaseView], position: u64) -> usize {
    let mut end = 0;
    for (i, p) in phases.iter().enumerate() {
        end += p.device_count;
        if position < end {
            return i;
        }
    }
    0
}

/// Enters an unfinished deployment in the scheduler's and the joiners' indexes.
fn index(w: &mut Writer<'_>, t: &str, view: &DeploymentView) {
    if !view.phases.is_empty() || view.failure_limit.is_some() {
        w.insert(rollout_key(t, &view.id), Vec::new());
    }
    if view.dynamic.is_some() {
        w.insert(dynamic_key(t, view.created_ts, &view.id), Vec::new());
    }
}

/// Marks `dep` finished at `at` and takes it out of every index of unfinished deployments.
pub(super) fn finish(
    w: &mut Writer<'_>,
    t: &str,
    dep: &mut DeploymentView,
    at: i64,
) -> Result<(), ProjectionError> {
    dep.finished_ts = Some(at);
    w.remove(by_artifact_key(t, &dep.artifact_name, &dep.id))?;
    w.remove(rollout_key(t, &dep.id))?;
    w.remove(dynamic_key(t, dep.created_ts, &dep.id))?;
    Ok(())
}

/// Opens a finished deployment again (a failure is retried).
pub(super) fn reopen(w: &mut Writer<'_>, t: &str, dep: &mut DeploymentView) {
    dep.finished_ts = None;
    w.insert(by_artifact_key(t, &dep.artifact_name, &dep.id), Vec::new());
    index(w, t, dep);
}

/// Counts a device joining dynamic deployment `id`; answers the phase it joins (the latest
/// started, so it is not held back) and the deployment's creation time, under which its part
/// sorts.
pub(super) fn device_added(
    w: &mut Writer<'_>,
    t: &str,
    id: &str,
) -> Result<Option<(usize, i64)>, ProjectionError> {
    let Some(mut dep) = get::<DeploymentView>(w, &deployment_key(t, id))? else { return Ok(None) };
    dep.device_count += 1;
    *dep.stats.entry(S::Pending).or_default() += 1;
    let phase = dep.phases.iter().rposition(|p| p.started).unwrap_or(0);
    if let Some(p) = dep.phases.get_mut(phase) {
        p.device_count += 1;
    }
    w.insert(deployment_key(t, id), to_bytes(&dep)?);
    Ok(Some((phase, dep.created_ts)))
}

/// Phase starts, pauses, resumes and control map changes.
pub(super) fn apply(
    w: &mut Writer<'_>,
    t: &str,
    id: &str,
    e: &DeploymentEvent,
) -> Result<(), ProjectionError> {
    let Some(mut dep) = get::<DeploymentView>(w, &deployment_key(t, id))? else { return Ok(()) };
    match e {
        DeploymentEvent::DeploymentPhaseStarted { phase } => {
            if let Some(p) = dep.phases.get_mut(*phase) {
                p.started = true;
            }
        }
        DeploymentEvent::DeploymentPaused { reason } => dep.paused = Some(reason.clone()),
        DeploymentEvent::DeploymentResumed => {
            dep.paused = None;
            dep.resumed_at_counts = dep.outcome_counts();
        }
        DeploymentEvent::DeploymentControlMapUpdated { map } => dep.control_map = Some(map.clone()),
        // Created, aborted and joined are applied by the caller.
        _ => return Ok(()),
    }
    w.insert(deployment_key(t, id), to_bytes(&dep)?);
    Ok(())
}
