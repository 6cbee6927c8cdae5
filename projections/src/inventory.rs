//! The inventory read model: each device's reported attributes, removed when the device is
//! decommissioned. Identity and status come from the devices model; the API joins the two.

use fleetlog_events::device::DeviceEvent;
use fleetlog_events::inventory::{Attributes, InventoryEvent};
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// One device's reported inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryView {
    /// The attributes, by name.
    pub attributes: Attributes,
    /// When they last changed, microseconds since the epoch.
    pub updated_ts: i64,
}

/// The projection that maintains [`InventoryView`]s.
pub struct InventoryProjection;

fn key(tenant: &str, device: &str) -> Vec<u8> {
    format!("v/{tenant}/{device}").into_bytes()
}

impl Projection for InventoryProjection {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let agg = &e.envelope.aggregate;
        match &e.envelope.event {
            DomainEvent::Inventory(InventoryEvent::InventoryReported { attributes }) => {
                let view =
                    InventoryView { attributes: attributes.clone(), updated_ts: e.envelope.occurred_at.0 };
                w.insert(key(&agg.tenant, &agg.id), to_bytes(&view)?);
            }
            // A decommissioned device disappears from inventory.
            DomainEvent::Device(DeviceEvent::DeviceDecommissioned) => w.remove(key(&agg.tenant, &agg.id))?,
            _ => {}
        }
        Ok(())
    }
}

/// Queries over the inventory read model.
pub struct InventoryQueries<'a>(pub &'a ReadModel);

impl InventoryQueries<'_> {
    /// One device's reported inventory.
    pub fn get(&self, tenant: &str, device: &str) -> Result<Option<InventoryView>, ProjectionError> {
        self.0.tree().get(key(tenant, device))?.map(|v| from_bytes(&v)).transpose()
    }
}
