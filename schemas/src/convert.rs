//! Explicit conversions between the protobuf messages and the domain types.

use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::devconfig::DeviceConfigEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::FilterEvent;
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;
use fleetlog_events::{Actor, ActorKind, AggregateRef, DomainEvent, EventEnvelope, Timestamp};

use crate::convert_events::{
    artifact_to_proto, connect_to_proto, deployment_to_proto, device_deployment_to_proto, inventory_to_proto,
    release_to_proto,
};
use crate::convert_from::event_from_proto;
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
                terms: terms.iter().map(term_to_proto).collect(),
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
        DomainEvent::Release(r) => release_to_proto(r),
        DomainEvent::Integration(i) => crate::convert_integration::integration_to_proto(i),
        DomainEvent::Webhook(w) => crate::convert_integration::webhook_to_proto(w),
        DomainEvent::Monitor(m) => crate::convert_integration::monitor_to_proto(m),
        DomainEvent::Settings(SettingsEvent::SettingsSaved { json }) => {
            P::SettingsSaved(proto::SettingsSaved { json: json.clone() })
        }
    }
}

/// A filter term (saved filters, dynamic deployments) as stored.
pub(crate) fn term_to_proto(t: &fleetlog_events::filter::FilterTerm) -> proto::FilterTerm {
    proto::FilterTerm {
        scope: t.scope.clone(),
        attribute: t.attribute.clone(),
        op: t.op.clone(),
        value_json: t.value_json.clone(),
    }
}

/// A stored filter term.
pub(crate) fn term_from_proto(t: proto::FilterTerm) -> fleetlog_events::filter::FilterTerm {
    fleetlog_events::filter::FilterTerm {
        scope: t.scope,
        attribute: t.attribute,
        op: t.op,
        value_json: t.value_json,
    }
}
