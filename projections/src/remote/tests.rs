//! Given/when/then tests of the remote-access read model: device configuration (wanted,
//! reported, deployed), connection state and operators' sessions.

use fleetlog_events::Actor;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::devconfig::{Configuration, DeviceConfigEvent};
use fleetlog_events::device::DeviceEvent;

use super::{RemoteProjection, RemoteQueries};
use crate::testing::{Given, START, T};

const SECOND: i64 = 1_000_000;

fn config(pairs: &[(&str, &str)]) -> Configuration {
    pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
}

fn connected() -> ConnectEvent {
    ConnectEvent::DeviceConnected { connection_id: "sock-1".into() }
}

fn disconnected() -> ConnectEvent {
    ConnectEvent::DeviceDisconnected { connection_id: "sock-1".into() }
}

fn terminal(device: &str) -> ConnectEvent {
    ConnectEvent::RemoteSessionStarted {
        device_id: device.into(),
        kind: "terminal".into(),
        detail: String::new(),
    }
}

#[test]
fn a_set_configuration_is_wanted_and_not_yet_reported() {
    let set = DeviceConfigEvent::DeviceConfigSet { configuration: config(&[("tz", "UTC")]) };
    Given::new(RemoteProjection).when("devconfig", "d1", set).then(|m| {
        let c = RemoteQueries(m).config(T, "d1").unwrap().expect("configuration");
        assert_eq!(c.configured, config(&[("tz", "UTC")]));
        assert!(c.reported.is_empty());
        assert_eq!(c.updated_ts, Some(START));
        assert_eq!((c.reported_ts, c.deployment_id), (None, None));
        assert_eq!(RemoteQueries(m).config(T, "d2").unwrap(), None);
    });
}

#[test]
fn a_deployed_and_reported_configuration_keeps_the_wanted_one() {
    Given::new(RemoteProjection)
        .event("devconfig", "d1", DeviceConfigEvent::DeviceConfigSet { configuration: config(&[("a", "2")]) })
        .event("devconfig", "d1", DeviceConfigEvent::DeviceConfigDeployed { deployment_id: "dep-1".into() })
        .by(Actor::device("d1"))
        .when(
            "devconfig",
            "d1",
            DeviceConfigEvent::DeviceConfigReported { configuration: config(&[("a", "1")]) },
        )
        .then(|m| {
            let c = RemoteQueries(m).config(T, "d1").unwrap().unwrap();
            assert_eq!(c.configured, config(&[("a", "2")]));
            assert_eq!(c.reported, config(&[("a", "1")]));
            assert_eq!(c.deployment_id.as_deref(), Some("dep-1"));
            assert_eq!(c.updated_ts, Some(START));
            assert_eq!(c.reported_ts, Some(START + 2 * SECOND));
        });
}

#[test]
fn a_connected_device_shows_connected_since_its_first_connection() {
    Given::new(RemoteProjection).by(Actor::device("d1")).when("connection", "d1", connected()).then(|m| {
        let c = RemoteQueries(m).connection(T, "d1").unwrap().expect("connection");
        assert!(c.connected);
        assert_eq!((c.created_ts, c.updated_ts), (START, START));
        assert_eq!(RemoteQueries(m).connection(T, "d2").unwrap(), None);
    });
}

#[test]
fn a_disconnect_and_a_reconnect_keep_the_first_connection_time() {
    let g = Given::new(RemoteProjection).by(Actor::device("d1")).event("connection", "d1", connected()).when(
        "connection",
        "d1",
        disconnected(),
    );
    let c = RemoteQueries(&g.model()).connection(T, "d1").unwrap().unwrap();
    assert!(!c.connected);
    assert_eq!((c.created_ts, c.updated_ts), (START, START + SECOND));
    g.when("connection", "d1", connected()).then(|m| {
        let c = RemoteQueries(m).connection(T, "d1").unwrap().unwrap();
        assert!(c.connected);
        assert_eq!((c.created_ts, c.updated_ts), (START, START + 2 * SECOND));
    });
}

#[test]
fn a_session_records_who_opened_it_and_how_it_ended() {
    Given::new(RemoteProjection)
        .by(Actor::user("u1", "alice@example.com"))
        .event("rsession", "s1", terminal("d1"))
        .when("rsession", "s1", ConnectEvent::RemoteSessionEnded { bytes: 0, error: String::new() })
        .then(|m| {
            let s = RemoteQueries(m).session(T, "s1").unwrap().expect("session");
            assert_eq!((s.id.as_str(), s.device_id.as_str(), s.user_id.as_str()), ("s1", "d1", "u1"));
            assert_eq!(s.kind, "terminal");
            assert_eq!((s.started_ts, s.ended_ts), (START, Some(START + SECOND)));
            assert_eq!((s.bytes, s.error.as_str()), (0, ""));
        });
}

#[test]
fn an_open_session_has_no_end_and_a_failed_transfer_keeps_its_error_and_bytes() {
    let download = ConnectEvent::RemoteSessionStarted {
        device_id: "d1".into(),
        kind: "file-download".into(),
        detail: "/var/log/syslog".into(),
    };
    Given::new(RemoteProjection)
        .by(Actor::user("u1", "alice@example.com"))
        .event("rsession", "s1", terminal("d1"))
        .event("rsession", "s2", download)
        .when("rsession", "s2", ConnectEvent::RemoteSessionEnded { bytes: 4096, error: "timeout".into() })
        .then(|m| {
            let q = RemoteQueries(m);
            assert_eq!(q.session(T, "s1").unwrap().unwrap().ended_ts, None);
            let s = q.session(T, "s2").unwrap().unwrap();
            assert_eq!(s.detail, "/var/log/syslog");
            assert_eq!((s.bytes, s.error.as_str()), (4096, "timeout"));
            assert_eq!(s.ended_ts, Some(START + 2 * SECOND));
        });
}

fn history() -> Given<RemoteProjection> {
    Given::new(RemoteProjection)
        .event("devconfig", "d1", DeviceConfigEvent::DeviceConfigSet { configuration: config(&[("a", "1")]) })
        .by(Actor::device("d1"))
        .event("connection", "d1", connected())
        .event(
            "devconfig",
            "d1",
            DeviceConfigEvent::DeviceConfigReported { configuration: config(&[("a", "1")]) },
        )
        .by(Actor::user("u1", "alice@example.com"))
        .event("rsession", "s1", terminal("d1"))
        .event("rsession", "s1", ConnectEvent::RemoteSessionEnded { bytes: 1, error: String::new() })
        .by(Actor::device("d1"))
        .event("connection", "d1", disconnected())
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn events_of_other_aggregates_are_ignored() {
    history().assert_ignores("device", "d1", DeviceEvent::DeviceTokensRevoked { auth_set_id: "as1".into() });
}
