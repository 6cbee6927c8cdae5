//! The real Mender clients against fleetlog on https: `mender-client` 3.4 with
//! `ServerURL=https://127.0.0.1:PORT` and `ServerCertificate` = the CA of `fleetlog admin
//! gen-cert` onboards, reports its inventory and installs updates; with a certificate it does
//! not trust it refuses to talk and the server stays healthy; `mender-connect` reaches fleetlog
//! over wss through the client's proxy, and `mender-cli` (trusting the CA, or `--skip-verify`)
//! copies a file to the device and runs a terminal.

use std::time::Duration;

use fleetlog_gateway::tls::gencert::CA_CERT;

use crate::mender_client::{Device, clients_available};
use crate::server::Server;

#[tokio::test]
async fn the_real_client_onboards_reports_and_installs_over_https_and_refuses_a_stranger() {
    if !clients_available() {
        return;
    }
    let certs = crate::tls::certs("ecdsa-p256");
    let server = Server::start_tls(certs.path(), |_| {}).await;
    assert!(server.base.starts_with("https://"));

    // A device told to trust another CA refuses the server: no auth request reaches it.
    let other = crate::tls::certs("ecdsa-p256");
    let stranger = Device::with_ca(&server.base, "02:fe:00:00:03:02", Some(&other.path().join(CA_CERT)));
    let refused = tokio::time::timeout(Duration::from_secs(120), stranger.bootstrap()).await;
    assert_eq!(refused.ok(), Some(false), "bootstrap fails against an untrusted certificate");
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    assert_eq!(devices, serde_json::json!([]), "nothing reached the server");
    let res = server.http.get(format!("{}/readyz", server.base)).send().await.unwrap();
    assert_eq!(res.status(), 200, "the server stays healthy");

    // Trusting the right CA: onboarding, inventory, an update installed, a failing one
    // reported with its log — the whole local-storage flow, over https.
    crate::mender_update::update_end_to_end(&server, "02:fe:00:00:03:01").await;
}

#[tokio::test]
async fn mender_connect_over_wss_and_mender_cli_over_https_reach_the_device() {
    if !clients_available() {
        return;
    }
    let certs = crate::tls::certs("ecdsa-p256");
    let server = Server::start_tls(certs.path(), |_| {}).await;
    let device = crate::connect_env::connect_real_device(&server, &server.base, "02:fe:00:00:03:03").await;
    let cli = crate::mender_update::Cli::new(&server).await;
    let (base, id) = (&cli.base, &device.id);

    // A file copied to the device, with mender-cli trusting the CA.
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("up.txt");
    let payload: String = (0..2_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&local, &payload).unwrap();
    let remote = work.path().join("copied.txt");
    let line = format!("mender-cli --server {base} cp {} {id}:{}", local.display(), remote.display());
    let (ok, out) = crate::remote::shell(&cli, &line).await;
    assert!(ok, "{out}");
    assert_eq!(std::fs::read_to_string(&remote).unwrap(), payload, "uploaded over https");

    // A terminal, with mender-cli skipping verification instead (its own WebSocket over TLS).
    let line = format!(
        "printf 'echo tls-$((6*7))\\nexit\\n' | SSL_CERT_FILE=/nonexistent timeout 30 mender-cli -k --server {base} terminal {id}"
    );
    let (ok, out) = crate::remote::shell(&cli, &line).await;
    let connect_log = std::fs::read_to_string(device.device.path("connect.log")).unwrap_or_default();
    assert!(ok, "{out}\n--- mender-connect:\n{connect_log}");
    assert!(out.contains("tls-42"), "{out}");
}

#[tokio::test]
async fn the_real_client_with_a_device_certificate_is_admitted_by_it() {
    if !clients_available() {
        return;
    }
    let certs = crate::tls::certs("ecdsa-p256");
    crate::tls_device::device_certs(certs.path());
    let device_ca = certs.path().join("device-ca.crt");
    let server = Server::start_tls(certs.path(), |args| args.tls.device_client_ca = Some(device_ca)).await;
    let device = Device::with_ca(&server.base, "02:fe:00:00:03:04", server.ca.as_deref());
    // mender.conf's `HttpsClient`: the client certificate and key the device presents.
    let conf_path = device.path("mender.conf");
    let mut conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conf_path).unwrap()).unwrap();
    conf["HttpsClient"] = serde_json::json!({
        "Certificate": certs.path().join("device.crt"),
        "Key": certs.path().join("device.key"),
    });
    std::fs::write(&conf_path, conf.to_string()).unwrap();
    assert!(device.bootstrap().await, "admitted on its first auth request, no operator involved");
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    assert_eq!(devices[0]["status"], "accepted", "{devices}");
    assert_eq!(devices[0]["identity_data"]["mac"], "02:fe:00:00:03:04");
}
