//! The audit log as the web GUI reads it (its own request: page, per_page, created_after,
//! created_before, sort=desc): type-specific object details, and remote-access sessions on
//! the device they reach.

use fleetlog_events::connect::{RemoteSession, SessionCommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::deployments::upload;
use crate::server::Server;

const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");

async fn gui_page(server: &Server) -> Vec<Value> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let path = format!(
        "/api/management/v1/auditlogs/logs?page=1&per_page=20&created_after={}&created_before={}&sort=desc",
        now - 3600,
        now + 3600
    );
    let (status, body) = server.get(&path).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn find<'a>(entries: &'a [Value], action: &str, object_type: &str) -> &'a Value {
    let hit = entries.iter().find(|e| e["action"] == action && e["object"]["type"] == object_type);
    hit.unwrap_or_else(|| panic!("no {action} of a {object_type} in {entries:#?}"))
}

#[tokio::test]
async fn entries_carry_menders_object_details_and_sessions_sit_on_the_device() {
    let server = Server::start().await;
    let users = "/api/management/v1/useradm/users";
    let body = json!({ "email": "eve@example.com", "password": "eve-password" });
    let (_, headers, _) = server.send(Method::POST, users, Some(body)).await;
    let eve = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (device, _) = server.accepted_device().await;
    let (status, location) = upload(&server, ARTIFACT.to_vec(), "first").await;
    assert_eq!(status, 201, "{location}");
    let artifact = location.rsplit('/').next().unwrap().to_owned();
    let body = json!({ "name": "spring rollout", "artifact_name": "release-1", "devices": [device] });
    let (status, headers, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let deployment = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    // Two remote sessions of the admin with the device, as the deviceconnect relay records them.
    for (session, kind, detail) in [("s-term", "terminal", ""), ("s-file", "file-download", "/etc/hosts")] {
        let start =
            SessionCommand::Start { device_id: device.clone(), kind: kind.into(), detail: detail.into() };
        let meta = fleetlog_tests::meta();
        fleetlog_commands::CommandService::new(server.state.store().clone())
            .execute::<RemoteSession>(&meta, session, &start)
            .await
            .unwrap();
    }
    let end = SessionCommand::End { bytes: 0, error: String::new() };
    let meta = fleetlog_tests::meta();
    let out = fleetlog_commands::CommandService::new(server.state.store().clone())
        .execute::<RemoteSession>(&meta, "s-term", &end)
        .await
        .unwrap();
    server.state.seen(out.position).await.unwrap();

    let entries = gui_page(&server).await;
    let user = find(&entries, "create", "user");
    assert_eq!(user["object"], json!({ "id": eve, "type": "user", "user": { "email": "eve@example.com" } }));
    let accepted = find(&entries, "accept", "device");
    assert_eq!(accepted["object"]["id"], device.as_str());
    assert!(accepted["object"]["device"]["identity_data"]["mac"].is_string(), "{accepted}");
    let uploaded = find(&entries, "upload", "artifact");
    assert_eq!(uploaded["object"]["id"], artifact.as_str());
    assert_eq!(uploaded["object"]["artifact"]["name"], "release-1");
    assert_eq!(uploaded["object"]["artifact"]["description"], "first");
    let created = find(&entries, "create", "deployment");
    assert_eq!(created["object"]["id"], deployment.as_str());
    let details = json!({ "name": "spring rollout", "artifact_name": "release-1" });
    assert_eq!(created["object"]["deployment"], details);

    for action in ["open_terminal", "download_file", "close_terminal"] {
        let entry = find(&entries, action, "device");
        assert_eq!(entry["object"]["id"], device.as_str(), "{action}");
        assert!(entry["object"]["device"]["identity_data"]["mac"].is_string(), "{entry}");
    }
    assert!(entries.iter().all(|e| e["object"]["type"] != "session"));
    // The GUI's "all log entries for this device" link finds them by the device.
    let path = format!("/api/management/v1/auditlogs/logs?object_type=device&object_id={device}");
    let (_, of_device) = server.get(&path).await;
    let actions: Vec<&str> =
        of_device.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["open_terminal", "download_file", "close_terminal", "accept"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}
