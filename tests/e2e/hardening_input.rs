//! Untrusted input at the edges: ids that would make NATS subjects the server refuses, events
//! over the log's message limit, integer wrap-arounds in positions and times. Each test failed
//! on the code before its fix (issue 12).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fleetlog_commands::{CommandError, StoreError};
use fleetlog_events::settings::{Settings, SettingsCommand};
use fleetlog_gateway::http::connect::protomsg::{PROTO_CONTROL, PROTO_SHELL, ProtoMsg};
use fleetlog_tests::{TestLog, meta};
use reqwest::Method;
use serde_json::json;

use crate::connect_protocol::{connected_device, next, send};

pub mod validation;
use crate::server::Server;

fn connects(server: &Server) -> u64 {
    server.state.store().client().statistics().connects.load(Ordering::Relaxed)
}

/// A cheap write through the API (no password hashing), timed: it must not wait for a
/// reconnect (the bound is loose: the machine running the tests may be busy).
async fn timed_write(server: &Server, n: usize) -> Duration {
    let started = Instant::now();
    let body = json!({ "write": n });
    let (status, _, body) =
        server.send(Method::POST, "/api/management/v1/useradm/settings", Some(body)).await;
    assert!(status.is_success(), "{status} {body}");
    started.elapsed()
}

const QUICK: Duration = Duration::from_secs(5);

#[tokio::test]
async fn long_session_ids_from_a_device_never_reach_a_subject() {
    let server = Server::start().await;
    let (_id, _token, mut device) = connected_device(&server).await;
    let before = connects(&server);

    let long_sid = "a".repeat(8 * 1024);
    for _ in 0..50 {
        send(&mut device, &ProtoMsg::new(PROTO_SHELL, "shell", &long_sid).body(b"x".to_vec())).await;
    }
    // Give nats-server the time to read them (before the fix it cut the connection each time).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(timed_write(&server, 1).await < QUICK, "writes do not stall");
    assert_eq!(connects(&server), before, "fleetlog's NATS connection was not dropped");

    // The device's socket still works: a control ping is answered.
    send(&mut device, &ProtoMsg::new(PROTO_CONTROL, "ping", "")).await;
    let pong = next(&mut device, Duration::from_secs(5)).await.expect("a pong");
    assert_eq!(pong.hdr.typ, "pong");
}

#[tokio::test]
async fn long_or_odd_ids_in_queries_and_paths_are_400_not_subjects() {
    let server = Server::start().await;
    let before = connects(&server);
    let long = "x".repeat(8 * 1024);
    for path in [
        format!("/api/management/v1/fleetlog/events?follow=false&object_id={long}"),
        format!("/api/management/v1/fleetlog/objects/user/{long}"),
        format!("/api/management/v1/deviceconnect/devices/{long}/download?path=/etc/hosts"),
        "/api/management/v1/fleetlog/objects/user/a%3Eb".to_owned(),
    ] {
        let (status, body) = server.get(&path).await;
        assert_eq!(status, 400, "{}: {body}", &path[..80.min(path.len())]);
        assert!(body["error"].as_str().unwrap().len() < 300, "the error echoes a bounded id");
        assert!(body["request_id"].is_string());
    }
    assert_eq!(connects(&server), before);
    assert!(timed_write(&server, 2).await < QUICK);
}

#[tokio::test]
async fn an_event_over_the_logs_message_limit_is_refused_before_appending() {
    let log = TestLog::new().await;
    let json = format!("{{\"big\":\"{}\"}}", "x".repeat(1_100_000));
    let command = SettingsCommand::Save { json, if_match: None };
    let err = log.commands().execute::<Settings>(&meta(), "global", &command).await.unwrap_err();
    assert!(matches!(err, CommandError::Store(StoreError::TooLarge { .. })), "{err:?}");
    assert_eq!(log.store.last_seq().await.unwrap(), 0, "nothing appended");
}

/// Whatever the server answers to something too big, it is never a 5xx (which clients retry
/// forever) and a refusal stores nothing.
async fn refused_or_stored(server: &Server, what: &str, res: reqwest::Response, last: u64) -> bool {
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    assert!(!status.is_server_error(), "{what}: {status} {body}");
    if status.is_client_error() {
        assert_eq!(status, 413, "{what}: {body}");
        assert!(body["error"].is_string() && body["request_id"].is_string(), "{what}: {body}");
        assert_eq!(server.state.store().last_seq().await.unwrap(), last, "{what}: nothing stored");
        return false;
    }
    true
}

#[tokio::test]
async fn what_the_log_cannot_take_is_a_413_in_menders_format() {
    let server = Server::start().await;
    let store = server.state.store().clone();
    let http = &server.http;

    // A settings body under the old 1 MiB body limit whose event is over NATS's 1 MiB.
    let settings = format!("{{\"big\":\"{}\"}}", "x".repeat(1_048_300 - 10));
    let last = store.last_seq().await.unwrap();
    let res = http
        .post(format!("{}/api/management/v1/useradm/settings", server.base))
        .bearer_auth(&server.token)
        .header("Content-Type", "application/json")
        .body(settings)
        .send()
        .await
        .unwrap();
    assert!(!refused_or_stored(&server, "settings", res, last).await);

    // Two 900 KB inventory attributes, one report each.
    let (id, device_token) = server.accepted_device().await;
    for name in ["big1", "big2"] {
        let last = store.last_seq().await.unwrap();
        let res = http
            .patch(format!("{}/api/devices/v1/inventory/device/attributes", server.base))
            .bearer_auth(&device_token)
            .json(&json!([{ "name": name, "value": "v".repeat(900_000) }]))
            .send()
            .await
            .unwrap();
        refused_or_stored(&server, name, res, last).await;
    }

    // Two 900 KB tags, one PATCH each.
    for name in ["tag1", "tag2"] {
        let last = store.last_seq().await.unwrap();
        let res = http
            .patch(format!("{}/api/management/v1/inventory/devices/{id}/tags", server.base))
            .bearer_auth(&server.token)
            .json(&json!([{ "name": name, "value": "t".repeat(900_000) }]))
            .send()
            .await
            .unwrap();
        refused_or_stored(&server, name, res, last).await;
    }
    assert!(timed_write(&server, 3).await < QUICK, "the server still writes");
}

#[tokio::test]
async fn the_largest_positions_and_times_do_not_wrap_around() {
    let server = Server::start().await;
    // The last position has no next one: past the end, a clear error (not a replay from 1).
    let res = server
        .http
        .get(format!("{}/api/management/v1/fleetlog/events?format=ndjson&follow=false", server.base))
        .bearer_auth(&server.token)
        .header("Last-Event-ID", u64::MAX.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("beyond the end"), "{body}");

    // A far-future instant is "now": the admin exists then.
    let (_, users) = server.get("/api/management/v1/useradm/users").await;
    let id = users[0]["id"].as_str().unwrap();
    let (status, now) = server.get(&format!("/api/management/v1/fleetlog/objects/user/{id}")).await;
    assert_eq!(status, 200);
    let (status, later) =
        server.get(&format!("/api/management/v1/fleetlog/objects/user/{id}?at={}", i64::MAX)).await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["state"], now["state"]);
    assert_eq!(later["events"], now["events"]);
    // And the earliest instant is before everything.
    let (status, before) =
        server.get(&format!("/api/management/v1/fleetlog/objects/user/{id}?at={}", i64::MIN)).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["events"], json!([]));
}
