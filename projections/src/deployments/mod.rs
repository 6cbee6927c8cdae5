//! The deployments read model: artifacts (by id and by name), deployments with their
//! statistics, each device's part in each deployment, and the per-device index of unfinished
//! deployments that `deployments/next` reads with one seek. Aborting a deployment or
//! decommissioning a device finishes the devices' parts here, from the one event.

#[cfg(test)]
mod fleet_tests;
mod keys;
mod queries;
mod rollout;
#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod tests;
mod views;

use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::{DeploymentEvent, DeviceDeploymentStatus as S};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::{DomainEvent, RecordedEvent};

pub use queries::DeploymentsQueries;
pub use views::{ArtifactView, DeploymentView, DeviceDeploymentView, PhaseView};

use crate::{Projection, ProjectionError, Writer, from_bytes, to_bytes};
use keys::*;

/// Parts an abort reads and finishes at a time.
const ABORT_PAGE: usize = 4096;

/// The projection that maintains the deployments model.
pub struct DeploymentsProjection;

fn get<T: serde::de::DeserializeOwned>(w: &Writer<'_>, key: &[u8]) -> Result<Option<T>, ProjectionError> {
    w.get(key)?.map(|v| from_bytes(&v)).transpose()
}

/// Moves one device part to `status` and keeps the deployment's statistics, its finish, and
/// the device's index of unfinished deployments in step.
fn set_status(
    w: &mut Writer<'_>,
    t: &str,
    part: &mut DeviceDeploymentView,
    status: S,
    at: i64,
) -> Result<(), ProjectionError> {
    let old = part.status;
    if old == status {
        return Ok(());
    }
    part.status = status;
    // The device's first report starts its part; an abort or a decommission only ends it.
    let by_device = !matches!(status, S::Pending | S::Aborted | S::Decommissioned);
    let first_request = old == S::Pending && part.started_ts.is_none() && by_device;
    if first_request {
        part.started_ts = Some(at);
    }
    let dep_key = deployment_key(t, &part.deployment_id);
    let Some(mut dep) = get::<DeploymentView>(w, &dep_key)? else { return Ok(()) };
    if first_request && let Some(phase) = dep.phases.get_mut(part.phase) {
        phase.requested += 1;
    }
    let pending_key = active_key(t, &part.device_id, dep.created_ts, &part.deployment_id);
    if status.is_finished() {
        part.finished_ts = Some(at);
        w.remove(pending_key)?;
    } else {
        part.finished_ts = None;
        w.insert(pending_key, Vec::new());
    }
    if let Some(n) = dep.stats.get_mut(&old) {
        *n = n.saturating_sub(1);
    }
    *dep.stats.entry(status).or_default() += 1;
    dep.stats.retain(|_, n| *n > 0);
    if dep.done() && dep.finished_ts.is_none() {
        rollout::finish(w, t, &mut dep, at)?;
    } else if !dep.done() && dep.finished_ts.is_some() {
        // A retried failure reopens a deployment that had finished.
        rollout::reopen(w, t, &mut dep);
    }
    w.insert(dep_key, to_bytes(&dep)?);
    Ok(())
}

fn save_part(w: &mut Writer<'_>, t: &str, part: &DeviceDeploymentView) -> Result<(), ProjectionError> {
    w.insert(part_key(t, &part.deployment_id, &part.device_id), to_bytes(part)?);
    Ok(())
}

/// Adds the next part of deployment `id`'s device list: pending parts, counted, each in its
/// phase (the list holds phase 1's devices first, then phase 2's, and so on).
fn list_devices(
    w: &mut Writer<'_>,
    t: &str,
    mut dep: DeploymentView,
    devices: &[String],
) -> Result<(), ProjectionError> {
    let (id, listed) = (dep.id.clone(), dep.device_count);
    let n = devices.len() as u64;
    dep.device_count += n;
    dep.initial_device_count += n;
    if n > 0 {
        *dep.stats.entry(S::Pending).or_default() += n;
    }
    w.insert(deployment_key(t, &id), to_bytes(&dep)?);
    for (i, device) in devices.iter().enumerate() {
        let phase = rollout::phase_at(&dep.phases, listed + i as u64);
        add_part(w, t, &id, device, dep.created_ts, phase)?;
    }
    Ok(())
}

/// A new pending part of `device` in deployment `id` (created at `at`), in its history and in
/// the queue `next` reads.
fn add_part(
    w: &mut Writer<'_>,
    t: &str,
    id: &str,
    device: &str,
    at: i64,
    phase: usize,
) -> Result<(), ProjectionError> {
    let part = DeviceDeploymentView {
        deployment_id: id.to_owned(),
        device_id: device.to_owned(),
        status: S::Pending,
        substate: String::new(),
        artifact_id: None,
        created_ts: at,
        started_ts: None,
        finished_ts: None,
        attempts: 0,
        has_log: false,
        phase,
    };
    save_part(w, t, &part)?;
    w.insert(history_key(t, device, at, id), Vec::new());
    w.insert(active_key(t, device, at, id), Vec::new());
    Ok(())
}

/// Finishes every unfinished part under `prefix` (keys of the per-device active index or of a
/// deployment's parts) with `status`.
fn finish_all(
    w: &mut Writer<'_>,
    t: &str,
    parts: Vec<(String, String)>,
    status: S,
    at: i64,
) -> Result<(), ProjectionError> {
    for (dep, device) in parts {
        let Some(mut part) = get::<DeviceDeploymentView>(w, &part_key(t, &dep, &device))? else { continue };
        if !part.status.is_finished() {
            set_status(w, t, &mut part, status, at)?;
            save_part(w, t, &part)?;
        }
    }
    Ok(())
}

impl Projection for DeploymentsProjection {
    fn name(&self) -> &'static str {
        crate::Model::Deployments.name()
    }

    fn version(&self) -> u32 {
        // 2: a part ended by an abort or a decommission before the device reported has no start.
        // 3: rollout controls (phases, pauses, control maps, dynamic deployments).
        3
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let (t, id, at) = (&e.envelope.aggregate.tenant, &e.envelope.aggregate.id, e.envelope.occurred_at.0);
        match &e.envelope.event {
            DomainEvent::Artifact(a) => match a {
                ArtifactEvent::ArtifactUploaded { info } => {
                    let view = ArtifactView { id: id.clone(), info: info.clone(), modified_ts: at };
                    w.insert(artifact_key(t, id), to_bytes(&view)?);
                    w.insert(artifact_name_key(t, &info.name, id), Vec::new());
                }
                ArtifactEvent::ArtifactDescriptionChanged { description } => {
                    if let Some(mut view) = get::<ArtifactView>(w, &artifact_key(t, id))? {
                        view.info.description.clone_from(description);
                        view.modified_ts = at;
                        w.insert(artifact_key(t, id), to_bytes(&view)?);
                    }
                }
                ArtifactEvent::ArtifactDeleted => {
                    if let Some(view) = get::<ArtifactView>(w, &artifact_key(t, id))? {
                        w.remove(artifact_name_key(t, &view.info.name, id))?;
                    }
                    w.remove(artifact_key(t, id))?;
                }
                // Pending direct uploads are in the releases model.
                _ => {}
            },
            DomainEvent::Deployment(DeploymentEvent::DeploymentCreated { spec }) => {
                let dep = rollout::created(w, t, id, at, spec);
                w.insert(created_key(t, at, id), Vec::new());
                w.insert(by_artifact_key(t, &spec.artifact_name, id), Vec::new());
                list_devices(w, t, dep, &spec.devices)?;
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentDevicesListed { devices }) => {
                if let Some(dep) = get::<DeploymentView>(w, &deployment_key(t, id))? {
                    list_devices(w, t, dep, devices)?;
                }
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentAborted) => {
                if let Some(mut dep) = get::<DeploymentView>(w, &deployment_key(t, id))? {
                    dep.aborted = true;
                    w.insert(deployment_key(t, id), to_bytes(&dep)?);
                }
                // Page by page: a whole-fleet deployment has a million parts, more than one
                // event should hold (or write) at once.
                let (prefix, mut after) = (part_prefix(t, id), None);
                loop {
                    let page = w.scan_page(&prefix, after.as_deref(), ABORT_PAGE)?;
                    let Some((last, _)) = page.last() else { break };
                    after = Some(last.clone());
                    let parts = page.into_iter().filter_map(|(k, _)| part_of_key(&k, t)).collect();
                    finish_all(w, t, parts, S::Aborted, at)?;
                    w.spill_if_large()?;
                }
                // A deployment without unfinished parts (a dynamic one nobody joined) ends here.
                if let Some(mut dep) = get::<DeploymentView>(w, &deployment_key(t, id))?
                    && dep.finished_ts.is_none()
                {
                    rollout::finish(w, t, &mut dep, at)?;
                    w.insert(deployment_key(t, id), to_bytes(&dep)?);
                }
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentDeviceAdded { device }) => {
                // The part sorts with the deployment's creation, like the parts it started with.
                if let Some((phase, created)) = rollout::device_added(w, t, id)? {
                    add_part(w, t, id, device, created, phase)?;
                }
            }
            DomainEvent::Deployment(e) => rollout::apply(w, t, id, e)?,
            DomainEvent::Device(DeviceEvent::DeviceDecommissioned) => {
                let parts = w
                    .scan_prefix(&active_prefix(t, id))?
                    .into_iter()
                    .filter_map(|(k, _)| active_of_key(&k, t, id))
                    .collect();
                finish_all(w, t, parts, S::Decommissioned, at)?;
            }
            DomainEvent::DeviceDeployment(d) => {
                let Some((dep, device)) = id.split_once(':') else { return Ok(()) };
                let Some(mut part) = get::<DeviceDeploymentView>(w, &part_key(t, dep, device))? else {
                    return Ok(());
                };
                match d {
                    DeviceDeploymentEvent::DeviceDeploymentAssigned { artifact_id } => {
                        part.artifact_id = Some(artifact_id.clone())
                    }
                    DeviceDeploymentEvent::DeviceDeploymentStatusChanged { status, substate } => {
                        part.substate.clone_from(substate);
                        set_status(w, t, &mut part, *status, at)?;
                    }
                    DeviceDeploymentEvent::DeviceDeploymentRetried { attempt } => {
                        part.attempts = *attempt;
                        part.artifact_id = None;
                        set_status(w, t, &mut part, S::Pending, at)?;
                    }
                    DeviceDeploymentEvent::DeviceDeploymentLogSaved { messages_json } => {
                        part.has_log = true;
                        w.insert(log_key(t, dep, device), messages_json.as_bytes().to_vec());
                    }
                    DeviceDeploymentEvent::DeviceDeploymentDeleted => {
                        w.remove(history_key(t, device, part.created_ts, dep))?
                    }
                }
                save_part(w, t, &part)?;
            }
            _ => {}
        }
        Ok(())
    }
}
