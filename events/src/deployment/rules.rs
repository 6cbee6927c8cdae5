//! Why deployment commands are refused, and the checks on a new deployment that `decide` and
//! its callers share.

use super::{DeploymentSpec, rollout};

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
    /// Phases given wrongly (400).
    #[error(transparent)]
    Phases(#[from] rollout::PhaseError),
    /// A control map or failure limit given wrongly (400).
    #[error("{0}")]
    Invalid(String),
    /// Pausing a paused deployment (409).
    #[error("deployment already paused")]
    AlreadyPaused,
    /// Resuming one that is not paused (409).
    #[error("deployment is not paused")]
    NotPaused,
    /// Changing the control map of a deployment created without one (409).
    #[error("deployment has no update control map")]
    NoControlMap,
    /// Adding a device to a deployment that is not dynamic (409).
    #[error("deployment is not dynamic")]
    NotDynamic,
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

/// The rollout fields of a new deployment: phases that account for every device, a control
/// map within its ranges, a failure limit that is a percentage.
pub(super) fn check_rollout(spec: &DeploymentSpec) -> Result<(), DeploymentError> {
    use rollout::PhaseError::BatchSize;
    if !spec.phases.is_empty() {
        if spec.phases.len() > rollout::MAX_PHASES {
            return Err(BatchSize(format!("a deployment has at most {} phases", rollout::MAX_PHASES)).into());
        }
        let counted: u64 = spec.phases.iter().map(|p| p.device_count).sum();
        if counted != spec.devices.len() as u64 {
            return Err(BatchSize("the phases do not account for every device".into()).into());
        }
    }
    if let Some(map) = &spec.update_control_map {
        map.check().map_err(DeploymentError::Invalid)?;
    }
    if spec.failure_limit.is_some_and(|l| l.max_failure_rate > 100) {
        return Err(DeploymentError::Invalid("max_failure_rate must be between 0 and 100".into()));
    }
    Ok(())
}
