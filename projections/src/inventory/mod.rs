//! The inventory read model: one [`InventoryDoc`] per device (identity and status folded from
//! deviceauth's events, the device's reports, tags and group), an attribute index for
//! searches, and per-attribute counts for `filters/attributes`. A decommissioned device
//! disappears; its index entries and counts go with it.

mod doc;
mod footprint;
pub mod index;
pub mod predicate;
mod query;
pub mod search;
#[cfg(test)]
mod tests;
pub mod wire;

use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::device::{AuthSetStatus, DeviceEvent};
use fleetlog_events::filter::{FilterEvent, FilterTerm};
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::monitor::MonitorEvent;
use fleetlog_events::{ActorKind, DomainEvent, RecordedEvent};

pub use doc::{InventoryDoc, identity_attributes};
pub use query::{InventoryQueries, ValueRange};

use crate::{Projection, ProjectionError, Writer, to_bytes};

/// The model version from which index keys hold UUID device ids as 16 bytes.
const COMPACT_IDS_SINCE: u32 = 5;

/// The projection that maintains the inventory documents and their index.
pub struct InventoryProjection;

fn doc_key(tenant: &str, device: &str) -> Vec<u8> {
    format!("v/{tenant}/{device}").into_bytes()
}

fn filter_key(tenant: &str, id: &str) -> Vec<u8> {
    format!("f/{tenant}/{id}").into_bytes()
}

/// A saved filter (Mender's v2 filters resource).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SavedFilterView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its terms.
    pub terms: Vec<FilterTerm>,
}

fn count_key(tenant: &str, scope: &str, name: &str) -> Vec<u8> {
    format!("c/{tenant}/{scope}/{name}").into_bytes()
}

fn total_key(tenant: &str) -> Vec<u8> {
    format!("n/{tenant}").into_bytes()
}

fn add(w: &mut Writer<'_>, key: Vec<u8>, delta: i64) -> Result<(), ProjectionError> {
    let current = w.get(&key)?.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes);
    let next = current.saturating_add_signed(delta);
    if next == 0 {
        return w.remove(key);
    }
    w.insert(key, next.to_be_bytes().to_vec());
    Ok(())
}

/// Replaces a device's document (or removes it, for `None`), writing only the index entries
/// and counts that change with it.
fn store(
    w: &mut Writer<'_>,
    tenant: &str,
    old: Option<&InventoryDoc>,
    new: Option<&InventoryDoc>,
) -> Result<(), ProjectionError> {
    let id = old.or(new).map(|d| d.id.as_str()).unwrap_or_default();
    let change = footprint::change(tenant, id, old, new);
    for k in change.removed_keys {
        w.remove(k)?;
    }
    for k in change.added_keys {
        w.insert(k, Vec::new());
    }
    for (scope, name) in &change.gone {
        add(w, count_key(tenant, scope, name), -1)?;
    }
    for (scope, name) in &change.appeared {
        add(w, count_key(tenant, scope, name), 1)?;
    }
    match (old, new) {
        (None, Some(_)) => add(w, total_key(tenant), 1)?,
        (Some(_), None) => add(w, total_key(tenant), -1)?,
        _ => {}
    }
    let key = doc_key(tenant, id);
    match new {
        Some(d) => w.insert(key, d.encode()?),
        None => w.remove(key)?,
    }
    Ok(())
}

/// The next document of a device after `event`, `None` when it leaves the inventory, or the
/// old one unchanged for events that do not concern it.
fn next(old: Option<&InventoryDoc>, id: &str, at: i64, event: &DomainEvent) -> Option<InventoryDoc> {
    let set_status = |sets: &mut Vec<(String, AuthSetStatus)>, set: &str, status| {
        if let Some(s) = sets.iter_mut().find(|(i, _)| i == set) {
            s.1 = status;
        }
    };
    let fresh = || InventoryDoc { id: id.to_owned(), created_ts: at, ..Default::default() };
    let mut d = match event {
        DomainEvent::Device(DeviceEvent::AuthSetSubmitted { .. }) => old.cloned().unwrap_or_else(fresh),
        DomainEvent::Device(DeviceEvent::DevicePreauthorized { .. }) => fresh(),
        DomainEvent::Device(DeviceEvent::DeviceDecommissioned) => return None,
        _ => old?.clone(),
    };
    match event {
        DomainEvent::Device(e) => match e {
            DeviceEvent::AuthSetSubmitted { auth_set_id, identity_data, .. } => {
                d.identity = identity_attributes(identity_data);
                d.sets.push((auth_set_id.clone(), AuthSetStatus::Pending));
            }
            DeviceEvent::DevicePreauthorized { auth_set_id, identity_data, .. } => {
                d.identity = identity_attributes(identity_data);
                d.sets = vec![(auth_set_id.clone(), AuthSetStatus::Preauthorized)];
            }
            DeviceEvent::AuthSetAccepted { auth_set_id } => {
                set_status(&mut d.sets, auth_set_id, AuthSetStatus::Accepted)
            }
            DeviceEvent::AuthSetRejected { auth_set_id } => {
                set_status(&mut d.sets, auth_set_id, AuthSetStatus::Rejected)
            }
            DeviceEvent::AuthSetPending { auth_set_id } => {
                set_status(&mut d.sets, auth_set_id, AuthSetStatus::Pending)
            }
            DeviceEvent::AuthSetDismissed { auth_set_id } => d.sets.retain(|(i, _)| i != auth_set_id),
            DeviceEvent::DeviceTokensRevoked { .. } | DeviceEvent::DeviceDecommissioned => {
                return old.cloned();
            }
        },
        DomainEvent::Inventory(e) => match e {
            InventoryEvent::InventoryReported { attributes } => d.attributes.clone_from(attributes),
            InventoryEvent::InventoryChanged { set, removed } => {
                fleetlog_events::inventory::apply_change(&mut d.attributes, set, removed)
            }
            InventoryEvent::InventoryTagsSet { tags, etag } => {
                d.tags.clone_from(tags);
                d.tags_etag.clone_from(etag);
            }
            InventoryEvent::InventoryGroupAssigned { group } => d.group = Some(group.clone()),
            InventoryEvent::InventoryGroupUnassigned { .. } => d.group = None,
            InventoryEvent::InventoryDeleted => {
                d.attributes.clear();
                d.tags.clear();
                d.group = None;
            }
        },
        DomainEvent::Connect(ConnectEvent::DeviceConnected { .. }) => {
            d.connection = Some((true, at));
            return Some(d);
        }
        DomainEvent::Connect(ConnectEvent::DeviceDisconnected { .. }) => {
            d.connection = Some((false, at));
            return Some(d);
        }
        // The `monitor` scope: alert counts (devicemonitor), not a change of the inventory.
        DomainEvent::Monitor(MonitorEvent::AlertRaised { alert }) => {
            d.monitor_checks.insert(alert.name.clone(), alert.level == "CRITICAL");
            d.monitor_alerts += 1;
            return Some(d);
        }
        _ => return old.cloned(),
    }
    d.updated_ts = at;
    Some(d)
}

impl Projection for InventoryProjection {
    fn name(&self) -> &'static str {
        crate::Model::Inventory.name()
    }

    fn version(&self) -> u32 {
        // 5: documents stored positionally (MessagePack arrays, no field names), UUID device
        // ids in index keys as their 16 bytes.
        5
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let agg = &e.envelope.aggregate;
        match &e.envelope.event {
            DomainEvent::Device(_)
            | DomainEvent::Inventory(_)
            | DomainEvent::Connect(
                ConnectEvent::DeviceConnected { .. } | ConnectEvent::DeviceDisconnected { .. },
            )
            | DomainEvent::Monitor(MonitorEvent::AlertRaised { .. }) => {}
            DomainEvent::Filter(FilterEvent::FilterCreated { name, terms }) => {
                let saved = SavedFilterView { id: agg.id.clone(), name: name.clone(), terms: terms.clone() };
                w.insert(filter_key(&agg.tenant, &agg.id), to_bytes(&saved)?);
                return Ok(());
            }
            DomainEvent::Filter(FilterEvent::FilterDeleted) => {
                return w.remove(filter_key(&agg.tenant, &agg.id));
            }
            _ => return check_in(w, e),
        }
        let key = doc_key(&agg.tenant, &agg.id);
        let old = w.get(&key)?.map(|v| InventoryDoc::decode(&v)).transpose()?;
        let mut new = next(old.as_ref(), &agg.id, e.envelope.occurred_at.0, &e.envelope.event);
        if let Some(d) = new.as_mut()
            && e.envelope.actor.kind == ActorKind::Device
            && e.envelope.actor.id == d.id
        {
            d.check_in_ts = Some(e.envelope.occurred_at.0);
        }
        if new != old {
            store(w, &agg.tenant, old.as_ref(), new.as_ref())?;
        }
        Ok(())
    }
}

/// A device's check-in time is when it last changed something (an auth request, a report, a
/// deployment status, a connection): the device's own events, whatever their aggregate. Polls
/// that change nothing are not events, so they do not move it.
fn check_in(w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
    let env = &e.envelope;
    if env.actor.kind != ActorKind::Device || env.actor.id.is_empty() {
        return Ok(());
    }
    let key = doc_key(&env.aggregate.tenant, &env.actor.id);
    let Some(old) = w.get(&key)?.map(|v| InventoryDoc::decode(&v)).transpose()? else { return Ok(()) };
    let mut new = old.clone();
    new.check_in_ts = Some(env.occurred_at.0);
    store(w, &env.aggregate.tenant, Some(&old), Some(&new))
}
