//! The devicemonitor read model: each device's alerts (newest first), the latest alert of each
//! of its checks, its monitor configuration, and the fleet's devices with open CRITICAL alerts
//! (a check whose latest alert is CRITICAL). A decommissioned device leaves the fleet list.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use fleetlog_events::device::DeviceEvent;
use fleetlog_events::monitor::{Alert, MonitorEvent};
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// One alert as the management API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// The alert as the device sent it.
    pub alert: Alert,
    /// When fleetlog recorded it, microseconds.
    pub received_ts: i64,
}

/// A device's alert counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorSummary {
    /// The device.
    pub device_id: String,
    /// Check name → its latest level.
    pub checks: BTreeMap<String, String>,
    /// Alerts raised so far.
    pub total: u64,
}

impl MonitorSummary {
    /// Checks whose latest alert is CRITICAL.
    pub fn open_critical(&self) -> usize {
        self.checks.values().filter(|l| *l == "CRITICAL").count()
    }
}

/// The projection that maintains the devicemonitor model.
pub struct MonitorProjection;

fn alert_key(t: &str, device: &str, seq: u64) -> Vec<u8> {
    format!("a/{t}/{device}/{:020}", u64::MAX - seq).into_bytes()
}

fn latest_key(t: &str, device: &str, name: &str) -> Vec<u8> {
    format!("l/{t}/{device}/{name}").into_bytes()
}

fn summary_key(t: &str, device: &str) -> Vec<u8> {
    format!("c/{t}/{device}").into_bytes()
}

/// Present while the device has an open CRITICAL alert.
fn alerting_key(t: &str, device: &str) -> Vec<u8> {
    format!("x/{t}/{device}").into_bytes()
}

fn config_key(t: &str, device: &str) -> Vec<u8> {
    format!("g/{t}/{device}").into_bytes()
}

impl Projection for MonitorProjection {
    fn name(&self) -> &'static str {
        crate::Model::Monitor.name()
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let env = &e.envelope;
        let (t, id) = (env.aggregate.tenant.as_str(), env.aggregate.id.as_str());
        match &env.event {
            DomainEvent::Monitor(MonitorEvent::AlertRaised { alert }) => {
                let view = AlertView { alert: alert.clone(), received_ts: env.occurred_at.0 };
                let bytes = to_bytes(&view)?;
                w.insert(alert_key(t, id, e.seq), bytes.clone());
                w.insert(latest_key(t, id, &alert.name), bytes);
                let mut summary: MonitorSummary =
                    w.get(&summary_key(t, id))?.map(|v| from_bytes(&v)).transpose()?.unwrap_or_default();
                summary.device_id = id.to_owned();
                summary.checks.insert(alert.name.clone(), alert.level.clone());
                summary.total += 1;
                if summary.open_critical() > 0 {
                    w.insert(alerting_key(t, id), Vec::new());
                } else {
                    w.remove(alerting_key(t, id))?;
                }
                w.insert(summary_key(t, id), to_bytes(&summary)?);
            }
            DomainEvent::Monitor(MonitorEvent::MonitorConfigSet { config_json }) => {
                w.insert(config_key(t, id), config_json.as_bytes().to_vec());
            }
            DomainEvent::Device(DeviceEvent::DeviceDecommissioned) => w.remove(alerting_key(t, id))?,
            _ => {}
        }
        Ok(())
    }
}

/// Queries over the devicemonitor model.
pub struct MonitorQueries<'a>(pub &'a ReadModel);

impl MonitorQueries<'_> {
    /// A device's alerts, newest first.
    pub fn alerts(
        &self,
        t: &str,
        device: &str,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<AlertView>, ProjectionError> {
        let prefix = format!("a/{t}/{device}/");
        self.0.tree().scan_prefix(prefix).values().skip(skip).take(limit).map(|v| from_bytes(&v?)).collect()
    }

    /// The latest alert of each of a device's checks, by check name.
    pub fn latest(&self, t: &str, device: &str) -> Result<Vec<AlertView>, ProjectionError> {
        let prefix = format!("l/{t}/{device}/");
        self.0.tree().scan_prefix(prefix).values().map(|v| from_bytes(&v?)).collect()
    }

    /// A device's counts, if it ever raised an alert.
    pub fn summary(&self, t: &str, device: &str) -> Result<Option<MonitorSummary>, ProjectionError> {
        self.0.tree().get(summary_key(t, device))?.map(|v| from_bytes(&v)).transpose()
    }

    /// The devices with an open CRITICAL alert, by id.
    pub fn alerting(&self, t: &str) -> Result<Vec<MonitorSummary>, ProjectionError> {
        let prefix = format!("x/{t}/");
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(&prefix).keys() {
            let device = String::from_utf8_lossy(&k?[prefix.len()..]).into_owned();
            if let Some(s) = self.summary(t, &device)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// A device's monitor configuration (JSON text).
    pub fn config(&self, t: &str, device: &str) -> Result<Option<String>, ProjectionError> {
        Ok(self.0.tree().get(config_key(t, device))?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}
