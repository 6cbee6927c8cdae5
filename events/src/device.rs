//! The device aggregate (Mender's deviceauth): identity, authentication sets and admission.
//!
//! A device is created by its first authentication request. Each distinct public key it
//! presents is an authentication set; at most one set is accepted at a time, and the device's
//! status is derived from its sets as Mender does.

use serde::{Deserialize, Serialize};

use crate::{Aggregate, DomainEvent};

/// The device aggregate.
pub struct Device;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSet {
    /// Id of the set.
    pub id: String,
    /// Public key, PEM.
    pub pubkey: String,
    /// Admission status.
    pub status: AuthSetStatus,
}

/// The folded state of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    fn live_set(&self, auth_set_id: &str) -> Result<&AuthSet, DeviceError> {
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
}

impl DeviceEvent {
    /// The event's type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            DeviceEvent::AuthSetSubmitted { .. } => "AuthSetSubmitted",
            DeviceEvent::AuthSetAccepted { .. } => "AuthSetAccepted",
            DeviceEvent::AuthSetRejected { .. } => "AuthSetRejected",
            DeviceEvent::DeviceDecommissioned => "DeviceDecommissioned",
            DeviceEvent::DevicePreauthorized { .. } => "DevicePreauthorized",
            DeviceEvent::AuthSetPending { .. } => "AuthSetPending",
            DeviceEvent::AuthSetDismissed { .. } => "AuthSetDismissed",
        }
    }
}

impl From<DeviceEvent> for DomainEvent {
    fn from(e: DeviceEvent) -> Self {
        DomainEvent::Device(e)
    }
}

impl TryFrom<DomainEvent> for DeviceEvent {
    type Error = DomainEvent;
    fn try_from(e: DomainEvent) -> Result<Self, DomainEvent> {
        match e {
            DomainEvent::Device(d) => Ok(d),
            other => Err(other),
        }
    }
}

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

impl Aggregate for Device {
    const TYPE: &'static str = "device";
    type State = DeviceState;
    type Command = DeviceCommand;
    type Event = DeviceEvent;
    type Error = DeviceError;

    fn decide(state: &DeviceState, command: &DeviceCommand) -> Result<Vec<DeviceEvent>, DeviceError> {
        match command {
            DeviceCommand::SubmitAuthSet { auth_set_id, identity_data, pubkey } => {
                if state.decommissioned {
                    return Err(DeviceError::Decommissioned);
                }
                if state.exists && state.identity_data != *identity_data {
                    return Err(DeviceError::IdentityMismatch);
                }
                // The client re-authenticates on every start: a known key changes nothing, except
                // that a preauthorized key is accepted on its first request.
                if let Some(known) = state.auth_sets.iter().find(|a| a.pubkey == *pubkey) {
                    if known.status == AuthSetStatus::Preauthorized {
                        return Ok(accept(state, &known.id));
                    }
                    return Ok(vec![]);
                }
                Ok(vec![DeviceEvent::AuthSetSubmitted {
                    auth_set_id: auth_set_id.clone(),
                    identity_data: identity_data.clone(),
                    pubkey: pubkey.clone(),
                }])
            }
            DeviceCommand::AcceptAuthSet { auth_set_id } => {
                if state.live_set(auth_set_id)?.status == AuthSetStatus::Accepted {
                    return Ok(vec![]);
                }
                Ok(accept(state, auth_set_id))
            }
            DeviceCommand::SetPending { auth_set_id } => {
                if state.live_set(auth_set_id)?.status == AuthSetStatus::Pending {
                    return Ok(vec![]);
                }
                Ok(vec![DeviceEvent::AuthSetPending { auth_set_id: auth_set_id.clone() }])
            }
            DeviceCommand::DismissAuthSet { auth_set_id } => {
                state.live_set(auth_set_id)?;
                Ok(vec![DeviceEvent::AuthSetDismissed { auth_set_id: auth_set_id.clone() }])
            }
            DeviceCommand::Preauthorize { auth_set_id, identity_data, pubkey } => {
                if state.exists && !state.decommissioned {
                    return Err(DeviceError::AlreadyExists);
                }
                Ok(vec![DeviceEvent::DevicePreauthorized {
                    auth_set_id: auth_set_id.clone(),
                    identity_data: identity_data.clone(),
                    pubkey: pubkey.clone(),
                }])
            }
            DeviceCommand::RejectAuthSet { auth_set_id } => {
                if state.live_set(auth_set_id)?.status == AuthSetStatus::Rejected {
                    return Ok(vec![]);
                }
                Ok(vec![DeviceEvent::AuthSetRejected { auth_set_id: auth_set_id.clone() }])
            }
            DeviceCommand::Decommission => {
                if !state.exists || state.decommissioned {
                    return Err(DeviceError::NotFound);
                }
                Ok(vec![DeviceEvent::DeviceDecommissioned])
            }
        }
    }

    fn evolve(mut state: DeviceState, event: &DeviceEvent) -> DeviceState {
        fn set_status(state: &mut DeviceState, id: &str, status: AuthSetStatus) {
            if let Some(a) = state.auth_sets.iter_mut().find(|a| a.id == id) {
                a.status = status;
            }
        }
        match event {
            DeviceEvent::AuthSetSubmitted { auth_set_id, identity_data, pubkey } => {
                state.exists = true;
                state.identity_data.clone_from(identity_data);
                state.auth_sets.push(AuthSet {
                    id: auth_set_id.clone(),
                    pubkey: pubkey.clone(),
                    status: AuthSetStatus::Pending,
                });
            }
            DeviceEvent::AuthSetAccepted { auth_set_id } => {
                set_status(&mut state, auth_set_id, AuthSetStatus::Accepted)
            }
            DeviceEvent::AuthSetRejected { auth_set_id } => {
                set_status(&mut state, auth_set_id, AuthSetStatus::Rejected)
            }
            DeviceEvent::DeviceDecommissioned => state.decommissioned = true,
            DeviceEvent::DevicePreauthorized { auth_set_id, identity_data, pubkey } => {
                // A preauthorized identity starts a new life, even after a decommissioning.
                state = DeviceState {
                    exists: true,
                    decommissioned: false,
                    identity_data: identity_data.clone(),
                    auth_sets: vec![AuthSet {
                        id: auth_set_id.clone(),
                        pubkey: pubkey.clone(),
                        status: AuthSetStatus::Preauthorized,
                    }],
                };
            }
            DeviceEvent::AuthSetPending { auth_set_id } => {
                set_status(&mut state, auth_set_id, AuthSetStatus::Pending)
            }
            DeviceEvent::AuthSetDismissed { auth_set_id } => state.auth_sets.retain(|a| a.id != *auth_set_id),
        }
        state
    }
}

/// Accepting a set: only one key may be accepted at a time, so the others are rejected.
fn accept(state: &DeviceState, auth_set_id: &str) -> Vec<DeviceEvent> {
    let mut events: Vec<DeviceEvent> = state
        .auth_sets
        .iter()
        .filter(|a| a.status == AuthSetStatus::Accepted && a.id != auth_set_id)
        .map(|a| DeviceEvent::AuthSetRejected { auth_set_id: a.id.clone() })
        .collect();
    events.push(DeviceEvent::AuthSetAccepted { auth_set_id: auth_set_id.to_owned() });
    events
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod tests;
