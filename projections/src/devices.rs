//! The devices read model (deviceauth): one record per device, plus indexes by status and by
//! identity, so that listing, counting and the auth lookup need no full scan.

#[cfg(test)]
mod tests;

use fleetlog_events::device::{AuthSetStatus, DeviceEvent, DeviceStatus, token_current};
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// One authentication set as shown by the management API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSetView {
    /// Id of the set.
    pub id: String,
    /// Public key, PEM.
    pub pubkey: String,
    /// Admission status.
    pub status: AuthSetStatus,
    /// When it was submitted, microseconds since the epoch.
    pub ts: i64,
    /// Tokens of this set issued before this Unix second are revoked (0: none). Only for tokens
    /// without an admission epoch (issued by earlier versions); see `token_epoch`.
    #[serde(default)]
    pub tokens_revoked_before: i64,
    /// The log position of the event that started this set's current admission (its last
    /// acceptance or token revocation); tokens carry the epoch they were issued under.
    #[serde(default)]
    pub token_epoch: u64,
}

/// One device as the management API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    /// Device id.
    pub id: String,
    /// Identity attributes, a JSON object as text.
    pub identity_data: String,
    /// Authentication sets in submission order.
    pub auth_sets: Vec<AuthSetView>,
    /// Creation time, microseconds since the epoch.
    pub created_ts: i64,
    /// Time of the last change, microseconds since the epoch.
    pub updated_ts: i64,
}

impl DeviceView {
    /// Mender's device status.
    pub fn status(&self) -> DeviceStatus {
        DeviceStatus::derive(self.auth_sets.iter().map(|a| a.status))
    }
}

/// The projection that maintains [`DeviceView`]s.
pub struct DevicesProjection;

fn record_key(tenant: &str, id: &str) -> Vec<u8> {
    format!("d/{tenant}/{id}").into_bytes()
}

fn status_key(tenant: &str, status: DeviceStatus, id: &str) -> Vec<u8> {
    format!("s/{tenant}/{}/{id}", status.as_str()).into_bytes()
}

/// Present exactly while that auth set (the `jti` of its tokens) is accepted: the device API's
/// check. Its value is the set's token epoch (8 bytes, big-endian), the Unix second before which
/// tokens without an epoch are refused (8 bytes, big-endian), then the device id.
fn accepted_key(tenant: &str, auth_set_id: &str) -> Vec<u8> {
    format!("a/{tenant}/{auth_set_id}").into_bytes()
}

/// An accepted key's value, split.
struct Accepted<'a> {
    epoch: u64,
    revoked_before: i64,
    device: &'a [u8],
}

fn accepted_value(v: &[u8]) -> Option<Accepted<'_>> {
    let (epoch, rest) = v.split_first_chunk::<8>()?;
    let (revoked, device) = rest.split_first_chunk::<8>()?;
    Some(Accepted { epoch: u64::from_be_bytes(*epoch), revoked_before: i64::from_be_bytes(*revoked), device })
}

fn accepted_sets(d: &DeviceView) -> impl Iterator<Item = &AuthSetView> {
    d.auth_sets.iter().filter(|a| a.status == AuthSetStatus::Accepted)
}

impl Projection for DevicesProjection {
    fn name(&self) -> &'static str {
        crate::Model::Devices.name()
    }

    fn version(&self) -> u32 {
        // 2: the accepted-auth-set index; 3: token revocation in that index; 4: no identity
        // index (the identity claim in the log is the authority); 5: token epochs.
        5
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let DomainEvent::Device(event) = &e.envelope.event else { return Ok(()) };
        let agg = &e.envelope.aggregate;
        let (tenant, id, ts) = (agg.tenant.as_str(), agg.id.as_str(), e.envelope.occurred_at.0);
        let key = record_key(tenant, id);
        let old: Option<DeviceView> = w.get(&key)?.map(|v| from_bytes(&v)).transpose()?;
        let mut device = match (old.clone(), event) {
            (_, DeviceEvent::DevicePreauthorized { identity_data, .. })
            | (None, DeviceEvent::AuthSetSubmitted { identity_data, .. }) => DeviceView {
                id: id.to_owned(),
                identity_data: identity_data.clone(),
                auth_sets: Vec::new(),
                created_ts: ts,
                updated_ts: ts,
            },
            (Some(d), _) => d,
            // Events of a device this model never saw created: nothing to update.
            (None, _) => return Ok(()),
        };
        if let Some(old) = &old {
            w.remove(status_key(tenant, old.status(), id))?;
            for a in accepted_sets(old) {
                w.remove(accepted_key(tenant, &a.id))?;
            }
        }
        fn set_status(device: &mut DeviceView, auth_set_id: &str, status: AuthSetStatus) {
            if let Some(a) = device.auth_sets.iter_mut().find(|a| a.id == auth_set_id) {
                a.status = status;
            }
        }
        let new_set = |auth_set_id: &str, pubkey: &str, status| AuthSetView {
            id: auth_set_id.to_owned(),
            pubkey: pubkey.to_owned(),
            status,
            ts,
            tokens_revoked_before: 0,
            token_epoch: 0,
        };
        match event {
            DeviceEvent::AuthSetSubmitted { auth_set_id, pubkey, .. } => {
                device.auth_sets.push(new_set(auth_set_id, pubkey, AuthSetStatus::Pending));
            }
            DeviceEvent::DevicePreauthorized { auth_set_id, pubkey, .. } => {
                device.auth_sets.push(new_set(auth_set_id, pubkey, AuthSetStatus::Preauthorized));
            }
            DeviceEvent::AuthSetAccepted { auth_set_id } => {
                set_status(&mut device, auth_set_id, AuthSetStatus::Accepted)
            }
            DeviceEvent::AuthSetRejected { auth_set_id } => {
                set_status(&mut device, auth_set_id, AuthSetStatus::Rejected)
            }
            DeviceEvent::AuthSetPending { auth_set_id } => {
                set_status(&mut device, auth_set_id, AuthSetStatus::Pending)
            }
            DeviceEvent::AuthSetDismissed { auth_set_id } => {
                device.auth_sets.retain(|a| a.id != *auth_set_id)
            }
            DeviceEvent::DeviceTokensRevoked { .. } => {}
            DeviceEvent::DeviceDecommissioned => {
                w.remove(key)?;
                return Ok(());
            }
        }
        if let Some(set) = event.new_token_epoch() {
            let second = e.envelope.occurred_at.unix_seconds();
            if let Some(a) = device.auth_sets.iter_mut().find(|a| a.id == set) {
                a.token_epoch = e.seq;
                // Tokens without an epoch only have seconds: one from the second of a revoke
                // may be from before it, so that whole second is refused (as before); a
                // re-acceptance refuses the earlier seconds.
                let revoked = matches!(event, DeviceEvent::DeviceTokensRevoked { .. });
                a.tokens_revoked_before = if revoked { second + 1 } else { second };
            }
        }
        device.updated_ts = ts;
        for a in accepted_sets(&device) {
            let mut value = a.token_epoch.to_be_bytes().to_vec();
            value.extend_from_slice(&a.tokens_revoked_before.to_be_bytes());
            value.extend_from_slice(id.as_bytes());
            w.insert(accepted_key(tenant, &a.id), value);
        }
        w.insert(status_key(tenant, device.status(), id), Vec::new());
        w.insert(key, to_bytes(&device)?);
        Ok(())
    }
}

/// Queries over the devices read model.
pub struct DevicesQueries<'a>(pub &'a ReadModel);

impl DevicesQueries<'_> {
    /// One device.
    pub fn get(&self, tenant: &str, id: &str) -> Result<Option<DeviceView>, ProjectionError> {
        self.0.tree().get(record_key(tenant, id))?.map(|v| from_bytes(&v)).transpose()
    }

    /// Whether a token of auth set `auth_set_id` of device `id`, issued under admission epoch
    /// `epoch` (or, for a token of an earlier version without one, at Unix second `iat`), is
    /// good: the set is accepted, and neither re-accepted nor revoked since the token was issued
    /// (one key lookup, no decoding: the device API asks this on every request).
    pub fn token_valid(
        &self,
        tenant: &str,
        id: &str,
        auth_set_id: &str,
        epoch: Option<u64>,
        iat: i64,
    ) -> Result<bool, ProjectionError> {
        let Some(v) = self.0.tree().get(accepted_key(tenant, auth_set_id))? else { return Ok(false) };
        Ok(accepted_value(&v).is_some_and(|a| {
            a.device == id.as_bytes()
                && match epoch {
                    Some(epoch) => token_current(epoch, a.epoch),
                    None => iat >= a.revoked_before,
                }
        }))
    }

    /// The device an accepted auth set belongs to (only accepted sets have tokens).
    pub fn device_of_accepted_set(
        &self,
        tenant: &str,
        auth_set_id: &str,
    ) -> Result<Option<String>, ProjectionError> {
        let v = self.0.tree().get(accepted_key(tenant, auth_set_id))?;
        Ok(v.as_deref().and_then(accepted_value).map(|a| String::from_utf8_lossy(a.device).into_owned()))
    }

    /// Devices of one status (or all), in id order, skipping `skip` and returning at most `limit`.
    pub fn list(
        &self,
        tenant: &str,
        status: Option<DeviceStatus>,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<DeviceView>, ProjectionError> {
        let tree = self.0.tree();
        let mut out = Vec::with_capacity(limit.min(500));
        match status {
            Some(s) => {
                let prefix = format!("s/{tenant}/{}/", s.as_str());
                for kv in tree.scan_prefix(&prefix).keys().skip(skip).take(limit) {
                    let k = kv?;
                    let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                    if let Some(d) = self.get(tenant, &id)? {
                        out.push(d);
                    }
                }
            }
            None => {
                for kv in tree.scan_prefix(format!("d/{tenant}/")).values().skip(skip).take(limit) {
                    out.push(from_bytes(&kv?)?);
                }
            }
        }
        Ok(out)
    }

    /// Devices of any of `statuses` (all devices when empty), in id order, skipping `skip` and
    /// returning at most `limit`. Reads at most `skip + limit` index keys per status, so a page
    /// costs its depth, not the fleet's size.
    pub fn list_of(
        &self,
        tenant: &str,
        statuses: &[DeviceStatus],
        skip: usize,
        limit: usize,
    ) -> Result<Vec<DeviceView>, ProjectionError> {
        match statuses {
            [] => return self.list(tenant, None, skip, limit),
            [one] => return self.list(tenant, Some(*one), skip, limit),
            _ => {}
        }
        let tree = self.0.tree();
        let mut ids = Vec::new();
        for s in statuses {
            let prefix = format!("s/{tenant}/{}/", s.as_str());
            for k in tree.scan_prefix(&prefix).keys().take(skip.saturating_add(limit)) {
                ids.push(k?[prefix.len()..].to_vec());
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(limit.min(500));
        for id in ids.into_iter().skip(skip).take(limit) {
            if let Some(d) = self.get(tenant, &String::from_utf8_lossy(&id))? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// How many devices have this status (or any).
    pub fn count(&self, tenant: &str, status: Option<DeviceStatus>) -> Result<usize, ProjectionError> {
        let prefix = match status {
            Some(s) => format!("s/{tenant}/{}/", s.as_str()),
            None => format!("d/{tenant}/"),
        };
        Ok(self.0.tree().scan_prefix(prefix).keys().count())
    }
}
