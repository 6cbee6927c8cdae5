//! The audit log API, served from the events themselves.

use serde_json::Value;

use crate::server::Server;

#[tokio::test]
async fn the_audit_log_shows_who_did_what_with_filters_paging_and_csv() {
    let server = Server::start().await;
    let http = &server.http;
    let users = format!("{}/api/management/v1/useradm/users", server.base);
    let res = http
        .post(&users)
        .bearer_auth(&server.token)
        .json(&serde_json::json!({ "email": "eve@example.com", "password": "eve-password" }))
        .send()
        .await
        .unwrap();
    let eve = res.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();

    let logs = format!("{}/api/management/v1/auditlogs/logs", server.base);
    let token = server.token.clone();
    let get = |query: &str| {
        let req = http.get(format!("{logs}{query}")).bearer_auth(&token);
        async move { req.send().await.unwrap() }
    };
    let res = get("").await;
    assert_eq!(res.status(), 200);
    let total: usize = res.headers()["x-total-count"].to_str().unwrap().parse().unwrap();
    let all: Vec<Value> = res.json().await.unwrap();
    assert_eq!(all.len(), total);
    // Newest first: the admin creating eve.
    assert_eq!(all[0]["action"], "create");
    let user = serde_json::json!({ "email": "eve@example.com" });
    assert_eq!(all[0]["object"], serde_json::json!({ "id": eve, "type": "user", "user": user }));
    assert_eq!(all[0]["actor"]["email"], "admin@example.com");
    assert_eq!(all[0]["actor"]["type"], "user");
    assert!(all.iter().any(|e| e["action"] == "login"));
    assert!(all.iter().all(|e| e["time"].as_str().unwrap().ends_with('Z')));

    let (res_obj, res_asc, res_page) = (
        get(&format!("?object_type=user&object_id={eve}")).await,
        get("?sort=asc").await,
        get("?per_page=1&page=2").await,
    );
    let of_eve: Vec<Value> = res_obj.json().await.unwrap();
    assert_eq!(of_eve.len(), 1);
    let asc: Vec<Value> = res_asc.json().await.unwrap();
    assert_eq!(asc[0]["action"], "create", "the admin's own creation comes first");
    assert_eq!(asc[0]["actor"]["type"], "system", "created by the CLI");
    assert!(res_page.headers().get_all("link").iter().any(|l| l.to_str().unwrap().contains("rel=\"prev\"")));
    let second: Vec<Value> = res_page.json().await.unwrap();
    assert_eq!(second[0], all[1]);
    let by_email: Vec<Value> = get("?actor_email=admin@example.com").await.json().await.unwrap();
    assert!(by_email.iter().all(|e| e["actor"]["email"] == "admin@example.com"));
    let future: Vec<Value> = get("?created_after=4102444800").await.json().await.unwrap();
    assert!(future.is_empty());
    let past: Vec<Value> = get("?created_before=946684800").await.json().await.unwrap();
    assert!(past.is_empty());
    for bad in ["?sort=sideways", "?created_after=yesterday", "?per_page=0"] {
        assert_eq!(get(bad).await.status(), 400, "{bad}");
    }

    let res = get("/export?sort=asc").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv");
    let csv = res.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("time,actor_type,actor_id"));
    assert_eq!(lines.count(), total);
    assert!(csv.contains("eve@example.com"));
    assert_eq!(http.get(&logs).send().await.unwrap().status(), 401);
}
