//! useradm as the web GUI and Mender's own API test runner use it: changing one's own password
//! through v2, deleting a user that is already gone, the users list filters, and the plans.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::server::Server;

async fn login(server: &Server, email: &str, password: &str) -> (StatusCode, String) {
    let url = format!("{}/api/management/v1/useradm/auth/login", server.base);
    let res = server.http.post(url).basic_auth(email, Some(password)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn put_me_v2(server: &Server, token: &str, body: Value) -> StatusCode {
    let url = format!("{}/api/management/v2/useradm/users/me", server.base);
    server.http.put(url).bearer_auth(token).json(&body).send().await.unwrap().status()
}

#[tokio::test]
async fn v2_users_me_changes_the_own_password_with_the_current_one() {
    let server = Server::start().await;
    let users = "/api/management/v1/useradm/users";
    let body = json!({ "email": "bob@example.com", "password": "bob-password" });
    assert_eq!(server.send(Method::POST, users, Some(body)).await.0, 201);
    let (_, bob) = login(&server, "bob@example.com", "bob-password").await;

    let change = |current: &str| json!({ "password": "new-bob-password", "current_password": current });
    assert_eq!(put_me_v2(&server, &bob, change("wrong-password")).await, 422);
    assert_eq!(put_me_v2(&server, &bob, json!({ "password": "new-bob-password" })).await, 422);
    assert_eq!(put_me_v2(&server, &bob, json!({ "current_password": "bob-password" })).await, 400);
    let short = json!({ "password": "short", "current_password": "bob-password" });
    assert_eq!(put_me_v2(&server, &bob, short).await, 422);
    assert_eq!(login(&server, "bob@example.com", "new-bob-password").await.0, 401, "nothing changed yet");

    assert_eq!(put_me_v2(&server, &bob, change("bob-password")).await, 204);
    assert_eq!(login(&server, "bob@example.com", "bob-password").await.0, 401);
    assert_eq!(login(&server, "bob@example.com", "new-bob-password").await.0, 200);
    let res = server.http.put(format!("{}/api/management/v2/useradm/users/me", server.base));
    assert_eq!(res.json(&change("x")).send().await.unwrap().status(), 401, "a token is needed");
}

#[tokio::test]
async fn deleting_an_unknown_user_is_a_no_op() {
    let server = Server::start().await;
    let path = "/api/management/v1/useradm/users/5b5b2b07-8a5d-4bd4-a1a3-3a24e7d01a9e";
    assert_eq!(server.delete(path).await, 204);
    assert_eq!(server.delete(path).await, 204, "again");
    let res = server.http.delete(format!("{}{path}", server.base)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (_, all) = server.get("/api/management/v1/useradm/users").await;
    assert_eq!(all.as_array().unwrap().len(), 1, "the admin is still there");
}

fn emails(list: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = list.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    out.sort_unstable();
    out
}

#[tokio::test]
async fn the_users_list_is_filtered_as_the_spec_documents() {
    let server = Server::start().await;
    let users = "/api/management/v1/useradm/users";
    for email in ["bob@example.com", "carol@example.com"] {
        let body = json!({ "email": email, "password": "long-enough-password" });
        assert_eq!(server.send(Method::POST, users, Some(body)).await.0, 201);
    }
    let (_, all) = server.get(users).await;
    assert_eq!(emails(&all), ["admin@example.com", "bob@example.com", "carol@example.com"]);
    let id_of = |email: &str| {
        all.as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (_, one) = server.get(&format!("{users}?email=Bob@Example.com")).await;
    assert_eq!(emails(&one), ["bob@example.com"]);
    let (_, two) = server.get(&format!("{users}?email=bob@example.com&email=carol@example.com")).await;
    assert_eq!(emails(&two), ["bob@example.com", "carol@example.com"]);
    let (_, ids) = server
        .get(&format!("{users}?id={}&id={}", id_of("admin@example.com"), id_of("carol@example.com")))
        .await;
    assert_eq!(emails(&ids), ["admin@example.com", "carol@example.com"]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (_, later) = server.get(&format!("{users}?created_after={}", now + 3600)).await;
    assert_eq!(later, json!([]));
    let (_, before) = server.get(&format!("{users}?created_before={}&updated_after=0", now + 3600)).await;
    assert_eq!(before.as_array().unwrap().len(), 3);
    let (_, old) = server.get(&format!("{users}?updated_before={}", now - 3600)).await;
    assert_eq!(old, json!([]));
    for bad in ["created_after=yesterday", "created_before=1.5", "updated_after=x", "updated_before=-"] {
        let (status, body) = server.get(&format!("{users}?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["error"].as_str().unwrap().contains("invalid form parameter"), "{body}");
    }
}

#[tokio::test]
async fn plans_are_answered_as_open_source_mender_does() {
    let server = Server::start().await;
    let (status, plans) = server.get("/api/management/v1/useradm/plans").await;
    assert_eq!((status.as_u16(), plans), (200, json!([])));
    assert_eq!(server.get("/api/management/v1/useradm/plans?page=0").await.0, 400);
    assert_eq!(server.get("/api/management/v1/useradm/plans?per_page=501").await.0, 400);
    let (status, binding) = server.get("/api/management/v1/useradm/plan_binding").await;
    assert_eq!(status, 200);
    assert_eq!(binding, json!({ "plan": { "name": "", "display_name": "", "features": null } }));
    for path in ["/api/management/v1/useradm/plans", "/api/management/v1/useradm/plan_binding"] {
        let res = server.http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
}
