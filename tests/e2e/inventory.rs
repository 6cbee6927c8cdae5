//! Inventory, first part: device reports (the captured body of a real client), changes only
//! recorded when something changed, and devices with their attributes by scope.

use serde_json::Value;

use crate::server::Server;

fn captured_inventory() -> String {
    let text = include_str!("../fixtures/captures/01-daemon-noupdate.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["path"] == "/api/devices/v1/inventory/device/attributes")
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .expect("a captured inventory report")
}

fn captured_auth() -> (String, String) {
    let text = include_str!("../fixtures/captures/14-tenant-token.jsonl");
    let r: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["path"] == "/api/devices/v1/authentication/auth_requests")
        .unwrap();
    (r["body"].as_str().unwrap().to_owned(), r["headers"]["X-Men-Signature"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_device_reports_its_inventory_and_only_changes_are_recorded() {
    let server = Server::start().await;
    let (body, signature) = captured_auth();
    server.auth_request(&body, &signature).await;
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let id = devices[0]["id"].as_str().unwrap().to_owned();
    let set = devices[0]["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    let (_, token) = server.auth_request(&body, &signature).await;

    let url = format!("{}/api/devices/v1/inventory/device/attributes", server.base);
    let report = captured_inventory();
    let put = |body: String| {
        server.http.put(&url).bearer_auth(&token).header("Content-Type", "application/json").body(body).send()
    };
    assert_eq!(put(report.clone()).await.unwrap().status(), 200);
    let store = server.state.commands.store();
    let after_first = store.last_seq().await.unwrap();
    // The client reports the same values again, in another order: nothing is appended.
    let mut reordered: Vec<Value> = serde_json::from_str(&report).unwrap();
    reordered.reverse();
    assert_eq!(put(serde_json::to_string(&reordered).unwrap()).await.unwrap().status(), 200);
    assert_eq!(store.last_seq().await.unwrap(), after_first, "an unchanged report appends no event");

    let patch = server
        .http
        .patch(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!([{ "name": "mem_kb", "value": 1024 }, { "name": "ips", "value": ["10.0.2.15/24"] }]))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let mut attrs = Value::Null;
    for _ in 0..100 {
        let (status, device) = server.get(&format!("/api/management/v1/inventory/devices/{id}")).await;
        assert_eq!(status, 200);
        if device["attributes"].as_array().unwrap().iter().any(|a| a["name"] == "mem_kb") {
            attrs = device["attributes"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let find = |name: &str, scope: &str| {
        attrs
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name && a["scope"] == scope)
            .map(|a| a["value"].clone())
    };
    assert_eq!(find("device_type", "inventory"), Some(Value::from("test-device")));
    assert_eq!(find("mem_kb", "inventory"), Some(Value::from(1024.0)));
    assert_eq!(find("update_modules", "inventory").unwrap().as_array().unwrap().len(), 6);
    assert_eq!(find("status", "identity"), Some(Value::from("accepted")));
    assert!(find("mac", "identity").is_some());
    assert!(find("created_ts", "system").is_some());

    let (status, list) = server.get("/api/management/v1/inventory/devices").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    for bad in [
        r#"[{"name":"","value":"x"}]"#,
        r#"[{"name":"a","value":{"nested":1}}]"#,
        r#"[{"name":"a","value":["x",1]}]"#,
        r#"{"name":"a","value":"x"}"#,
    ] {
        assert_eq!(put(bad.to_owned()).await.unwrap().status(), 400, "{bad}");
    }
    let as_user =
        server.http.put(&url).bearer_auth(&server.token).json(&serde_json::json!([])).send().await.unwrap();
    assert_eq!(as_user.status(), 401);
    assert_eq!(store.last_seq().await.unwrap(), after_first + 1, "bad reports stored nothing");

    // Decommissioned: gone from inventory.
    let res = server
        .http
        .delete(format!("{}/api/management/v2/devauth/devices/{id}", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(server.get(&format!("/api/management/v1/inventory/devices/{id}")).await.0, 404);
}
