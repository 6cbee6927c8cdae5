//! The remote-access read model: each device's configuration (wanted and reported), its
//! connection state, and operators' sessions with devices.

#[cfg(test)]
mod tests;

use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::devconfig::{Configuration, DeviceConfigEvent};
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// A device's configuration as the management API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigView {
    /// Wanted.
    pub configured: Configuration,
    /// Reported by the device.
    pub reported: Configuration,
    /// Latest configuration deployment.
    pub deployment_id: Option<String>,
    /// Last report, microseconds.
    pub reported_ts: Option<i64>,
    /// Last change of the wanted configuration, microseconds.
    pub updated_ts: Option<i64>,
}

/// A device's connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// Connected now.
    pub connected: bool,
    /// First connection, microseconds.
    pub created_ts: i64,
    /// Last change, microseconds.
    pub updated_ts: i64,
}

/// An operator's session with a device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// The device.
    pub device_id: String,
    /// Who opened it.
    pub user_id: String,
    /// `terminal`, `port-forward`, `file-upload`, `file-download`.
    pub kind: String,
    /// Path or target.
    pub detail: String,
    /// Start, microseconds.
    pub started_ts: i64,
    /// End, microseconds.
    pub ended_ts: Option<i64>,
    /// Bytes moved (file transfers).
    pub bytes: u64,
    /// Why it failed, if it did.
    pub error: String,
}

/// The projection that maintains the remote-access model.
pub struct RemoteProjection;

fn config_key(t: &str, device: &str) -> Vec<u8> {
    format!("cfg/{t}/{device}").into_bytes()
}

fn connection_key(t: &str, device: &str) -> Vec<u8> {
    format!("con/{t}/{device}").into_bytes()
}

fn session_key(t: &str, id: &str) -> Vec<u8> {
    format!("ses/{t}/{id}").into_bytes()
}

fn load<T: Default + serde::de::DeserializeOwned>(w: &Writer<'_>, key: &[u8]) -> Result<T, ProjectionError> {
    Ok(w.get(key)?.map(|v| from_bytes(&v)).transpose()?.unwrap_or_default())
}

impl Projection for RemoteProjection {
    fn name(&self) -> &'static str {
        crate::Model::Remote.name()
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let env = &e.envelope;
        let (t, id, at) = (&env.aggregate.tenant, &env.aggregate.id, env.occurred_at.0);
        match &env.event {
            DomainEvent::DeviceConfig(c) => {
                let key = config_key(t, id);
                let mut view: ConfigView = load(w, &key)?;
                match c {
                    DeviceConfigEvent::DeviceConfigSet { configuration } => {
                        view.configured.clone_from(configuration);
                        view.updated_ts = Some(at);
                    }
                    DeviceConfigEvent::DeviceConfigReported { configuration } => {
                        view.reported.clone_from(configuration);
                        view.reported_ts = Some(at);
                    }
                    DeviceConfigEvent::DeviceConfigDeployed { deployment_id } => {
                        view.deployment_id = Some(deployment_id.clone())
                    }
                }
                w.insert(key, to_bytes(&view)?);
            }
            DomainEvent::Connect(
                ConnectEvent::DeviceConnected { .. } | ConnectEvent::DeviceDisconnected { .. },
            ) => {
                let key = connection_key(t, id);
                let mut view: ConnectionView = load(w, &key)?;
                if view.created_ts == 0 {
                    view.created_ts = at;
                }
                view.connected =
                    matches!(env.event, DomainEvent::Connect(ConnectEvent::DeviceConnected { .. }));
                view.updated_ts = at;
                w.insert(key, to_bytes(&view)?);
            }
            DomainEvent::Connect(ConnectEvent::RemoteSessionStarted { device_id, kind, detail }) => {
                let view = SessionView {
                    id: id.clone(),
                    device_id: device_id.clone(),
                    user_id: env.actor.id.clone(),
                    kind: kind.clone(),
                    detail: detail.clone(),
                    started_ts: at,
                    ..Default::default()
                };
                w.insert(session_key(t, id), to_bytes(&view)?);
            }
            DomainEvent::Connect(ConnectEvent::RemoteSessionEnded { bytes, error }) => {
                let key = session_key(t, id);
                let mut view: SessionView = load(w, &key)?;
                view.ended_ts = Some(at);
                view.bytes = *bytes;
                view.error.clone_from(error);
                w.insert(key, to_bytes(&view)?);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Queries over the remote-access model.
pub struct RemoteQueries<'a>(pub &'a ReadModel);

impl RemoteQueries<'_> {
    fn one<T: serde::de::DeserializeOwned>(&self, key: Vec<u8>) -> Result<Option<T>, ProjectionError> {
        self.0.tree().get(key)?.map(|v| from_bytes(&v)).transpose()
    }

    /// A device's configuration.
    pub fn config(&self, t: &str, device: &str) -> Result<Option<ConfigView>, ProjectionError> {
        self.one(config_key(t, device))
    }

    /// A device's connection.
    pub fn connection(&self, t: &str, device: &str) -> Result<Option<ConnectionView>, ProjectionError> {
        self.one(connection_key(t, device))
    }

    /// A session.
    pub fn session(&self, t: &str, id: &str) -> Result<Option<SessionView>, ProjectionError> {
        self.one(session_key(t, id))
    }
}
