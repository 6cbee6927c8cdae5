//! What a deployment is created with: its target devices and the rollout controls chosen.

use serde::{Deserialize, Serialize};

use super::rollout::{ControlMap, FailureLimit, Phase};
use crate::filter::FilterTerm;

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
    /// Its phases, `devices` listed phase by phase; empty when all devices start at once.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// The automatic stop on failures, if any.
    #[serde(default)]
    pub failure_limit: Option<FailureLimit>,
    /// The update control map sent with it, if any.
    #[serde(default)]
    pub update_control_map: Option<ControlMap>,
    /// Set for a dynamic deployment: devices that come to match take part.
    #[serde(default)]
    pub dynamic: Option<DynamicTarget>,
    /// How many devices it was created for, when `devices` is only the first part of the list
    /// (the rest follow in [`DeploymentEvent::DeploymentDevicesListed`]); 0 in older events and
    /// when `devices` is the whole list.
    #[serde(default)]
    pub total_devices: u64,
}

/// The most device ids one event carries: a deployment to more devices lists the rest in
/// further events of the same append, so no event outgrows a NATS message (10k ids ≈ 400 KB).
pub const DEVICES_PER_EVENT: usize = 10_000;

impl DeploymentSpec {
    /// How many devices the deployment was created for.
    pub fn device_total(&self) -> u64 {
        self.total_devices.max(self.devices.len() as u64)
    }

    /// A copy of everything but the device list: `..spec.clone()` would copy a whole-fleet
    /// list (a million ids, ~60 MB) only to drop it.
    pub fn without_devices(&self) -> DeploymentSpec {
        DeploymentSpec {
            name: self.name.clone(),
            artifact_name: self.artifact_name.clone(),
            devices: Vec::new(),
            retries: self.retries,
            force_installation: self.force_installation,
            target: self.target.clone(),
            configuration: self.configuration.clone(),
            phases: self.phases.clone(),
            failure_limit: self.failure_limit,
            update_control_map: self.update_control_map.clone(),
            dynamic: self.dynamic.clone(),
            total_devices: self.total_devices,
        }
    }
}

/// What a dynamic deployment keeps matching devices against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DynamicTarget {
    /// The saved filter's terms as they were at creation.
    pub filter: Vec<FilterTerm>,
    /// The most devices it takes part with (none: no bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_devices: Option<u64>,
}
