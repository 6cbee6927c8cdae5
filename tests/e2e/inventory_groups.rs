//! Inventory, operator side: tags under an ETag, static groups (one per device, bulk moves,
//! listing with paging), v1 list filters and sort, saved filters as dynamic groups, and
//! `filters/attributes` — against a real server and log.

use reqwest::Method;
use serde_json::{Value, json};

use crate::server::{Server, captured};

/// Preauthorizes `n` devices (distinct identities, one captured key): their ids.
async fn preauthorize(server: &Server, n: usize) -> Vec<String> {
    let (body, _) = captured().remove(0);
    let request: Value = serde_json::from_str(&body).unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let preauth = json!({ "identity_data": { "mac": format!("02:00:00:00:00:{i:02x}") }, "pubkey": request["pubkey"] });
        let (status, headers, _) =
            server.send(Method::POST, "/api/management/v2/devauth/devices", Some(preauth)).await;
        assert_eq!(status, 201);
        let location = headers["location"].to_str().unwrap();
        ids.push(location.rsplit('/').next().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn tags_are_set_under_the_devices_etag() {
    let server = Server::start().await;
    let id = preauthorize(&server, 1).await.remove(0);
    let tags = format!("/api/management/v1/inventory/devices/{id}/tags");
    let (status, _, _) = server
        .send(
            Method::PUT,
            &tags,
            Some(json!([{ "name": "location", "value": "de", "description": "region" }])),
        )
        .await;
    assert_eq!(status, 200);
    let (status, headers, device) =
        server.send(Method::GET, &format!("/api/management/v1/inventory/devices/{id}"), None).await;
    assert_eq!(status, 200);
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let tag = device["attributes"].as_array().unwrap().iter().find(|a| a["scope"] == "tags").unwrap().clone();
    assert_eq!(tag, json!({ "name": "location", "value": "de", "scope": "tags", "description": "region" }));

    // PATCH with the current ETag merges; with a stale one it is refused and nothing changes.
    let patch = |etag: String, body: Value| {
        let req = server
            .http
            .patch(format!("{}{tags}", server.base))
            .bearer_auth(&server.token)
            .header("If-Match", etag)
            .json(&body);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(patch(etag.clone(), json!([{ "name": "env", "value": "test" }])).await, 200);
    assert_eq!(patch(etag, json!([{ "name": "env", "value": "prod" }])).await, 412);
    let (_, _, device) =
        server.send(Method::GET, &format!("/api/management/v1/inventory/devices/{id}"), None).await;
    let values: Vec<&Value> = device["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["scope"] == "tags")
        .map(|a| &a["value"])
        .collect();
    assert_eq!(values, [&json!("test"), &json!("de")]);

    let too_many: Vec<Value> = (0..21).map(|i| json!({ "name": format!("t{i}"), "value": "v" })).collect();
    assert_eq!(server.send(Method::PUT, &tags, Some(json!(too_many))).await.0, 400);
    assert_eq!(server.send(Method::PUT, &tags, Some(json!([{ "name": "x", "value": 1 }]))).await.0, 400);
    let missing = "/api/management/v1/inventory/devices/nope/tags";
    assert_eq!(server.send(Method::PUT, missing, Some(json!([]))).await.0, 404);
}

#[tokio::test]
async fn static_groups_hold_each_device_at_most_once() {
    let server = Server::start().await;
    let ids = preauthorize(&server, 5).await;
    let group_of = |id: &str| format!("/api/management/v1/inventory/devices/{id}/group");
    assert_eq!(server.send(Method::PUT, &group_of(&ids[0]), Some(json!({ "group": "prod" }))).await.0, 204);
    let (_, _, g) = server.send(Method::GET, &group_of(&ids[0]), None).await;
    assert_eq!(g, json!({ "group": "prod" }));
    let (_, _, g) = server.send(Method::GET, &group_of(&ids[1]), None).await;
    assert_eq!(g, json!({ "group": null }));

    // Bulk: three more into prod (one unknown id is not matched), one into test.
    let (status, _, counts) = server
        .send(
            Method::PATCH,
            "/api/management/v1/inventory/groups/prod/devices",
            Some(json!([ids[0], ids[1], ids[2], ids[3], "unknown"])),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(counts, json!({ "updated_count": 3, "matched_count": 4 }));
    assert_eq!(server.send(Method::PUT, &group_of(&ids[3]), Some(json!({ "group": "test" }))).await.0, 204);
    let (_, _, groups) = server.send(Method::GET, "/api/management/v1/inventory/groups", None).await;
    assert_eq!(groups, json!(["prod", "test"]));

    let (status, headers, page) =
        server.send(Method::GET, "/api/management/v1/inventory/groups/prod/devices?per_page=2", None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-total-count"], "3");
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert!(headers.get_all("link").iter().any(|l| l.to_str().unwrap().contains("rel=\"next\"")));

    // v1 list filters: by group, has_group, an identity attribute; sort by mac.
    let (_, headers, list) =
        server.send(Method::GET, "/api/management/v1/inventory/devices?group=prod", None).await;
    assert_eq!(headers["x-total-count"], "3");
    assert_eq!(list.as_array().unwrap().len(), 3);
    let (_, headers, _) =
        server.send(Method::GET, "/api/management/v1/inventory/devices?has_group=false", None).await;
    assert_eq!(headers["x-total-count"], "1");
    let (_, headers, list) = server
        .send(Method::GET, "/api/management/v1/inventory/devices?identity/mac=02:00:00:00:00:01", None)
        .await;
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(list[0]["id"], json!(ids[1]));
    let (_, _, sorted) =
        server.send(Method::GET, "/api/management/v1/inventory/devices?sort=identity/mac:desc", None).await;
    assert_eq!(sorted[0]["id"], json!(ids[4]));

    // Leaving: the wrong group is 404; bulk removal and group deletion count what changed.
    assert_eq!(server.delete(&format!("{}/test", group_of(&ids[0]))).await, 404);
    assert_eq!(server.delete(&format!("{}/prod", group_of(&ids[0]))).await, 204);
    let (_, _, counts) = server
        .send(Method::DELETE, "/api/management/v1/inventory/groups/prod/devices", Some(json!([ids[1]])))
        .await;
    assert_eq!(counts, json!({ "updated_count": 1 }));
    let (status, _, counts) =
        server.send(Method::DELETE, "/api/management/v1/inventory/groups/prod", None).await;
    assert_eq!((status.as_u16(), counts), (200, json!({ "updated_count": 1 })));
    assert_eq!(server.send(Method::DELETE, "/api/management/v1/inventory/groups/prod", None).await.0, 404);
    let (_, _, groups) = server.send(Method::GET, "/api/management/v1/inventory/groups", None).await;
    assert_eq!(groups, json!(["test"]));

    // Bad names: nothing stored.
    let before = server.state.store().last_seq().await.unwrap();
    for bad in ["x".repeat(300), "with space".into(), String::new()] {
        assert_eq!(server.send(Method::PUT, &group_of(&ids[4]), Some(json!({ "group": bad }))).await.0, 400);
    }
    let long = format!("/api/management/v1/inventory/groups/{}/devices", "g".repeat(300));
    assert_eq!(server.send(Method::PATCH, &long, Some(json!([ids[4]]))).await.0, 400);
    assert_eq!(
        server.send(Method::GET, "/api/management/v1/inventory/devices?sort=mac:sideways", None).await.0,
        400
    );
    assert_eq!(server.state.store().last_seq().await.unwrap(), before);
}

#[tokio::test]
async fn saved_filters_are_dynamic_groups() {
    let server = Server::start().await;
    let ids = preauthorize(&server, 3).await;
    let term = |mac: &str| json!({ "scope": "identity", "attribute": "mac", "type": "$in", "value": [mac, "02:00:00:00:00:02"] });
    let body = json!({ "name": "two", "terms": [term("02:00:00:00:00:00")] });
    let (status, headers, _) =
        server.send(Method::POST, "/api/management/v2/inventory/filters", Some(body.clone())).await;
    assert_eq!(status, 201);
    let location = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(server.send(Method::POST, "/api/management/v2/inventory/filters", Some(body)).await.0, 409);
    let (_, _, saved) = server.send(Method::GET, &location, None).await;
    assert_eq!(saved["name"], "two");
    assert_eq!(saved["terms"][0], term("02:00:00:00:00:00"));

    let (status, headers, found) = server.send(Method::POST, &format!("{location}/search"), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-total-count"], "2");
    let mut found: Vec<&str> = found.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    found.sort();
    let mut want = vec![ids[0].as_str(), ids[2].as_str()];
    want.sort();
    assert_eq!(found, want);
    // Dynamic: a device that stops matching (decommissioned) leaves the group.
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{}", ids[0])).await, 204);
    let (_, headers, _) =
        server.send(Method::POST, &format!("{location}/search"), Some(json!({ "per_page": 5 }))).await;
    assert_eq!(headers["x-total-count"], "1");

    let bad = json!({ "name": "bad", "terms": [{ "scope": "inventory", "attribute": "a", "type": "$like", "value": 1 }] });
    assert_eq!(server.send(Method::POST, "/api/management/v2/inventory/filters", Some(bad)).await.0, 400);
    let (_, _, all) = server.send(Method::GET, "/api/management/v2/inventory/filters", None).await;
    assert_eq!(all.as_array().unwrap().len(), 1);

    // filters/attributes: most common first.
    let (_, _, attrs) =
        server.send(Method::GET, "/api/management/v2/inventory/filters/attributes", None).await;
    let first = &attrs[0];
    assert_eq!(first["count"], 2);
    assert!(
        attrs
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &json!({ "name": "mac", "scope": "identity", "count": 2 }))
    );

    assert_eq!(server.delete(&location).await, 204);
    assert_eq!(server.delete(&location).await, 404);
    // The name is free again.
    let again = json!({ "name": "two", "terms": [term("x")] });
    assert_eq!(server.send(Method::POST, "/api/management/v2/inventory/filters", Some(again)).await.0, 201);
}
