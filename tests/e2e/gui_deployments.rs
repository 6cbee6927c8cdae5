//! The web GUI's flow, request for request: accept a device, upload an artifact, pick the
//! release in the software picker, deploy it to a group, list deployments by status; then an
//! operator aborts the device's deployments and resets its deployment history.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::deployments::upload;
use crate::gui_releases::artifact;
use crate::server::Server;

const DEPLOYMENTS_V2: &str = "/api/management/v2/deployments/deployments";

async fn listed(server: &Server, query: &str) -> Vec<String> {
    let (status, headers, list) = server.send(Method::GET, &format!("{DEPLOYMENTS_V2}?{query}"), None).await;
    assert_eq!(status, 200, "{query}: {list}");
    let ids: Vec<String> =
        list.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(headers["x-total-count"], ids.len().to_string().as_str());
    ids
}

#[tokio::test]
async fn accept_a_device_upload_an_artifact_and_deploy_a_release_to_a_group_as_the_gui_does() {
    let server = Server::start().await;
    // Accept the pending device (devauth v2, as the GUI's accept button) and put it in a group.
    let (device, _token) = server.accepted_device().await;
    let group = json!({ "group": "prod" });
    let path = format!("/api/management/v1/inventory/devices/{device}/group");
    assert_eq!(server.send(Method::PUT, &path, Some(group)).await.0, 204);

    // Upload (the GUI's multipart form: size, description, artifact).
    let bytes = artifact("app-1.0", "raspberrypi4");
    assert_eq!(upload(&server, bytes, "from the GUI").await.0, 201);

    // The deployment dialog: software picker, tags, types, release details.
    let software = "/api/management/v1alpha1/deployments/software?page=1&per_page=20&sort=modified:desc";
    let (status, _, list) = server.send(Method::GET, software, None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["name"], "app-1.0");
    let tags = "/api/management/v1alpha1/deployments/software/tags?kind=release";
    assert_eq!(server.get(tags).await, (StatusCode::OK, json!([])));
    assert_eq!(server.get("/api/management/v2/deployments/releases/all/types").await.0, 200);
    let release = "/api/management/v2/deployments/deployments/releases/app-1.0";
    let (status, rel) = server.get(release).await;
    assert_eq!((status, rel["artifacts_count"].clone()), (StatusCode::OK, json!(1)));

    // Create: the GUI posts a group deployment to the group route with this body.
    let body = json!({
        "artifact_name": "app-1.0",
        "all_devices": false,
        "group": "prod",
        "name": "prod",
        "retries": 0,
        "force_installation": false,
    });
    let (status, headers, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments/group/prod", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let id = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (_, dep) = server.get(&format!("/api/management/v1/deployments/deployments/{id}")).await;
    assert_eq!((dep["device_count"].clone(), dep["groups"].clone()), (json!(1), json!(["prod"])));

    // The deployments page's lists.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(
        listed(&server, "page=1&per_page=20&sort=desc&status=pending").await,
        std::slice::from_ref(&id)
    );
    assert!(listed(&server, "page=1&per_page=20&sort=desc&status=inprogress").await.is_empty());
    assert!(listed(&server, "page=1&per_page=20&sort=desc&status=scheduled").await.is_empty());
    let finished = format!(
        "page=1&per_page=20&sort=desc&status=finished&created_after={}&created_before={}",
        now - 3600,
        now + 60
    );
    assert!(listed(&server, &finished).await.is_empty());
    let future = format!("page=1&per_page=20&created_after={}", now + 3600);
    assert!(listed(&server, &future).await.is_empty());
    let bad = server.send(Method::GET, &format!("{DEPLOYMENTS_V2}?status=paused"), None).await;
    assert_eq!(bad.0, 400);

    // The operator aborts the device's deployments: the deployment finishes, aborted.
    let device_deployments = format!("/api/management/v1/deployments/deployments/devices/{device}");
    assert_eq!(server.delete(&device_deployments).await, 204);
    let (_, dep) = server.get(&format!("/api/management/v1/deployments/deployments/{id}")).await;
    assert_eq!(dep["status"], "finished");
    assert_eq!(dep["statistics"]["status"]["aborted"], 1);
    assert_eq!(listed(&server, &finished).await, std::slice::from_ref(&id));
    assert_eq!(server.delete(&device_deployments).await, 204, "idempotent");

    // The history (device details, deployments tab) empties on a reset; the deployment stays.
    let history = format!("{device_deployments}?page=1&per_page=10");
    let (_, before) = server.get(&history).await;
    assert_eq!(before.as_array().map(Vec::len), Some(1));
    assert_eq!(server.delete(&format!("{device_deployments}/history")).await, 204);
    assert_eq!(server.get(&history).await, (StatusCode::OK, Value::Array(Vec::new())));
    assert_eq!(server.get(&format!("/api/management/v1/deployments/deployments/{id}")).await.0, 200);
    let url = format!(
        "{}/api/management/v1/fleetlog/events?from=1&format=ndjson&follow=false&aggregate_type=devdeployment",
        server.base
    );
    let text = server.http.get(url).bearer_auth(&server.token).send().await.unwrap().text().await.unwrap();
    let types: Vec<Value> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].clone()).collect();
    assert_eq!(types, [json!("DeviceDeploymentStatusChanged"), json!("DeviceDeploymentDeleted")]);

    // A deployment to a saved filter goes to v2, as the GUI sends it.
    let term = json!({ "scope": "system", "attribute": "group", "type": "$eq", "value": "prod" });
    let filter = json!({ "name": "prod-devices", "terms": [term] });
    let (status, headers, _) =
        server.send(Method::POST, "/api/management/v2/inventory/filters", Some(filter)).await;
    assert_eq!(status, 201);
    let filter_id = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let body = json!({
        "artifact_name": "app-1.0",
        "filter_id": filter_id,
        "all_devices": false,
        "name": "prod-devices",
        "retries": 0,
    });
    let (status, headers, err) = server.send(Method::POST, DEPLOYMENTS_V2, Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let second = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (_, dep) = server.get(&format!("/api/management/v1/deployments/deployments/{second}")).await;
    assert_eq!((dep["device_count"].clone(), dep["status"].clone()), (json!(1), json!("pending")));
}
