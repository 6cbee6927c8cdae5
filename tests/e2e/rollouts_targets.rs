//! Rollout controls, continued: update control maps on the v2 wire, dynamic deployments to a
//! saved filter bounded by `max_devices`, and bad rollout input refused whole.

use reqwest::Method;
use serde_json::{Value, json};

use crate::rollouts::{DEPLOYMENTS, Fleet, create, get, in_secs};
use crate::server::Server;

const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");

#[tokio::test]
async fn a_dynamic_deployment_takes_devices_that_come_to_match_up_to_max_devices() {
    let server = Server::start().await;
    assert_eq!(crate::deployments::upload(&server, ARTIFACT.to_vec(), "r").await.0, 201);
    let fleet = Fleet::seed(&server, 4, 3).await;
    fleet.inventory(&server, 0, json!([{ "name": "channel", "value": "beta" }])).await;
    for i in 1..4 {
        fleet.inventory(&server, i, json!([{ "name": "channel", "value": "stable" }])).await;
    }
    let term = json!({ "scope": "inventory", "attribute": "channel", "type": "$eq", "value": "beta" });
    let (status, headers, _) = server
        .send(
            Method::POST,
            "/api/management/v2/inventory/filters",
            Some(json!({ "name": "beta", "terms": [term] })),
        )
        .await;
    assert_eq!(status, 201);
    let filter = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let dep = create(
        &server,
        json!({ "name": "beta", "artifact_name": "release-1", "filter_id": filter, "max_devices": 2 }),
    )
    .await;
    let d = get(&server, &dep).await;
    assert_eq!((d["dynamic"].clone(), d["initial_device_count"].clone()), (json!(true), json!(1)));
    assert_eq!((d["filter"]["id"].clone(), d["filter"]["name"].clone()), (json!(filter), json!("beta")));
    assert_eq!(d["filter"]["terms"], json!([term]));
    assert_eq!(fleet.next(&server, 0).await.0, 200);
    assert_eq!(fleet.next(&server, 1).await.0, 204, "not matching");
    // Device 1 moves to beta while the deployment is open: its next poll joins it.
    fleet.inventory(&server, 1, json!([{ "name": "channel", "value": "beta" }])).await;
    let (status, body) = fleet.next(&server, 1).await;
    assert_eq!((status, body["id"].clone()), (200, json!(dep)));
    assert_eq!(get(&server, &dep).await["device_count"], 2);
    // max_devices reached: device 2 matches too late.
    fleet.inventory(&server, 2, json!([{ "name": "channel", "value": "beta" }])).await;
    assert_eq!(fleet.next(&server, 2).await.0, 204);
    for i in [0, 1] {
        assert_eq!(fleet.report(&server, i, &dep, "success").await, 204);
    }
    assert_eq!(get(&server, &dep).await["status"], "finished", "full and every device done");
}

#[tokio::test]
async fn update_control_maps_travel_on_the_v2_wire_and_the_operator_continues() {
    let server = Server::start().await;
    assert_eq!(crate::deployments::upload(&server, ARTIFACT.to_vec(), "r").await.0, 201);
    let fleet = Fleet::seed(&server, 2, 4).await;
    let map = json!({ "priority": 1, "states": { "ArtifactReboot_Enter": { "action": "pause" } } });
    let dep = create(
        &server,
        json!({ "name": "held", "artifact_name": "release-1", "devices": [fleet.ids[0]], "update_control_map": map }),
    )
    .await;
    let (status, next) = fleet.next(&server, 0).await;
    assert_eq!(status, 200);
    let sent = &next["update_control_map"];
    assert_eq!((sent["id"].clone(), sent["priority"].clone()), (json!(dep), json!(1)));
    assert_eq!(sent["states"]["ArtifactReboot_Enter"]["action"], "pause");
    let map_url =
        format!("{}/api/devices/v2/deployments/device/deployments/{dep}/update_control_map", server.base);
    let fetch = |i: usize| server.http.get(&map_url).bearer_auth(&fleet.tokens[i]).send();
    let res = fetch(0).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["update_control_map"], *sent);
    assert_eq!(fetch(1).await.unwrap().status(), 404, "not this device's deployment");

    // The device pauses before rebooting; the list of its devices shows the sub-state.
    for status in ["downloading", "installing", "pause_before_rebooting"] {
        assert_eq!(fleet.report(&server, 0, &dep, status).await, 204);
    }
    let (_, devices) = server.get(&format!("{DEPLOYMENTS}/{dep}/devices")).await;
    assert_eq!(devices[0]["status"], "pause_before_rebooting");
    let go =
        json!({ "update_control_map": { "states": { "ArtifactReboot_Enter": { "action": "continue" } } } });
    let (status, _, err) = server.send(Method::PATCH, &format!("{DEPLOYMENTS}/{dep}"), Some(go)).await;
    assert_eq!(status, 204, "{err}");
    let now = fetch(0).await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(now["update_control_map"]["states"]["ArtifactReboot_Enter"]["action"], "continue");
    assert_eq!(now["update_control_map"]["priority"], 1);
    // The v1 next (clients without maps) carries none.
    let v1 = format!("{}/api/devices/v1/deployments/device/deployments/next", server.base);
    let asked = json!({ "artifact_name": "factory", "device_type": "raspberrypi4" });
    let res = server.http.post(v1).bearer_auth(&fleet.tokens[0]).json(&asked).send().await.unwrap();
    assert!(res.json::<Value>().await.unwrap().get("update_control_map").is_none());
}

#[tokio::test]
async fn bad_rollout_input_is_a_clear_4xx_and_stores_nothing() {
    let server = Server::start().await;
    assert_eq!(crate::deployments::upload(&server, ARTIFACT.to_vec(), "r").await.0, 201);
    let fleet = Fleet::seed(&server, 2, 5).await;
    let plain =
        create(&server, json!({ "name": "plain", "artifact_name": "release-1", "devices": [fleet.ids[1]] }))
            .await;
    let before = server.state.store().last_seq().await.unwrap();
    let with = |extra: Value| {
        let mut body = json!({ "name": "bad", "artifact_name": "release-1", "devices": [fleet.ids[0]] });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let cases = [
        (
            json!({ "phases": [{ "batch_size": 60 }, { "batch_size": 60, "start_ts": in_secs(60) }] }),
            "add up to 100",
        ),
        (
            json!({ "phases": [{ "batch_size": 50, "start_ts": in_secs(-60) }, { "start_ts": in_secs(60) }] }),
            "past",
        ),
        (
            json!({ "phases": [{ "batch_size": 50, "start_ts": in_secs(120) }, { "start_ts": in_secs(60) }] }),
            "after phase",
        ),
        (json!({ "phases": [{ "batch_size": 50 }, { "start_ts": "tomorrow" }] }), "RFC 3339"),
        (json!({ "phases": [] }), "empty"),
        (
            json!({ "update_control_map": { "states": { "ArtifactDownload_Enter": { "action": "pause" } } } }),
            "ArtifactDownload_Enter",
        ),
        (
            json!({ "update_control_map": { "states": { "ArtifactReboot_Enter": { "action": "wait" } } } }),
            "wait",
        ),
        (json!({ "update_control_map": { "priority": 11, "states": {} } }), "priority"),
        (json!({ "max_failure_rate": 101 }), "max_failure_rate"),
        (json!({ "max_devices": 3 }), "filter"),
    ];
    for (extra, says) in cases {
        let (status, _, err) = server.send(Method::POST, DEPLOYMENTS, Some(with(extra.clone()))).await;
        assert_eq!(status, 400, "{extra}: {err}");
        let text = err["error"].as_str().unwrap_or_default();
        assert!(text.contains(says), "{extra}: {err}");
        assert!(err["request_id"].is_string());
    }
    // Continuing a deployment without a map: 409; an unknown state in a PATCH: 400.
    let go =
        json!({ "update_control_map": { "states": { "ArtifactReboot_Enter": { "action": "continue" } } } });
    let (status, _, err) =
        server.send(Method::PATCH, &format!("{DEPLOYMENTS}/{plain}"), Some(go.clone())).await;
    assert_eq!(status, 409, "{err}");
    let odd = json!({ "update_control_map": { "states": { "Sync_Enter": { "action": "continue" } } } });
    assert_eq!(server.send(Method::PATCH, &format!("{DEPLOYMENTS}/{plain}"), Some(odd)).await.0, 400);
    assert_eq!(server.send(Method::PATCH, &format!("{DEPLOYMENTS}/nope"), Some(go)).await.0, 404);
    let resume = json!({ "status": "resumed" });
    assert_eq!(server.send(Method::PUT, &format!("{DEPLOYMENTS}/{plain}/status"), Some(resume)).await.0, 409);
    let odd = json!({ "status": "sleeping" });
    assert_eq!(server.send(Method::PUT, &format!("{DEPLOYMENTS}/{plain}/status"), Some(odd)).await.0, 400);
    assert_eq!(server.state.store().last_seq().await.unwrap(), before, "nothing stored");
}
