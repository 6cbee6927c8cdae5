//! Releases as Mender's web GUI and API tests use them: the v2 list (paging, sort, tag
//! filter), release details, notes and tags (events on the release aggregate), the tags and
//! types in use, the v1alpha1 software lists, the storage usage, and deleting releases.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::deployments::upload;
use crate::server::Server;

const V2: &str = "/api/management/v2/deployments/deployments/releases";

/// A single-file artifact named `name` for `device_type`, made with fleetlog's writer.
pub fn artifact(name: &str, device_type: &str) -> Vec<u8> {
    let contents = format!("contents of {name}\n").into_bytes();
    let spec = fleetlog_artifact::SingleFileArtifact::new(
        name,
        vec![device_type.to_owned()],
        "/opt/app",
        "app.txt",
        contents.len() as u64,
    );
    let mut out = std::io::Cursor::new(Vec::new());
    fleetlog_artifact::write_single_file_artifact_seekable(&spec, &contents[..], &mut out).unwrap();
    out.into_inner()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn releases_have_details_notes_and_searchable_tags_as_the_gui_reads_them() {
    let server = Server::start().await;
    let (a, b) = (artifact("rel-a", "raspberrypi4"), artifact("rel-b", "qemux86-64"));
    assert_eq!(upload(&server, a.clone(), "first").await.0, 201);
    assert_eq!(upload(&server, b.clone(), "second").await.0, 201);

    // The GUI's release list: page, per_page, sort.
    let (status, headers, list) =
        server.send(Method::GET, &format!("{V2}?page=1&per_page=20&sort=modified:desc"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(headers["x-total-count"], "2");
    assert_eq!(names(&list), ["rel-b", "rel-a"]);
    assert_eq!(list[0]["artifacts_count"], 1);
    let (_, headers, list) =
        server.send(Method::GET, &format!("{V2}?page=2&per_page=1&sort=name:asc"), None).await;
    assert_eq!(names(&list), ["rel-b"]);
    assert!(headers["link"].to_str().unwrap().contains("rel=\"first\""));
    assert_eq!(server.send(Method::GET, &format!("{V2}?sort=size:asc"), None).await.0, 400);

    // Release details (the release drawer).
    let (status, _, rel) = server.send(Method::GET, &format!("{V2}/rel-a"), None).await;
    assert_eq!(status, 200, "{rel}");
    assert_eq!(rel["name"], "rel-a");
    assert_eq!(rel["artifacts_count"], 1);
    assert_eq!(rel["artifacts"][0]["name"], "rel-a");
    assert_eq!(rel["artifacts"][0]["description"], "first");
    assert_eq!((rel["tags"].clone(), rel["notes"].clone()), (json!([]), json!("")));
    assert!(rel["modified"].as_str().unwrap().ends_with('Z'));
    assert_eq!(server.send(Method::GET, &format!("{V2}/no-such-release"), None).await.0, 404);

    // Notes and tags.
    let notes = json!({ "notes": "security fixes" });
    assert_eq!(server.send(Method::PATCH, &format!("{V2}/rel-a"), Some(notes)).await.0, 204);
    let long = json!({ "notes": "n".repeat(1025) });
    let (status, _, err) = server.send(Method::PATCH, &format!("{V2}/rel-a"), Some(long)).await;
    assert_eq!(status, 400);
    assert!(err["request_id"].is_string() && err["error"].as_str().unwrap().contains("1024"));
    let tags = json!(["Beta", "prod", "beta"]);
    assert_eq!(server.send(Method::PUT, &format!("{V2}/rel-a/tags"), Some(tags)).await.0, 204);
    let (_, _, rel) = server.send(Method::GET, &format!("{V2}/rel-a"), None).await;
    assert_eq!(rel["notes"], "security fixes");
    assert_eq!(rel["tags"], json!(["beta", "prod"]));
    let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    assert_eq!(server.send(Method::PUT, &format!("{V2}/rel-a/tags"), Some(json!(too_many))).await.0, 400);
    assert_eq!(server.send(Method::PUT, &format!("{V2}/rel-a/tags"), Some(json!(["a b"]))).await.0, 400);
    assert_eq!(server.send(Method::PUT, &format!("{V2}/rel-a/tags"), Some(json!([1]))).await.0, 400);
    assert_eq!(server.send(Method::PUT, &format!("{V2}/nope/tags"), Some(json!(["x"]))).await.0, 404);
    assert_eq!(server.send(Method::PUT, &format!("{V2}/rel-b/tags"), Some(json!(["beta"]))).await.0, 204);

    // Tags are searchable; the tags and types in use come from the read model.
    let (_, headers, list) = server.send(Method::GET, &format!("{V2}?tag=prod"), None).await;
    assert_eq!((names(&list), &headers["x-total-count"]), (vec!["rel-a"], &"1".parse().unwrap()));
    let (_, _, list) =
        server.send(Method::GET, &format!("{V2}?tag=PROD&tag=beta&sort=name:desc"), None).await;
    assert_eq!(names(&list), ["rel-b", "rel-a"]);
    let (_, _, list) = server.send(Method::GET, &format!("{V2}?name=REL-B"), None).await;
    assert_eq!(names(&list), ["rel-b"]);
    let (_, _, list) = server.send(Method::GET, &format!("{V2}?update_type=rootfs-image"), None).await;
    assert_eq!(list, json!([]));
    let (status, tags) = server.get("/api/management/v2/deployments/releases/all/tags").await;
    assert_eq!((status, tags), (StatusCode::OK, json!(["beta", "prod"])));
    let (status, types) = server.get("/api/management/v2/deployments/releases/all/types").await;
    assert_eq!((status, types), (StatusCode::OK, json!(["single-file"])));

    // The v1 lists show the same releases, with their tags, and the artifact filters.
    let v1 = "/api/management/v1/deployments/deployments/releases";
    let (status, list) = server.get(&format!("{v1}?device_type=qemux86-64")).await;
    assert_eq!((status, names(&list)), (StatusCode::OK, vec!["rel-b"]));
    assert_eq!(list[0]["tags"], json!(["beta"]));
    let (_, list) = server.get(&format!("{v1}?description=fir")).await;
    assert_eq!(names(&list), ["rel-a"]);
    let (_, headers, list) =
        server.send(Method::GET, &format!("{v1}/list?sort=name:desc&per_page=1"), None).await;
    assert_eq!((names(&list), &headers["x-total-count"]), (vec!["rel-b"], &"2".parse().unwrap()));

    // The GUI's software picker (v1alpha1).
    let software = "/api/management/v1alpha1/deployments/software";
    let (status, headers, list) =
        server.send(Method::GET, &format!("{software}?page=1&per_page=20&sort=name:asc"), None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(headers["x-total-count"], "2");
    assert_eq!(list[0]["name"], "rel-a");
    assert_eq!(list[0]["kind"], "release");
    assert_eq!(list[0]["compatible_types"], json!(["raspberrypi4"]));
    assert_eq!(list[0]["tags"], json!(["beta", "prod"]));
    assert_eq!(list[0]["notes"], "security fixes");
    let (_, _, list) = server.send(Method::GET, &format!("{software}?name_prefix=rel-b"), None).await;
    assert_eq!(names(&list), ["rel-b"]);
    let (_, _, list) = server.send(Method::GET, &format!("{software}?kind=manifest"), None).await;
    assert_eq!(list, json!([]));
    assert_eq!(
        server.get(&format!("{software}/tags?kind=release")).await,
        (StatusCode::OK, json!(["beta", "prod"]))
    );
    assert_eq!(server.get(&format!("{software}/tags?kind=manifest")).await, (StatusCode::OK, json!([])));
    assert_eq!(server.get(&format!("{software}/tags?kind=other")).await.0, 400);

    // Storage usage is the sum of the stored artifacts.
    let (status, limits) = server.get("/api/management/v1/deployments/limits/storage").await;
    assert_eq!(status, 200);
    assert_eq!(limits, json!({ "limit": 0, "usage": a.len() + b.len() }));

    // The release's metadata are events on the release aggregate, whose id is not the name.
    let url = format!(
        "{}/api/management/v1/fleetlog/events?from=1&format=ndjson&follow=false&aggregate_type=release",
        server.base
    );
    let text = server.http.get(url).bearer_auth(&server.token).send().await.unwrap().text().await.unwrap();
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ReleaseNotesSet", "ReleaseTagsSet", "ReleaseTagsSet"]);
    assert_eq!(events[0]["data"]["name"], "rel-a");
    let id = events[0]["aggregate"]["id"].as_str().unwrap();
    assert!(id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    let (status, history) = server.get(&format!("/api/management/v1/fleetlog/objects/release/{id}")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        history["state"],
        json!({ "name": "rel-a", "notes": "security fixes", "tags": ["beta", "prod"] })
    );
}

#[tokio::test]
async fn a_release_in_use_is_not_deleted_and_a_deleted_one_takes_its_tags_along() {
    let server = Server::start().await;
    let a = artifact("rel-a", "raspberrypi4");
    assert_eq!(upload(&server, a.clone(), "").await.0, 201);
    assert_eq!(upload(&server, artifact("rel-a", "qemux86-64"), "").await.0, 201);
    let keep = artifact("rel-keep", "raspberrypi4");
    assert_eq!(upload(&server, keep.clone(), "").await.0, 201);
    assert_eq!(server.send(Method::PUT, &format!("{V2}/rel-a/tags"), Some(json!(["old"]))).await.0, 204);
    let (device, _) = server.accepted_device().await;
    let body = json!({ "name": "d", "artifact_name": "rel-a", "devices": [device] });
    let (status, headers, _) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201);
    let deployment = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();

    let (status, _, err) = server.send(Method::DELETE, &format!("{V2}?name=rel-a"), None).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["active_deployments"], json!([deployment]));
    assert!(err["request_id"].is_string());
    assert_eq!(server.send(Method::DELETE, V2, None).await.0, 400);

    let abort = json!({ "status": "aborted" });
    let path = format!("/api/management/v1/deployments/deployments/{deployment}/status");
    assert_eq!(server.send(Method::PUT, &path, Some(abort)).await.0, 204);
    assert_eq!(server.send(Method::DELETE, &format!("{V2}?name=rel-a&name=unknown"), None).await.0, 204);
    assert_eq!(server.send(Method::GET, &format!("{V2}/rel-a"), None).await.0, 404);
    let (_, list) = server.get("/api/management/v1/deployments/artifacts").await;
    assert_eq!(names(&list), ["rel-keep"]);
    assert_eq!(server.get("/api/management/v2/deployments/releases/all/tags").await.1, json!([]));
    let (_, limits) = server.get("/api/management/v1/deployments/limits/storage").await;
    assert_eq!(limits["usage"], keep.len());

    // Uploaded again, the release starts without the old tags (as in Mender).
    assert_eq!(upload(&server, a, "").await.0, 201);
    assert_eq!(server.send(Method::GET, &format!("{V2}/rel-a"), None).await.2["tags"], json!([]));
}

/// Every management operation of Mender's deployments specs (4.1.3 v1 and v2, main's
/// v1alpha1), with `x` for path parameters.
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/api/management/v1/deployments/deployments"),
    ("POST", "/api/management/v1/deployments/deployments"),
    ("POST", "/api/management/v1/deployments/deployments/statistics/list"),
    ("POST", "/api/management/v1/deployments/deployments/group/x"),
    ("GET", "/api/management/v1/deployments/deployments/x"),
    ("PUT", "/api/management/v1/deployments/deployments/x/status"),
    ("GET", "/api/management/v1/deployments/deployments/x/statistics"),
    ("GET", "/api/management/v1/deployments/deployments/x/devices"),
    ("GET", "/api/management/v1/deployments/deployments/x/devices/list"),
    ("GET", "/api/management/v1/deployments/deployments/x/device_list"),
    ("GET", "/api/management/v1/deployments/deployments/x/devices/x/log"),
    ("GET", "/api/management/v1/deployments/deployments/devices/x"),
    ("DELETE", "/api/management/v1/deployments/deployments/devices/x"),
    ("DELETE", "/api/management/v1/deployments/deployments/devices/x/history"),
    ("GET", "/api/management/v1/deployments/deployments/releases"),
    ("GET", "/api/management/v1/deployments/deployments/releases/list"),
    ("GET", "/api/management/v1/deployments/artifacts"),
    ("POST", "/api/management/v1/deployments/artifacts"),
    ("GET", "/api/management/v1/deployments/artifacts/list"),
    ("POST", "/api/management/v1/deployments/artifacts/directupload"),
    ("POST", "/api/management/v1/deployments/artifacts/directupload/x/complete"),
    ("POST", "/api/management/v1/deployments/artifacts/generate"),
    ("GET", "/api/management/v1/deployments/artifacts/x"),
    ("PUT", "/api/management/v1/deployments/artifacts/x"),
    ("DELETE", "/api/management/v1/deployments/artifacts/x"),
    ("GET", "/api/management/v1/deployments/artifacts/x/download"),
    ("GET", "/api/management/v1/deployments/limits/storage"),
    ("GET", "/api/management/v2/deployments/deployments"),
    ("POST", "/api/management/v2/deployments/deployments"),
    ("GET", "/api/management/v2/deployments/deployments/releases"),
    ("DELETE", "/api/management/v2/deployments/deployments/releases?name=x"),
    ("GET", "/api/management/v2/deployments/deployments/releases/x"),
    ("PATCH", "/api/management/v2/deployments/deployments/releases/x"),
    ("PUT", "/api/management/v2/deployments/deployments/releases/x/tags"),
    ("GET", "/api/management/v2/deployments/releases/all/tags"),
    ("GET", "/api/management/v2/deployments/releases/all/types"),
    ("GET", "/api/management/v2/deployments/artifacts"),
    ("GET", "/api/management/v1alpha1/deployments/software"),
    ("GET", "/api/management/v1alpha1/deployments/software/tags"),
];

#[tokio::test]
async fn every_deployments_operation_is_served_and_answers_401_without_a_token() {
    let server = Server::start().await;
    for (method, path) in OPERATIONS {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let url = format!("{}{path}", server.base);
        let res = server.http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        let res = server.http.request(method.clone(), &url).bearer_auth(&server.token).send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        // With a token, unknown ids may be 404, but never "no such endpoint" nor 405.
        assert!(status != 405 && body["error"] != "no such endpoint", "{method} {path}: {status} {body}");
        assert!(!status.is_server_error(), "{method} {path}: {status} {body}");
    }
}
