//! The real Debian `mender-client` 3.4 and `mender-cli` 1.9 against fleetlog: the client asks
//! (401, pending), an operator accepts it, the client gets its token; `mender-cli` logs in and
//! lists the device. The clients need root and fixed paths (`make test` installs them).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Once;

use serde_json::Value;
use tokio::process::Command;

use crate::server::Server;

/// False (and the test is skipped with a note) where the clients cannot run, unless
/// `FLEETLOG_REQUIRE_MENDER` is set, as `make test` does as root: then it is a failure.
pub(super) fn clients_available() -> bool {
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let root = uid.is_ok_and(|u| u == "0");
    let installed = Path::new("/usr/bin/mender").exists() && Path::new("/usr/bin/mender-cli").exists();
    if root && installed {
        return true;
    }
    assert!(
        std::env::var_os("FLEETLOG_REQUIRE_MENDER").is_none(),
        "mender clients required but not runnable"
    );
    eprintln!("SKIP: the Mender clients need root and `make setup`");
    false
}

/// The client's fixed files: current artifact name and an identity script driven by the
/// environment, so that every simulated device has its own identity.
pub(super) fn install_client_files() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::fs::create_dir_all("/etc/mender").unwrap();
        if !Path::new("/etc/mender/artifact_info").exists() {
            std::fs::write("/etc/mender/artifact_info", "artifact_name=factory-image\n").unwrap();
        }
        let script = "#!/bin/sh\necho \"mac=${MENDER_TEST_MAC:-02:00:00:00:00:01}\"\necho \"serial=${MENDER_TEST_SERIAL:-test-0001}\"\n";
        // The inventory script the Debian package ships as an example (kernel, hostname,
        // memory, CPU), installed where the client runs inventory scripts from.
        let example = Path::new("/usr/share/doc/mender-client/examples/mender-inventory-hostinfo");
        let inventory = Path::new("/usr/share/mender/inventory/mender-inventory-hostinfo");
        std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
        std::fs::copy(example, inventory).expect("the client's example inventory script");
        let path = Path::new("/usr/share/mender/identity/mender-device-identity");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if std::fs::read_to_string(path).ok().as_deref() != Some(script) {
            std::fs::write(path, script).unwrap();
            std::process::Command::new("chmod").args(["755", path.to_str().unwrap()]).status().unwrap();
        }
    });
}

/// One simulated device: its own data dir, config and MAC.
pub(super) struct Device {
    pub(super) dir: tempfile::TempDir,
    pub(super) mac: String,
}

impl Device {
    pub(super) fn new(server: &str, mac: &str) -> Device {
        Self::with_ca(server, mac, None)
    }

    /// A device whose `ServerCertificate` is `ca` (for a server on https with a private CA).
    pub(super) fn with_ca(server: &str, mac: &str, ca: Option<&Path>) -> Device {
        // Every device runs the identity script: a test must not depend on another having
        // installed it first (on a fresh machine the cluster test once ran before all others).
        install_client_files();
        let dir = tempfile::tempdir().unwrap();
        let mut conf = serde_json::json!({
            "ServerURL": server,
            "TenantToken": "",
            "UpdatePollIntervalSeconds": 5,
            "InventoryPollIntervalSeconds": 5,
            "RetryPollIntervalSeconds": 5,
            "DeviceTypeFile": dir.path().join("device_type"),
            "DBus": { "Enabled": false },
        });
        if let Some(ca) = ca {
            conf["ServerCertificate"] = ca.to_str().unwrap().into();
        }
        std::fs::write(dir.path().join("mender.conf"), conf.to_string()).unwrap();
        std::fs::write(dir.path().join("device_type"), "device_type=test-device\n").unwrap();
        Device { dir, mac: mac.into() }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The client's daemon (polls, reports inventory, installs), killed when dropped.
    pub(super) fn daemon(&self) -> tokio::process::Child {
        Command::new("mender")
            .args(["--no-syslog", "--config"])
            .arg(self.path("mender.conf"))
            .arg("--data")
            .arg(self.dir.path())
            .arg("daemon")
            .env("MENDER_TEST_MAC", &self.mac)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// `mender bootstrap`: one auth request; true when the server issued a token.
    pub(super) async fn bootstrap(&self) -> bool {
        let out = Command::new("mender")
            .args(["--no-syslog", "--config"])
            .arg(self.path("mender.conf"))
            .arg("--data")
            .arg(self.dir.path())
            .arg("bootstrap")
            .env("MENDER_TEST_MAC", &self.mac)
            .output()
            .await
            .unwrap();
        log("mender bootstrap", &out);
        out.status.success()
    }
}

pub(super) fn log(what: &str, out: &Output) {
    eprintln!(
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn device_with_mac(server: &Server, mac: &str) -> Value {
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["identity_data"]["mac"] == mac)
        .cloned()
        .expect("device listed")
}

pub(super) async fn admit_real_client(server: &Server, device: &Device) -> String {
    assert!(!device.bootstrap().await, "a new device is pending: no token yet");
    let listed = device_with_mac(server, &device.mac).await;
    assert_eq!(listed["status"], "pending");
    let (id, set) = (listed["id"].as_str().unwrap(), listed["auth_sets"][0]["id"].as_str().unwrap());
    assert_eq!(server.set_status(id, set, "accepted").await, 204);
    assert!(device.bootstrap().await, "the accepted client gets its token");
    // The client re-authenticates on every start: idempotent.
    assert!(device.bootstrap().await);
    let again = device_with_mac(server, &device.mac).await;
    assert_eq!(again["auth_sets"].as_array().unwrap().len(), 1);
    id.to_owned()
}

#[tokio::test]
async fn the_real_mender_client_gets_a_token_once_accepted_and_mender_cli_lists_it() {
    if !clients_available() {
        return;
    }
    install_client_files();
    let server = Server::start().await;

    // The client's own key: RSA 3072, generated on first start.
    let rsa = Device::new(&server.base, "02:fe:00:00:00:01");
    let rsa_id = admit_real_client(&server, &rsa).await;
    assert!(std::fs::read_to_string(rsa.path("mender-agent.pem")).unwrap().contains("RSA PRIVATE KEY"));

    // The daemon reports its inventory once authenticated.
    let mut daemon = rsa.daemon();
    let mut inventory = Value::Null;
    for _ in 0..300 {
        let (_, device) = server.get(&format!("/api/management/v1/inventory/devices/{rsa_id}")).await;
        if device["attributes"].as_array().is_some_and(|a| a.iter().any(|a| a["name"] == "device_type")) {
            inventory = device["attributes"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = daemon.kill().await;
    let value = |name: &str| {
        inventory.as_array().and_then(|a| a.iter().find(|x| x["name"] == name)).map(|x| x["value"].clone())
    };
    assert_eq!(value("device_type"), Some(Value::from("test-device")), "inventory reported: {inventory}");
    assert_eq!(value("artifact_name"), Some(Value::from("factory-image")));
    assert!(value("mender_client_version").is_some());
    assert!(value("kernel").is_some_and(|k| k.as_str().unwrap().starts_with("Linux")), "{inventory}");
    // The client sends every script value as text, numbers included.
    assert!(value("mem_total_kB").is_some_and(|m| m.as_str().unwrap().parse::<u64>().is_ok()), "{inventory}");

    // Searchable: v1 by attribute, v2 with two filters.
    let (_, found) = server.get("/api/management/v1/inventory/devices?device_type=test-device").await;
    assert_eq!(found[0]["id"], Value::from(rsa_id.as_str()));
    let search = serde_json::json!({ "filters": [
        { "scope": "inventory", "attribute": "artifact_name", "type": "$eq", "value": "factory-image" },
        { "scope": "inventory", "attribute": "kernel", "type": "$regex", "value": "^Linux" },
    ]});
    let url = format!("{}/api/management/v2/inventory/filters/search", server.base);
    let found: Value = server
        .http
        .post(url)
        .bearer_auth(&server.token)
        .json(&search)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found[0]["id"], Value::from(rsa_id.as_str()));

    // A provisioned Ed25519 key.
    let ed = Device::new(&server.base, "02:fe:00:00:00:02");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(ed.path("mender-agent.pem"))
        .status()
        .unwrap();
    assert!(status.success());
    let ed_id = admit_real_client(&server, &ed).await;
    let listed = device_with_mac(&server, &ed.mac).await;
    assert!(
        listed["auth_sets"][0]["pubkey"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2Vw")
    );

    // mender-cli logs in and lists both devices.
    let home = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        Command::new("mender-cli")
            .arg("--server")
            .arg(&server.base)
            .args(args)
            .env("HOME", home.path())
            .output()
    };
    let out =
        cli(&["login", "--username", "admin@example.com", "--password", "secret-password"]).await.unwrap();
    log("mender-cli login", &out);
    assert!(out.status.success());
    let out = cli(&["devices", "list"]).await.unwrap();
    log("mender-cli devices list", &out);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&rsa_id) && text.contains(&ed_id), "{text}");
}
