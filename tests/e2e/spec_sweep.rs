//! Every token-protected operation of Mender's public API files (4.1.3, plus what mender-server
//! main adds) is routed: without a token it answers 401 in Mender's error format, and with an
//! operator's token and an empty body it never answers 5xx nor the router's own 404/405.
//!
//! The list is `tests/fixtures/mender-api-operations.tsv`, generated once from the spec files.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::server::Server;

/// (method, path with its parameters filled) of every operation in the fixture.
fn operations() -> Vec<(Method, String)> {
    let text = include_str!("../fixtures/mender-api-operations.tsv");
    let mut ops = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let mut cols = line.split('\t');
        let (method, path) = (cols.next().unwrap(), cols.next().unwrap());
        // Signed by the device's key rather than a token: covered by the identity tests.
        if path == "/api/devices/v1/authentication/auth_requests" {
            continue;
        }
        ops.push((method.parse().unwrap(), fill(path)));
    }
    ops
}

/// Replaces `{param}` with a well-formed id that names nothing, or a name for name parameters.
fn fill(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str(&rest[..start]);
        let param = &rest[start + 1..end];
        out.push_str(if param.contains("name") {
            "sweep-name"
        } else {
            "0193c5b2-7d2e-7c8a-9f00-5e1f0c0ffee0"
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_public_operation_answers_401_without_a_token() {
    let server = Server::start().await;
    let ops = operations();
    assert!(ops.len() > 100, "the fixture lists the public API ({} operations)", ops.len());
    let mut wrong = Vec::new();
    for (method, path) in &ops {
        let res = server.http.request(method.clone(), format!("{}{path}", server.base)).send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status != StatusCode::UNAUTHORIZED || !body["error"].is_string() {
            wrong.push(format!("{method} {path} -> {status} {body}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} operations do not answer 401:\n{}",
        wrong.len(),
        ops.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn every_public_operation_is_served_and_never_fails_with_a_token() {
    let server = Server::start().await;
    let mut wrong = Vec::new();
    for (method, path) in operations() {
        let mut req =
            server.http.request(method.clone(), format!("{}{path}", server.base)).bearer_auth(&server.token);
        if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
            req = req.header("Content-Type", "application/json").body("{}");
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let unrouted = status == StatusCode::METHOD_NOT_ALLOWED
            || (status == StatusCode::NOT_FOUND && body["error"] == "no such endpoint");
        if unrouted || status.is_server_error() {
            wrong.push(format!("{method} {path} -> {status} {body}"));
        }
    }
    assert!(wrong.is_empty(), "operations not served or failing:\n{}", wrong.join("\n"));
}
