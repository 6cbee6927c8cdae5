//! Inventory, first part: device reports (the captured body of a real client), changes only
//! recorded when something changed, and devices with their attributes by scope.

use serde_json::Value;

use crate::server::{Server, captured};

fn captured_inventory() -> String {
    let text = include_str!("../fixtures/captures/01-daemon-noupdate.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["path"] == "/api/devices/v1/inventory/device/attributes")
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .expect("a captured inventory report")
}

#[tokio::test]
async fn a_device_reports_its_inventory_and_only_changes_are_recorded() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
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
    let store = server.state.store();
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
    // The device's own reports are its check-ins.
    assert!(find("check_in_time", "system").is_some_and(|t| t.as_str().unwrap().ends_with('Z')));

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
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{id}")).await, 204);
    assert_eq!(server.get(&format!("/api/management/v1/inventory/devices/{id}")).await.0, 404);
}

#[tokio::test]
async fn devices_are_searched_with_menders_filter_operators() {
    let server = Server::start().await;
    // Three captured devices, accepted, each reporting its own inventory.
    let requests = captured();
    for (i, (body, signature)) in requests.iter().enumerate() {
        server.auth_request(body, signature).await;
        let (_, pending) = server.get("/api/management/v2/devauth/devices?status=pending").await;
        let (id, set) =
            (pending[0]["id"].as_str().unwrap(), pending[0]["auth_sets"][0]["id"].as_str().unwrap());
        assert_eq!(server.set_status(id, set, "accepted").await, 204);
        let (_, token) = server.auth_request(body, signature).await;
        let attrs = serde_json::json!([
            { "name": "device_type", "value": if i == 2 { "rpi4" } else { "qemu" } },
            { "name": "mem_kb", "value": 1000 * (i + 1) },
            { "name": "modules", "value": ["deb", format!("m{i}")] },
        ]);
        let url = format!("{}/api/devices/v1/inventory/device/attributes", server.base);
        assert_eq!(server.http.put(url).bearer_auth(&token).json(&attrs).send().await.unwrap().status(), 200);
    }
    let url = format!("{}/api/management/v2/inventory/filters/search", server.base);
    let search = |body: Value| {
        let req = server.http.post(&url).bearer_auth(&server.token).json(&body);
        async move { req.send().await.unwrap() }
    };
    let count = |filters: Value| {
        let fut = search(serde_json::json!({ "filters": filters }));
        async move {
            let res = fut.await;
            assert_eq!(res.status(), 200);
            res.headers()["x-total-count"].to_str().unwrap().parse::<usize>().unwrap()
        }
    };
    // Reports are applied asynchronously: wait for the last one.
    let f = |scope: &str, attr: &str, op: &str, value: Value| serde_json::json!({ "scope": scope, "attribute": attr, "type": op, "value": value });
    for _ in 0..100 {
        if count(serde_json::json!([f("inventory", "mem_kb", "$exists", true.into())])).await == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count(serde_json::json!([f("inventory", "device_type", "$eq", "qemu".into())])).await, 2);
    assert_eq!(
        count(serde_json::json!([
            f("inventory", "device_type", "$eq", "qemu".into()),
            f("inventory", "mem_kb", "$gt", 1500.into())
        ]))
        .await,
        1
    );
    assert_eq!(
        count(serde_json::json!([f("inventory", "device_type", "$in", serde_json::json!(["rpi4", "x"]))]))
            .await,
        1
    );
    assert_eq!(
        count(serde_json::json!([f("inventory", "device_type", "$nin", serde_json::json!(["rpi4"]))])).await,
        2
    );
    assert_eq!(count(serde_json::json!([f("inventory", "modules", "$eq", "m1".into())])).await, 1);
    assert_eq!(count(serde_json::json!([f("inventory", "device_type", "$regex", "^q".into())])).await, 2);
    assert_eq!(count(serde_json::json!([f("identity", "status", "$eq", "accepted".into())])).await, 3);
    assert_eq!(
        count(serde_json::json!([
            f("inventory", "mem_kb", "$lte", 2000.into()),
            f("inventory", "absent", "$exists", false.into())
        ]))
        .await,
        2
    );

    let res = search(serde_json::json!({ "sort": [{ "scope": "inventory", "attribute": "mem_kb", "order": "desc" }], "per_page": 2 })).await;
    let page: Vec<Value> = res.json().await.unwrap();
    let mem = |d: &Value| {
        d["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "mem_kb").unwrap()["value"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(page.len(), 2);
    assert!(mem(&page[0]) > mem(&page[1]));

    for bad in [
        serde_json::json!({ "filters": [f("inventory", "a", "$like", "x".into())] }),
        serde_json::json!({ "filters": [f("inventory", "a", "$in", "x".into())] }),
        serde_json::json!({ "filters": [f("nowhere", "a", "$eq", "x".into())] }),
        serde_json::json!({ "filters": [f("inventory", "a", "$regex", "(".into())] }),
        serde_json::json!({ "sort": [{ "scope": "inventory", "attribute": "a", "order": "up" }] }),
        serde_json::json!({ "per_page": 501 }),
    ] {
        assert_eq!(search(bad.clone()).await.status(), 400, "{bad}");
    }
}
