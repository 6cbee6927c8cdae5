//! Users and device authentication over HTTP, with the captured requests of real Mender
//! clients: login, auth requests (RSA, ECDSA, Ed25519), admission, decommissioning.

use serde_json::Value;

use crate::server::{Server, captured};

#[tokio::test]
async fn a_captured_device_is_pending_then_accepted_then_gets_a_token() {
    let server = Server::start().await;
    let requests = captured();
    assert!(requests.len() >= 3, "RSA, ECDSA and Ed25519 requests captured");
    for (body, signature) in &requests {
        let (status, text) = server.auth_request(body, signature).await;
        assert_eq!(status, 401, "{text}");
        assert!(text.contains("unauthorized"), "{text}");
    }
    // Three captured devices (RSA, Ed25519 and ECDSA keys), each pending with one auth set.
    let (status, devices) = server.get("/api/management/v2/devauth/devices?status=pending").await;
    assert_eq!(status, 200);
    let devices = devices.as_array().unwrap().clone();
    assert_eq!(devices.len(), requests.len(), "{devices:?}");
    for device in &devices {
        assert_eq!(device["status"], "pending");
        assert!(device["identity_data"]["mac"].is_string());
        assert_eq!(device["auth_sets"].as_array().unwrap().len(), 1);
    }
    let (_, page) = server.get("/api/management/v2/devauth/devices?per_page=2&page=2").await;
    assert_eq!(page.as_array().unwrap().len(), 1, "paging");

    for (body, signature) in &requests {
        let request: Value = serde_json::from_str(body).unwrap();
        let identity: Value = serde_json::from_str(request["id_data"].as_str().unwrap()).unwrap();
        let mac = identity["mac"].clone();
        let device =
            devices.iter().find(|d| d["identity_data"]["mac"] == mac).expect("device of this request");
        let (id, set) = (device["id"].as_str().unwrap(), device["auth_sets"][0]["id"].as_str().unwrap());
        assert_eq!(server.set_status(id, set, "accepted").await, 204);
        let (status, token) = server.auth_request(body, signature).await;
        assert_eq!(status, 200, "{mac}: {token}");
        assert_eq!(token.split('.').count(), 3, "a bare JWT");
        // Rejected again: no more tokens.
        assert_eq!(server.set_status(id, set, "rejected").await, 204);
        assert_eq!(server.auth_request(body, signature).await.0, 401);
        assert_eq!(server.set_status(id, set, "accepted").await, 204);
    }
    let (_, count) = server.get("/api/management/v2/devauth/devices/count?status=accepted").await;
    assert_eq!(count["count"], requests.len());
    assert_eq!(server.set_status("nope", "nope", "accepted").await, 404);
    let id = devices[0]["id"].as_str().unwrap();
    assert_eq!(server.set_status(id, "nope", "accepted").await, 404);
    assert_eq!(server.set_status(id, devices[0]["auth_sets"][0]["id"].as_str().unwrap(), "bogus").await, 400);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_store_nothing() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
    let tampered = body.replacen("test", "tost", 1);
    assert_eq!(server.auth_request(&tampered, &signature).await.0, 401);
    assert_eq!(server.auth_request(&body, "bm90IGEgc2lnbmF0dXJl").await.0, 401);
    assert_eq!(server.auth_request("{not json", &signature).await.0, 400);
    let no_object = r#"{"id_data":"[1,2]","pubkey":"x","tenant_token":""}"#;
    assert_eq!(server.auth_request(no_object, &signature).await.0, 400);
    let bad_key = r#"{"id_data":"{\"mac\":\"1\"}","pubkey":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n","tenant_token":""}"#;
    assert_eq!(server.auth_request(bad_key, &signature).await.0, 400);
    let res = server
        .http
        .post(format!("{}/api/devices/v1/authentication/auth_requests", server.base))
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "missing request signature header");
    assert!(err["request_id"].is_string());
    let huge = "x".repeat(2 * 1024 * 1024);
    assert_eq!(server.auth_request(&huge, &signature).await.0, 413);
    let (_, count) = server.get("/api/management/v2/devauth/devices/count").await;
    assert_eq!(count["count"], 0, "nothing stored");
}

#[tokio::test]
async fn management_routes_need_a_user_token() {
    let server = Server::start().await;
    let url = format!("{}/api/management/v2/devauth/devices", server.base);
    assert_eq!(server.http.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(server.http.get(&url).bearer_auth("a.b.c").send().await.unwrap().status(), 401);
    let wrong = server
        .http
        .post(format!("{}/api/management/v1/useradm/auth/login", server.base))
        .basic_auth("admin@example.com", Some("wrong-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let (status, me) = server.get("/api/management/v1/useradm/users/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "admin@example.com");
    assert_eq!(server.get("/api/management/v2/devauth/devices?per_page=501").await.0, 400);
    assert_eq!(server.get("/api/management/v2/devauth/devices/nope").await.0, 404);
}

#[tokio::test]
async fn a_decommissioned_device_loses_access_and_its_identity_starts_over() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
    server.auth_request(&body, &signature).await;
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let id = devices[0]["id"].as_str().unwrap().to_owned();
    let set = devices[0]["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    assert_eq!(server.auth_request(&body, &signature).await.0, 200);
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{id}")).await, 204);
    assert_eq!(server.get(&format!("/api/management/v2/devauth/devices/{id}")).await.0, 404);
    // The same identity asks again: a new, pending device.
    assert_eq!(server.auth_request(&body, &signature).await.0, 401);
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    assert_eq!(devices.as_array().unwrap().len(), 1);
    assert_ne!(devices[0]["id"], id.as_str());
    assert_eq!(devices[0]["status"], "pending");
}

#[tokio::test]
async fn concurrent_first_requests_of_one_identity_make_one_device() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
    let tries = (0..6).map(|_| server.auth_request(&body, &signature));
    for (status, _) in futures::future::join_all(tries).await {
        assert_eq!(status, 401);
    }
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    assert_eq!(devices.as_array().unwrap().len(), 1);
    assert_eq!(devices[0]["auth_sets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_preauthorized_device_gets_a_token_on_its_first_request() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
    let request: Value = serde_json::from_str(&body).unwrap();
    let identity: Value = serde_json::from_str(request["id_data"].as_str().unwrap()).unwrap();
    let preauth = serde_json::json!({ "identity_data": identity, "pubkey": request["pubkey"] });
    let url = format!("{}/api/management/v2/devauth/devices", server.base);
    let res = server.http.post(&url).bearer_auth(&server.token).json(&preauth).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let (_, device) = server.get(&location).await;
    assert_eq!(device["status"], "preauthorized");
    // The same identity again: 409 with the existing device.
    let res = server.http.post(&url).bearer_auth(&server.token).json(&preauth).send().await.unwrap();
    assert_eq!(res.status(), 409);
    let existing: Value = res.json().await.unwrap();
    assert_eq!(existing["id"], device["id"]);

    let (status, token) = server.auth_request(&body, &signature).await;
    assert_eq!(status, 200, "{token}");
    let (_, device) = server.get(&location).await;
    assert_eq!(device["status"], "accepted");

    // Back to pending, then the set is dismissed: no set left, no token.
    let (id, set) = (device["id"].as_str().unwrap(), device["auth_sets"][0]["id"].as_str().unwrap());
    assert_eq!(server.set_status(id, set, "pending").await, 204);
    assert_eq!(server.auth_request(&body, &signature).await.0, 401);
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{id}/auth/{set}")).await, 204);
    let (_, device) = server.get(&location).await;
    assert_eq!(device["status"], "noauth");

    // Search by status and by id.
    let search = format!("{}/api/management/v2/devauth/devices/search", server.base);
    let found: Value = server
        .http
        .post(&search)
        .bearer_auth(&server.token)
        .json(&serde_json::json!({ "status": ["noauth", "pending"], "id": id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1);
    let bad = server
        .http
        .post(&search)
        .bearer_auth(&server.token)
        .json(&serde_json::json!({ "status": "weird" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = server
        .http
        .post(&url)
        .bearer_auth(&server.token)
        .body("{}")
        .header("Content-Type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 415);
}

#[tokio::test]
async fn device_tokens_work_until_the_device_is_rejected() {
    use axum::routing::get;
    let server = Server::start().await;
    // A device route on the server's own state (the device APIs come with later issues).
    let routes = axum::Router::new()
        .route("/device-noop", get(|_d: fleetlog_gateway::http::DeviceAuth| async { "ok" }));
    let router = fleetlog_gateway::http::with_layers(routes, 1024).with_state(server.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/device-noop", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (body, signature) = captured().remove(0);
    server.auth_request(&body, &signature).await;
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let (id, set) = (
        devices[0]["id"].as_str().unwrap().to_owned(),
        devices[0]["auth_sets"][0]["id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    let (_, token) = server.auth_request(&body, &signature).await;

    let call = |token: String| {
        let (http, url) = (server.http.clone(), url.clone());
        async move { http.get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(call(token.clone()).await, 200);
    assert_eq!(call(token.clone()).await, 200, "cached");
    assert_eq!(call(server.token.clone()).await, 401, "a user token on the device API");
    assert_eq!(call(format!("{token}x")).await, 401, "a tampered token");
    // Rejected: the next request fails, though the token itself is still valid.
    assert_eq!(server.set_status(&id, &set, "rejected").await, 204);
    assert_eq!(call(token.clone()).await, 401);
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    assert_eq!(call(token.clone()).await, 401, "a token of the earlier admission");
    let (_, token) = server.auth_request(&body, &signature).await;
    assert_eq!(call(token.clone()).await, 200);
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{id}")).await, 204);
    assert_eq!(call(token).await, 401, "a decommissioned device");
}

#[tokio::test]
async fn devices_are_listed_by_id_and_foreign_tokens_are_refused() {
    let server = Server::start().await;
    let all = server.with_captured_devices().await;
    let ids: Vec<&str> = all.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    let (status, two) =
        server.get(&format!("/api/management/v2/devauth/devices?id={}&id={}", ids[0], ids[2])).await;
    assert_eq!(status, 200);
    let got: Vec<&str> = two.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(got, [ids[0], ids[2]]);
    let (_, none) =
        server.get(&format!("/api/management/v2/devauth/devices?id={}&status=accepted", ids[0])).await;
    assert!(none.as_array().unwrap().is_empty());

    // A well-formed token signed by another key, and an expired one signed by ours.
    let (_, me) = server.get("/api/management/v1/useradm/users/me").await;
    let claims = |exp: i64| fleetlog_gateway::auth::Claims {
        jti: "x".into(),
        sub: me["id"].as_str().unwrap().into(),
        iat: 0,
        exp,
        iss: "fleetlog".into(),
        device: false,
        user: true,
        tenant: String::new(),
        epoch: None,
    };
    let other =
        fleetlog_gateway::auth::JwtKeys::generate(fleetlog_gateway::auth::JwtAlgorithm::EdDSA).unwrap();
    let url = format!("{}/api/management/v2/devauth/devices", server.base);
    for token in [other.sign(&claims(i64::MAX / 2)), server.state.jwt.sign(&claims(1))] {
        let res = server.http.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.json::<Value>().await.unwrap()["error"].is_string());
    }
}
