//! Protobuf → domain, for every event (the one place old encodings are read; upcasting starts
//! in `decode`).

use fleetlog_events::DomainEvent;
use fleetlog_events::artifact::{ArtifactEvent, ArtifactInfo};
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus};
use fleetlog_events::devconfig::DeviceConfigEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::FilterEvent;
use fleetlog_events::inventory::{InventoryEvent, Tag};
use fleetlog_events::release::ReleaseEvent;
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;

use fleetlog_events::integration::IntegrationEvent;

use crate::convert_integration as integration;
use crate::proto::envelope::Event as P;

/// The domain event of a stored payload.
pub(crate) fn event_from_proto(p: P) -> DomainEvent {
    match p {
        P::AuthSetSubmitted(m) => DomainEvent::Device(DeviceEvent::AuthSetSubmitted {
            auth_set_id: m.auth_set_id,
            identity_data: m.identity_data,
            pubkey: m.pubkey,
        }),
        P::AuthSetAccepted(m) => {
            DomainEvent::Device(DeviceEvent::AuthSetAccepted { auth_set_id: m.auth_set_id })
        }
        P::AuthSetRejected(m) => {
            DomainEvent::Device(DeviceEvent::AuthSetRejected { auth_set_id: m.auth_set_id })
        }
        P::DeviceDecommissioned(_) => DomainEvent::Device(DeviceEvent::DeviceDecommissioned),
        P::DeviceTokensRevoked(m) => {
            DomainEvent::Device(DeviceEvent::DeviceTokensRevoked { auth_set_id: m.auth_set_id })
        }
        P::DevicePreauthorized(m) => DomainEvent::Device(DeviceEvent::DevicePreauthorized {
            auth_set_id: m.auth_set_id,
            identity_data: m.identity_data,
            pubkey: m.pubkey,
        }),
        P::AuthSetPending(m) => {
            DomainEvent::Device(DeviceEvent::AuthSetPending { auth_set_id: m.auth_set_id })
        }
        P::AuthSetDismissed(m) => {
            DomainEvent::Device(DeviceEvent::AuthSetDismissed { auth_set_id: m.auth_set_id })
        }
        P::UserCreated(m) => {
            DomainEvent::User(UserEvent::UserCreated { email: m.email, password_hash: m.password_hash })
        }
        P::UserPasswordChanged(m) => {
            DomainEvent::User(UserEvent::UserPasswordChanged { password_hash: m.password_hash })
        }
        P::UserEmailChanged(m) => DomainEvent::User(UserEvent::UserEmailChanged { email: m.email }),
        P::UserDeleted(_) => DomainEvent::User(UserEvent::UserDeleted),
        P::UserTokenIssued(m) => {
            DomainEvent::User(UserEvent::UserTokenIssued { jti: m.jti, name: m.name, exp: m.exp })
        }
        P::UserTokenRevoked(m) => DomainEvent::User(UserEvent::UserTokenRevoked { jti: m.jti }),
        P::InventoryReported(m) => {
            let attributes = m
                .attributes
                .into_iter()
                .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
                .collect();
            DomainEvent::Inventory(InventoryEvent::InventoryReported { attributes })
        }
        P::InventoryChanged(m) => DomainEvent::Inventory(InventoryEvent::InventoryChanged {
            set: m
                .set
                .into_iter()
                .filter_map(|(k, v)| serde_json::from_str(&v).ok().map(|v| (k, v)))
                .collect(),
            removed: m.removed,
        }),
        P::InventoryTagsSet(m) => DomainEvent::Inventory(InventoryEvent::InventoryTagsSet {
            tags: m
                .tags
                .into_iter()
                .map(|(k, t)| (k, Tag { value: t.value, description: t.description }))
                .collect(),
            etag: m.etag,
        }),
        P::InventoryGroupAssigned(m) => {
            DomainEvent::Inventory(InventoryEvent::InventoryGroupAssigned { group: m.group })
        }
        P::InventoryGroupUnassigned(m) => {
            DomainEvent::Inventory(InventoryEvent::InventoryGroupUnassigned { group: m.group })
        }
        P::InventoryDeleted(_) => DomainEvent::Inventory(InventoryEvent::InventoryDeleted),
        P::FilterCreated(m) => DomainEvent::Filter(FilterEvent::FilterCreated {
            name: m.name,
            terms: m.terms.into_iter().map(crate::convert::term_from_proto).collect(),
        }),
        P::FilterDeleted(_) => DomainEvent::Filter(FilterEvent::FilterDeleted),
        P::ArtifactUploaded(m) => DomainEvent::Artifact(ArtifactEvent::ArtifactUploaded {
            info: ArtifactInfo {
                name: m.name,
                description: m.description,
                device_types: m.device_types,
                meta_json: m.meta_json,
                size: m.size,
                storage_key: m.storage_key,
            },
        }),
        P::ArtifactDescriptionChanged(m) => {
            DomainEvent::Artifact(ArtifactEvent::ArtifactDescriptionChanged { description: m.description })
        }
        P::ArtifactDeleted(_) => DomainEvent::Artifact(ArtifactEvent::ArtifactDeleted),
        P::ArtifactUploadRequested(m) => DomainEvent::Artifact(ArtifactEvent::ArtifactUploadRequested {
            storage_key: m.storage_key,
            expires_at: m.expires_at,
        }),
        P::ArtifactUploadAbandoned(m) => {
            DomainEvent::Artifact(ArtifactEvent::ArtifactUploadAbandoned { reason: m.reason })
        }
        P::DeploymentCreated(mut m) => {
            let mut spec = DeploymentSpec::default();
            crate::convert_rollout::spec_from_proto(&mut m, &mut spec);
            DomainEvent::Deployment(DeploymentEvent::DeploymentCreated {
                spec: DeploymentSpec {
                    name: m.name,
                    artifact_name: m.artifact_name,
                    devices: m.devices,
                    retries: m.retries,
                    force_installation: m.force_installation,
                    target: m.target,
                    configuration: m.configuration.map(|c| c.values.into_iter().collect()),
                    ..spec
                },
            })
        }
        P::DeploymentAborted(_) => DomainEvent::Deployment(DeploymentEvent::DeploymentAborted),
        P::DeviceDeploymentAssigned(m) => {
            DomainEvent::DeviceDeployment(DeviceDeploymentEvent::DeviceDeploymentAssigned {
                artifact_id: m.artifact_id,
            })
        }
        P::DeviceDeploymentStatusChanged(m) => {
            // An unknown status name (a newer writer) reads as a failure rather than
            // stopping every reader of the log.
            let status = DeviceDeploymentStatus::parse(&m.status).unwrap_or(DeviceDeploymentStatus::Failure);
            DomainEvent::DeviceDeployment(DeviceDeploymentEvent::DeviceDeploymentStatusChanged {
                status,
                substate: m.substate,
            })
        }
        P::DeviceDeploymentRetried(m) => {
            DomainEvent::DeviceDeployment(DeviceDeploymentEvent::DeviceDeploymentRetried {
                attempt: m.attempt,
            })
        }
        P::DeviceConfigSet(m) => DomainEvent::DeviceConfig(DeviceConfigEvent::DeviceConfigSet {
            configuration: m.configuration.into_iter().collect(),
        }),
        P::DeviceConfigReported(m) => DomainEvent::DeviceConfig(DeviceConfigEvent::DeviceConfigReported {
            configuration: m.configuration.into_iter().collect(),
        }),
        P::DeviceConfigDeployed(m) => DomainEvent::DeviceConfig(DeviceConfigEvent::DeviceConfigDeployed {
            deployment_id: m.deployment_id,
        }),
        P::DeviceConnected(m) => {
            DomainEvent::Connect(ConnectEvent::DeviceConnected { connection_id: m.connection_id })
        }
        P::DeviceDisconnected(m) => {
            DomainEvent::Connect(ConnectEvent::DeviceDisconnected { connection_id: m.connection_id })
        }
        P::RemoteSessionStarted(m) => DomainEvent::Connect(ConnectEvent::RemoteSessionStarted {
            device_id: m.device_id,
            kind: m.kind,
            detail: m.detail,
        }),
        P::RemoteSessionEnded(m) => {
            DomainEvent::Connect(ConnectEvent::RemoteSessionEnded { bytes: m.bytes, error: m.error })
        }
        P::DeviceDeploymentLogSaved(m) => {
            DomainEvent::DeviceDeployment(DeviceDeploymentEvent::DeviceDeploymentLogSaved {
                messages_json: m.messages_json,
            })
        }
        P::DeviceDeploymentDeleted(_) => {
            DomainEvent::DeviceDeployment(DeviceDeploymentEvent::DeviceDeploymentDeleted)
        }
        P::ReleaseNotesSet(m) => {
            DomainEvent::Release(ReleaseEvent::ReleaseNotesSet { name: m.name, notes: m.notes })
        }
        P::ReleaseTagsSet(m) => {
            DomainEvent::Release(ReleaseEvent::ReleaseTagsSet { name: m.name, tags: m.tags })
        }
        P::ReleaseDeleted(m) => DomainEvent::Release(ReleaseEvent::ReleaseDeleted { name: m.name }),
        P::SettingsSaved(m) => DomainEvent::Settings(SettingsEvent::SettingsSaved { json: m.json }),
        P::ClaimTaken(m) => DomainEvent::Claim(ClaimEvent::ClaimTaken { holder: m.holder }),
        P::ClaimReleased(m) => DomainEvent::Claim(ClaimEvent::ClaimReleased { holder: m.holder }),
        P::IntegrationCreated(m) => integration::created(m),
        P::IntegrationCredentialsSet(m) => integration::credentials_set(m),
        P::IntegrationDeleted(_) => DomainEvent::Integration(IntegrationEvent::IntegrationDeleted),
        P::WebhookDeliveryRecorded(m) => integration::delivery_recorded(m),
        P::AlertRaised(m) => integration::alert_raised(m),
        P::MonitorConfigSet(m) => {
            DomainEvent::Monitor(fleetlog_events::monitor::MonitorEvent::MonitorConfigSet {
                config_json: m.config_json,
            })
        }
        p @ (P::DeploymentPhaseStarted(_)
        | P::DeploymentPaused(_)
        | P::DeploymentResumed(_)
        | P::DeploymentControlMapUpdated(_)
        | P::DeploymentDeviceAdded(_)
        | P::DeploymentDevicesListed(_)) => {
            crate::convert_rollout::event_from_proto(p).expect("a rollout payload")
        }
    }
}
