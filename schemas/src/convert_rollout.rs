//! Deployment rollout controls both ways (phases, failure limit, update control map, dynamic
//! target, and the events that start, pause, resume and change a deployment), kept apart from
//! the older conversions so each stays readable.

use fleetlog_events::DomainEvent;
use fleetlog_events::deployment::rollout::{ControlMap, ControlStep, FailureLimit, Phase};
use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DynamicTarget};

use crate::proto::{self, envelope::Event as P};

/// The rollout fields of a `DeploymentCreated` message.
pub(crate) fn spec_to_proto(spec: &DeploymentSpec, m: &mut proto::DeploymentCreated) {
    m.phases = spec
        .phases
        .iter()
        .map(|p| proto::DeploymentPhase {
            batch_size: p.batch_size,
            start_ts: p.start_ts,
            device_count: p.device_count,
        })
        .collect();
    m.failure_limit = spec.failure_limit.map(|l| proto::DeploymentFailureLimit {
        max_failure_rate: l.max_failure_rate,
        min_devices: l.min_devices,
    });
    m.update_control_map = spec.update_control_map.as_ref().map(map_to_proto);
    m.dynamic = spec.dynamic.as_ref().map(|d| proto::DeploymentDynamicTarget {
        filter: d.filter.iter().map(crate::convert::term_to_proto).collect(),
        max_devices: d.max_devices.unwrap_or(0),
    });
    m.total_devices = spec.total_devices;
}

/// Fills the rollout fields of `spec` from a stored `DeploymentCreated` (absent in events
/// written before rollouts existed: they read as no phases, no limit, no map, not dynamic).
pub(crate) fn spec_from_proto(m: &mut proto::DeploymentCreated, spec: &mut DeploymentSpec) {
    spec.phases = m
        .phases
        .iter()
        .map(|p| Phase { batch_size: p.batch_size, start_ts: p.start_ts, device_count: p.device_count })
        .collect();
    spec.failure_limit = m
        .failure_limit
        .map(|l| FailureLimit { max_failure_rate: l.max_failure_rate, min_devices: l.min_devices });
    spec.update_control_map = m.update_control_map.take().map(map_from_proto);
    spec.dynamic = m.dynamic.take().map(|d| DynamicTarget {
        filter: d.filter.into_iter().map(crate::convert::term_from_proto).collect(),
        max_devices: (d.max_devices > 0).then_some(d.max_devices),
    });
    spec.total_devices = m.total_devices;
}

/// The payload of a rollout event (`None` for the older deployment events).
pub(crate) fn event_to_proto(e: &DeploymentEvent) -> Option<P> {
    Some(match e {
        DeploymentEvent::DeploymentPhaseStarted { phase } => {
            P::DeploymentPhaseStarted(proto::DeploymentPhaseStarted { phase: *phase as u32 })
        }
        DeploymentEvent::DeploymentPaused { reason } => {
            P::DeploymentPaused(proto::DeploymentPaused { reason: reason.clone() })
        }
        DeploymentEvent::DeploymentResumed => P::DeploymentResumed(proto::DeploymentResumed {}),
        DeploymentEvent::DeploymentControlMapUpdated { map } => {
            P::DeploymentControlMapUpdated(proto::DeploymentControlMapUpdated {
                map: Some(map_to_proto(map)),
            })
        }
        DeploymentEvent::DeploymentDeviceAdded { device } => {
            P::DeploymentDeviceAdded(proto::DeploymentDeviceAdded { device: device.clone() })
        }
        DeploymentEvent::DeploymentDevicesListed { devices } => {
            P::DeploymentDevicesListed(proto::DeploymentDevicesListed { devices: devices.clone() })
        }
        DeploymentEvent::DeploymentCreated { .. } | DeploymentEvent::DeploymentAborted => return None,
    })
}

/// The domain event of a rollout payload (`None` for any other payload).
pub(crate) fn event_from_proto(p: P) -> Option<DomainEvent> {
    let e = match p {
        P::DeploymentPhaseStarted(m) => DeploymentEvent::DeploymentPhaseStarted { phase: m.phase as usize },
        P::DeploymentPaused(m) => DeploymentEvent::DeploymentPaused { reason: m.reason },
        P::DeploymentResumed(_) => DeploymentEvent::DeploymentResumed,
        P::DeploymentControlMapUpdated(m) => DeploymentEvent::DeploymentControlMapUpdated {
            map: m.map.map(map_from_proto).unwrap_or_default(),
        },
        P::DeploymentDeviceAdded(m) => DeploymentEvent::DeploymentDeviceAdded { device: m.device },
        P::DeploymentDevicesListed(m) => DeploymentEvent::DeploymentDevicesListed { devices: m.devices },
        _ => return None,
    };
    Some(DomainEvent::Deployment(e))
}

/// A serde enum by its wire name ("" for none).
fn name_of<T: serde::Serialize>(v: Option<T>) -> String {
    v.and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A serde enum from its wire name; an empty or unknown name reads as unset (the client's
/// default) rather than stopping every reader of the log.
fn from_name<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    if s.is_empty() { None } else { serde_json::from_value(serde_json::Value::from(s)).ok() }
}

fn map_to_proto(map: &ControlMap) -> proto::DeploymentControlMap {
    let states = map
        .states
        .iter()
        .map(|(state, step)| {
            let step = proto::DeploymentControlStep {
                action: name_of(step.action),
                on_map_expire: name_of(step.on_map_expire),
                on_action_executed: name_of(step.on_action_executed),
            };
            (name_of(Some(*state)), step)
        })
        .collect();
    proto::DeploymentControlMap { priority: map.priority, states }
}

fn map_from_proto(m: proto::DeploymentControlMap) -> ControlMap {
    let states = m
        .states
        .into_iter()
        .filter_map(|(state, step)| {
            let step = ControlStep {
                action: from_name(&step.action),
                on_map_expire: from_name(&step.on_map_expire),
                on_action_executed: from_name(&step.on_action_executed),
            };
            Some((from_name(&state)?, step))
        })
        .collect();
    ControlMap { priority: m.priority, states }
}
