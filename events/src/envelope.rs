//! The metadata every event carries, and the union of all aggregates' events.

use serde::{Deserialize, Serialize};

use crate::artifact::ArtifactEvent;
use crate::claim::ClaimEvent;
use crate::connect::ConnectEvent;
use crate::deployment::DeploymentEvent;
use crate::deployment::device::DeviceDeploymentEvent;
use crate::devconfig::DeviceConfigEvent;
use crate::device::DeviceEvent;
use crate::filter::FilterEvent;
use crate::integration::IntegrationEvent;
use crate::inventory::InventoryEvent;
use crate::monitor::MonitorEvent;
use crate::release::ReleaseEvent;
use crate::settings::SettingsEvent;
use crate::user::UserEvent;
use crate::webhook::WebhookEventEvent;

/// Microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Whole seconds since the epoch.
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// The first microsecond of a Unix second; saturates (times beyond the range mean "ever").
    pub fn start_of_second(seconds: i64) -> Timestamp {
        Timestamp(seconds.saturating_mul(1_000_000))
    }

    /// The last microsecond of a Unix second (a time "at" a second includes all of it);
    /// saturates.
    pub fn end_of_second(seconds: i64) -> Timestamp {
        Timestamp(seconds.saturating_mul(1_000_000).saturating_add(999_999))
    }
}

/// What kind of principal caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A management-API user.
    User,
    /// A device, through the device API.
    Device,
    /// fleetlog itself (cascades, process managers).
    #[default]
    System,
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// Kind of principal.
    pub kind: ActorKind,
    /// User id, device id or component name.
    pub id: String,
    /// The user's e-mail at the time (empty otherwise).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
}

impl Actor {
    /// A management user.
    pub fn user(id: &str, email: &str) -> Self {
        Actor { kind: ActorKind::User, id: id.to_owned(), email: email.to_owned() }
    }

    /// A device.
    pub fn device(id: &str) -> Self {
        Actor { kind: ActorKind::Device, id: id.to_owned(), email: String::new() }
    }

    /// fleetlog acting on its own, e.g. `Actor::system("cli")`.
    pub fn system(component: &str) -> Self {
        Actor { kind: ActorKind::System, id: component.to_owned(), email: String::new() }
    }
}

/// Which aggregate an event belongs to: `fleetlog.<tenant>.<aggregate_type>.<aggregate_id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AggregateRef {
    /// Tenant id (`default` when single-tenant).
    pub tenant: String,
    /// Aggregate type, e.g. `device`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Aggregate id.
    pub id: String,
}

/// Every domain event of every aggregate. The stored form (protobuf) lives in `fleetlog-schemas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DomainEvent {
    /// Events of the device aggregate.
    Device(DeviceEvent),
    /// Events of the user aggregate.
    User(UserEvent),
    /// Events of uniqueness claims.
    Claim(ClaimEvent),
    /// Events of settings.
    Settings(SettingsEvent),
    /// Events of device inventories.
    Inventory(InventoryEvent),
    /// Events of saved inventory filters.
    Filter(FilterEvent),
    /// Events of artifacts.
    Artifact(ArtifactEvent),
    /// Events of deployments.
    Deployment(DeploymentEvent),
    /// Events of one device's part in a deployment.
    DeviceDeployment(DeviceDeploymentEvent),
    /// Events of a device's configuration.
    DeviceConfig(DeviceConfigEvent),
    /// Events of device connections and remote sessions.
    Connect(ConnectEvent),
    /// Events of releases (notes, tags).
    Release(ReleaseEvent),
    /// Events of iot-manager integrations.
    Integration(IntegrationEvent),
    /// Events of webhook events (delivery outcomes).
    Webhook(WebhookEventEvent),
    /// Events of device monitors (alerts, monitor configuration).
    Monitor(MonitorEvent),
}

impl DomainEvent {
    /// The event's type name, as shown in tail, audit and the `Fleetlog-Event` header.
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::Device(e) => e.event_type(),
            DomainEvent::User(e) => e.event_type(),
            DomainEvent::Claim(e) => e.event_type(),
            DomainEvent::Settings(e) => e.event_type(),
            DomainEvent::Inventory(e) => e.event_type(),
            DomainEvent::Filter(e) => e.event_type(),
            DomainEvent::Artifact(e) => e.event_type(),
            DomainEvent::Deployment(e) => e.event_type(),
            DomainEvent::DeviceDeployment(e) => e.event_type(),
            DomainEvent::DeviceConfig(e) => e.event_type(),
            DomainEvent::Connect(e) => e.event_type(),
            DomainEvent::Release(e) => e.event_type(),
            DomainEvent::Integration(e) => e.event_type(),
            DomainEvent::Webhook(e) => e.event_type(),
            DomainEvent::Monitor(e) => e.event_type(),
        }
    }
}

/// One event with its metadata, as decided by a command handler or read back from the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// UUIDv7 of the event.
    pub event_id: String,
    /// The aggregate the event belongs to.
    pub aggregate: AggregateRef,
    /// When the command was decided.
    pub occurred_at: Timestamp,
    /// Who caused it.
    pub actor: Actor,
    /// The command that produced it (retries share it).
    pub command_id: String,
    /// The request id (`X-MEN-RequestID`) behind the command.
    pub correlation_id: String,
    /// The fact itself.
    pub event: DomainEvent,
}

/// An event read back from the log, with its position (the stream sequence).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Stream sequence: the event's global position.
    pub seq: u64,
    /// The event and its metadata.
    pub envelope: EventEnvelope,
}
