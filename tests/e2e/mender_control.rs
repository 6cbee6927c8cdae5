//! Update control maps with the real `mender-client` 3.4: a deployment whose map pauses before
//! rebooting leaves the device at `pause_before_rebooting` with the payload installed but not
//! committed (past the map's expiry, so the client's refreshes of the map work); the operator's
//! continue finishes it with `success`, a fail ends it with `failure` and a rollback.
//!
//! The artifacts use a small update module that asks for a reboot (the single-file module does
//! not, so the client would never enter `ArtifactReboot`), stages the payload on install, and
//! moves it in place on commit; its "reboot" does nothing, so the test machine stays up.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::mender_client::{Device, admit_real_client, clients_available};
use crate::mender_update::sh;
use crate::server::Server;

const MODULE: &str = "fleetlog-reboot-test";
const DEPLOYMENTS: &str = "/api/management/v1/deployments/deployments";

/// The update module: `dest` comes from the artifact's meta-data.
const MODULE_SCRIPT: &str = r#"#!/bin/sh
state="$1"; files="$2"
dest=$(sed -n 's/.*"dest": *"\([^"]*\)".*/\1/p' "$files/header/meta-data")
case "$state" in
  NeedsArtifactReboot) echo Yes ;;
  SupportsRollback) echo Yes ;;
  ArtifactInstall) cp "$files/files/payload" "$dest.staged" ;;
  ArtifactCommit) mv "$dest.staged" "$dest" ;;
  ArtifactRollback) rm -f "$dest.staged"; echo rolled-back > "$dest.rollback" ;;
esac
exit 0
"#;

fn install_module() {
    let dir = Path::new("/usr/share/mender/modules/v3");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(MODULE);
    std::fs::write(&path, MODULE_SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes artifact `name` installing `payload` to `dest` through the module.
async fn artifact(work: &Path, name: &str, dest: &Path) -> Vec<u8> {
    std::fs::write(work.join("payload"), format!("payload of {name}\n")).unwrap();
    std::fs::write(work.join("meta.json"), json!({ "dest": dest }).to_string()).unwrap();
    sh(
        &format!("mender-artifact write module-image -T {MODULE} -n {name} -t test-device -f payload -m meta.json -o {name}.mender"),
        work,
    )
    .await;
    std::fs::read(work.join(format!("{name}.mender"))).unwrap()
}

async fn part_status(server: &Server, dep: &str) -> Value {
    let (_, devices) = server.get(&format!("{DEPLOYMENTS}/{dep}/devices")).await;
    devices[0]["status"].clone()
}

async fn wait_status(server: &Server, dep: &str, want: &str) {
    for _ in 0..600 {
        if part_status(server, dep).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("device never reached {want}: {}", part_status(server, dep).await);
}

async fn deploy_paused(server: &Server, name: &str, device: &str) -> String {
    let map = json!({ "states": { "ArtifactReboot_Enter": { "action": "pause" } } });
    let body = json!({ "name": name, "artifact_name": name, "devices": [device], "update_control_map": map });
    let (status, headers, err) = server.send(Method::POST, DEPLOYMENTS, Some(body)).await;
    assert_eq!(status, 201, "{err}");
    headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

async fn set_reboot_action(server: &Server, dep: &str, action: &str) {
    let body =
        json!({ "update_control_map": { "states": { "ArtifactReboot_Enter": { "action": action } } } });
    let (status, _, err) = server.send(Method::PATCH, &format!("{DEPLOYMENTS}/{dep}"), Some(body)).await;
    assert_eq!(status, 204, "{err}");
}

#[tokio::test]
async fn the_real_client_pauses_before_rebooting_until_the_operator_continues_or_fails() {
    if !clients_available() {
        return;
    }
    install_module();
    let server = Server::start().await;
    let work = tempfile::tempdir().unwrap();
    let (kept, dropped) = (work.path().join("kept.conf"), work.path().join("dropped.conf"));
    for (name, dest) in [("ucm-continue", &kept), ("ucm-fail", &dropped)] {
        let bytes = artifact(work.path(), name, dest).await;
        assert_eq!(crate::deployments::upload(&server, bytes, "control map").await.0, 201);
    }
    let device = Device::new(&server.base, "02:fe:00:00:0c:01");
    let key = device.path("mender-agent.pem");
    sh(&format!("openssl genpkey -algorithm ed25519 -out {}", key.display()), work.path()).await;
    let id = admit_real_client(&server, &device).await;
    let mut daemon = device.daemon();

    // Paused before rebooting: installed (staged), not committed — and still paused after the
    // map's expiry (10 s at a 5 s poll interval), so the client refreshed it from the server.
    let dep = deploy_paused(&server, "ucm-continue", &id).await;
    wait_status(&server, &dep, "pause_before_rebooting").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(part_status(&server, &dep).await, "pause_before_rebooting");
    assert!(Path::new(&format!("{}.staged", kept.display())).exists() && !kept.exists());
    set_reboot_action(&server, &dep, "continue").await;
    wait_status(&server, &dep, "success").await;
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "payload of ucm-continue\n");

    // Failing the paused step: the client rolls back and reports failure.
    let dep = deploy_paused(&server, "ucm-fail", &id).await;
    wait_status(&server, &dep, "pause_before_rebooting").await;
    set_reboot_action(&server, &dep, "fail").await;
    wait_status(&server, &dep, "failure").await;
    let _ = daemon.kill().await;
    assert!(!dropped.exists(), "the failed payload is not committed");
    assert!(Path::new(&format!("{}.rollback", dropped.display())).exists(), "the module rolled back");
}
