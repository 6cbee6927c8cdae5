//! A deployment bigger than one event can hold: to every one of 11,000 accepted devices (one event holds 10,000 ids). Its
//! device list goes in parts of one append (the first with the creation), and it is created,
//! listed, counted and aborted like any other — nothing near NATS's 1 MiB `max_payload`.

use std::time::Duration;

use fleetlog_events::deployment::DEVICES_PER_EVENT;
use fleetlog_tests::{MAX_SEED_BATCH, SeedDevice, append_accepted};
use reqwest::Method;
use serde_json::{Value, json};

use crate::server::Server;

const DEVICES: usize = DEVICES_PER_EVENT + 1_000;
const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");

#[tokio::test]
async fn a_deployment_to_more_devices_than_one_event_holds_is_created_counted_and_aborted() {
    let server = Server::start().await;
    assert_eq!(crate::deployments::upload(&server, ARTIFACT.to_vec(), "r").await.0, 201);
    let devices: Vec<SeedDevice> = (0..DEVICES)
        .map(|n| SeedDevice {
            id: uuid::Uuid::new_v4().to_string(),
            auth_set: uuid::Uuid::new_v4().to_string(),
            identity: format!(
                r#"{{"mac":"02:ee:00:{:02x}:{:02x}:{:02x}"}}"#,
                n >> 16,
                (n >> 8) & 255,
                n & 255
            ),
            pubkey: format!("KEY-{n}"),
        })
        .collect();
    for chunk in devices.chunks(MAX_SEED_BATCH) {
        append_accepted(server.state.store(), "default", "test", chunk).await.unwrap();
    }
    let written = server.state.store().last_seq().await.unwrap();
    assert!(server.state.read_models.wait_for(written, Duration::from_secs(120)).await);

    let body = json!({ "name": "everyone", "artifact_name": "release-1", "all_devices": true });
    let (status, headers, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let location = headers["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let (_, _, d) = server.send(Method::GET, &location, None).await;
    assert_eq!((d["device_count"].clone(), d["status"].clone()), (json!(DEVICES), json!("pending")));
    assert_eq!(d["statistics"]["status"]["pending"], DEVICES);

    // The log holds the creation and the rest of the list in parts.
    let url = format!(
        "{}/api/management/v1/fleetlog/events?from=1&format=ndjson&follow=false&aggregate_type=deployment&object_id={id}",
        server.base
    );
    let text = server.http.get(url).bearer_auth(&server.token).send().await.unwrap().text().await.unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let parts = DEVICES.div_ceil(DEVICES_PER_EVENT);
    assert_eq!(events.len(), parts);
    assert_eq!(events[0]["type"], "DeploymentCreated");
    assert_eq!(events[0]["data"]["total_devices"], DEVICES);
    assert!(events[1..].iter().all(|e| e["type"] == "DeploymentDevicesListed"));

    // Listed and paged, and one of the last devices in the list gets it on its poll.
    let (_, list) = server.get("/api/management/v1/deployments/deployments").await;
    assert_eq!(list[0]["device_count"], DEVICES);
    let (status, page) = server.get(&format!("{location}/devices/list?page=3&per_page=500")).await;
    assert_eq!((status.as_u16(), page.as_array().map(Vec::len)), (200, Some(500)));

    let (status, _, _) =
        server.send(Method::PUT, &format!("{location}/status"), Some(json!({ "status": "aborted" }))).await;
    assert_eq!(status, 204);
    let (_, _, d) = server.send(Method::GET, &location, None).await;
    assert_eq!(
        (d["status"].clone(), d["statistics"]["status"]["aborted"].clone()),
        (json!("finished"), json!(DEVICES))
    );
}
