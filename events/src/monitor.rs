//! devicemonitor: a device's health checks raise alerts (`CRITICAL`, and `OK` when the check
//! recovers) and report their monitor configuration. Mender's monitor add-on is closed source;
//! this is the best-known shape (see `docs/DEVICEMONITOR.md`). One aggregate per device.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Aggregate, Timestamp};

/// The monitor aggregate of one device.
pub struct DeviceMonitor;

/// The levels an alert may have.
pub const LEVELS: &[&str] = &["CRITICAL", "OK"];

/// Largest `details` (JSON text) of one alert, in bytes.
pub const MAX_DETAILS: usize = 4096;

/// Most alerts in one request.
pub const MAX_ALERTS: usize = 100;

/// Largest monitor configuration (JSON text), in bytes.
pub const MAX_CONFIG: usize = 64 * 1024;

/// One alert, as the device sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The check's name (e.g. `sshd`).
    pub name: String,
    /// `CRITICAL` or `OK`.
    pub level: String,
    /// What is checked: its name ...
    pub subject_name: String,
    /// ... its type (`service`, `log`, `dbus`) ...
    pub subject_type: String,
    /// ... its status (`not-running`, ...) ...
    pub subject_status: String,
    /// ... and details, JSON text.
    pub details_json: String,
    /// When the device saw it.
    pub timestamp: Timestamp,
}

/// A device's monitor state: each check's latest level, and how many alerts were raised.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MonitorState {
    /// Check name → latest level.
    pub checks: BTreeMap<String, String>,
    /// Alerts raised so far.
    pub alerts: u64,
}

/// What may be asked of a device's monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorCommand {
    /// Record the alerts of one request (all or none).
    Raise(Vec<Alert>),
    /// Record the device's monitor configuration.
    SetConfig {
        /// The configuration, JSON text.
        config_json: String,
    },
}

/// The facts recorded about a device's monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum MonitorEvent {
    /// A device raised an alert.
    AlertRaised {
        /// The alert.
        #[serde(flatten)]
        alert: Alert,
    },
    /// A device reported its monitor configuration.
    MonitorConfigSet {
        /// JSON text.
        config_json: String,
    },
}

crate::event_names!(MonitorEvent { AlertRaised, MonitorConfigSet });

crate::domain_event!(MonitorEvent => Monitor);

/// Why an alert or configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    /// Not CRITICAL or OK.
    #[error("alert {0:?}: level must be CRITICAL or OK")]
    InvalidLevel(String),
    /// Empty or overlong names.
    #[error(
        "alert names and subject fields must be 1 to 256 characters (subject type and status may be empty)"
    )]
    InvalidName,
    /// Details over the limit.
    #[error("alert details must be at most 4096 bytes of JSON")]
    DetailsTooLarge,
    /// No alerts, or too many.
    #[error("send 1 to 100 alerts at a time")]
    TooManyAlerts,
    /// Configuration over the limit.
    #[error("the monitor configuration must be at most 64 KiB of JSON")]
    ConfigTooLarge,
}

/// Checks one alert's fields.
pub fn check_alert(a: &Alert) -> Result<(), MonitorError> {
    if !LEVELS.contains(&a.level.as_str()) {
        return Err(MonitorError::InvalidLevel(a.level.clone()));
    }
    let len = |s: &str| s.chars().count();
    let required = [&a.name, &a.subject_name].iter().all(|s| (1..=256).contains(&len(s)));
    let optional = [&a.subject_type, &a.subject_status].iter().all(|s| len(s) <= 256);
    if !required || !optional || a.name.chars().any(char::is_control) {
        return Err(MonitorError::InvalidName);
    }
    if a.details_json.len() > MAX_DETAILS {
        return Err(MonitorError::DetailsTooLarge);
    }
    Ok(())
}

impl MonitorState {
    /// Checks whose latest alert is CRITICAL.
    pub fn open_critical(&self) -> usize {
        self.checks.values().filter(|l| *l == "CRITICAL").count()
    }
}

impl Aggregate for DeviceMonitor {
    const TYPE: &'static str = "monitor";
    type State = MonitorState;
    type Command = MonitorCommand;
    type Event = MonitorEvent;
    type Error = MonitorError;

    fn decide(_state: &MonitorState, command: &MonitorCommand) -> Result<Vec<MonitorEvent>, MonitorError> {
        match command {
            MonitorCommand::Raise(alerts) => {
                if alerts.is_empty() || alerts.len() > MAX_ALERTS {
                    return Err(MonitorError::TooManyAlerts);
                }
                alerts.iter().try_for_each(check_alert)?;
                Ok(alerts.iter().map(|a| MonitorEvent::AlertRaised { alert: a.clone() }).collect())
            }
            MonitorCommand::SetConfig { config_json } if config_json.len() > MAX_CONFIG => {
                Err(MonitorError::ConfigTooLarge)
            }
            MonitorCommand::SetConfig { config_json } => {
                Ok(vec![MonitorEvent::MonitorConfigSet { config_json: config_json.clone() }])
            }
        }
    }

    fn evolve(mut state: MonitorState, event: &MonitorEvent) -> MonitorState {
        if let MonitorEvent::AlertRaised { alert } = event {
            state.checks.insert(alert.name.clone(), alert.level.clone());
            state.alerts += 1;
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn alert(name: &str, level: &str) -> Alert {
        Alert {
            name: name.into(),
            level: level.into(),
            subject_name: "sshd".into(),
            subject_type: "service".into(),
            subject_status: "not-running".into(),
            details_json: r#"{"description":"sshd is down"}"#.into(),
            timestamp: Timestamp(1),
        }
    }

    #[test]
    fn alerts_are_recorded_and_the_latest_level_per_check_is_kept() {
        let raised = |a: Alert| MonitorEvent::AlertRaised { alert: a };
        Given::<DeviceMonitor>::nothing()
            .when(MonitorCommand::Raise(vec![alert("sshd", "CRITICAL"), alert("disk", "CRITICAL")]))
            .then([raised(alert("sshd", "CRITICAL")), raised(alert("disk", "CRITICAL"))]);
        let given = Given::<DeviceMonitor>::events([
            raised(alert("sshd", "CRITICAL")),
            raised(alert("disk", "CRITICAL")),
            raised(alert("sshd", "OK")),
        ]);
        assert_eq!((given.state().open_critical(), given.state().alerts), (1, 3));
    }

    #[test]
    fn bad_alerts_are_refused_whole() {
        let raise = |v: Vec<Alert>| Given::<DeviceMonitor>::nothing().when(MonitorCommand::Raise(v));
        raise(vec![alert("a", "OK"), alert("b", "WARNING")])
            .then_err(MonitorError::InvalidLevel("WARNING".into()));
        raise(vec![alert("", "OK")]).then_err(MonitorError::InvalidName);
        let huge = Alert { details_json: format!("\"{}\"", "x".repeat(MAX_DETAILS)), ..alert("a", "OK") };
        raise(vec![huge]).then_err(MonitorError::DetailsTooLarge);
        raise(vec![]).then_err(MonitorError::TooManyAlerts);
        let big = MonitorCommand::SetConfig { config_json: "x".repeat(MAX_CONFIG + 1) };
        Given::<DeviceMonitor>::nothing().when(big).then_err(MonitorError::ConfigTooLarge);
    }
}
