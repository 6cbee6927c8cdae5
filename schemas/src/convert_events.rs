//! Domain → protobuf for the aggregates added after the first schema (inventory, artifacts,
//! deployments, remote access, releases); `convert` holds the envelope and the rest.

use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::DeploymentEvent;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::release::ReleaseEvent;

use crate::proto::{self, envelope::Event as P};

pub(crate) fn inventory_to_proto(e: &InventoryEvent) -> P {
    match e {
        InventoryEvent::InventoryReported { attributes } => {
            let attributes = attributes
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::to_string(v).unwrap_or_default()))
                .collect();
            P::InventoryReported(proto::InventoryReported { attributes })
        }
        InventoryEvent::InventoryTagsSet { tags, etag } => P::InventoryTagsSet(proto::InventoryTagsSet {
            tags: tags
                .iter()
                .map(|(k, t)| {
                    (k.clone(), proto::Tag { value: t.value.clone(), description: t.description.clone() })
                })
                .collect(),
            etag: etag.clone(),
        }),
        InventoryEvent::InventoryGroupAssigned { group } => {
            P::InventoryGroupAssigned(proto::InventoryGroupAssigned { group: group.clone() })
        }
        InventoryEvent::InventoryGroupUnassigned { group } => {
            P::InventoryGroupUnassigned(proto::InventoryGroupUnassigned { group: group.clone() })
        }
        InventoryEvent::InventoryDeleted => P::InventoryDeleted(proto::InventoryDeleted {}),
        InventoryEvent::InventoryChanged { set, removed } => P::InventoryChanged(proto::InventoryChanged {
            set: set.iter().map(|(k, v)| (k.clone(), serde_json::to_string(v).unwrap_or_default())).collect(),
            removed: removed.clone(),
        }),
    }
}

pub(crate) fn artifact_to_proto(e: &ArtifactEvent) -> P {
    match e {
        ArtifactEvent::ArtifactUploaded { info } => P::ArtifactUploaded(proto::ArtifactUploaded {
            name: info.name.clone(),
            description: info.description.clone(),
            device_types: info.device_types.clone(),
            meta_json: info.meta_json.clone(),
            size: info.size,
            storage_key: info.storage_key.clone(),
        }),
        ArtifactEvent::ArtifactDescriptionChanged { description } => {
            P::ArtifactDescriptionChanged(proto::ArtifactDescriptionChanged {
                description: description.clone(),
            })
        }
        ArtifactEvent::ArtifactDeleted => P::ArtifactDeleted(proto::ArtifactDeleted {}),
        ArtifactEvent::ArtifactUploadRequested { storage_key, expires_at } => {
            P::ArtifactUploadRequested(proto::ArtifactUploadRequested {
                storage_key: storage_key.clone(),
                expires_at: *expires_at,
            })
        }
        ArtifactEvent::ArtifactUploadAbandoned { reason } => {
            P::ArtifactUploadAbandoned(proto::ArtifactUploadAbandoned { reason: reason.clone() })
        }
    }
}

pub(crate) fn deployment_to_proto(e: &DeploymentEvent) -> P {
    match e {
        DeploymentEvent::DeploymentCreated { spec } => {
            let mut m = proto::DeploymentCreated {
                name: spec.name.clone(),
                artifact_name: spec.artifact_name.clone(),
                devices: spec.devices.clone(),
                retries: spec.retries,
                force_installation: spec.force_installation,
                target: spec.target.clone(),
                configuration: spec
                    .configuration
                    .as_ref()
                    .map(|c| proto::DeploymentConfiguration { values: c.clone().into_iter().collect() }),
                ..Default::default()
            };
            crate::convert_rollout::spec_to_proto(spec, &mut m);
            P::DeploymentCreated(m)
        }
        DeploymentEvent::DeploymentAborted => P::DeploymentAborted(proto::DeploymentAborted {}),
        other => crate::convert_rollout::event_to_proto(other).expect("a rollout event"),
    }
}

pub(crate) fn device_deployment_to_proto(e: &DeviceDeploymentEvent) -> P {
    match e {
        DeviceDeploymentEvent::DeviceDeploymentAssigned { artifact_id } => {
            P::DeviceDeploymentAssigned(proto::DeviceDeploymentAssigned { artifact_id: artifact_id.clone() })
        }
        DeviceDeploymentEvent::DeviceDeploymentStatusChanged { status, substate } => {
            P::DeviceDeploymentStatusChanged(proto::DeviceDeploymentStatusChanged {
                status: status.as_str().to_owned(),
                substate: substate.clone(),
            })
        }
        DeviceDeploymentEvent::DeviceDeploymentRetried { attempt } => {
            P::DeviceDeploymentRetried(proto::DeviceDeploymentRetried { attempt: *attempt })
        }
        DeviceDeploymentEvent::DeviceDeploymentLogSaved { messages_json } => {
            P::DeviceDeploymentLogSaved(proto::DeviceDeploymentLogSaved {
                messages_json: messages_json.clone(),
            })
        }
        DeviceDeploymentEvent::DeviceDeploymentDeleted => {
            P::DeviceDeploymentDeleted(proto::DeviceDeploymentDeleted {})
        }
    }
}

pub(crate) fn release_to_proto(e: &ReleaseEvent) -> P {
    match e {
        ReleaseEvent::ReleaseNotesSet { name, notes } => {
            P::ReleaseNotesSet(proto::ReleaseNotesSet { name: name.clone(), notes: notes.clone() })
        }
        ReleaseEvent::ReleaseTagsSet { name, tags } => {
            P::ReleaseTagsSet(proto::ReleaseTagsSet { name: name.clone(), tags: tags.clone() })
        }
        ReleaseEvent::ReleaseDeleted { name } => {
            P::ReleaseDeleted(proto::ReleaseDeleted { name: name.clone() })
        }
    }
}

pub(crate) fn connect_to_proto(e: &ConnectEvent) -> P {
    match e {
        ConnectEvent::DeviceConnected { connection_id } => {
            P::DeviceConnected(proto::DeviceConnected { connection_id: connection_id.clone() })
        }
        ConnectEvent::DeviceDisconnected { connection_id } => {
            P::DeviceDisconnected(proto::DeviceDisconnected { connection_id: connection_id.clone() })
        }
        ConnectEvent::RemoteSessionStarted { device_id, kind, detail } => {
            P::RemoteSessionStarted(proto::RemoteSessionStarted {
                device_id: device_id.clone(),
                kind: kind.clone(),
                detail: detail.clone(),
            })
        }
        ConnectEvent::RemoteSessionEnded { bytes, error } => {
            P::RemoteSessionEnded(proto::RemoteSessionEnded { bytes: *bytes, error: error.clone() })
        }
    }
}
