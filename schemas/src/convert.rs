//! Explicit conversions between the protobuf messages and the domain types.

use fleetlog_events::artifact::{ArtifactEvent, ArtifactInfo};
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus};
use fleetlog_events::devconfig::DeviceConfigEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::{FilterEvent, FilterTerm};
use fleetlog_events::inventory::{InventoryEvent, Tag};
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;
use fleetlog_events::{Actor, ActorKind, AggregateRef, DomainEvent, EventEnvelope, Timestamp};

use crate::proto::{self, envelope::Event as P};
use crate::{DecodeError, SCHEMA_VERSION};

impl From<&EventEnvelope> for proto::Envelope {
    fn from(e: &EventEnvelope) -> Self {
        proto::Envelope {
            event_id: e.event_id.clone(),
            tenant: e.aggregate.tenant.clone(),
            aggregate_type: e.aggregate.kind.clone(),
            aggregate_id: e.aggregate.id.clone(),
            schema_version: SCHEMA_VERSION,
            occurred_at_us: e.occurred_at.0,
            actor: Some(proto::Actor {
                kind: actor_kind_to_proto(e.actor.kind) as i32,
                id: e.actor.id.clone(),
                email: e.actor.email.clone(),
            }),
            command_id: e.command_id.clone(),
            correlation_id: e.correlation_id.clone(),
            event: Some(event_to_proto(&e.event)),
        }
    }
}

impl TryFrom<proto::Envelope> for EventEnvelope {
    type Error = DecodeError;

    fn try_from(p: proto::Envelope) -> Result<Self, DecodeError> {
        let version = p.schema_version;
        let event = p.event.ok_or(DecodeError::UnknownEvent(version))?;
        let actor = p.actor.unwrap_or_default();
        let kind =
            proto::actor::Kind::try_from(actor.kind).map_err(|_| DecodeError::InvalidField("actor.kind"))?;
        Ok(EventEnvelope {
            event_id: p.event_id,
            aggregate: AggregateRef { tenant: p.tenant, kind: p.aggregate_type, id: p.aggregate_id },
            occurred_at: Timestamp(p.occurred_at_us),
            actor: Actor { kind: actor_kind_from_proto(kind), id: actor.id, email: actor.email },
            command_id: p.command_id,
            correlation_id: p.correlation_id,
            event: event_from_proto(event),
        })
    }
}

fn actor_kind_to_proto(k: ActorKind) -> proto::actor::Kind {
    match k {
        ActorKind::User => proto::actor::Kind::User,
        ActorKind::Device => proto::actor::Kind::Device,
        ActorKind::System => proto::actor::Kind::System,
    }
}

fn actor_kind_from_proto(k: proto::actor::Kind) -> ActorKind {
    match k {
        proto::actor::Kind::User => ActorKind::User,
        proto::actor::Kind::Device => ActorKind::Device,
        // An unspecified actor is treated as the system: it is how events without one are read.
        proto::actor::Kind::System | proto::actor::Kind::Unspecified => ActorKind::System,
    }
}

fn event_to_proto(e: &DomainEvent) -> P {
    match e {
        DomainEvent::Device(d) => match d {
            DeviceEvent::AuthSetSubmitted { auth_set_id, identity_data, pubkey } => {
                P::AuthSetSubmitted(proto::AuthSetSubmitted {
                    auth_set_id: auth_set_id.clone(),
                    identity_data: identity_data.clone(),
                    pubkey: pubkey.clone(),
                })
            }
            DeviceEvent::AuthSetAccepted { auth_set_id } => {
                P::AuthSetAccepted(proto::AuthSetAccepted { auth_set_id: auth_set_id.clone() })
            }
            DeviceEvent::AuthSetRejected { auth_set_id } => {
                P::AuthSetRejected(proto::AuthSetRejected { auth_set_id: auth_set_id.clone() })
            }
            DeviceEvent::DeviceDecommissioned => P::DeviceDecommissioned(proto::DeviceDecommissioned {}),
            DeviceEvent::DeviceTokensRevoked { auth_set_id } => {
                P::DeviceTokensRevoked(proto::DeviceTokensRevoked { auth_set_id: auth_set_id.clone() })
            }
            DeviceEvent::DevicePreauthorized { auth_set_id, identity_data, pubkey } => {
                P::DevicePreauthorized(proto::DevicePreauthorized {
                    auth_set_id: auth_set_id.clone(),
                    identity_data: identity_data.clone(),
                    pubkey: pubkey.clone(),
                })
            }
            DeviceEvent::AuthSetPending { auth_set_id } => {
                P::AuthSetPending(proto::AuthSetPending { auth_set_id: auth_set_id.clone() })
            }
            DeviceEvent::AuthSetDismissed { auth_set_id } => {
                P::AuthSetDismissed(proto::AuthSetDismissed { auth_set_id: auth_set_id.clone() })
            }
        },
        DomainEvent::User(u) => match u {
            UserEvent::UserCreated { email, password_hash } => P::UserCreated(proto::UserCreated {
                email: email.clone(),
                password_hash: password_hash.clone(),
            }),
            UserEvent::UserPasswordChanged { password_hash } => {
                P::UserPasswordChanged(proto::UserPasswordChanged { password_hash: password_hash.clone() })
            }
            UserEvent::UserEmailChanged { email } => {
                P::UserEmailChanged(proto::UserEmailChanged { email: email.clone() })
            }
            UserEvent::UserDeleted => P::UserDeleted(proto::UserDeleted {}),
            UserEvent::UserTokenIssued { jti, name, exp } => {
                P::UserTokenIssued(proto::UserTokenIssued { jti: jti.clone(), name: name.clone(), exp: *exp })
            }
            UserEvent::UserTokenRevoked { jti } => {
                P::UserTokenRevoked(proto::UserTokenRevoked { jti: jti.clone() })
            }
        },
        DomainEvent::Claim(c) => match c {
            ClaimEvent::ClaimTaken { holder } => P::ClaimTaken(proto::ClaimTaken { holder: holder.clone() }),
            ClaimEvent::ClaimReleased { holder } => {
                P::ClaimReleased(proto::ClaimReleased { holder: holder.clone() })
            }
        },
        DomainEvent::Inventory(i) => inventory_to_proto(i),
        DomainEvent::Filter(FilterEvent::FilterCreated { name, terms }) => {
            P::FilterCreated(proto::FilterCreated {
                name: name.clone(),
                terms: terms
                    .iter()
                    .map(|t| proto::FilterTerm {
                        scope: t.scope.clone(),
                        attribute: t.attribute.clone(),
                        op: t.op.clone(),
                        value_json: t.value_json.clone(),
                    })
                    .collect(),
            })
        }
        DomainEvent::Filter(FilterEvent::FilterDeleted) => P::FilterDeleted(proto::FilterDeleted {}),
        DomainEvent::Artifact(a) => artifact_to_proto(a),
        DomainEvent::Deployment(d) => deployment_to_proto(d),
        DomainEvent::DeviceDeployment(d) => device_deployment_to_proto(d),
        DomainEvent::DeviceConfig(c) => match c {
            DeviceConfigEvent::DeviceConfigSet { configuration } => {
                P::DeviceConfigSet(proto::DeviceConfigSet {
                    configuration: configuration.clone().into_iter().collect(),
                })
            }
            DeviceConfigEvent::DeviceConfigReported { configuration } => {
                P::DeviceConfigReported(proto::DeviceConfigReported {
                    configuration: configuration.clone().into_iter().collect(),
                })
            }
            DeviceConfigEvent::DeviceConfigDeployed { deployment_id } => {
                P::DeviceConfigDeployed(proto::DeviceConfigDeployed { deployment_id: deployment_id.clone() })
            }
        },
        DomainEvent::Connect(c) => connect_to_proto(c),
        DomainEvent::Settings(SettingsEvent::SettingsSaved { json }) => {
            P::SettingsSaved(proto::SettingsSaved { json: json.clone() })
        }
    }
}

fn event_from_proto(p: P) -> DomainEvent {
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
            terms: m
                .terms
                .into_iter()
                .map(|t| FilterTerm {
                    scope: t.scope,
                    attribute: t.attribute,
                    op: t.op,
                    value_json: t.value_json,
                })
                .collect(),
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
        P::DeploymentCreated(m) => DomainEvent::Deployment(DeploymentEvent::DeploymentCreated {
            spec: DeploymentSpec {
                name: m.name,
                artifact_name: m.artifact_name,
                devices: m.devices,
                retries: m.retries,
                force_installation: m.force_installation,
                target: m.target,
                configuration: m.configuration.map(|c| c.values.into_iter().collect()),
            },
        }),
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
        P::SettingsSaved(m) => DomainEvent::Settings(SettingsEvent::SettingsSaved { json: m.json }),
        P::ClaimTaken(m) => DomainEvent::Claim(ClaimEvent::ClaimTaken { holder: m.holder }),
        P::ClaimReleased(m) => DomainEvent::Claim(ClaimEvent::ClaimReleased { holder: m.holder }),
    }
}

fn inventory_to_proto(e: &InventoryEvent) -> P {
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
    }
}

fn artifact_to_proto(e: &ArtifactEvent) -> P {
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
    }
}

fn deployment_to_proto(e: &DeploymentEvent) -> P {
    match e {
        DeploymentEvent::DeploymentCreated { spec } => P::DeploymentCreated(proto::DeploymentCreated {
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
        }),
        DeploymentEvent::DeploymentAborted => P::DeploymentAborted(proto::DeploymentAborted {}),
    }
}

fn device_deployment_to_proto(e: &DeviceDeploymentEvent) -> P {
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
    }
}

fn connect_to_proto(e: &ConnectEvent) -> P {
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
