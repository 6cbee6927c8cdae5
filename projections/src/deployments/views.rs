//! What the deployments model stores and answers: artifacts, deployments with their
//! statistics and rollout state, and each device's part.

use fleetlog_events::deployment::DeviceDeploymentStatus as S;
use fleetlog_events::deployment::DynamicTarget;
use fleetlog_events::deployment::rollout::{ControlMap, FailureLimit};
use serde::{Deserialize, Serialize};

/// An artifact as the management API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactView {
    /// Its id.
    pub id: String,
    /// Name, description, device types, parsed metadata, size, storage key.
    pub info: fleetlog_events::artifact::ArtifactInfo,
    /// Last change, microseconds since the epoch.
    pub modified_ts: i64,
}

/// A deployment with its statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    /// Its id.
    pub id: String,
    /// What it was created with (the device list is not kept here; see the per-device keys).
    pub name: String,
    /// Artifact name.
    pub artifact_name: String,
    /// Where the devices came from.
    pub target: String,
    /// Retries per device.
    pub retries: u32,
    /// Install even if already installed.
    pub force_installation: bool,
    /// Created, microseconds since the epoch.
    pub created_ts: i64,
    /// Finished (every device done, or aborted), microseconds since the epoch.
    pub finished_ts: Option<i64>,
    /// Aborted by an operator.
    pub aborted: bool,
    /// Devices targeted.
    pub device_count: u64,
    /// Devices per status.
    pub stats: std::collections::BTreeMap<S, u64>,
    /// The configuration sent, for a configuration deployment.
    #[serde(default)]
    pub configuration: Option<std::collections::BTreeMap<String, String>>,
    /// Its phases, in order.
    #[serde(default)]
    pub phases: Vec<PhaseView>,
    /// Why it is paused, while it is.
    #[serde(default)]
    pub paused: Option<String>,
    /// The automatic stop on failures.
    #[serde(default)]
    pub failure_limit: Option<FailureLimit>,
    /// Its update control map now.
    #[serde(default)]
    pub control_map: Option<ControlMap>,
    /// What a dynamic deployment matches devices against.
    #[serde(default)]
    pub dynamic: Option<DynamicTarget>,
    /// Devices it had when created (a dynamic one grows).
    #[serde(default)]
    pub initial_device_count: u64,
    /// (failed, finished) devices when it was last resumed: the failure limit counts what
    /// happened after the operator chose to go on.
    #[serde(default)]
    pub resumed_at_counts: (u64, u64),
}

/// One phase of a deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseView {
    /// Percent of the devices asked for.
    pub batch_size: u32,
    /// When it starts, microseconds since the epoch.
    pub start_ts: i64,
    /// Devices chosen for it at creation.
    pub device_count: u64,
    /// Its devices that have asked for the update so far (Mender's per-phase `device_count`).
    pub requested: u64,
    /// Started (its devices get the deployment).
    pub started: bool,
}

impl DeploymentView {
    /// Mender's overall status: `scheduled` before its first phase, `pending` until a device
    /// starts, then `inprogress`, then `finished`.
    pub fn status(&self) -> &'static str {
        if self.finished_ts.is_some() {
            "finished"
        } else if self.phases.first().is_some_and(|p| !p.started) {
            "scheduled"
        } else if self.stats.get(&S::Pending).copied().unwrap_or(0) == self.device_count {
            "pending"
        } else {
            "inprogress"
        }
    }

    pub(super) fn unfinished(&self) -> u64 {
        self.stats.iter().filter(|(s, _)| !s.is_finished()).map(|(_, n)| n).sum()
    }

    /// Every device is done and no more can join: a dynamic deployment stays open until it
    /// has reached its `max_devices` (or is aborted).
    pub(super) fn done(&self) -> bool {
        let full = match &self.dynamic {
            None => true,
            Some(d) => d.max_devices.is_some_and(|max| self.device_count >= max),
        };
        self.unfinished() == 0 && (full || self.aborted)
    }

    /// (failed, finished) devices so far: finished counts success, failure and
    /// already-installed, the outcomes that say something about the artifact.
    pub fn outcome_counts(&self) -> (u64, u64) {
        let count = |s: S| self.stats.get(&s).copied().unwrap_or(0);
        let failed = count(S::Failure);
        (failed, failed + count(S::Success) + count(S::AlreadyInstalled))
    }

    /// Why the failure limit stops the rollout now, if it does (counting since the last resume).
    pub fn failure_stop(&self) -> Option<String> {
        let (failed, finished) = self.outcome_counts();
        let (failed_before, finished_before) = self.resumed_at_counts;
        let limit = self.failure_limit?;
        limit.tripped(failed.saturating_sub(failed_before), finished.saturating_sub(finished_before))
    }

    /// A device in phase `phase` that has not started may be handed the deployment now.
    pub fn open_to(&self, phase: usize) -> bool {
        self.paused.is_none() && self.phases.get(phase).is_none_or(|p| p.started)
    }
}

/// One device's part in one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDeploymentView {
    /// The deployment.
    pub deployment_id: String,
    /// The device.
    pub device_id: String,
    /// Current status.
    pub status: S,
    /// The device's substate text.
    pub substate: String,
    /// The artifact it was given.
    pub artifact_id: Option<String>,
    /// Created (= the deployment's creation), microseconds.
    pub created_ts: i64,
    /// First report, microseconds.
    pub started_ts: Option<i64>,
    /// Finished, microseconds.
    pub finished_ts: Option<i64>,
    /// Failed attempts retried.
    pub attempts: u32,
    /// A log was uploaded.
    pub has_log: bool,
    /// Its phase in a phased deployment (0 otherwise).
    #[serde(default)]
    pub phase: usize,
}
