//! Validation gaps at the HTTP edge: control characters in e-mails, deployments to devices
//! that do not exist, oversized headers, bodies of the wrong JSON shape, unparsable time
//! filters, clients that never finish their request head, and `/readyz` right after a write.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{Server, captured};

/// A preauthorized device with its own identity (the captured key): its id.
pub async fn preauthorized(server: &Server, mac: &str) -> String {
    let request: Value = serde_json::from_str(&captured().remove(0).0).unwrap();
    let preauth = json!({ "identity_data": { "mac": mac }, "pubkey": request["pubkey"] });
    let (status, headers, body) =
        server.send(Method::POST, "/api/management/v2/devauth/devices", Some(preauth)).await;
    assert_eq!(status, 201, "{body}");
    headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

fn assert_mender_error(what: &str, status: reqwest::StatusCode, want: u16, body: &Value) {
    assert_eq!(status, want, "{what}: {body}");
    assert!(body["error"].is_string() && body["request_id"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn an_email_with_a_control_character_is_refused() {
    let server = Server::start().await;
    let last = server.state.store().last_seq().await.unwrap();
    for email in ["nul\0@example.com", "bell\u{7}@example.com"] {
        let body = json!({ "email": email, "password": "long-enough-1" });
        let (status, _, err) =
            server.send(Method::POST, "/api/management/v1/useradm/users", Some(body)).await;
        assert_mender_error(email, status, 422, &err);
    }
    assert_eq!(server.state.store().last_seq().await.unwrap(), last, "nothing stored");
}

#[tokio::test]
async fn a_deployment_to_devices_that_do_not_exist_is_refused() {
    let server = Server::start().await;
    let (status, location) = crate::deployments::upload(
        &server,
        include_bytes!("../../fixtures/artifacts/release-1.mender").to_vec(),
        "",
    )
    .await;
    assert_eq!(status, 201, "{location}");
    let known = preauthorized(&server, "02:00:00:00:00:42").await;
    let last = server.state.store().last_seq().await.unwrap();
    let unknown = uuid::Uuid::new_v4().to_string();
    for devices in [json!(["../../x"]), json!([known, unknown]), json!(["a".repeat(5000)])] {
        let body = json!({ "name": "x", "artifact_name": "release-1", "devices": devices });
        let (status, _, err) =
            server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
        assert_mender_error("unknown devices", status, 400, &err);
        let text = err["error"].as_str().unwrap();
        assert!(text.starts_with("unknown devices") && text.len() < 1000, "{text}");
        assert!(!text.contains(&known), "only the unknown ones are named: {text}");
    }
    assert_eq!(server.state.store().last_seq().await.unwrap(), last, "nothing stored");
    let body = json!({ "name": "x", "artifact_name": "release-1", "devices": [known] });
    let (status, _, err) =
        server.send(Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
}

#[tokio::test]
async fn an_oversized_header_gets_431_in_menders_format() {
    let server = Server::start().await;
    let res = server
        .http
        .get(format!("{}/api/management/v1/useradm/users", server.base))
        .bearer_auth(&server.token)
        .header("X-Big", "b".repeat(700 * 1024))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or_default();
    assert_mender_error("700 KB header", status, 431, &body);
}

#[tokio::test]
async fn a_search_body_that_is_not_an_object_is_400() {
    let server = Server::start().await;
    for body in [json!([1]), json!([]), json!("x")] {
        let (status, _, err) = server
            .send(Method::POST, "/api/management/v2/inventory/filters/search", Some(body.clone()))
            .await;
        assert_mender_error(&body.to_string(), status, 400, &err);
    }
}

#[tokio::test]
async fn an_unparsable_created_before_or_after_is_400_on_every_list() {
    let server = Server::start().await;
    for list in [
        "/api/management/v1/deployments/deployments",
        "/api/management/v2/deployments/deployments",
        "/api/management/v1/auditlogs/logs",
        "/api/management/v1/useradm/users",
    ] {
        for param in ["created_before", "created_after"] {
            let (status, err) = server.get(&format!("{list}?{param}=garbage")).await;
            assert_mender_error(&format!("{list} {param}"), status, 400, &err);
        }
    }
    // A number is a filter: the admin was created before now + 1 h and not after it.
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let (_, users) = server.get(&format!("/api/management/v1/useradm/users?created_before={later}")).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    let (_, users) = server.get(&format!("/api/management/v1/useradm/users?created_after={later}")).await;
    assert_eq!(users, json!([]));
}

#[tokio::test]
async fn a_client_dribbling_its_request_head_is_cut_off() {
    let server = Server::start_with(|args| args.header_read_timeout = 1).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let dribble = async {
        // One byte every 200 ms, never the blank line that ends the head.
        for _ in 0..50 {
            if stream.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), dribble).await;
    let mut buf = [0u8; 256];
    let closed = matches!(
        tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    ) || stream.write_all(b"X").await.is_err();
    assert!(closed, "the server closed the connection after {:?}", started.elapsed());
}

#[tokio::test]
async fn readyz_measures_lag_against_the_log_not_the_last_batch() {
    let server = Server::start().await;
    let ready = || async {
        let res = server.http.get(format!("{}/readyz", server.base)).send().await.unwrap();
        (res.status(), res.json::<Value>().await.unwrap())
    };
    for _ in 0..100 {
        if ready().await.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready().await.0, 200);
    // The read models stop applying; a write lands in the log that they will not see.
    server.state.read_models.stop().await;
    // Straight to the command side: through the application it would wait for the stopped
    // read models.
    let commands = fleetlog_commands::CommandService::new(server.state.store().clone());
    let caller = fleetlog_gateway::app::Caller::user("default", "tester", "tester@example.com", "r");
    fleetlog_gateway::app::users::create_user(
        &commands,
        &caller,
        &uuid::Uuid::new_v4().to_string(),
        "late@example.com",
        "long-enough-1",
    )
    .await
    .unwrap();
    let last = server.state.store().last_seq().await.unwrap();
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    for (name, m) in body["read_models"].as_object().unwrap() {
        let position = m["position"].as_u64().unwrap_or_else(|| panic!("{name}: {body}"));
        assert!(position < last, "{name}: {m}");
        assert_eq!(m["lag"].as_u64(), Some(last - position), "{name}: {m}");
    }
}
