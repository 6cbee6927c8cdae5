//! devicemonitor end to end: a device (its real captured identity, accepted) posts alerts; they
//! appear in its alert list, the latest per check, the fleet's alerting devices, the inventory's
//! `monitor` scope (searchable) and, signed, at a webhook that asked for `device-alert`. Bad
//! alerts are clear 4xx and store nothing; a rejected device cannot post.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::server::Server;
use crate::webhooks::{Receiver, SECRET};

fn alert(name: &str, level: &str) -> Value {
    json!({
        "name": name,
        "level": level,
        "subject": { "name": name, "type": "service", "status": "not-running", "details": { "description": "down" } },
        "timestamp": "2026-12-07T12:00:00Z",
    })
}

async fn post(server: &Server, token: &str, body: Value) -> (u16, Value) {
    let res = server
        .http
        .post(format!("{}/api/devices/v1/devicemonitor/alert", server.base))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn alerts_reach_the_device_list_the_monitor_scope_and_a_webhook() {
    let receiver = Receiver::start().await;
    let server = Server::start().await;
    let body = json!({
        "provider": "webhook",
        "credentials": { "type": "http", "http": { "url": receiver.url(), "secret": SECRET } },
        "event_types": ["device-alert"],
    });
    let (status, _, _) =
        server.send(Method::POST, "/api/management/v1/iot-manager/integrations", Some(body)).await;
    assert_eq!(status, 201);
    let (device, token) = server.accepted_device().await;

    assert_eq!(
        post(&server, &token, json!([alert("sshd", "CRITICAL"), alert("disk", "CRITICAL")])).await.0,
        204
    );
    assert_eq!(post(&server, &token, alert("disk", "OK")).await.0, 204);
    // Bad alerts: the whole request is refused, nothing stored.
    let huge = json!({ "name": "x", "level": "OK", "subject": { "name": "x", "details": "y".repeat(5000) }, "timestamp": 1 });
    for bad in
        [json!([alert("a", "OK"), alert("b", "WARNING")]), huge, json!({"name": "a"}), json!([]), json!("x")]
    {
        let (status, body) = post(&server, &token, bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["error"].is_string() && body["request_id"].is_string());
    }

    let base = format!("/api/management/v1/devicemonitor/devices/{device}");
    let (status, alerts) = server.get(&format!("{base}/alerts")).await;
    assert_eq!(status, 200);
    let seen: Vec<(&str, &str)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("disk", "OK"), ("disk", "CRITICAL"), ("sshd", "CRITICAL")],
        "newest first, nothing of the bad ones"
    );
    assert_eq!(alerts[2]["subject"]["details"]["description"], "down");
    assert_eq!(alerts[2]["timestamp"], "2026-12-07T12:00:00Z");
    let (_, page) = server.get(&format!("{base}/alerts?page=2&per_page=2")).await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    let (_, latest) = server.get(&format!("{base}/alerts/latest")).await;
    assert_eq!(latest.as_array().unwrap().len(), 2);
    let (_, alerting) = server.get("/api/management/v1/devicemonitor/devices/alerting").await;
    assert_eq!(alerting, json!([{"device_id": device, "alerts": 1, "alert_count": 3, "critical": ["sshd"]}]));

    // The inventory's monitor scope, and a search on it.
    let (_, doc) = server.get(&format!("/api/management/v1/inventory/devices/{device}")).await;
    let monitor: Vec<&Value> =
        doc["attributes"].as_array().unwrap().iter().filter(|a| a["scope"] == "monitor").collect();
    assert!(monitor.iter().any(|a| a["name"] == "alerts" && a["value"].as_f64() == Some(1.0)), "{doc}");
    let search =
        json!({ "filters": [{ "scope": "monitor", "attribute": "alerts", "type": "$gt", "value": 0 }] });
    let (status, _, found) =
        server.send(Method::POST, "/api/management/v2/inventory/filters/search", Some(search)).await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");

    // The webhook got each alert, signed, and nothing else (it asked for device-alert only).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = receiver.events();
        if events.len() >= 3 {
            assert!(
                events.iter().all(|(kind, data)| kind == "device-alert" && data["id"] == device.as_str())
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "alerts not delivered: {events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A rejected device cannot post.
    let (_, devices) = server.get(&format!("/api/management/v2/devauth/devices/{device}")).await;
    let set = devices["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(server.set_status(&device, &set, "rejected").await, 204);
    assert_eq!(post(&server, &token, alert("sshd", "OK")).await.0, 401);
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        server.get(&format!("/api/management/v1/devicemonitor/devices/{unknown}/alerts")).await.0,
        404
    );
}
