//! The log as a product: `fleetlog tail`, the HTTP event stream, and `fleetlog replay`.

use std::time::Duration;

use fleetlog_gateway::logtools;
use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ReplayArgs, ServeArgs, TailArgs};
use fleetlog_tests::fresh_conn;
use serde_json::Value;

use crate::server::Server;

fn tail_args(conn: ConnectionArgs) -> TailArgs {
    TailArgs {
        conn,
        from: Some(1),
        no_follow: true,
        tenant: None,
        aggregate_type: None,
        id: None,
        event: None,
    }
}

async fn tail_lines(args: &TailArgs) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    logtools::tail(args, &mut out).await?;
    Ok(String::from_utf8(out)?.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
}

#[tokio::test]
async fn tail_shows_the_history_as_json_lines_with_filters() {
    let server = Server::start().await;
    let all = tail_lines(&tail_args(server.conn.clone())).await.unwrap();
    // The admin user: UserCreated + its e-mail claim, then the login session.
    let types: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types[..2], ["UserCreated", "ClaimTaken"]);
    assert!(types.contains(&"UserTokenIssued"));
    assert!(all.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));
    assert!(!all.iter().any(|e| e.to_string().contains("argon2")), "no password hash in JSON");

    let only_claims = TailArgs { event: Some("ClaimTaken".into()), ..tail_args(server.conn.clone()) };
    assert_eq!(tail_lines(&only_claims).await.unwrap().len(), 1);
    let users = TailArgs { aggregate_type: Some("user".into()), ..tail_args(server.conn.clone()) };
    assert!(tail_lines(&users).await.unwrap().iter().all(|e| e["aggregate"]["type"] == "user"));
    let from_two = TailArgs { from: Some(2), ..tail_args(server.conn.clone()) };
    assert_eq!(tail_lines(&from_two).await.unwrap()[0]["seq"], 2);

    for (bad, message) in [
        (TailArgs { from: Some(10_000), ..tail_args(server.conn.clone()) }, "beyond the end"),
        (TailArgs { event: Some("Nope".into()), ..tail_args(server.conn.clone()) }, "unknown event type"),
        (
            TailArgs { aggregate_type: Some("gizmo".into()), ..tail_args(server.conn.clone()) },
            "unknown aggregate type",
        ),
        (TailArgs { id: Some("a.b".into()), ..tail_args(server.conn.clone()) }, "invalid id"),
    ] {
        let err = tail_lines(&bad).await.unwrap_err().to_string();
        assert!(err.contains(message), "{err}");
    }
}

#[tokio::test]
async fn the_http_stream_delivers_history_and_live_events_and_resumes() {
    let server = Server::start().await;
    let url = format!("{}/api/management/v1/fleetlog/events", server.base);
    // History as NDJSON, up to now.
    let res = server
        .http
        .get(format!("{url}?from=1&follow=false&format=ndjson"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let history: Vec<Value> =
        res.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(history.len() >= 3);
    let last = history.last().unwrap()["seq"].as_u64().unwrap();

    // Live, as Server-Sent Events, resuming after the last event seen.
    let res = server
        .http
        .get(format!("{url}?event_type=UserCreated"))
        .bearer_auth(&server.token)
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut res = res;
    let users = format!("{}/api/management/v1/useradm/users", server.base);
    let created = server
        .http
        .post(&users)
        .bearer_auth(&server.token)
        .json(&serde_json::json!({ "email": "live@example.com", "password": "live-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("live@example.com") {
        let chunk =
            tokio::time::timeout_at(deadline, res.chunk()).await.expect("event in time").unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: UserCreated"), "{text}");
    let id: u64 = text.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().parse().unwrap();
    assert!(id > last);

    for bad in ["?event_type=Nope", "?from=abc", "?from=999999", "?format=xml"] {
        let res = server.http.get(format!("{url}{bad}")).bearer_auth(&server.token).send().await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
    assert_eq!(server.http.get(&url).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn replay_rebuilds_read_models_identical_to_the_live_ones() {
    let (_dir, conn) = fresh_conn("R");
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "a@example.com", "a-password")).await.unwrap();
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "b@example.com", "b-password")).await.unwrap();
    let app =
        Box::pin(Application::build(ServeArgs::with_defaults(conn.clone(), "127.0.0.1:0".parse().unwrap())))
            .await
            .unwrap();
    let state = app.state().clone();
    let last = state.store().last_seq().await.unwrap();
    assert!(state.read_models.wait_for(last, Duration::from_secs(10)).await);
    let live: Vec<String> = state.read_models.models().map(|m| m.content_hash().unwrap()).collect();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    drop(state);

    Box::pin(logtools::replay(&ReplayArgs { conn: conn.clone(), model: None, to: None, out: None }))
        .await
        .unwrap();
    let app = Box::pin(Application::build(ServeArgs::with_defaults(conn, "127.0.0.1:0".parse().unwrap())))
        .await
        .unwrap();
    let rebuilt: Vec<String> = app.state().read_models.models().map(|m| m.content_hash().unwrap()).collect();
    assert_eq!(rebuilt, live);
    let meta = app.state().read_models.db().open_tree("fleetlog.meta").unwrap();
    assert_eq!(&meta.get("active/users").unwrap().unwrap()[..], b"rm/users/2", "a fresh tree was swapped in");
}

#[tokio::test]
async fn an_objects_history_and_its_state_at_an_instant() {
    let server = Server::start().await;
    let (_, me) = server.get("/api/management/v1/useradm/users/me").await;
    let id = me["id"].as_str().unwrap();
    let before_change = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let me_url = format!("{}/api/management/v1/useradm/users/me", server.base);
    let body = serde_json::json!({ "email": "root@example.com", "current_password": "secret-password" });
    assert_eq!(
        server.http.put(&me_url).bearer_auth(&server.token).json(&body).send().await.unwrap().status(),
        204
    );

    let (status, now) = server.get(&format!("/api/management/v1/fleetlog/objects/user/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(now["state"]["email"], "root@example.com");
    assert!(now["state"].get("password_hash").is_none(), "no secrets");
    let types: Vec<&str> =
        now["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"UserCreated"));
    assert_eq!(types.last(), Some(&"UserEmailChanged"));

    let (_, then) =
        server.get(&format!("/api/management/v1/fleetlog/objects/user/{id}?at={before_change}")).await;
    assert_eq!(then["state"]["email"], "admin@example.com", "the state as it was");
    assert!(then["events"].as_array().unwrap().len() < types.len());

    assert_eq!(server.get("/api/management/v1/fleetlog/objects/gizmo/x").await.0, 400);
    assert_eq!(server.get("/api/management/v1/fleetlog/objects/user/nobody").await.0, 404);
    assert_eq!(server.get(&format!("/api/management/v1/fleetlog/objects/user/{id}?at=noon")).await.0, 400);
}

#[tokio::test]
async fn replay_to_a_position_or_an_instant_makes_a_point_in_time_copy() {
    let (_dir, conn) = fresh_conn("P");
    // Positions 1-2: user a (and its e-mail claim); 3-4: user b.
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "a@example.com", "a-password")).await.unwrap();
    let between = time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(20)).await;
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "b@example.com", "b-password")).await.unwrap();

    let users_in = |out: &std::path::Path| {
        let db = sled::open(out.join("readmodels")).unwrap();
        let active = db.open_tree("fleetlog.meta").unwrap().get("active/users").unwrap().unwrap();
        let tree = db.open_tree(active).unwrap();
        tree.scan_prefix("u/default/").count()
    };
    let rfc3339 = between.format(&time::format_description::well_known::Rfc3339).unwrap();
    for (to, expected) in [("2".to_owned(), 1), ("4".to_owned(), 2), (rfc3339, 1)] {
        let out = tempfile::tempdir().unwrap();
        let args = ReplayArgs {
            conn: conn.clone(),
            model: Some("users".into()),
            to: Some(to.clone()),
            out: Some(out.path().into()),
        };
        Box::pin(logtools::replay(&args)).await.unwrap();
        assert_eq!(users_in(out.path()), expected, "--to {to}");
    }
    let out = tempfile::tempdir().unwrap();
    let bad = ReplayArgs { conn, model: None, to: Some("yesterday".into()), out: Some(out.path().into()) };
    assert!(Box::pin(logtools::replay(&bad)).await.unwrap_err().to_string().contains("neither a position"));
}

#[tokio::test]
async fn replay_while_serve_runs_rebuilds_in_the_running_server() {
    let (dir, conn) = fresh_conn("L");
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "a@example.com", "a-password")).await.unwrap();
    let app =
        Box::pin(Application::build(ServeArgs::with_defaults(conn.clone(), "127.0.0.1:0".parse().unwrap())))
            .await
            .unwrap();
    let state = app.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    let last = state.store().last_seq().await.unwrap();
    assert!(state.read_models.wait_for(last, Duration::from_secs(10)).await);
    let before = state.read_models.model("users").unwrap().content_hash().unwrap();
    while !dir.path().join("serve.id").exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let args = ReplayArgs { conn: conn.clone(), model: Some("users".into()), to: None, out: None };
    Box::pin(logtools::replay(&args)).await.unwrap();
    assert_eq!(state.read_models.model("users").unwrap().content_hash().unwrap(), before);
    let meta = state.read_models.db().open_tree("fleetlog.meta").unwrap();
    assert_eq!(&meta.get("active/users").unwrap().unwrap()[..], b"rm/users/2", "rebuilt and swapped live");

    let unknown = ReplayArgs { conn, model: Some("nope".into()), to: None, out: None };
    let err = Box::pin(logtools::replay(&unknown)).await.unwrap_err().to_string();
    assert!(err.contains("no read model named"), "{err}");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(!dir.path().join("serve.id").exists());
}

#[tokio::test]
async fn the_history_command_prints_an_objects_events_and_state() {
    let server = Server::start().await;
    let (_, me) = server.get("/api/management/v1/useradm/users/me").await;
    let args = fleetlog_gateway::settings::HistoryArgs {
        conn: server.conn.clone(),
        kind: "user".into(),
        id: me["id"].as_str().unwrap().into(),
        at: None,
    };
    let mut out = Vec::new();
    logtools::history(&args, &mut out).await.unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["state"]["email"], "admin@example.com");
    assert_eq!(doc["events"][0]["type"], "UserCreated");
    let long_ago =
        fleetlog_gateway::settings::HistoryArgs { at: Some("1990-01-01T00:00:00Z".into()), ..args.clone() };
    let mut out = Vec::new();
    logtools::history(&long_ago, &mut out).await.unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert!(doc["events"].as_array().unwrap().is_empty());
    let bad = fleetlog_gateway::settings::HistoryArgs { kind: "gizmo".into(), ..args };
    assert!(logtools::history(&bad, &mut Vec::new()).await.is_err());
}
