//! The real Debian `mender-client` is accepted, then decommissioned: a webhook receiver started
//! here gets `device-provisioned`, `device-status-changed` and `device-decommissioned`, signed
//! with the integration's secret, and iot-manager's events list shows them delivered. Needs
//! root and the client (see `mender_client`); run under `flock /tmp/fleetlog-mender.lock`.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::mender_client::{Device, admit_real_client, clients_available, install_client_files};
use crate::server::Server;
use crate::webhooks::{LIFECYCLE, Receiver, SECRET};

#[tokio::test]
async fn a_real_client_accepted_then_decommissioned_reaches_the_webhook_signed() {
    if !clients_available() {
        return;
    }
    install_client_files();
    let receiver = Receiver::start().await;
    let server = Server::start().await;
    let body = json!({
        "provider": "webhook",
        "credentials": { "type": "http", "http": { "url": receiver.url(), "secret": SECRET } },
    });
    let (status, headers, _) =
        server.send(Method::POST, "/api/management/v1/iot-manager/integrations", Some(body)).await;
    assert_eq!(status, 201);
    let integration = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();

    let client = Device::new(&server.base, "02:fe:00:00:15:01");
    let id = admit_real_client(&server, &client).await;
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{id}")).await, 204);

    // Every delivery's signature is checked by the receiver's reader.
    let got = receiver.wait_for(&LIFECYCLE, Duration::from_secs(30)).await;
    let provisioned = &got.iter().find(|(t, _)| t == "device-provisioned").unwrap().1;
    assert_eq!(provisioned["id"], id.as_str());
    assert_eq!(provisioned["auth_sets"][0]["identity_data"]["mac"], "02:fe:00:00:15:01");
    assert!(provisioned["auth_sets"][0]["pubkey"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
    for _ in 0..100 {
        let (_, events) =
            server.get(&format!("/api/management/v1/iot-manager/events?integration_id={integration}")).await;
        let delivered = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["delivery_statuses"][0]["success"] == true)
            .count();
        if delivered == 3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the events list does not show the three deliveries");
}
