//! Artifacts and deployments through the HTTP API with a device speaking the wire the real
//! client speaks: upload (streamed, parsed, 409 on a duplicate, 400 on a broken file), `next`,
//! signed downloads with ranges, status reports under Mender's rules, retries, abort, logs.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::server::Server;

const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");

/// Uploads `bytes` as mender-cli does (size, description, then the file): status and Location.
pub async fn upload(server: &Server, bytes: Vec<u8>, description: &str) -> (u16, String) {
    let form =
        Form::new().text("size", bytes.len().to_string()).text("description", description.to_owned()).part(
            "artifact",
            Part::bytes(bytes).file_name("a.mender").mime_str("application/octet-stream").unwrap(),
        );
    let url = format!("{}/api/management/v1/deployments/artifacts", server.base);
    let res = server.http.post(url).bearer_auth(&server.token).multipart(form).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    (status, location.unwrap_or(body))
}

async fn deploy(server: &Server, name: &str, devices: &[&str], retries: u32) -> String {
    let body = json!({ "name": name, "artifact_name": "release-1", "devices": devices, "retries": retries });
    let (status, headers, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

struct Device<'a> {
    server: &'a Server,
    token: String,
}

impl Device<'_> {
    async fn next(&self, artifact_name: &str) -> (u16, Value) {
        let url = format!("{}/api/devices/v1/deployments/device/deployments/next", self.server.base);
        // The 3.4 client's flat provides.
        let body = json!({ "artifact_name": artifact_name, "device_type": "raspberrypi4", "rootfs-image.version": "x" });
        let res = self.server.http.post(url).bearer_auth(&self.token).json(&body).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    async fn status(&self, deployment: &str, status: &str) -> u16 {
        let url =
            format!("{}/api/devices/v1/deployments/device/deployments/{deployment}/status", self.server.base);
        let res = self
            .server
            .http
            .put(url)
            .bearer_auth(&self.token)
            .json(&json!({ "status": status }))
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }
}

#[tokio::test]
async fn an_artifact_is_uploaded_deployed_downloaded_and_reported_to_success() {
    let server = Server::start().await;
    let (status, location) = upload(&server, ARTIFACT.to_vec(), "first").await;
    assert_eq!(status, 201, "{location}");
    let (_, _, artifact) = server.send(Method::GET, &location, None).await;
    assert_eq!(artifact["name"], "release-1");
    assert_eq!(artifact["description"], "first");
    assert_eq!(artifact["device_types_compatible"], json!(["raspberrypi4"]));
    assert_eq!(artifact["size"], ARTIFACT.len());
    assert_eq!(artifact["updates"][0]["type_info"]["type"], "single-file");

    // Same name and depends: 409. Broken files: 400 with the reason; nothing stored.
    let before = server.state.store().last_seq().await.unwrap();
    assert_eq!(upload(&server, ARTIFACT.to_vec(), "again").await.0, 409);
    let (status, message) = upload(&server, ARTIFACT[..3000].to_vec(), "cut").await;
    assert_eq!(status, 400);
    assert!(message.contains("unexpected end") || message.contains("bytes"), "{message}");
    let mut flipped = ARTIFACT.to_vec();
    flipped[2600] ^= 0x55;
    assert_eq!(upload(&server, flipped, "flipped").await.0, 400);
    assert_eq!(upload(&server, b"not an artifact at all".repeat(40), "junk").await.0, 400);
    assert_eq!(server.state.store().last_seq().await.unwrap(), before, "refused uploads store nothing");
    let files = walk(&server.conn.data_dir.join("artifacts"));
    assert_eq!(files, 1, "one stored artifact file");
    let (_, _, list) = server.send(Method::GET, "/api/management/v1/deployments/artifacts", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (device_id, token) = server.accepted_device().await;
    let dev = Device { server: &server, token };
    assert_eq!(dev.next("factory-image").await.0, 204, "no deployment yet");
    // v2 next (device_provides; it carries update control maps): nothing either, and a body
    // without what the device provides is a 400.
    let v2 = format!("{}/api/devices/v2/deployments/device/deployments/next", server.base);
    let provides =
        json!({ "device_provides": { "artifact_name": "factory-image", "device_type": "raspberrypi4" } });
    let send_v2 = |body: Value| server.http.post(&v2).bearer_auth(&dev.token).json(&body).send();
    assert_eq!(send_v2(provides).await.unwrap().status(), 204);
    assert_eq!(send_v2(json!({})).await.unwrap().status(), 400);

    let bad = json!({ "name": "x", "artifact_name": "nope", "devices": [device_id] });
    assert_eq!(
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(bad)).await.0,
        422
    );
    let both =
        json!({ "name": "x", "artifact_name": "release-1", "devices": [device_id], "all_devices": true });
    assert_eq!(
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(both)).await.0,
        400
    );

    let dep = deploy(&server, "first", &[&device_id], 0).await;
    let (status, next) = dev.next("factory-image").await;
    assert_eq!(status, 200);
    assert_eq!(next["id"], json!(dep));
    assert_eq!(next["artifact"]["artifact_name"], "release-1");
    assert_eq!(next["artifact"]["device_types_compatible"], json!(["raspberrypi4"]));
    let uri = next["artifact"]["source"]["uri"].as_str().unwrap().to_owned();
    // Polling again records nothing.
    let seq = server.state.store().last_seq().await.unwrap();
    assert_eq!(dev.next("factory-image").await.0, 200);
    assert_eq!(server.state.store().last_seq().await.unwrap(), seq, "a repeated poll is not an event");

    // The download: no token, Content-Length, ranges.
    let plain = reqwest::Client::new();
    let res = plain.get(&uri).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], ARTIFACT.len().to_string().as_str());
    assert_eq!(res.bytes().await.unwrap().as_ref(), ARTIFACT);
    let res = plain.get(&uri).header("Range", "bytes=4096-").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 4096-{}/{}", ARTIFACT.len() - 1, ARTIFACT.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &ARTIFACT[4096..]);
    let forged = uri.replace("signature=", "signature=00");
    assert_eq!(plain.get(&forged).send().await.unwrap().status(), 403);

    assert_eq!(dev.status(&dep, "downloading").await, 204);
    assert_eq!(dev.status(&dep, "downloading").await, 204);
    assert_eq!(dev.status(&dep, "pending").await, 400);
    assert_eq!(dev.status(&dep, "sideways").await, 400);
    assert_eq!(dev.status(&dep, "installing").await, 204);
    let (_, _, d) =
        server.send(Method::GET, &format!("/api/management/v1/deployments/deployments/{dep}"), None).await;
    assert_eq!(d["status"], "inprogress");
    assert_eq!(dev.status(&dep, "success").await, 204);
    assert_eq!(dev.status(&dep, "success").await, 204, "a repeated final report is accepted");
    assert_eq!(dev.status(&dep, "failure").await, 409);
    assert_eq!(dev.status("00000000-0000-4000-8000-000000000000", "success").await, 404);
    let (_, _, d) =
        server.send(Method::GET, &format!("/api/management/v1/deployments/deployments/{dep}"), None).await;
    assert_eq!(d["status"], "finished");
    assert!(d["finished"].is_string());
    assert_eq!(d["statistics"]["status"]["success"], 1);
    let (_, _, stats) = server
        .send(Method::GET, &format!("/api/management/v1/deployments/deployments/{dep}/statistics"), None)
        .await;
    assert_eq!(stats["success"], 1);
    assert_eq!(stats["pending"], 0);
    assert_eq!(dev.next("release-1").await.0, 204, "nothing left to do");

    // Already installed: the server finishes the device's part itself.
    let again = deploy(&server, "again", &[&device_id], 0).await;
    assert_eq!(dev.next("release-1").await.0, 204);
    let (_, _, devices) = server
        .send(Method::GET, &format!("/api/management/v1/deployments/deployments/{again}/devices"), None)
        .await;
    assert_eq!(devices[0]["status"], "already-installed");

    // The device's history, newest first.
    let (_, _, history) = server
        .send(Method::GET, &format!("/api/management/v1/deployments/deployments/devices/{device_id}"), None)
        .await;
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["deployment"]["id"], json!(again));

    // A management token is not a device token, nor the reverse.
    let as_device = server
        .http
        .get(format!("{}/api/management/v1/deployments/deployments", server.base))
        .bearer_auth(&dev.token)
        .send()
        .await
        .unwrap();
    assert_eq!(as_device.status(), 401);
}

#[tokio::test]
async fn retries_aborts_logs_and_artifact_deletion_follow_menders_rules() {
    let server = Server::start().await;
    let (status, location) = upload(&server, ARTIFACT.to_vec(), "").await;
    assert_eq!(status, 201);
    let artifact_id = location.rsplit('/').next().unwrap().to_owned();
    let (device_id, token) = server.accepted_device().await;
    let dev = Device { server: &server, token };

    // One retry: the first failure hands the deployment out again, the second ends it.
    let dep = deploy(&server, "retry", &[&device_id], 1).await;
    assert_eq!(dev.next("factory-image").await.0, 200);
    assert_eq!(dev.status(&dep, "installing").await, 204);
    assert_eq!(dev.status(&dep, "failure").await, 204);
    let (status, next) = dev.next("factory-image").await;
    assert_eq!((status, next["id"].clone()), (200, json!(dep)));
    assert_eq!(dev.status(&dep, "installing").await, 204);
    assert_eq!(dev.status(&dep, "failure").await, 204);
    assert_eq!(dev.next("factory-image").await.0, 204);

    // The failed device's log, as the client uploads it and as Mender serves it.
    let url = format!("{}/api/devices/v1/deployments/device/deployments/{dep}/log", server.base);
    let log = json!({ "messages": [
        { "timestamp": "2026-11-25T13:10:38Z", "level": "info", "message": "Installing" },
        { "timestamp": "2026-11-25T13:10:39.5Z", "level": "error", "message": "exit status 3" },
    ]});
    assert_eq!(server.http.put(&url).bearer_auth(&dev.token).json(&log).send().await.unwrap().status(), 204);
    let empty = json!({ "messages": [] });
    assert_eq!(
        server.http.put(&url).bearer_auth(&dev.token).json(&empty).send().await.unwrap().status(),
        400
    );
    let huge = json!({ "messages": [{ "timestamp": "2026-11-25T13:10:38Z", "level": "info", "message": "x".repeat(600_000) }] });
    assert!(
        server
            .http
            .put(&url)
            .bearer_auth(&dev.token)
            .json(&huge)
            .send()
            .await
            .unwrap()
            .status()
            .is_client_error()
    );
    let res = server
        .http
        .get(format!(
            "{}/api/management/v1/deployments/deployments/{dep}/devices/{device_id}/log",
            server.base
        ))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.text().await.unwrap(),
        "2026-11-25 13:10:38 +0000 UTC info: Installing\n2026-11-25 13:10:39 +0000 UTC error: exit status 3\n"
    );
    let (_, _, d) =
        server.send(Method::GET, &format!("/api/management/v1/deployments/deployments/{dep}"), None).await;
    assert_eq!(
        (d["status"].clone(), d["statistics"]["status"]["failure"].clone()),
        (json!("finished"), json!(1))
    );

    // Abort: the device is told with 409; the artifact cannot go while a deployment is active.
    let aborted = deploy(&server, "abort", &[&device_id], 0).await;
    let artifact_path = format!("/api/management/v1/deployments/artifacts/{artifact_id}");
    assert_eq!(server.delete(&artifact_path).await, 409);
    assert_eq!(dev.next("factory-image").await.0, 200);
    assert_eq!(dev.status(&aborted, "downloading").await, 204);
    let abort = json!({ "status": "aborted" });
    let path = format!("/api/management/v1/deployments/deployments/{aborted}/status");
    assert_eq!(server.send(Method::PUT, &path, Some(abort.clone())).await.0, 204);
    assert_eq!(server.send(Method::PUT, &path, Some(abort)).await.0, 422);
    assert_eq!(dev.status(&aborted, "installing").await, 409);
    let (_, _, d) = server
        .send(Method::GET, &format!("/api/management/v1/deployments/deployments/{aborted}"), None)
        .await;
    assert_eq!(
        (d["status"].clone(), d["statistics"]["status"]["aborted"].clone()),
        (json!("finished"), json!(1))
    );

    assert_eq!(server.delete(&artifact_path).await, 204);
    assert_eq!(server.send(Method::GET, &artifact_path, None).await.0, 404);
    assert_eq!(walk(&server.conn.data_dir.join("artifacts")), 0, "the file went with it");

    // Another device's deployment is not this device's; decommissioning finishes a device's
    // pending deployments.
    let (status, location) = upload(&server, ARTIFACT.to_vec(), "again").await;
    assert_eq!(status, 201, "{location}");
    let pending = deploy(&server, "pending", &[&device_id], 0).await;
    let someone_else = crate::hardening_input::validation::preauthorized(&server, "02:00:00:00:00:99").await;
    let other = deploy(&server, "other", &[&someone_else], 0).await;
    assert_eq!(dev.status(&other, "downloading").await, 404);
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{device_id}")).await, 204);
    let (_, _, d) = server
        .send(Method::GET, &format!("/api/management/v1/deployments/deployments/{pending}"), None)
        .await;
    assert_eq!(
        (d["status"].clone(), d["statistics"]["status"]["decommissioned"].clone()),
        (json!("finished"), json!(1))
    );
}

/// Regular files under `dir`, not counting unfinished uploads.
fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 })
        .sum()
}
