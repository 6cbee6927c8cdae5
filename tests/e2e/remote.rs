//! Device configuration through the management and device APIs, and (with the real
//! mender-connect) remote terminal, file transfer and port forwarding.

use reqwest::Method;
use serde_json::json;

use crate::server::{Server, captured};

#[tokio::test]
async fn a_configuration_set_by_an_operator_is_read_by_the_device() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
    server.auth_request(&body, &signature).await;
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let id = devices[0]["id"].as_str().unwrap().to_owned();
    let set = devices[0]["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    let (_, token) = server.auth_request(&body, &signature).await;

    let path = format!("/api/management/v1/deviceconfig/configurations/device/{id}");
    let wanted = json!({ "timezone": "Europe/Oslo", "ntp": "pool.example" });
    assert_eq!(server.send(Method::PUT, &path, Some(wanted.clone())).await.0, 204);
    let device_url = format!("{}/api/devices/v1/deviceconfig/configuration", server.base);
    let got: serde_json::Value =
        server.http.get(&device_url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, wanted);

    // The device reports what it applied; the operator sees both.
    let applied = json!({ "timezone": "Europe/Oslo" });
    let res = server.http.put(&device_url).bearer_auth(&token).json(&applied).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let (_, _, config) = server.send(Method::GET, &path, None).await;
    assert_eq!(config["configured"], wanted);
    assert_eq!(config["reported"], applied);
    assert!(config["reported_ts"].is_string() && config["updated_ts"].is_string());

    // Setting the same again records nothing; bad values record nothing either.
    let before = server.state.commands.store().last_seq().await.unwrap();
    assert_eq!(server.send(Method::PUT, &path, Some(wanted)).await.0, 204);
    assert_eq!(server.send(Method::PUT, &path, Some(json!({ "n": 1 }))).await.0, 400);
    assert_eq!(server.send(Method::PUT, &path, Some(json!(["x"]))).await.0, 400);
    let many: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(server.send(Method::PUT, &path, Some(serde_json::Value::Object(many))).await.0, 400);
    assert_eq!(server.state.commands.store().last_seq().await.unwrap(), before);
    let unknown = "/api/management/v1/deviceconfig/configurations/device/nope";
    assert_eq!(server.send(Method::PUT, unknown, Some(json!({}))).await.0, 404);
    // A user token on the device route, and a device token on the management one.
    assert_eq!(server.http.get(&device_url).bearer_auth(&server.token).send().await.unwrap().status(), 401);
    let res = server.http.get(format!("{}{path}", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_real_mender_connect_connects_and_its_state_shows_in_inventory() {
    if !crate::mender_client::clients_available() {
        return;
    }
    let server = Server::start().await;
    let device = crate::connect_env::connect_real_device(&server, &server.base, "02:fe:00:00:02:01").await;
    let (_, doc) = server.get(&format!("/api/management/v1/inventory/devices/{}", device.id)).await;
    let status =
        doc["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "connection_status").cloned();
    assert_eq!(status.unwrap()["value"], "connected");
    drop(device);
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, status) = server
            .get(&format!("/api/management/v1/deviceconnect/devices/{}", doc["id"].as_str().unwrap()))
            .await;
        last = status["status"].clone();
        if last == "disconnected" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last, "disconnected");
}
