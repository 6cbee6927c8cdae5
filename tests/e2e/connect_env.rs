//! A real device for remote access: mender-client 3.4 with D-Bus on a private system bus and
//! mender-connect 2.1 beside it, both as root, as RECIPE (f) describes. mender-connect reaches
//! fleetlog through the client's local proxy.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::mender_client::{Device, admit_real_client};
use crate::server::Server;

/// A connected real device; its processes stop when it drops.
pub struct Connected {
    /// Device id.
    pub id: String,
    /// The client's files.
    pub device: Device,
    children: Vec<Child>,
    _bus: tempfile::TempDir,
}

impl Drop for Connected {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.start_kill();
        }
    }
}

fn spawn(cmd: &mut Command, log: std::path::PathBuf) -> Child {
    let out = std::fs::File::create(log).unwrap();
    cmd.stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Admits a real client on `base` (the server its proxy dials; a replica's URL works too) and
/// starts mender-connect for it; returns once fleetlog (`server`) sees it connected.
pub async fn connect_real_device(server: &Server, base: &str, mac: &str) -> Connected {
    // On https the device trusts the server's CA (a replica serves the same certificate).
    let device = Device::with_ca(base, mac, server.ca.as_deref());
    let key = device.path("mender-agent.pem");
    let ok = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success());
    let id = admit_real_client(server, &device).await;
    let conf_path = device.path("mender.conf");
    let mut conf: Value = serde_json::from_str(&std::fs::read_to_string(&conf_path).unwrap()).unwrap();
    conf["DBus"]["Enabled"] = true.into();
    std::fs::write(&conf_path, conf.to_string()).unwrap();
    let connect_conf = serde_json::json!({
        "ShellCommand": "/bin/bash",
        "ShellArguments": ["--norc", "--noprofile"],
        "User": "root",
        "ReconnectIntervalSeconds": 2,
    });
    std::fs::write(device.path("mender-connect.conf"), connect_conf.to_string()).unwrap();

    let bus = tempfile::tempdir().unwrap();
    let socket = bus.path().join("system_bus_socket");
    let address = format!("unix:path={}", socket.display());
    let mut children = vec![spawn(
        Command::new("dbus-daemon")
            .args(["--config-file=/usr/share/dbus-1/system.conf", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}")),
        device.path("dbus.log"),
    )];
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    children.push(spawn(
        Command::new("mender")
            .args(["--no-syslog", "--config"])
            .arg(&conf_path)
            .arg("--data")
            .arg(device.dir.path())
            .arg("daemon")
            .env("MENDER_TEST_MAC", mac)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address),
        device.path("mender.log"),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    children.push(spawn(
        Command::new("mender-connect")
            .arg("--config")
            .arg(device.path("mender-connect.conf"))
            .args(["--fallback-config", "/nonexistent", "--debug", "daemon"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address),
        device.path("connect.log"),
    ));
    let connected = Connected { id, device, children, _bus: bus };
    for _ in 0..300 {
        let (_, status) =
            server.get(&format!("/api/management/v1/deviceconnect/devices/{}", connected.id)).await;
        if status["status"] == "connected" {
            // mender-connect reconnects once when the client hands it a fresh token: let
            // that settle, so that a test's session starts on the socket that stays.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (_, again) =
                server.get(&format!("/api/management/v1/deviceconnect/devices/{}", connected.id)).await;
            if again["status"] == "connected" {
                return connected;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs: String = ["mender.log", "connect.log", "dbus.log"]
        .iter()
        .map(|f| {
            format!("--- {f}\n{}\n", std::fs::read_to_string(connected.device.path(f)).unwrap_or_default())
        })
        .collect();
    panic!("mender-connect did not connect:\n{logs}");
}
