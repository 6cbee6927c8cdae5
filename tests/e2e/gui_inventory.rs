//! The web GUI's inventory requests, sent as the GUI sends them: the device statistics of the
//! dashboard and deployment dialog, the `$ltne` filter of its device list, and the
//! iot-manager list it asks on every page.

use reqwest::Method;
use serde_json::{Value, json};

use crate::server::{Server, captured};

async fn stats(server: &Server) -> Value {
    let (status, body) = server.get("/api/management/v2/inventory/statistics").await;
    assert_eq!(status, 200, "{body}");
    body
}

fn tiers(standard: u64) -> Value {
    json!({ "standard": standard, "micro": 0, "system": 0 })
}

#[tokio::test]
async fn statistics_count_accepted_and_pending_devices_as_they_change() {
    let server = Server::start().await;
    let none = json!({ "devices_by_status": { "accepted": tiers(0), "pending": tiers(0) } });
    assert_eq!(stats(&server).await, none);
    let requests = captured();
    for (body, signature) in &requests {
        assert_eq!(server.auth_request(body, signature).await.0, 401);
    }
    let n = requests.len() as u64;
    assert_eq!(
        stats(&server).await["devices_by_status"],
        json!({ "accepted": tiers(0), "pending": tiers(n) })
    );

    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let set = |i: usize| {
        let d = &devices[i];
        (d["id"].as_str().unwrap().to_owned(), d["auth_sets"][0]["id"].as_str().unwrap().to_owned())
    };
    let ((a, a_set), (b, b_set)) = (set(0), set(1));
    assert_eq!(server.set_status(&a, &a_set, "accepted").await, 204);
    let by_status = stats(&server).await["devices_by_status"].clone();
    assert_eq!(by_status, json!({ "accepted": tiers(1), "pending": tiers(n - 1) }));
    assert_eq!(server.set_status(&b, &b_set, "rejected").await, 204);
    let by_status = stats(&server).await["devices_by_status"].clone();
    assert_eq!(by_status, json!({ "accepted": tiers(1), "pending": tiers(n - 2) }));
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{a}")).await, 204);
    let by_status = stats(&server).await["devices_by_status"].clone();
    assert_eq!(by_status, json!({ "accepted": tiers(0), "pending": tiers(n - 2) }));

    // Both are management routes: no token, no answer.
    for path in ["/api/management/v2/inventory/statistics", "/api/management/v1/iot-manager/integrations"] {
        let res = server.http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
}

#[tokio::test]
async fn the_integrations_list_is_empty() {
    let server = Server::start().await;
    let (status, body) = server.get("/api/management/v1/iot-manager/integrations").await;
    assert_eq!((status.as_u16(), body), (200, json!([])));
}

async fn search(server: &Server, path: &str, filters: Value) -> Vec<String> {
    // The GUI's device list body: paging, filters, sort and the attributes it shows.
    let body = json!({
        "page": 1, "per_page": 20, "filters": filters, "sort": [],
        "attributes": [
            { "scope": "identity", "attribute": "status" },
            { "scope": "system", "attribute": "check_in_time" },
            { "scope": "inventory", "attribute": "device_type" },
        ],
    });
    let (status, _, found) = server.send(Method::POST, path, Some(body)).await;
    assert_eq!(status, 200, "{found}");
    found.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn ltne_finds_devices_below_the_value_or_without_the_attribute() {
    let server = Server::start().await;
    let (id, token) = server.accepted_device().await;
    let url = format!("{}/api/devices/v1/inventory/device/attributes", server.base);
    let res = server.http.patch(&url).bearer_auth(&token).json(&json!([{"name": "uptime", "value": 5}]));
    assert_eq!(res.send().await.unwrap().status(), 200);
    let path = "/api/management/v2/inventory/filters/search";
    let only = vec![id.clone()];
    let accepted = json!({ "scope": "identity", "attribute": "status", "type": "$eq", "value": "accepted" });
    let ltne = |scope: &str, attribute: &str, value: Value| json!([accepted, { "scope": scope, "attribute": attribute, "type": "$ltne", "value": value }]);
    // The GUI's "offline" filter: last check-in before a cutoff, or never.
    let future = "2999-01-01T00:00:00.000Z";
    assert_eq!(search(&server, path, ltne("system", "check_in_time", json!(future))).await, only);
    let past = "2000-01-01T00:00:00.000Z";
    assert!(search(&server, path, ltne("system", "check_in_time", json!(past))).await.is_empty());
    assert_eq!(search(&server, path, ltne("inventory", "uptime", json!(6))).await, only);
    assert!(search(&server, path, ltne("inventory", "uptime", json!(5))).await.is_empty(), "not below");
    assert_eq!(search(&server, path, ltne("inventory", "never_reported", json!(1))).await, only);

    // A saved filter with `$ltne` is a dynamic group like any other.
    let body = json!({ "name": "offline", "terms": ltne("system", "check_in_time", json!(future)) });
    let (status, headers, _) =
        server.send(Method::POST, "/api/management/v2/inventory/filters", Some(body)).await;
    assert_eq!(status, 201);
    let location = headers["location"].to_str().unwrap();
    let filter_id = location.rsplit('/').next().unwrap();
    let saved = format!("/api/management/v2/inventory/filters/{filter_id}/search");
    assert_eq!(search(&server, &saved, json!([])).await, only);
    let bad = json!([{ "scope": "system", "attribute": "check_in_time", "type": "$ltne", "value": [1] }]);
    let body = json!({ "page": 1, "per_page": 20, "filters": bad });
    assert_eq!(server.send(Method::POST, path, Some(body)).await.0, 400);
}
