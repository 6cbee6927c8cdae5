//! Small builders shared by the tests.

use fleetlog_commands::CommandMeta;
use fleetlog_events::device::DeviceCommand;
use fleetlog_events::{AggregateRef, DomainEvent, EventEnvelope, device::DeviceEvent};

/// A command that creates device `n` with its own identity and key.
pub fn submit(n: usize) -> DeviceCommand {
    DeviceCommand::SubmitAuthSet {
        auth_set_id: format!("as-{n}"),
        identity_data: format!(r#"{{"mac":"02:00:00:00:{:02x}:{:02x}"}}"#, n / 256 % 256, n % 256),
        pubkey: format!("KEY-{n}"),
    }
}

/// An envelope of a device event, ready to append.
pub fn device_event(meta: &CommandMeta, id: &str, event: DeviceEvent) -> EventEnvelope {
    let agg = AggregateRef { tenant: meta.tenant.clone(), kind: "device".into(), id: id.into() };
    fleetlog_commands::envelope(meta, &agg, DomainEvent::Device(event))
}

/// The first event of a device.
pub fn submitted(n: usize) -> DeviceEvent {
    match submit(n) {
        DeviceCommand::SubmitAuthSet { auth_set_id, identity_data, pubkey } => {
            DeviceEvent::AuthSetSubmitted { auth_set_id, identity_data, pubkey }
        }
        _ => unreachable!(),
    }
}
