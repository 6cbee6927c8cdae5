//! useradm over HTTP: users, sessions (logout on every replica) and personal access tokens.

use reqwest::StatusCode;
use serde_json::Value;

use crate::server::Server;

async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> (StatusCode, String) {
    let url = format!("{base}/api/management/v1/useradm/auth/login");
    let res = http.post(url).basic_auth(email, Some(password)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn status(req: reqwest::RequestBuilder, token: &str) -> StatusCode {
    req.bearer_auth(token).send().await.unwrap().status()
}

#[tokio::test]
async fn logout_revokes_the_token_on_every_replica() {
    let server = Server::start().await;
    let (replica, _stop, _dir) = server.replica().await;
    let http = &server.http;
    let (_, token) = login(http, &server.base, "admin@example.com", "secret-password").await;
    let me = |base: &str| http.get(format!("{base}/api/management/v1/useradm/users/me"));
    // The replica accepts tokens of the first one: the key is shared.
    let mut ok = false;
    for _ in 0..100 {
        if status(me(&replica), &token).await == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "replica caught up and accepts the token");
    let res = http
        .post(format!("{}/api/management/v1/useradm/auth/logout", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(status(me(&server.base), &token).await, 401);
    let mut revoked = false;
    for _ in 0..100 {
        if status(me(&replica), &token).await == 401 {
            revoked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(revoked, "the replica rejects the logged-out token");
    // Other sessions are untouched.
    assert_eq!(status(me(&server.base), &server.token).await, 200);
}

#[tokio::test]
async fn users_are_created_updated_and_deleted() {
    let server = Server::start().await;
    let http = &server.http;
    let users = format!("{}/api/management/v1/useradm/users", server.base);
    let create = |email: &str, password: &str| {
        http.post(&users)
            .bearer_auth(&server.token)
            .json(&serde_json::json!({ "email": email, "password": password }))
    };
    let res = create("Bob@Example.com", "bob-password").send().await.unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(create("bob@example.com", "other-password").send().await.unwrap().status(), 422, "duplicate");
    assert_eq!(create("carol@example.com", "short").send().await.unwrap().status(), 422, "weak password");
    assert_eq!(create("not-an-email", "long-enough").send().await.unwrap().status(), 422);
    let (code, bob) = login(http, &server.base, "bob@example.com", "bob-password").await;
    assert_eq!(code, 200);

    // Bob changes his own e-mail: only with his current password.
    let me = format!("{users}/me");
    let res = http
        .put(&me)
        .bearer_auth(&bob)
        .json(&serde_json::json!({ "email": "robert@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = serde_json::json!({ "email": "robert@example.com", "current_password": "bob-password" });
    assert_eq!(http.put(&me).bearer_auth(&bob).json(&body).send().await.unwrap().status(), 204);
    assert_eq!(login(http, &server.base, "bob@example.com", "bob-password").await.0, 401);
    assert_eq!(login(http, &server.base, "robert@example.com", "bob-password").await.0, 200);
    // The old address is free again; the admin's is not.
    assert_eq!(create("bob@example.com", "new-bob-password").send().await.unwrap().status(), 201);
    let taken = serde_json::json!({ "email": "admin@example.com", "current_password": "bob-password" });
    assert_eq!(http.put(&me).bearer_auth(&bob).json(&taken).send().await.unwrap().status(), 422);

    let (_, listed) = server.get("/api/management/v1/useradm/users").await;
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let res =
        http.delete(format!("{}{location}", server.base)).bearer_auth(&server.token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(status(http.get(&me), &bob).await, 401, "a deleted user's token stops working");
    assert_eq!(server.get(&location).await.0, 404);
}

#[tokio::test]
async fn personal_access_tokens_work_until_deleted() {
    let server = Server::start().await;
    let http = &server.http;
    let tokens = format!("{}/api/management/v1/useradm/settings/tokens", server.base);
    let create = |name: &str, expires_in: i64| {
        http.post(&tokens)
            .bearer_auth(&server.token)
            .json(&serde_json::json!({ "name": name, "expires_in": expires_in }))
    };
    let res = create("ci", 3600).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jwt");
    let pat = res.text().await.unwrap();
    assert_eq!(create("ci", 3600).send().await.unwrap().status(), 409);
    assert_eq!(create("too-long", 2 * 365 * 24 * 3600).send().await.unwrap().status(), 400);
    let me = format!("{}/api/management/v1/useradm/users/me", server.base);
    assert_eq!(status(http.get(&me), &pat).await, 200);
    let listed: Value =
        http.get(&tokens).bearer_auth(&server.token).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["name"], "ci");
    let id = listed[0]["id"].as_str().unwrap();
    let res = http.delete(format!("{tokens}/{id}")).bearer_auth(&server.token).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(status(http.get(&me), &pat).await, 401);
    assert_eq!(
        http.delete(format!("{tokens}/{id}")).bearer_auth(&server.token).send().await.unwrap().status(),
        404
    );
}

#[tokio::test]
async fn settings_are_saved_with_an_etag() {
    let server = Server::start().await;
    let http = &server.http;
    for path in ["/api/management/v1/useradm/settings", "/api/management/v1/useradm/settings/me"] {
        let url = format!("{}{path}", server.base);
        let res = http.get(&url).bearer_auth(&server.token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(res.json::<Value>().await.unwrap(), serde_json::json!({}));
        let save = |body: Value, etag: &str| {
            http.post(&url).bearer_auth(&server.token).header("If-Match", etag).json(&body)
        };
        assert_eq!(save(serde_json::json!({ "2fa": "enabled" }), &etag).send().await.unwrap().status(), 201);
        assert_eq!(
            save(serde_json::json!({ "2fa": "disabled" }), &etag).send().await.unwrap().status(),
            412,
            "stale ETag"
        );
        assert_eq!(save(serde_json::json!([1]), "\"1\"").send().await.unwrap().status(), 400);
        let res = http.get(&url).bearer_auth(&server.token).send().await.unwrap();
        assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);
        assert_eq!(res.json::<Value>().await.unwrap()["2fa"], "enabled");
    }
}
