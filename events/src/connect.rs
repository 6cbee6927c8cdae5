//! Remote access (Mender's deviceconnect, the "troubleshoot" add-on): a device's connection
//! (one WebSocket at a time, on any replica) and the operators' sessions over it. Terminal
//! bytes are not events; who opened what, when, and file transfers are.

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// A device's connection (aggregate id: the device id).
pub struct Connection;

/// An operator's session with a device (aggregate id: the session id).
pub struct RemoteSession;

/// A connection's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConnectionState {
    /// The id of the live connection, if the device is connected.
    pub current: Option<String>,
}

/// What happens to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionCommand {
    /// A WebSocket with this id was accepted.
    Open {
        /// Id of the socket (new for each one).
        connection_id: String,
    },
    /// That socket ended.
    Close {
        /// Id of the socket.
        connection_id: String,
    },
}

/// The facts recorded about connections and sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ConnectEvent {
    /// The device connected.
    DeviceConnected {
        /// Id of the socket.
        connection_id: String,
    },
    /// The device disconnected.
    DeviceDisconnected {
        /// Id of the socket that ended.
        connection_id: String,
    },
    /// An operator opened a session with a device.
    RemoteSessionStarted {
        /// The device.
        device_id: String,
        /// `terminal`, `port-forward`, `file-upload` or `file-download`.
        kind: String,
        /// What it is about: a path, a host and port, or empty.
        detail: String,
    },
    /// The session ended.
    RemoteSessionEnded {
        /// Bytes moved, for file transfers (0 otherwise).
        bytes: u64,
        /// Empty on a normal end, else why it failed.
        error: String,
    },
}

crate::event_names!(ConnectEvent {
    DeviceConnected,
    DeviceDisconnected,
    RemoteSessionStarted,
    RemoteSessionEnded,
});

crate::domain_event!(ConnectEvent => Connect);

/// Connection and session commands are never refused for a rule; this names the impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The session exists already, or has ended.
    #[error("session already {0}")]
    Session(&'static str),
}

impl Aggregate for Connection {
    const TYPE: &'static str = "connection";
    type State = ConnectionState;
    type Command = ConnectionCommand;
    type Event = ConnectEvent;
    type Error = ConnectError;

    fn decide(
        state: &ConnectionState,
        command: &ConnectionCommand,
    ) -> Result<Vec<ConnectEvent>, ConnectError> {
        Ok(match command {
            ConnectionCommand::Open { connection_id } => {
                vec![ConnectEvent::DeviceConnected { connection_id: connection_id.clone() }]
            }
            // A socket that was replaced by a newer one (the device reconnected, maybe to
            // another replica, before the old one timed out) does not disconnect the device.
            ConnectionCommand::Close { connection_id } if state.current.as_ref() == Some(connection_id) => {
                vec![ConnectEvent::DeviceDisconnected { connection_id: connection_id.clone() }]
            }
            ConnectionCommand::Close { .. } => vec![],
        })
    }

    fn evolve(mut state: ConnectionState, event: &ConnectEvent) -> ConnectionState {
        match event {
            ConnectEvent::DeviceConnected { connection_id } => state.current = Some(connection_id.clone()),
            ConnectEvent::DeviceDisconnected { .. } => state.current = None,
            _ => {}
        }
        state
    }
}

/// A session's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionState {
    /// Started.
    pub started: bool,
    /// Ended.
    pub ended: bool,
}

/// What happens to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// It starts.
    Start {
        /// The device.
        device_id: String,
        /// Its kind.
        kind: String,
        /// Path or target.
        detail: String,
    },
    /// It ends.
    End {
        /// Bytes moved.
        bytes: u64,
        /// Why it failed, or empty.
        error: String,
    },
}

impl Aggregate for RemoteSession {
    const TYPE: &'static str = "rsession";
    type State = SessionState;
    type Command = SessionCommand;
    type Event = ConnectEvent;
    type Error = ConnectError;

    fn decide(state: &SessionState, command: &SessionCommand) -> Result<Vec<ConnectEvent>, ConnectError> {
        match command {
            SessionCommand::Start { .. } if state.started => Err(ConnectError::Session("started")),
            SessionCommand::Start { device_id, kind, detail } => {
                Ok(vec![ConnectEvent::RemoteSessionStarted {
                    device_id: device_id.clone(),
                    kind: kind.clone(),
                    detail: detail.clone(),
                }])
            }
            SessionCommand::End { .. } if state.ended || !state.started => Ok(vec![]),
            SessionCommand::End { bytes, error } => {
                Ok(vec![ConnectEvent::RemoteSessionEnded { bytes: *bytes, error: error.clone() }])
            }
        }
    }

    fn evolve(mut state: SessionState, event: &ConnectEvent) -> SessionState {
        match event {
            ConnectEvent::RemoteSessionStarted { .. } => state.started = true,
            ConnectEvent::RemoteSessionEnded { .. } => state.ended = true,
            _ => {}
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    #[test]
    fn only_the_current_socket_disconnects_the_device() {
        let open = |c: &str| ConnectEvent::DeviceConnected { connection_id: c.into() };
        let close = |c: &str| ConnectionCommand::Close { connection_id: c.into() };
        Given::<Connection>::events([open("a"), open("b")]).when(close("a")).then_nothing();
        Given::<Connection>::events([open("a"), open("b")])
            .when(close("b"))
            .then([ConnectEvent::DeviceDisconnected { connection_id: "b".into() }]);
    }

    #[test]
    fn a_session_starts_once_and_ends_once() {
        let start =
            SessionCommand::Start { device_id: "d".into(), kind: "terminal".into(), detail: String::new() };
        let started = ConnectEvent::RemoteSessionStarted {
            device_id: "d".into(),
            kind: "terminal".into(),
            detail: String::new(),
        };
        Given::<RemoteSession>::nothing().when(start.clone()).then([started.clone()]);
        Given::<RemoteSession>::events([started.clone()])
            .when(start)
            .then_err(ConnectError::Session("started"));
        let end = SessionCommand::End { bytes: 0, error: String::new() };
        let ended = ConnectEvent::RemoteSessionEnded { bytes: 0, error: String::new() };
        Given::<RemoteSession>::events([started.clone()]).when(end.clone()).then([ended.clone()]);
        Given::<RemoteSession>::events([started, ended]).when(end).then_nothing();
    }
}
