//! Deployments (Mender's deployments service): an artifact name sent to a list of devices
//! resolved when the deployment is created, optionally in phases, paused by a failure limit or
//! an operator, with an update control map, or taking in devices that come to match its filter
//! (dynamic). Each device's progress is its own aggregate ([`device::DeviceDeployment`]).

pub mod device;
pub mod next;
pub mod rollout;
mod rules;
mod spec;
mod status;

use serde::{Deserialize, Serialize};

use rules::check_rollout;
pub use rules::{DeploymentError, MAX_RETRIES, check_deployable};
pub use spec::{DEVICES_PER_EVENT, DeploymentSpec, DynamicTarget};
pub use status::{ALL_STATUSES, DeviceDeploymentStatus};

use crate::Aggregate;
use rollout::{ControlMap, ControlState, ControlStep};

/// The deployment aggregate.
pub struct Deployment;

/// A deployment's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeploymentState {
    /// Created.
    pub created: bool,
    /// Aborted.
    pub aborted: bool,
    /// What it was created with, without the device list: the command side caches states, and
    /// a deployment's devices (20k ids are 1.5 MB in memory) are in its event for whoever needs
    /// them.
    pub spec: DeploymentSpec,
    /// How many devices it targets.
    pub device_count: usize,
    /// How many of its phases have started (all of them count as started without phases).
    pub phases_started: usize,
    /// Why it is paused, while it is.
    pub paused: Option<String>,
}

impl DeploymentState {
    fn open(&self, finished: bool) -> Result<(), DeploymentError> {
        if !self.created {
            Err(DeploymentError::NotFound)
        } else if finished || self.aborted {
            Err(DeploymentError::Finished)
        } else {
            Ok(())
        }
    }
}

/// What may be asked of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
// A creation carries its whole spec and happens once per deployment; boxing it would only
// move the allocation, and these values never sit in hot collections.
#[allow(clippy::large_enum_variant)]
pub enum DeploymentCommand {
    /// Create it.
    Create(DeploymentSpec),
    /// Abort it; `finished` tells whether every device is done (resolved by the caller).
    Abort {
        /// All devices finished already.
        finished: bool,
    },
    /// Start phase `phase` (0-based) — the rollout scheduler, when its time has come.
    /// Starting one already started changes nothing.
    StartPhase {
        /// Which phase.
        phase: usize,
        /// All devices finished already.
        finished: bool,
    },
    /// Stop handing it to devices that have not started it.
    Pause {
        /// Why (the failure limit's reason, or the operator's).
        reason: String,
        /// All devices finished already.
        finished: bool,
    },
    /// Go on after a pause.
    Resume {
        /// All devices finished already.
        finished: bool,
    },
    /// Change states of its update control map (continue or fail a paused step).
    UpdateControlMap {
        /// The priority the operator sent with them, if any: it must be the map's own.
        priority: Option<i32>,
        /// The states to put over the map's.
        states: std::collections::BTreeMap<ControlState, ControlStep>,
        /// All devices finished already.
        finished: bool,
    },
    /// A device now matches a dynamic deployment's filter.
    AddDevice {
        /// The device.
        device: String,
        /// It takes part already (resolved by the caller).
        member: bool,
        /// All devices finished already.
        finished: bool,
    },
}

/// The facts recorded about a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[allow(clippy::large_enum_variant)]
pub enum DeploymentEvent {
    /// A deployment was created.
    DeploymentCreated {
        /// What it targets.
        #[serde(flatten)]
        spec: DeploymentSpec,
    },
    /// It was aborted: devices not finished end `aborted`.
    DeploymentAborted,
    /// A phase started: its devices get the deployment from now on.
    DeploymentPhaseStarted {
        /// Which (0-based).
        phase: usize,
    },
    /// Devices that have not started it get nothing until it is resumed.
    DeploymentPaused {
        /// Why.
        reason: String,
    },
    /// It goes on after a pause.
    DeploymentResumed,
    /// Its update control map changed.
    DeploymentControlMapUpdated {
        /// The whole map now.
        map: ControlMap,
    },
    /// A device that came to match a dynamic deployment takes part.
    DeploymentDeviceAdded {
        /// The device.
        device: String,
    },
    /// More of the devices a deployment was created for (after the first
    /// [`DEVICES_PER_EVENT`], in the same append as its creation).
    DeploymentDevicesListed {
        /// The next part of the list, in order.
        devices: Vec<String>,
    },
}

crate::event_names!(DeploymentEvent {
    DeploymentCreated,
    DeploymentAborted,
    DeploymentPhaseStarted,
    DeploymentPaused,
    DeploymentResumed,
    DeploymentControlMapUpdated,
    DeploymentDeviceAdded,
    DeploymentDevicesListed,
});

crate::domain_event!(DeploymentEvent => Deployment);

impl Aggregate for Deployment {
    const TYPE: &'static str = "deployment";
    type State = DeploymentState;
    type Command = DeploymentCommand;
    type Event = DeploymentEvent;
    type Error = DeploymentError;

    fn decide(
        state: &DeploymentState,
        command: &DeploymentCommand,
    ) -> Result<Vec<DeploymentEvent>, DeploymentError> {
        match command {
            DeploymentCommand::Create(spec) => {
                if state.created {
                    return Err(DeploymentError::AlreadyExists);
                }
                if spec.name.trim().is_empty() || spec.artifact_name.trim().is_empty() {
                    return Err(DeploymentError::MissingField);
                }
                // A dynamic deployment may start empty: devices join as they come to match.
                if spec.devices.is_empty() && spec.dynamic.is_none() {
                    return Err(DeploymentError::NoDevices);
                }
                if spec.retries > MAX_RETRIES {
                    return Err(DeploymentError::TooManyRetries);
                }
                check_rollout(spec)?;
                // Big fleets: the list goes in parts, all appended together with the creation.
                let mut parts = spec.devices.chunks(DEVICES_PER_EVENT);
                let first = parts.next().unwrap_or_default().to_vec();
                let total_devices =
                    if spec.devices.len() > DEVICES_PER_EVENT { spec.devices.len() as u64 } else { 0 };
                let created = DeploymentSpec { devices: first, total_devices, ..spec.without_devices() };
                let mut events = vec![DeploymentEvent::DeploymentCreated { spec: created }];
                events
                    .extend(parts.map(|p| DeploymentEvent::DeploymentDevicesListed { devices: p.to_vec() }));
                Ok(events)
            }
            DeploymentCommand::Abort { finished } => {
                state.open(*finished)?;
                Ok(vec![DeploymentEvent::DeploymentAborted])
            }
            DeploymentCommand::StartPhase { phase, finished } => {
                state.open(*finished)?;
                // Phases start in order; the scheduler of another replica may have been first.
                if *phase != state.phases_started || *phase >= state.spec.phases.len() {
                    return Ok(vec![]);
                }
                Ok(vec![DeploymentEvent::DeploymentPhaseStarted { phase: *phase }])
            }
            DeploymentCommand::Pause { reason, finished } => {
                state.open(*finished)?;
                if state.paused.is_some() {
                    return Err(DeploymentError::AlreadyPaused);
                }
                Ok(vec![DeploymentEvent::DeploymentPaused { reason: reason.chars().take(500).collect() }])
            }
            DeploymentCommand::Resume { finished } => {
                state.open(*finished)?;
                match state.paused {
                    Some(_) => Ok(vec![DeploymentEvent::DeploymentResumed]),
                    None => Err(DeploymentError::NotPaused),
                }
            }
            DeploymentCommand::UpdateControlMap { priority, states, finished } => {
                state.open(*finished)?;
                let map = state.spec.update_control_map.as_ref().ok_or(DeploymentError::NoControlMap)?;
                if priority.is_some_and(|p| p != map.priority) {
                    return Err(DeploymentError::Invalid("update_control_map.priority cannot change".into()));
                }
                let map = map.merged(states);
                map.check().map_err(DeploymentError::Invalid)?;
                Ok(vec![DeploymentEvent::DeploymentControlMapUpdated { map }])
            }
            DeploymentCommand::AddDevice { device, member, finished } => {
                state.open(*finished)?;
                let dynamic = state.spec.dynamic.as_ref().ok_or(DeploymentError::NotDynamic)?;
                let full = dynamic.max_devices.is_some_and(|max| state.device_count as u64 >= max);
                if *member || full {
                    return Ok(vec![]);
                }
                Ok(vec![DeploymentEvent::DeploymentDeviceAdded { device: device.clone() }])
            }
        }
    }

    fn evolve(mut state: DeploymentState, event: &DeploymentEvent) -> DeploymentState {
        match event {
            DeploymentEvent::DeploymentCreated { spec } => {
                let without_devices = spec.without_devices();
                state = DeploymentState {
                    created: true,
                    aborted: false,
                    spec: without_devices,
                    device_count: spec.devices.len(),
                    phases_started: 0,
                    paused: None,
                }
            }
            DeploymentEvent::DeploymentAborted => state.aborted = true,
            DeploymentEvent::DeploymentPhaseStarted { phase } => state.phases_started = phase + 1,
            DeploymentEvent::DeploymentPaused { reason } => state.paused = Some(reason.clone()),
            DeploymentEvent::DeploymentResumed => state.paused = None,
            DeploymentEvent::DeploymentControlMapUpdated { map } => {
                state.spec.update_control_map = Some(map.clone())
            }
            DeploymentEvent::DeploymentDeviceAdded { .. } => state.device_count += 1,
            DeploymentEvent::DeploymentDevicesListed { devices } => state.device_count += devices.len(),
        }
        state
    }
}

#[cfg(test)]
mod tests;
