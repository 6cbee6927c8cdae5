//! A real update, end to end: an artifact made by `mender-artifact` 3.9 (through the client's
//! own `single-file-artifact-gen`), uploaded with the real `mender-cli` 1.9, deployed through
//! the management API, downloaded, installed and reported by the real `mender-client` 3.4;
//! then a `script` artifact that fails, whose log the operator reads back. Once on local
//! storage, once on S3 (a real SeaweedFS).

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::mender_client::{Device, admit_real_client, clients_available, log};
use crate::server::Server;

/// Runs a shell command line; panics with its output on failure.
pub(super) async fn sh(line: &str, dir: &Path) {
    let out = Command::new("sh").arg("-c").arg(line).current_dir(dir).output().await.unwrap();
    log(line, &out);
    assert!(out.status.success(), "{line}");
}

/// `mender-cli` logged in as the admin, with its own home.
pub(super) struct Cli {
    pub(super) base: String,
    pub(super) home: tempfile::TempDir,
    /// The CA of the server's certificate, trusted through `SSL_CERT_FILE` (Go reads it).
    pub(super) ca: Option<std::path::PathBuf>,
}

impl Cli {
    pub(super) async fn new(server: &Server) -> Cli {
        let home = tempfile::tempdir().unwrap();
        let cli = Cli { base: server.base.clone(), home, ca: server.ca.clone() };
        cli.run(&["login", "--username", "admin@example.com", "--password", "secret-password"]).await;
        cli
    }

    pub(super) async fn run(&self, args: &[&str]) -> String {
        let out = Command::new("mender-cli")
            .arg("--server")
            .arg(&self.base)
            .args(args)
            .envs(self.env())
            .output()
            .await
            .unwrap();
        log(&format!("mender-cli {args:?}"), &out);
        assert!(out.status.success(), "mender-cli {args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// The environment mender-cli runs with: its home, and the server's CA if any.
    pub(super) fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        let mut env = vec![("HOME", self.home.path().as_os_str().to_owned())];
        if let Some(ca) = &self.ca {
            env.push(("SSL_CERT_FILE", ca.as_os_str().to_owned()));
        }
        env
    }
}

/// Deploys `artifact_name` to `device` and waits until the deployment finishes.
pub(super) async fn deploy_and_wait(server: &Server, name: &str, artifact_name: &str, device: &str) -> Value {
    let body = json!({ "name": name, "artifact_name": artifact_name, "devices": [device] });
    let (status, headers, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let location = headers["location"].to_str().unwrap().to_owned();
    for _ in 0..600 {
        let (_, _, d) = server.send(Method::GET, &location, None).await;
        if d["status"] == "finished" {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, _, d) = server.send(Method::GET, &location, None).await;
    panic!("deployment {name} did not finish: {d}");
}

pub(super) async fn update_end_to_end(server: &Server, mac: &str) {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(work.path().join("app.conf"), format!("payload for {mac}\n")).unwrap();
    let generator = "/usr/share/doc/mender-client/examples/single-file-artifact-gen";
    sh(
        &format!(
            "sh {generator} -n release-3 -t test-device -d {} -o release-3.mender app.conf",
            target.display()
        ),
        work.path(),
    )
    .await;
    sh("printf '#!/bin/sh\\necho failing on purpose\\nexit 3\\n' > fail.sh && mender-artifact write module-image -T script -n fail-1 -t test-device -f fail.sh -o fail-1.mender", work.path()).await;

    let cli = Cli::new(server).await;
    for file in ["release-3.mender", "fail-1.mender"] {
        let path = work.path().join(file);
        cli.run(&["artifacts", "upload", "--description", "e2e", "--no-progress", path.to_str().unwrap()])
            .await;
    }
    let listed = cli.run(&["artifacts", "list"]).await;
    assert!(listed.contains("release-3") && listed.contains("fail-1"), "{listed}");

    let device = Device::with_ca(&server.base, mac, server.ca.as_deref());
    let key = device.path("mender-agent.pem");
    sh(&format!("openssl genpkey -algorithm ed25519 -out {}", key.display()), work.path()).await;
    let id = admit_real_client(server, &device).await;
    let mut daemon = device.daemon();

    let done = deploy_and_wait(server, "e2e-success", "release-3", &id).await;
    assert_eq!(done["statistics"]["status"]["success"], 1, "{done}");
    assert_eq!(done["device_count"], 1);
    assert_eq!(std::fs::read_to_string(target.join("app.conf")).unwrap(), format!("payload for {mac}\n"));
    // The client reports its new artifact in its inventory.
    let mut reported = Value::Null;
    for _ in 0..100 {
        let (_, d) = server.get(&format!("/api/management/v1/inventory/devices/{id}")).await;
        reported = d["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "artifact_name"))
            .map(|x| x["value"].clone())
            .unwrap_or_default();
        if reported == "release-3" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(reported, "release-3");

    // An artifact generated by the server (Mender's create-artifact-worker) installs too.
    let form = reqwest::multipart::Form::new()
        .text("name", "release-4")
        .text("description", "generated")
        .text("device_types_compatible", "test-device")
        .text("type", "single_file")
        .text("args", json!({ "dest_dir": target.display().to_string() }).to_string())
        .part("file", reqwest::multipart::Part::bytes(b"generated payload\n".to_vec()).file_name("gen.conf"));
    let res = server
        .http
        .post(format!("{}/api/management/v1/deployments/artifacts/generate", server.base))
        .bearer_auth(&server.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, _, link) = server.send(Method::GET, &format!("{location}/download"), None).await;
    let bytes = server.http.get(link["uri"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    std::fs::write(work.path().join("generated.mender"), &bytes).unwrap();
    sh("mender-artifact read generated.mender | grep -q release-4", work.path()).await;
    let generated = deploy_and_wait(server, "e2e-generated", "release-4", &id).await;
    assert_eq!(generated["statistics"]["status"]["success"], 1, "{generated}");
    assert_eq!(std::fs::read_to_string(target.join("gen.conf")).unwrap(), "generated payload\n");

    let failed = deploy_and_wait(server, "e2e-failure", "fail-1", &id).await;
    assert_eq!(failed["statistics"]["status"]["failure"], 1, "{failed}");
    let dep = failed["id"].as_str().unwrap();
    let mut text = String::new();
    for _ in 0..100 {
        let res = server
            .http
            .get(format!("{}/api/management/v1/deployments/deployments/{dep}/devices/{id}/log", server.base))
            .bearer_auth(&server.token)
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            text = res.text().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = daemon.kill().await;
    assert!(text.lines().count() > 3, "the device's deployment log: {text}");
    assert!(text.contains("UTC"), "{text}");
}

#[tokio::test]
async fn the_real_client_installs_an_update_from_local_storage() {
    if !clients_available() {
        return;
    }
    let server = Server::start().await;
    update_end_to_end(&server, "02:fe:00:00:01:01").await;
}

#[tokio::test]
async fn the_real_client_installs_an_update_from_s3() {
    if !clients_available() {
        return;
    }
    let Some(weed) =
        fleetlog_storage::testing::SeaweedFs::start_or_skip("the_real_client_installs_an_update_from_s3")
    else {
        return;
    };
    let config = weed.storage_config("fleetlog-e2e");
    let server = Server::start_with(|args| args.storage = config).await;
    update_end_to_end(&server, "02:fe:00:00:01:02").await;
    // The artifacts are in the bucket, not on the local disk.
    assert!(
        !server.conn.data_dir.join("artifacts").exists()
            || std::fs::read_dir(server.conn.data_dir.join("artifacts")).unwrap().count() == 0
    );
}
