//! Deployments (Mender's deployments service): an artifact name sent to a fixed list of
//! devices, resolved when the deployment is created. Creating one is a single event whatever
//! its size; each device's progress is its own aggregate ([`device::DeviceDeployment`]).

pub mod device;
pub mod next;
mod status;

use serde::{Deserialize, Serialize};

pub use status::{ALL_STATUSES, DeviceDeploymentStatus};

use crate::Aggregate;

/// The deployment aggregate.
pub struct Deployment;

/// What a deployment was created with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// Its name.
    pub name: String,
    /// The artifact name (any artifact of that name fitting the device is sent).
    pub artifact_name: String,
    /// The devices it targets.
    pub devices: Vec<String>,
    /// Failed attempts retried per device.
    pub retries: u32,
    /// Install even when the device already runs the artifact.
    pub force_installation: bool,
    /// Where the device list came from: `devices`, `all`, `group:<name>` or `filter:<id>`.
    pub target: String,
    /// For a configuration deployment (Mender's deviceconfig): the configuration sent; the
    /// artifact is generated for each device. `None` for software.
    #[serde(default)]
    pub configuration: Option<std::collections::BTreeMap<String, String>>,
}

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
}

/// What may be asked of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentCommand {
    /// Create it.
    Create(DeploymentSpec),
    /// Abort it; `finished` tells whether every device is done (resolved by the caller).
    Abort {
        /// All devices finished already.
        finished: bool,
    },
}

/// The facts recorded about a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeploymentEvent {
    /// A deployment was created.
    DeploymentCreated {
        /// What it targets.
        #[serde(flatten)]
        spec: DeploymentSpec,
    },
    /// It was aborted: devices not finished end `aborted`.
    DeploymentAborted,
}

crate::event_names!(DeploymentEvent { DeploymentCreated, DeploymentAborted });

crate::domain_event!(DeploymentEvent => Deployment);

/// Why a deployment command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeploymentError {
    /// The id is taken.
    #[error("deployment already exists")]
    AlreadyExists,
    /// No such deployment.
    #[error("deployment not found")]
    NotFound,
    /// No name or no artifact name.
    #[error("name and artifact_name are required")]
    MissingField,
    /// Nothing to deploy to.
    #[error("No devices for the deployment")]
    NoDevices,
    /// Aborting a finished deployment.
    #[error("deployment already finished")]
    Finished,
    /// More retries than Mender allows ([`MAX_RETRIES`]).
    #[error("retries must be at most 100")]
    TooManyRetries,
    /// No artifact has the deployment's artifact name.
    #[error("No artifact for the deployment")]
    NoArtifact,
}

/// The most retries a deployment may give each device (Mender's limit).
pub const MAX_RETRIES: u32 = 100;

/// What a software deployment needs beyond its own fields, checked by the caller that knows
/// the artifacts (`decide` sees one deployment only): retries within the limit (which `decide`
/// checks too), then at least one artifact of its name.
pub fn check_deployable(spec: &DeploymentSpec, artifacts_named: usize) -> Result<(), DeploymentError> {
    if spec.retries > MAX_RETRIES {
        return Err(DeploymentError::TooManyRetries);
    }
    if artifacts_named == 0 { Err(DeploymentError::NoArtifact) } else { Ok(()) }
}

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
                if spec.devices.is_empty() {
                    return Err(DeploymentError::NoDevices);
                }
                if spec.retries > MAX_RETRIES {
                    return Err(DeploymentError::TooManyRetries);
                }
                Ok(vec![DeploymentEvent::DeploymentCreated { spec: spec.clone() }])
            }
            DeploymentCommand::Abort { .. } if !state.created => Err(DeploymentError::NotFound),
            DeploymentCommand::Abort { finished } if *finished || state.aborted => {
                Err(DeploymentError::Finished)
            }
            DeploymentCommand::Abort { .. } => Ok(vec![DeploymentEvent::DeploymentAborted]),
        }
    }

    fn evolve(mut state: DeploymentState, event: &DeploymentEvent) -> DeploymentState {
        match event {
            DeploymentEvent::DeploymentCreated { spec } => {
                let without_devices = DeploymentSpec {
                    name: spec.name.clone(),
                    artifact_name: spec.artifact_name.clone(),
                    devices: Vec::new(),
                    retries: spec.retries,
                    force_installation: spec.force_installation,
                    target: spec.target.clone(),
                    configuration: spec.configuration.clone(),
                };
                state = DeploymentState {
                    created: true,
                    aborted: false,
                    spec: without_devices,
                    device_count: spec.devices.len(),
                }
            }
            DeploymentEvent::DeploymentAborted => state.aborted = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn spec(devices: &[&str]) -> DeploymentSpec {
        DeploymentSpec {
            name: "fix-1".into(),
            artifact_name: "release-2".into(),
            devices: devices.iter().map(|d| (*d).to_owned()).collect(),
            target: "devices".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_deployment_needs_devices_and_names() {
        let created = DeploymentEvent::DeploymentCreated { spec: spec(&["d1"]) };
        Given::<Deployment>::nothing().when(DeploymentCommand::Create(spec(&["d1"]))).then([created]);
        Given::<Deployment>::nothing()
            .when(DeploymentCommand::Create(spec(&[])))
            .then_err(DeploymentError::NoDevices);
        let unnamed = DeploymentSpec { name: " ".into(), ..spec(&["d1"]) };
        Given::<Deployment>::nothing()
            .when(DeploymentCommand::Create(unnamed))
            .then_err(DeploymentError::MissingField);
    }

    #[test]
    fn retries_are_capped_and_an_artifact_is_needed() {
        let at_most = DeploymentSpec { retries: MAX_RETRIES, ..spec(&["d1"]) };
        let created = DeploymentEvent::DeploymentCreated { spec: at_most.clone() };
        Given::<Deployment>::nothing().when(DeploymentCommand::Create(at_most)).then([created]);
        let too_many = DeploymentSpec { retries: MAX_RETRIES + 1, ..spec(&["d1"]) };
        Given::<Deployment>::nothing()
            .when(DeploymentCommand::Create(too_many))
            .then_err(DeploymentError::TooManyRetries);
        let many = DeploymentSpec { retries: MAX_RETRIES + 1, ..spec(&["d1"]) };
        assert_eq!(check_deployable(&many, 0), Err(DeploymentError::TooManyRetries));
        assert_eq!(check_deployable(&spec(&["d1"]), 0), Err(DeploymentError::NoArtifact));
        assert_eq!(check_deployable(&spec(&["d1"]), 2), Ok(()));
    }

    #[test]
    fn the_state_counts_the_devices_without_keeping_them() {
        let created = DeploymentEvent::DeploymentCreated { spec: spec(&["d1", "d2"]) };
        let given = Given::<Deployment>::events([created]);
        let state = given.state();
        assert_eq!((state.device_count, state.spec.devices.len()), (2, 0));
        assert_eq!(state.spec.artifact_name, "release-2");
    }

    #[test]
    fn only_unfinished_deployments_abort() {
        let created = DeploymentEvent::DeploymentCreated { spec: spec(&["d1"]) };
        Given::<Deployment>::events([created.clone()])
            .when(DeploymentCommand::Abort { finished: false })
            .then([DeploymentEvent::DeploymentAborted]);
        Given::<Deployment>::events([created.clone()])
            .when(DeploymentCommand::Abort { finished: true })
            .then_err(DeploymentError::Finished);
        Given::<Deployment>::events([created, DeploymentEvent::DeploymentAborted])
            .when(DeploymentCommand::Abort { finished: false })
            .then_err(DeploymentError::Finished);
    }
}
