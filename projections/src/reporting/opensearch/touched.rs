//! What a batch of events touched (devices, device deployments), the documents that makes,
//! and the `_bulk` operations that bring those documents to their state in the read models,
//! each versioned by the last event that touched it.

use std::collections::BTreeMap;

use fleetlog_events::deployment::DeploymentEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::{ActorKind, DomainEvent, RecordedEvent};
use serde_json::{Value, json};

use super::client::{Index, SearchClient};
use super::indexer::Target;
use super::translate::document;
use crate::ReadModel;
use crate::deployments::DeploymentsQueries;
use crate::inventory::InventoryQueries;
use crate::reporting::{Record, ReportingError};

/// What a batch touched, each with the sequence of the last event that did.
#[derive(Default)]
pub(super) struct Touched {
    devices: BTreeMap<(String, String), u64>,
    parts: BTreeMap<(String, String, String), u64>,
    /// Deployments all of whose parts changed (aborted).
    deployments: BTreeMap<(String, String), u64>,
    /// Devices all of whose parts changed (decommissioned).
    device_parts: BTreeMap<(String, String), u64>,
}

impl Touched {
    /// Notes what event `e` touched.
    pub(super) fn add(&mut self, e: &RecordedEvent) {
        let env = &e.envelope;
        let (t, id) = (env.aggregate.tenant.clone(), env.aggregate.id.clone());
        match &env.event {
            DomainEvent::Device(DeviceEvent::DeviceDecommissioned) => {
                self.device_parts.insert((t.clone(), id.clone()), e.seq);
                self.devices.insert((t.clone(), id), e.seq);
            }
            DomainEvent::Device(_) | DomainEvent::Inventory(_) | DomainEvent::Connect(_) => {
                self.devices.insert((t.clone(), id), e.seq);
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentCreated { spec }) => {
                for device in &spec.devices {
                    self.parts.insert((t.clone(), id.clone(), device.clone()), e.seq);
                }
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentDevicesListed { devices }) => {
                for device in devices {
                    self.parts.insert((t.clone(), id.clone(), device.clone()), e.seq);
                }
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentDeviceAdded { device }) => {
                self.parts.insert((t.clone(), id.clone(), device.clone()), e.seq);
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentAborted) => {
                self.deployments.insert((t.clone(), id), e.seq);
            }
            DomainEvent::DeviceDeployment(_) => {
                if let Some((dep, device)) = id.split_once(':') {
                    self.parts.insert((t.clone(), dep.to_owned(), device.to_owned()), e.seq);
                }
            }
            _ => {}
        }
        // A device's own events are its check-ins, whatever their aggregate.
        if env.actor.kind == ActorKind::Device && !env.actor.id.is_empty() {
            self.devices.insert((env.aggregate.tenant.clone(), env.actor.id.clone()), e.seq);
        }
    }
}

/// One document to write: a device, or a device's part in a deployment; with the sequence of
/// the last event that touched it (its external version).
#[derive(Clone)]
pub(super) enum Doc {
    Device { tenant: String, id: String, seq: u64 },
    Part { tenant: String, deployment: String, device: String, seq: u64 },
}

impl Touched {
    /// The documents to write: what was touched, with the parts of aborted deployments and of
    /// decommissioned devices spelled out.
    pub(super) fn docs(mut self, deployments: &ReadModel) -> Result<Vec<Doc>, ReportingError> {
        let dep = DeploymentsQueries(deployments);
        for ((t, id), seq) in std::mem::take(&mut self.deployments) {
            for part in dep.parts(&t, &id)? {
                let key = (t.clone(), id.clone(), part.device_id.clone());
                self.parts.entry(key).and_modify(|s| *s = (*s).max(seq)).or_insert(seq);
            }
        }
        for ((t, device), seq) in std::mem::take(&mut self.device_parts) {
            for part in dep.history(&t, &device)? {
                let key = (t.clone(), part.deployment_id.clone(), device.clone());
                self.parts.entry(key).and_modify(|s| *s = (*s).max(seq)).or_insert(seq);
            }
        }
        let devices = self.devices.into_iter().map(|((tenant, id), seq)| Doc::Device { tenant, id, seq });
        let parts = self.parts.into_iter().map(|((tenant, deployment, device), seq)| Doc::Part {
            tenant,
            deployment,
            device,
            seq,
        });
        Ok(devices.chain(parts).collect())
    }
}

/// The bulk operations that bring `docs` to their state in the read models: action and
/// document (none for a delete).
pub(super) fn operations(
    client: &SearchClient,
    target: Target,
    inventory: &ReadModel,
    deployments: &ReadModel,
    docs: &[Doc],
) -> Result<Vec<(Value, Option<Value>)>, ReportingError> {
    let (inv, dep) = (InventoryQueries(inventory), DeploymentsQueries(deployments));
    let op = |index: Index, tenant: &str, id: &str, seq: u64, record: Option<Record>| {
        let mut meta = json!({"_id": format!("{tenant}/{id}"), "version": seq, "version_type": "external"});
        match target {
            // Whatever generation the alias points at; never an index made up by a write.
            Target::Live => meta["_index"] = json!(client.index(index)),
            Target::Generation(g) => meta["_index"] = json!(client.generation(index, g)),
        }
        match record {
            Some(r) => {
                // Through the alias only: a write must never create an index of its own.
                if matches!(target, Target::Live) {
                    meta["require_alias"] = json!(true);
                }
                (json!({ "index": meta }), Some(document(tenant, &r)))
            }
            None => (json!({ "delete": meta }), None),
        }
    };
    let mut ops = Vec::with_capacity(docs.len());
    for doc in docs {
        ops.push(match doc {
            Doc::Device { tenant, id, seq } => {
                op(Index::Devices, tenant, id, *seq, inv.get(tenant, id)?.as_ref().map(Record::device))
            }
            Doc::Part { tenant, deployment, device, seq } => {
                let record =
                    match (dep.deployment(tenant, deployment)?, dep.part(tenant, deployment, device)?) {
                        (Some(d), Some(p)) => Some(Record::device_deployment(&d, &p)),
                        _ => None,
                    };
                op(Index::Deployments, tenant, &format!("{deployment}:{device}"), *seq, record)
            }
        });
    }
    Ok(ops)
}
