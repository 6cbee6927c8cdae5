//! Mender's web GUI as a client contract: every request it makes (recorded from the GUI of
//! mender-server main, page by page; see `docs/GUI.md` of the shared reference) with the query
//! parameters and bodies it sends, against a fleet with an accepted device in a group, an
//! uploaded artifact and a deployment. Each answers as open-source Mender does: 2xx, the
//! enterprise-only routes 404, and `page=NaN` 400.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::deployments::upload;
use crate::server::Server;

const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");

/// One GUI request: method, path and query, body, and the status open-source Mender answers.
struct Req {
    method: Method,
    path: String,
    body: Option<Value>,
    want: u16,
}

fn req(method: Method, path: impl Into<String>, body: Option<Value>, want: u16) -> Req {
    Req { method, path: path.into(), body, want }
}

/// The fleet the requests look at: (device id, auth set id, deployment id).
async fn fleet(server: &Server) -> (String, String, String) {
    let (device, _token) = server.accepted_device().await;
    let (_, d) = server.get(&format!("/api/management/v2/devauth/devices/{device}")).await;
    let auth_set = d["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    let group = format!("/api/management/v1/inventory/devices/{device}/group");
    assert_eq!(server.send(Method::PUT, &group, Some(json!({"group": "gui"}))).await.0, 204);
    let (status, location) = upload(server, ARTIFACT.to_vec(), "from the GUI").await;
    assert_eq!(status, 201, "{location}");
    let body = json!({"name": "release-1", "artifact_name": "release-1", "devices": [device], "retries": 0});
    let (status, headers, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let deployment = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    (device, auth_set, deployment)
}

fn requests(device: &str, auth_set: &str, deployment: &str) -> Vec<Req> {
    use Method as M;
    let month = "created_after=1764547200&created_before=1767225599";
    let search = json!({
        "page": 1, "per_page": 20,
        "filters": [
            {"scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted"},
            {"scope": "inventory", "attribute": "device_type", "type": "$ltne", "value": "zzz"}
        ],
        "sort": [{"scope": "system", "attribute": "updated_ts", "order": "desc"}],
        "attributes": [
            {"scope": "identity", "attribute": "status"},
            {"scope": "inventory", "attribute": "artifact_name"},
            {"scope": "system", "attribute": "group"}
        ]
    });
    vec![
        req(
            M::GET,
            format!("/api/management/v1/auditlogs/logs?page=1&per_page=20&{month}&sort=desc"),
            None,
            200,
        ),
        req(M::GET, "/api/management/v1/deployments/config", None, 404),
        req(
            M::GET,
            format!("/api/management/v1/deployments/deployments/devices/{device}?page=1&per_page=10"),
            None,
            200,
        ),
        req(
            M::GET,
            format!("/api/management/v1/deployments/deployments/devices/{device}?page=NaN&per_page=10"),
            None,
            400,
        ),
        req(M::GET, format!("/api/management/v1/deployments/deployments/{deployment}"), None, 200),
        req(
            M::GET,
            format!(
                "/api/management/v1/deployments/deployments/{deployment}/devices/list?page=1&per_page=20"
            ),
            None,
            200,
        ),
        req(M::GET, format!("/api/management/v1/deviceconfig/configurations/device/{device}"), None, 200),
        req(M::GET, format!("/api/management/v1/deviceconnect/devices/{device}"), None, 200),
        req(M::GET, format!("/api/management/v1/inventory/devices/{device}"), None, 200),
        req(M::GET, "/api/management/v1/inventory/groups", None, 200),
        req(M::GET, "/api/management/v1/iot-manager/integrations", None, 200),
        req(M::GET, "/api/management/v1/tenantadm/user/tenant?tiers=standard", None, 404),
        req(M::GET, "/api/management/v1/useradm/settings", None, 200),
        req(M::GET, "/api/management/v1/useradm/settings/me", None, 200),
        req(
            M::POST,
            "/api/management/v1/useradm/settings/me",
            Some(json!({"onboarding": {"complete": true}, "columnSelection": []})),
            201,
        ),
        req(M::GET, "/api/management/v1/useradm/settings/tokens", None, 200),
        req(
            M::POST,
            "/api/management/v1/useradm/settings/tokens",
            Some(json!({"name": "gui-token", "expires_in": 31536000})),
            200,
        ),
        req(M::GET, "/api/management/v1/useradm/users", None, 200),
        req(M::GET, "/api/management/v1/useradm/users/me", None, 200),
        req(
            M::GET,
            "/api/management/v1alpha1/deployments/software?page=1&per_page=20&sort=name:asc",
            None,
            200,
        ),
        req(M::GET, "/api/management/v1alpha1/deployments/software/tags?kind=release", None, 200),
        req(
            M::GET,
            format!(
                "/api/management/v2/deployments/deployments?{month}&page=1&per_page=20&sort=desc&status=finished"
            ),
            None,
            200,
        ),
        req(
            M::GET,
            "/api/management/v2/deployments/deployments?page=1&per_page=10&status=inprogress",
            None,
            200,
        ),
        req(
            M::GET,
            "/api/management/v2/deployments/deployments?page=1&per_page=10&status=pending",
            None,
            200,
        ),
        req(
            M::GET,
            "/api/management/v2/deployments/deployments?page=1&per_page=10&status=scheduled",
            None,
            200,
        ),
        req(
            M::GET,
            "/api/management/v2/deployments/deployments/releases?page=1&per_page=20&sort=modified:desc",
            None,
            200,
        ),
        req(M::GET, "/api/management/v2/deployments/deployments/releases/release-1", None, 200),
        req(M::GET, "/api/management/v2/deployments/releases/all/types", None, 200),
        req(M::GET, format!("/api/management/v2/devauth/devices?id={device}"), None, 200),
        req(
            M::PUT,
            format!("/api/management/v2/devauth/devices/{device}/auth/{auth_set}/status"),
            Some(json!({"status": "accepted"})),
            204,
        ),
        req(M::GET, "/api/management/v2/inventory/filters?per_page=500", None, 200),
        req(M::GET, "/api/management/v2/inventory/filters/attributes", None, 200),
        req(M::POST, "/api/management/v2/inventory/filters/search", Some(search), 200),
        req(M::GET, "/api/management/v2/inventory/statistics", None, 200),
        req(M::GET, "/api/management/v2/useradm/permission_sets?per_page=500", None, 404),
        req(M::GET, "/api/management/v2/useradm/roles?per_page=500", None, 404),
    ]
}

#[tokio::test]
async fn every_request_of_menders_web_gui_answers_as_open_source_mender() {
    let server = Server::start().await;
    let (device, auth_set, deployment) = fleet(&server).await;
    let mut wrong = Vec::new();
    for r in requests(&device, &auth_set, &deployment) {
        let (status, _, body) = server.send(r.method.clone(), &r.path, r.body).await;
        if status != StatusCode::from_u16(r.want).unwrap() {
            wrong.push(format!("{} {} -> {status} (want {}) {body}", r.method, r.path, r.want));
        } else if status.is_client_error() && !body["error"].is_string() {
            wrong.push(format!("{} {} -> {status} without Mender's error body: {body}", r.method, r.path));
        }
    }
    assert!(wrong.is_empty(), "GUI requests answered differently:\n{}", wrong.join("\n"));

    // What the GUI reads from the answers: accepted devices counted, the release in the
    // software picker, the group in the group list.
    let (_, stats) = server.get("/api/management/v2/inventory/statistics").await;
    assert_eq!(stats["devices_by_status"]["accepted"]["standard"], 1, "{stats}");
    let (_, software) = server.get("/api/management/v1alpha1/deployments/software?page=1&per_page=20").await;
    assert!(software.to_string().contains("release-1"), "{software}");
    let (_, groups) = server.get("/api/management/v1/inventory/groups").await;
    assert_eq!(groups, json!(["gui"]));
    let (_, types) = server.get("/api/management/v2/deployments/releases/all/types").await;
    assert!(types.to_string().contains("single-file"), "{types}");

    // The login the GUI makes: Basic credentials, an empty JSON body.
    let res = server
        .http
        .post(format!("{}/api/management/v1/useradm/auth/login", server.base))
        .basic_auth("admin@example.com", Some("secret-password"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
