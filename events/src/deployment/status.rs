//! A device's progress through one deployment, as Mender names it.

use serde::{Deserialize, Serialize};

/// Status of one device in one deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceDeploymentStatus {
    /// Not started.
    #[default]
    Pending,
    /// Downloading the artifact.
    Downloading,
    /// Paused before installing (update control).
    #[serde(rename = "pause_before_installing")]
    PauseBeforeInstalling,
    /// Installing.
    Installing,
    /// Paused before rebooting.
    #[serde(rename = "pause_before_rebooting")]
    PauseBeforeRebooting,
    /// Rebooting.
    Rebooting,
    /// Paused before committing.
    #[serde(rename = "pause_before_committing")]
    PauseBeforeCommitting,
    /// Installed.
    Success,
    /// Failed.
    Failure,
    /// The device already runs this artifact.
    AlreadyInstalled,
    /// No artifact of the deployment fits the device.
    Noartifact,
    /// The deployment was aborted.
    Aborted,
    /// The device was decommissioned.
    Decommissioned,
}

/// Every status, in the order Mender's statistics list them.
pub const ALL_STATUSES: [DeviceDeploymentStatus; 13] = {
    use DeviceDeploymentStatus as S;
    [
        S::Success,
        S::Pending,
        S::Downloading,
        S::Rebooting,
        S::Installing,
        S::Failure,
        S::Noartifact,
        S::AlreadyInstalled,
        S::Aborted,
        S::PauseBeforeInstalling,
        S::PauseBeforeRebooting,
        S::PauseBeforeCommitting,
        S::Decommissioned,
    ]
};

impl DeviceDeploymentStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        use DeviceDeploymentStatus as S;
        match self {
            S::Pending => "pending",
            S::Downloading => "downloading",
            S::PauseBeforeInstalling => "pause_before_installing",
            S::Installing => "installing",
            S::PauseBeforeRebooting => "pause_before_rebooting",
            S::Rebooting => "rebooting",
            S::PauseBeforeCommitting => "pause_before_committing",
            S::Success => "success",
            S::Failure => "failure",
            S::AlreadyInstalled => "already-installed",
            S::Noartifact => "noartifact",
            S::Aborted => "aborted",
            S::Decommissioned => "decommissioned",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATUSES.into_iter().find(|st| st.as_str() == s)
    }

    /// No further progress is possible.
    pub fn is_finished(self) -> bool {
        use DeviceDeploymentStatus as S;
        matches!(
            self,
            S::Success | S::Failure | S::AlreadyInstalled | S::Noartifact | S::Aborted | S::Decommissioned
        )
    }

    /// A status a device may report itself (the others are the server's).
    pub fn device_may_report(self) -> bool {
        use DeviceDeploymentStatus as S;
        !matches!(self, S::Pending | S::Noartifact | S::Aborted | S::Decommissioned)
    }
}
