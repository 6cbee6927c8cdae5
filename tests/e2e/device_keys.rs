//! Device keys Mender accepts (1024-bit RSA, ECDSA P-521 and P-224, as its own test runner's
//! device helper makes them), behind fleetlog's secure default: P-521 always, the weak ones
//! only with `--min-rsa-bits 1024` / `--allow-ecdsa-p224`. Requests signed by OpenSSL.

use serde_json::Value;

use crate::server::Server;

fn signed(key: &str) -> (String, String) {
    let text = include_str!("../fixtures/openssl-auth-requests.jsonl");
    let r: Value =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).find(|r: &Value| r["key"] == key).unwrap();
    (r["body"].as_str().unwrap().to_owned(), r["signature"].as_str().unwrap().to_owned())
}

async fn pending(server: &Server) -> usize {
    let (_, devices) = server.get("/api/management/v2/devauth/devices?status=pending").await;
    devices.as_array().unwrap().len()
}

#[tokio::test]
async fn by_default_p521_is_accepted_and_weak_keys_are_refused_clearly() {
    let server = Server::start().await;
    let (body, signature) = signed("ecdsa-p521");
    assert_eq!(server.auth_request(&body, &signature).await.0, 401, "verified, pending");
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let (id, set) = (devices[0]["id"].as_str().unwrap(), devices[0]["auth_sets"][0]["id"].as_str().unwrap());
    assert_eq!(server.set_status(id, set, "accepted").await, 204);
    let (status, token) = server.auth_request(&body, &signature).await;
    assert_eq!(status, 200, "{token}");

    let (body, signature) = signed("rsa-1024");
    let (status, text) = server.auth_request(&body, &signature).await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&text).unwrap();
    assert!(error["error"].as_str().unwrap().contains("RSA key of 1024 bits is not accepted"), "{text}");
    let (body, signature) = signed("ecdsa-p224");
    let (status, text) = server.auth_request(&body, &signature).await;
    assert_eq!(status, 400);
    assert!(text.contains("P-224 keys are not accepted"), "{text}");
    assert_eq!(pending(&server).await, 0, "nothing stored for refused keys");
}

#[tokio::test]
async fn configured_servers_accept_1024_bit_rsa_and_p224() {
    let server = Server::start_with(|args| {
        args.min_rsa_bits = 1024;
        args.allow_ecdsa_p224 = true;
    })
    .await;
    for key in ["rsa-1024", "ecdsa-p224"] {
        let (body, signature) = signed(key);
        assert_eq!(server.auth_request(&body, &signature).await.0, 401, "{key}: verified, pending");
        let tampered = body.replacen("02:00", "02:7f", 1);
        assert_eq!(server.auth_request(&tampered, &signature).await.0, 401, "{key}: bad signature");
    }
    assert_eq!(pending(&server).await, 2, "one device per key, none for the tampered bodies");
}
