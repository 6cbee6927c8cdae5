//! The device aggregate (Mender's deviceauth): identity, authentication sets and admission.
//!
//! A device is created by its first authentication request. Each distinct public key it
//! presents is an authentication set; at most one set is accepted at a time, and the device's
//! status is derived from its sets as Mender does.

use crate::Aggregate;

/// The device aggregate.
pub struct Device;

mod types;

pub use types::*;

/// A device's identity attributes in canonical form — a non-empty JSON object, keys sorted,
/// no spaces — which is what makes two requests the same identity (the claim on it, the
/// device it joins). `None` for anything else. Both the device's auth request and an
/// operator's preauthorization go through here.
pub fn canonical_identity(id_data: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(id_data) {
        // serde_json's maps are ordered by key, so re-serialising sorts them as Mender does.
        Ok(v @ serde_json::Value::Object(_)) if v.as_object().is_some_and(|o| !o.is_empty()) => {
            Some(v.to_string())
        }
        _ => None,
    }
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
            DeviceCommand::RevokeTokens { auth_set_id } => {
                state.live_set(auth_set_id)?;
                Ok(vec![DeviceEvent::DeviceTokensRevoked { auth_set_id: auth_set_id.clone() }])
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
            // Tokens are not part of the rules; the read model keeps when they were revoked.
            DeviceEvent::DeviceTokensRevoked { .. } => {}
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

impl DeviceEvent {
    /// The auth set whose earlier tokens this event ends, if any: accepting a set (again) starts
    /// a new admission, and revoking a set's tokens starts a new one too. A token is good only
    /// for the admission it was issued under, so a token from before a reject or a revoke never
    /// works again, even once the set is accepted anew.
    pub fn new_token_epoch(&self) -> Option<&str> {
        match self {
            DeviceEvent::AuthSetAccepted { auth_set_id }
            | DeviceEvent::DeviceTokensRevoked { auth_set_id } => Some(auth_set_id),
            _ => None,
        }
    }
}

/// Whether a token issued under admission epoch `token_epoch` (the log position of the event
/// that started the admission it was issued under) is good for a set whose current admission
/// started at `set_epoch`. Positions, not clocks: a token issued right after a revoke, in the
/// same second, is good; one issued before it is not.
pub fn token_current(token_epoch: u64, set_epoch: u64) -> bool {
    token_epoch >= set_epoch
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
mod tests;
