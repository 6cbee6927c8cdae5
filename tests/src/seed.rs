//! Accepted devices written straight to the log (their submit and accept events), for tests and
//! benchmarks that need many devices without onboarding each over HTTP.

use fleetlog_commands::{EventStore, StoreError, SubjectAppend};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope};

/// Most devices in one call: two events each, and an atomic batch holds at most 1000 messages.
pub const MAX_SEED_BATCH: usize = 500;

/// One device to seed.
#[derive(Debug, Clone)]
pub struct SeedDevice {
    /// Device id.
    pub id: String,
    /// Its accepted auth set.
    pub auth_set: String,
    /// Identity attributes (canonical JSON).
    pub identity: String,
    /// Public key (PEM).
    pub pubkey: String,
}

fn envelope(tenant: &str, actor: &str, id: &str, event: DeviceEvent) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate: AggregateRef { tenant: tenant.into(), kind: "device".into(), id: id.into() },
        occurred_at: fleetlog_commands::now(),
        actor: Actor::system(actor),
        command_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: String::new(),
        event: DomainEvent::Device(event),
    }
}

/// Appends `devices` (at most [`MAX_SEED_BATCH`]) of `tenant` as submitted and accepted, in one
/// atomic batch recorded as done by `actor`; returns the batch's last position.
pub async fn append_accepted(
    store: &EventStore,
    tenant: &str,
    actor: &str,
    devices: &[SeedDevice],
) -> Result<u64, StoreError> {
    let events: Vec<[EventEnvelope; 2]> = devices
        .iter()
        .map(|d| {
            let submitted = DeviceEvent::AuthSetSubmitted {
                auth_set_id: d.auth_set.clone(),
                identity_data: d.identity.clone(),
                pubkey: d.pubkey.clone(),
            };
            let accepted = DeviceEvent::AuthSetAccepted { auth_set_id: d.auth_set.clone() };
            [envelope(tenant, actor, &d.id, submitted), envelope(tenant, actor, &d.id, accepted)]
        })
        .collect();
    let appends = events
        .iter()
        .map(|evs| {
            Ok(SubjectAppend {
                subject: store.subject(&evs[0].aggregate)?,
                expected_last_seq: 0,
                events: evs,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(store.append(&uuid::Uuid::new_v4().to_string(), &appends).await?.last_seq)
}

/// The claims of a device token for a seeded device (valid for an hour), as the server would
/// issue them on the device's auth request; `epoch` is its admission's log position, if known.
/// Tests and benches sign them with the server's key to skip onboarding each device over HTTP.
pub fn device_claims(
    device: &str,
    auth_set: &str,
    epoch: Option<u64>,
) -> fleetlog_gateway::auth::jwt::Claims {
    let now = fleetlog_commands::now().unix_seconds();
    fleetlog_gateway::auth::jwt::Claims {
        jti: auth_set.to_owned(),
        sub: device.to_owned(),
        iat: now,
        exp: now + 3600,
        iss: "fleetlog".into(),
        device: true,
        user: false,
        tenant: String::new(),
        epoch,
    }
}
