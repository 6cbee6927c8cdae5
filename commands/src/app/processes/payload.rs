//! What a device's event means for integrations, in Mender's `Event` shape: an accept that
//! admits the device is `device-provisioned` (the device with its accepted auth set); any change
//! of an existing device's status is `device-status-changed` (id and new status); a
//! decommission is `device-decommissioned` (id). Derived from the device's own history up to
//! the event, so a redelivery after a restart posts the same body under the same id.

use fleetlog_events::device::{AuthSetStatus, Device, DeviceEvent, DeviceStatus};
use fleetlog_events::monitor::MonitorEvent;
use fleetlog_events::{Aggregate, DomainEvent, RecordedEvent};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One event to push: its id, type, time (microseconds) and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The id receivers see (the same for every integration and every redelivery).
    pub id: String,
    /// `device-provisioned`, `device-status-changed`, `device-decommissioned`, `device-alert`.
    pub kind: &'static str,
    /// When the change happened, microseconds.
    pub time: i64,
    /// The event's `data`.
    pub data: Value,
}

impl Outgoing {
    /// The request body: Mender's `{id, type, data, time}`.
    pub fn body(&self) -> Vec<u8> {
        let event = json!({
            "id": self.id,
            "type": self.kind,
            "data": self.data,
            "time": fleetlog_projections::rfc3339(self.time),
        });
        serde_json::to_vec(&event).unwrap_or_default()
    }
}

/// A stable UUID for (log event, type): receivers de-duplicate on it.
pub fn event_id(source_event_id: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("fleetlog webhook {source_event_id} {kind}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// The `device-alert` of a device monitor's alert (other monitor events are not pushed).
pub fn alert_events(event: &RecordedEvent) -> Vec<Outgoing> {
    let env = &event.envelope;
    let DomainEvent::Monitor(MonitorEvent::AlertRaised { alert: a }) = &env.event else { return Vec::new() };
    let details: Value = serde_json::from_str(&a.details_json).unwrap_or(Value::Null);
    let data = json!({
        "id": env.aggregate.id,
        "name": a.name,
        "level": a.level,
        "subject": { "name": a.subject_name, "type": a.subject_type, "status": a.subject_status, "details": details },
        "timestamp": fleetlog_projections::rfc3339(a.timestamp.0),
    });
    let kind = "device-alert";
    vec![Outgoing { id: event_id(&env.event_id, kind), kind, time: env.occurred_at.0, data }]
}

/// The webhook events of device event `event`, given the device's history (its subject's
/// events, which include `event`).
pub fn device_events(event: &RecordedEvent, history: &[RecordedEvent]) -> Vec<Outgoing> {
    let env = &event.envelope;
    let DomainEvent::Device(device_event) = &env.event else { return Vec::new() };
    let device_id = env.aggregate.id.as_str();
    let fold = |upto: u64| {
        history
            .iter()
            .filter(|e| e.seq <= upto)
            .filter_map(|e| DeviceEvent::try_from(e.envelope.event.clone()).ok())
            .fold(Device::initial(), |s, e| Device::evolve(s, &e))
    };
    let (before, after) = (fold(event.seq.saturating_sub(1)), fold(event.seq));
    let out = |kind: &'static str, data: Value| Outgoing {
        id: event_id(&env.event_id, kind),
        kind,
        time: env.occurred_at.0,
        data,
    };
    if matches!(device_event, DeviceEvent::DeviceDecommissioned) {
        return vec![out("device-decommissioned", json!({ "id": device_id }))];
    }
    if !after.exists || after.decommissioned {
        return Vec::new();
    }
    let status = after.status();
    let mut events = Vec::new();
    let was = before.exists.then(|| before.status());
    if status == DeviceStatus::Accepted && was != Some(DeviceStatus::Accepted) {
        let created = history.first().map_or(env.occurred_at.0, |e| e.envelope.occurred_at.0);
        let identity: Value = serde_json::from_str(&after.identity_data).unwrap_or_else(|_| json!({}));
        let sets: Vec<Value> = after
            .auth_sets
            .iter()
            .filter(|a| a.status == AuthSetStatus::Accepted)
            .map(|a| {
                json!({
                    "id": a.id, "device_id": device_id, "identity_data": identity,
                    "pubkey": a.pubkey, "status": "accepted",
                })
            })
            .collect();
        let data = json!({
            "id": device_id, "status": status.as_str(), "auth_sets": sets,
            "created_ts": fleetlog_projections::rfc3339(created),
        });
        events.push(out("device-provisioned", data));
    }
    if was.is_some_and(|w| w != status) {
        events.push(out("device-status-changed", json!({ "id": device_id, "status": status.as_str() })));
    }
    events
}

#[cfg(test)]
mod tests {
    use fleetlog_events::{Actor, AggregateRef, EventEnvelope, Timestamp};

    use super::*;

    fn history(events: Vec<DeviceEvent>) -> Vec<RecordedEvent> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, e)| RecordedEvent {
                seq: i as u64 + 10,
                envelope: EventEnvelope {
                    event_id: format!("ev-{i}"),
                    aggregate: AggregateRef {
                        tenant: "default".into(),
                        kind: "device".into(),
                        id: "d1".into(),
                    },
                    occurred_at: Timestamp(1_700_000_000_000_000 + i as i64),
                    actor: Actor::system("test"),
                    command_id: format!("c{i}"),
                    correlation_id: String::new(),
                    event: DomainEvent::Device(e),
                },
            })
            .collect()
    }

    fn kinds(h: &[RecordedEvent], i: usize) -> Vec<&'static str> {
        device_events(&h[i], h).into_iter().map(|o| o.kind).collect()
    }

    #[test]
    fn accepting_provisions_and_changes_status_and_decommissioning_is_its_own_event() {
        let h = history(vec![
            DeviceEvent::AuthSetSubmitted {
                auth_set_id: "a1".into(),
                identity_data: r#"{"mac":"m"}"#.into(),
                pubkey: "K".into(),
            },
            DeviceEvent::AuthSetAccepted { auth_set_id: "a1".into() },
            DeviceEvent::AuthSetRejected { auth_set_id: "a1".into() },
            DeviceEvent::DeviceDecommissioned,
        ]);
        assert!(kinds(&h, 0).is_empty(), "a new pending device is not announced");
        assert_eq!(kinds(&h, 1), ["device-provisioned", "device-status-changed"]);
        assert_eq!(kinds(&h, 2), ["device-status-changed"]);
        assert_eq!(kinds(&h, 3), ["device-decommissioned"]);
        let provisioned = &device_events(&h[1], &h)[0];
        assert_eq!(provisioned.data["auth_sets"][0]["identity_data"]["mac"], "m");
        assert_eq!(provisioned.data["auth_sets"][0]["pubkey"], "K");
        assert_eq!(device_events(&h[2], &h)[0].data, json!({"id": "d1", "status": "rejected"}));
    }

    #[test]
    fn ids_are_stable_per_log_event_and_type() {
        let h = history(vec![
            DeviceEvent::AuthSetSubmitted {
                auth_set_id: "a1".into(),
                identity_data: "{}".into(),
                pubkey: "K".into(),
            },
            DeviceEvent::AuthSetAccepted { auth_set_id: "a1".into() },
        ]);
        let (a, b) = (device_events(&h[1], &h), device_events(&h[1], &h));
        assert_eq!(a, b);
        assert_ne!(a[0].id, a[1].id);
        let body: Value = serde_json::from_slice(&a[1].body()).unwrap();
        assert_eq!(
            (body["type"].as_str(), body["id"].as_str()),
            (Some("device-status-changed"), Some(a[1].id.as_str()))
        );
    }
}
