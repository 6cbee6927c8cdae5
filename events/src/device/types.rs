//! The device aggregate's vocabulary: statuses, state, commands, events and errors.

use serde::{Deserialize, Serialize};

/// Admission status of one authentication set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthSetStatus {
    /// Waiting for an operator.
    Pending,
    /// The device may obtain tokens with this key.
    Accepted,
    /// Refused.
    Rejected,
    /// Admitted ahead of time by an operator: accepted on the device's first request.
    Preauthorized,
}

/// Status of a device as Mender reports it (derived from its authentication sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// Some set is pending and none is accepted.
    Pending,
    /// One set is accepted.
    Accepted,
    /// Every set is rejected.
    Rejected,
    /// Admitted ahead of its first request.
    Preauthorized,
    /// No authentication set at all.
    Noauth,
}

impl DeviceStatus {
    /// Mender's rule: accepted if any set is accepted, else pending if any is pending, else
    /// rejected; a device without sets has no authentication (`noauth`).
    pub fn derive(sets: impl Iterator<Item = AuthSetStatus> + Clone) -> DeviceStatus {
        let has = |s| sets.clone().any(|a| a == s);
        if has(AuthSetStatus::Accepted) {
            DeviceStatus::Accepted
        } else if has(AuthSetStatus::Preauthorized) {
            DeviceStatus::Preauthorized
        } else if has(AuthSetStatus::Pending) {
            DeviceStatus::Pending
        } else if sets.clone().next().is_none() {
            DeviceStatus::Noauth
        } else {
            DeviceStatus::Rejected
        }
    }

    /// The lower-case name Mender uses.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Accepted => "accepted",
            DeviceStatus::Rejected => "rejected",
            DeviceStatus::Preauthorized => "preauthorized",
            DeviceStatus::Noauth => "noauth",
        }
    }
}

/// One authentication set in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthSet {
    /// Id of the set.
    pub id: String,
    /// Public key, PEM.
    pub pubkey: String,
    /// Admission status.
    pub status: AuthSetStatus,
}

/// The folded state of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceState {
    /// True once the first authentication set was submitted.
    pub exists: bool,
    /// True after decommissioning; a decommissioned device accepts no command.
    pub decommissioned: bool,
    /// Identity attributes (a JSON object as text), fixed at creation.
    pub identity_data: String,
    /// Authentication sets in submission order.
    pub auth_sets: Vec<AuthSet>,
}

impl DeviceState {
    /// Mender's device status, derived from the authentication sets.
    pub fn status(&self) -> DeviceStatus {
        DeviceStatus::derive(self.auth_sets.iter().map(|a| a.status))
    }

    pub(super) fn live_set(&self, auth_set_id: &str) -> Result<&AuthSet, DeviceError> {
        if !self.exists || self.decommissioned {
            return Err(DeviceError::NotFound);
        }
        self.auth_sets.iter().find(|a| a.id == auth_set_id).ok_or(DeviceError::AuthSetNotFound)
    }
}

/// What may be asked of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCommand {
    /// A device authenticates with an identity and a key (ids made by the handler).
    SubmitAuthSet {
        /// Id for the new set, used only if the key is new.
        auth_set_id: String,
        /// Identity attributes, a JSON object as text.
        identity_data: String,
        /// Public key, PEM.
        pubkey: String,
    },
    /// Accept one set (rejecting any other accepted set).
    AcceptAuthSet {
        /// The set to accept.
        auth_set_id: String,
    },
    /// Reject one set.
    RejectAuthSet {
        /// The set to reject.
        auth_set_id: String,
    },
    /// Put one set back to pending.
    SetPending {
        /// The set.
        auth_set_id: String,
    },
    /// Remove one set.
    DismissAuthSet {
        /// The set.
        auth_set_id: String,
    },
    /// Admit a device before it ever asks (creates it, with a preauthorized set).
    Preauthorize {
        /// Id of the set.
        auth_set_id: String,
        /// Identity attributes, canonical JSON object text.
        identity_data: String,
        /// Public key, PEM.
        pubkey: String,
    },
    /// Remove the device for good.
    Decommission,
    /// Invalidate every token issued so far for one auth set (the device must authenticate again).
    RevokeTokens {
        /// The set whose tokens go.
        auth_set_id: String,
    },
}

/// The facts recorded about a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeviceEvent {
    /// A new key was presented (the first one creates the device).
    AuthSetSubmitted {
        /// Id of the new set.
        auth_set_id: String,
        /// Identity attributes, a JSON object as text.
        identity_data: String,
        /// Public key, PEM.
        pubkey: String,
    },
    /// A set was accepted.
    AuthSetAccepted {
        /// The accepted set.
        auth_set_id: String,
    },
    /// A set was rejected.
    AuthSetRejected {
        /// The rejected set.
        auth_set_id: String,
    },
    /// The device was decommissioned.
    DeviceDecommissioned,
    /// An operator created the device ahead of its first request, with one preauthorized set.
    DevicePreauthorized {
        /// Id of the set.
        auth_set_id: String,
        /// Identity attributes, canonical JSON object text.
        identity_data: String,
        /// Public key, PEM.
        pubkey: String,
    },
    /// A set went back to pending.
    AuthSetPending {
        /// The set.
        auth_set_id: String,
    },
    /// A set was removed.
    AuthSetDismissed {
        /// The set.
        auth_set_id: String,
    },
    /// Every token issued for a set until now was revoked.
    DeviceTokensRevoked {
        /// The set.
        auth_set_id: String,
    },
}

crate::event_names!(DeviceEvent {
    AuthSetSubmitted,
    AuthSetAccepted,
    AuthSetRejected,
    DeviceDecommissioned,
    DevicePreauthorized,
    AuthSetPending,
    AuthSetDismissed,
    DeviceTokensRevoked,
});

crate::domain_event!(DeviceEvent => Device);

/// Why a device command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// No such device (never created, or decommissioned).
    #[error("device not found")]
    NotFound,
    /// The device has no authentication set with that id.
    #[error("authentication set not found")]
    AuthSetNotFound,
    /// The device was decommissioned; its identity must authenticate as a new device.
    #[error("device decommissioned")]
    Decommissioned,
    /// The device exists already (preauthorizing a known identity).
    #[error("device already exists")]
    AlreadyExists,
    /// The identity does not match the device's (a routing bug in the caller).
    #[error("identity data does not match the device")]
    IdentityMismatch,
}
