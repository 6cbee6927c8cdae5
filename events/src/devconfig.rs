//! Device configuration (Mender's deviceconfig, the "configure" add-on): the configuration an
//! operator wants a device to have, the one the device reports as applied, and the
//! configuration deployments that carry it. Keys and values are text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The device-configuration aggregate (its id is the device id).
pub struct DeviceConfig;

/// A configuration: key → value.
pub type Configuration = BTreeMap<String, String>;

/// Most keys a configuration may hold.
pub const MAX_KEYS: usize = 100;
/// Longest key or value, in characters.
pub const MAX_TEXT: usize = 4096;

/// Its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceConfigState {
    /// What the operator set.
    pub configured: Configuration,
    /// What the device reported.
    pub reported: Configuration,
    /// The latest configuration deployment.
    pub deployment_id: Option<String>,
}

/// What may be asked of a device configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceConfigCommand {
    /// The operator sets the wanted configuration.
    Set(Configuration),
    /// The device reports what it applied.
    Report(Configuration),
    /// A configuration deployment was made for it.
    Deployed {
        /// The deployment.
        deployment_id: String,
    },
}

/// The facts recorded about a device configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeviceConfigEvent {
    /// The wanted configuration is now this.
    DeviceConfigSet {
        /// The configuration.
        configuration: Configuration,
    },
    /// The device applied this configuration.
    DeviceConfigReported {
        /// The configuration.
        configuration: Configuration,
    },
    /// The wanted configuration was sent in a deployment.
    DeviceConfigDeployed {
        /// The deployment.
        deployment_id: String,
    },
}

crate::event_names!(DeviceConfigEvent { DeviceConfigSet, DeviceConfigReported, DeviceConfigDeployed });

crate::domain_event!(DeviceConfigEvent => DeviceConfig);

/// Why a configuration command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceConfigError {
    /// Too many keys.
    #[error("a configuration holds at most {MAX_KEYS} keys")]
    TooManyKeys,
    /// A key is empty or too long, or a value is too long.
    #[error("keys must be 1 to {MAX_TEXT} characters and values at most {MAX_TEXT}")]
    InvalidEntry,
    /// Nothing to deploy.
    #[error("the device has no configuration to deploy")]
    NothingToDeploy,
}

fn check(c: &Configuration) -> Result<(), DeviceConfigError> {
    if c.len() > MAX_KEYS {
        return Err(DeviceConfigError::TooManyKeys);
    }
    let long = |s: &str| s.chars().count() > MAX_TEXT;
    if c.iter().any(|(k, v)| k.is_empty() || long(k) || long(v)) {
        return Err(DeviceConfigError::InvalidEntry);
    }
    Ok(())
}

impl Aggregate for DeviceConfig {
    const TYPE: &'static str = "devconfig";
    type State = DeviceConfigState;
    type Command = DeviceConfigCommand;
    type Event = DeviceConfigEvent;
    type Error = DeviceConfigError;

    fn decide(
        state: &DeviceConfigState,
        command: &DeviceConfigCommand,
    ) -> Result<Vec<DeviceConfigEvent>, DeviceConfigError> {
        match command {
            DeviceConfigCommand::Set(c) => {
                check(c)?;
                if *c == state.configured {
                    return Ok(vec![]);
                }
                Ok(vec![DeviceConfigEvent::DeviceConfigSet { configuration: c.clone() }])
            }
            DeviceConfigCommand::Report(c) => {
                check(c)?;
                if *c == state.reported {
                    return Ok(vec![]);
                }
                Ok(vec![DeviceConfigEvent::DeviceConfigReported { configuration: c.clone() }])
            }
            DeviceConfigCommand::Deployed { .. } if state.configured.is_empty() => {
                Err(DeviceConfigError::NothingToDeploy)
            }
            DeviceConfigCommand::Deployed { deployment_id } => {
                Ok(vec![DeviceConfigEvent::DeviceConfigDeployed { deployment_id: deployment_id.clone() }])
            }
        }
    }

    fn evolve(mut state: DeviceConfigState, event: &DeviceConfigEvent) -> DeviceConfigState {
        match event {
            DeviceConfigEvent::DeviceConfigSet { configuration } => {
                state.configured.clone_from(configuration)
            }
            DeviceConfigEvent::DeviceConfigReported { configuration } => {
                state.reported.clone_from(configuration)
            }
            DeviceConfigEvent::DeviceConfigDeployed { deployment_id } => {
                state.deployment_id = Some(deployment_id.clone())
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn config(pairs: &[(&str, &str)]) -> Configuration {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn setting_the_same_configuration_records_nothing() {
        let set = DeviceConfigEvent::DeviceConfigSet { configuration: config(&[("tz", "UTC")]) };
        Given::<DeviceConfig>::nothing()
            .when(DeviceConfigCommand::Set(config(&[("tz", "UTC")])))
            .then([set.clone()]);
        Given::<DeviceConfig>::events([set])
            .when(DeviceConfigCommand::Set(config(&[("tz", "UTC")])))
            .then_nothing();
    }

    #[test]
    fn limits_hold_and_only_something_deploys() {
        let many: Configuration = (0..=MAX_KEYS).map(|i| (format!("k{i}"), String::new())).collect();
        Given::<DeviceConfig>::nothing()
            .when(DeviceConfigCommand::Set(many))
            .then_err(DeviceConfigError::TooManyKeys);
        Given::<DeviceConfig>::nothing()
            .when(DeviceConfigCommand::Report(config(&[("", "x")])))
            .then_err(DeviceConfigError::InvalidEntry);
        Given::<DeviceConfig>::nothing()
            .when(DeviceConfigCommand::Deployed { deployment_id: "d".into() })
            .then_err(DeviceConfigError::NothingToDeploy);
    }
}
