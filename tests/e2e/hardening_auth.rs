//! Hardening of tokens and sessions (issue 12): a device token is good only for the admission it
//! was issued under, a password change ends the user's other sessions, and retries with an
//! `Idempotency-Key` are safe.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::server::{Server, captured};

/// A device's `deployments/next` poll with `token`: any device route checks the token the same way.
async fn poll(server: &Server, token: &str) -> StatusCode {
    let url = format!("{}/api/devices/v1/deployments/device/deployments/next", server.base);
    let body = json!({ "artifact_name": "a", "device_type": "t" });
    server.http.post(url).bearer_auth(token).json(&body).send().await.unwrap().status()
}

/// The first captured device, accepted: (device id, auth set id, token).
async fn accepted(server: &Server) -> (String, String, String) {
    let (id, token) = server.accepted_device().await;
    let (_, device) = server.get(&format!("/api/management/v2/devauth/devices/{id}")).await;
    let set = device["auth_sets"][0]["id"].as_str().unwrap().to_owned();
    (id, set, token)
}

async fn auth_again(server: &Server) -> String {
    let (body, signature) = captured().remove(0);
    let (status, token) = server.auth_request(&body, &signature).await;
    assert_eq!(status, 200, "{token}");
    token
}

#[tokio::test]
async fn a_device_token_from_before_a_reject_stays_refused_after_the_device_is_accepted_again() {
    let server = Server::start().await;
    let (id, set, old) = accepted(&server).await;
    assert_eq!(poll(&server, &old).await, 204);
    assert_eq!(server.set_status(&id, &set, "rejected").await, 204);
    assert_eq!(poll(&server, &old).await, 401);
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    assert_eq!(poll(&server, &old).await, 401, "a token of the earlier admission");
    let new = auth_again(&server).await;
    assert_ne!(new, old);
    assert_eq!(poll(&server, &new).await, 204, "a token of the new admission");
    // Back to pending and accepted again: the same.
    assert_eq!(server.set_status(&id, &set, "pending").await, 204);
    assert_eq!(server.set_status(&id, &set, "accepted").await, 204);
    assert_eq!(poll(&server, &new).await, 401);
    assert_eq!(poll(&server, &auth_again(&server).await).await, 204);
}

/// Waits until early in a second, so that what follows most likely happens within that second.
async fn start_of_a_second() {
    loop {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        if now.subsec_millis() < 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_device_token_issued_in_the_same_second_as_a_revoke_works_and_one_from_before_does_not() {
    let server = Server::start().await;
    let (_, set, _) = accepted(&server).await;
    for _ in 0..3 {
        let before = auth_again(&server).await;
        assert_eq!(poll(&server, &before).await, 204);
        start_of_a_second().await;
        assert_eq!(server.delete(&format!("/api/management/v2/devauth/tokens/{set}")).await, 204);
        // Same second as the revoke (the whole round trip takes milliseconds).
        let after = auth_again(&server).await;
        assert_eq!(poll(&server, &before).await, 401, "issued before the revoke");
        assert_eq!(poll(&server, &after).await, 204, "issued after the revoke, in the same second");
    }
}

async fn login(server: &Server, password: &str) -> (StatusCode, String) {
    let url = format!("{}/api/management/v1/useradm/auth/login", server.base);
    let res = server.http.post(url).basic_auth("admin@example.com", Some(password)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn me(server: &Server, token: &str) -> StatusCode {
    let url = format!("{}/api/management/v1/useradm/users/me", server.base);
    server.http.get(url).bearer_auth(token).send().await.unwrap().status()
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_tokens_but_not_the_one_that_changed_it() {
    let server = Server::start().await;
    let (_, other) = login(&server, "secret-password").await;
    let (_, changer) = login(&server, "secret-password").await;
    let pat_url = format!("{}/api/management/v1/useradm/settings/tokens", server.base);
    let res = server
        .http
        .post(&pat_url)
        .bearer_auth(&server.token)
        .json(&json!({ "name": "ci", "expires_in": 3600 }))
        .send()
        .await
        .unwrap();
    let pat = res.text().await.unwrap();
    for token in [&other, &changer, &pat, &server.token] {
        assert_eq!(me(&server, token).await, 200);
    }
    let (_, user) = server.get("/api/management/v1/useradm/users/me").await;
    let url = format!("{}/api/management/v1/useradm/users/{}", server.base, user["id"].as_str().unwrap());
    let body = json!({ "password": "new-secret-password", "current_password": "secret-password" });
    let res = server.http.put(url).bearer_auth(&changer).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(me(&server, &changer).await, 200, "the session that changed it");
    assert_eq!(me(&server, &other).await, 401, "another login session");
    assert_eq!(me(&server, &server.token).await, 401, "the first login session");
    assert_eq!(me(&server, &pat).await, 401, "a personal access token");
    assert_eq!(login(&server, "secret-password").await.0, 401);
    let (status, fresh) = login(&server, "new-secret-password").await;
    assert_eq!(status, 200);
    assert_eq!(me(&server, &fresh).await, 200);
}

#[tokio::test]
async fn admin_create_user_reaches_a_serve_on_an_external_nats_and_the_user_logs_in_at_once() {
    let server = Server::start().await;
    let recorded = std::fs::read_to_string(server.conn.data_dir.join("nats.url")).unwrap();
    assert!(recorded.ends_with("\nexternal\n"), "{recorded}");
    // As an operator runs it: only the data dir, no --nats-url.
    let conn = fleetlog_gateway::settings::ConnectionArgs { nats_url: None, ..server.conn.clone() };
    for i in 0..5 {
        let email = format!("ops{i}@example.com");
        Box::pin(fleetlog_gateway::admin::create_user(&conn, &email, "ops-password")).await.unwrap();
        // No retry: the command returned only once the server shows the user.
        let url = format!("{}/api/management/v1/useradm/auth/login", server.base);
        let res = server.http.post(url).basic_auth(&email, Some("ops-password")).send().await.unwrap();
        assert_eq!(res.status(), 200, "login right after create-user ({i})");
    }
    assert!(!server.conn.data_dir.join("nats").exists(), "no private store was started");
}

#[tokio::test]
async fn admin_create_user_fails_clearly_when_the_recorded_external_nats_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nats.url"), "nats://127.0.0.1:9\nexternal\n").unwrap();
    let (_, conn) = fleetlog_tests::fresh_conn("H");
    let conn =
        fleetlog_gateway::settings::ConnectionArgs { nats_url: None, data_dir: dir.path().into(), ..conn };
    let err = Box::pin(fleetlog_gateway::admin::create_user(&conn, "x@example.com", "x-password"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not reachable") && err.contains("--nats-url"), "{err}");
    assert!(!dir.path().join("nats").exists(), "no private store was started");
}

/// `POST path` with the admin's token, an optional `Idempotency-Key`, and a JSON body: status
/// and `Location`.
async fn create(server: &Server, path: &str, key: Option<&str>, body: serde_json::Value) -> (u16, String) {
    let mut req = server.http.post(format!("{}{path}", server.base)).bearer_auth(&server.token).json(&body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let res = req.send().await.unwrap();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (res.status().as_u16(), location)
}

#[tokio::test]
async fn a_retried_creation_with_the_same_idempotency_key_returns_the_first_object() {
    let server = Server::start().await;
    let users = "/api/management/v1/useradm/users";
    let alice = json!({ "email": "alice@example.com", "password": "alice-password" });
    let (status, first) = create(&server, users, Some("create-alice-1"), alice.clone()).await;
    assert_eq!(status, 201);
    // The retry after an unknown outcome: the same answer, not 422 "already exists".
    assert_eq!(create(&server, users, Some("create-alice-1"), alice.clone()).await, (201, first.clone()));
    assert_eq!(create(&server, users, None, alice.clone()).await.0, 422, "without a key: a new request");
    let bob = |n: u32| json!({ "email": format!("bob{n}@example.com"), "password": "bob-password" });
    let (_, b1) = create(&server, users, Some("create-bob"), bob(1)).await;
    let (_, b2) = create(&server, users, Some("create-bob-2"), bob(2)).await;
    assert_ne!(b1, b2, "different keys: two users");
    let (_, listed) = server.get(users).await;
    assert_eq!(listed.as_array().unwrap().len(), 4, "admin, alice and two bobs: {listed}");

    // Saved filters (and deployments, preauthorizations) the same way.
    let filters = "/api/management/v2/inventory/filters";
    let filter = json!({ "name": "arm", "terms": [{ "scope": "inventory", "attribute": "arch", "type": "$eq", "value": "arm" }] });
    let (status, f1) = create(&server, filters, Some("f"), filter.clone()).await;
    assert_eq!(status, 201);
    assert_eq!(create(&server, filters, Some("f"), filter.clone()).await, (201, f1));
    assert_eq!(create(&server, filters, Some("g"), filter).await.0, 409, "another key: a new request");

    // Keys are bounded and printable.
    for bad in ["x".repeat(256), "tab\there".to_owned()] {
        assert_eq!(create(&server, users, Some(&bad), bob(3)).await.0, 400, "{bad:?}");
    }
}

#[tokio::test]
async fn a_retried_deployment_with_the_same_idempotency_key_is_created_once() {
    let server = Server::start().await;
    let artifact = include_bytes!("../fixtures/artifacts/release-1.mender").to_vec();
    assert_eq!(crate::deployments::upload(&server, artifact, "r1").await.0, 201);
    let (device, _) = server.accepted_device().await;
    let path = "/api/management/v1/deployments/deployments";
    let body = json!({ "name": "rollout", "artifact_name": "release-1", "devices": [device] });
    let (status, first) = create(&server, path, Some("rollout-2026-12-02"), body.clone()).await;
    assert_eq!(status, 201);
    assert_eq!(create(&server, path, Some("rollout-2026-12-02"), body.clone()).await, (201, first.clone()));
    let count = |list: serde_json::Value| list.as_array().unwrap().len();
    assert_eq!(count(server.get(path).await.1), 1, "one deployment for two requests with one key");
    let (status, second) = create(&server, path, Some("rollout-2026-12-02-b"), body).await;
    assert_eq!(status, 201);
    assert_ne!(second, first);
    assert_eq!(count(server.get(path).await.1), 2, "another key: another deployment");
}
