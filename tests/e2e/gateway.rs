//! The gateway skeleton over HTTP: health, readiness, metrics, request ids, Mender's error
//! format, body limits, embedded nats-server and graceful shutdown.

use std::path::PathBuf;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use fleetlog_events::device::Device;
use fleetlog_gateway::http::with_layers;
use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ServeArgs};
use fleetlog_tests::{meta, nats_server_bin, shared_nats_url};
use tower::ServiceExt;

use crate::support::submit;

fn serve_args(data_dir: PathBuf, nats_url: Option<String>) -> ServeArgs {
    let id = uuid::Uuid::new_v4().simple().to_string();
    ServeArgs::with_defaults(
        ConnectionArgs {
            data_dir,
            nats_url,
            nats_server_bin: nats_server_bin(),
            stream: format!("G{id}"),
            subject_prefix: format!("g{}", &id[..12]),
            replicas: 1,
            cache_mb: fleetlog_projections::DEFAULT_CACHE_MB,
        },
        "127.0.0.1:0".parse().unwrap(),
    )
}

#[tokio::test]
async fn health_readiness_metrics_and_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let app =
        Application::build(serve_args(dir.path().into(), Some(shared_nats_url().into()))).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let commands = fleetlog_commands::CommandService::new(app.state().store().clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();

    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let generated = res.headers()["x-men-requestid"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID is generated when the client sends none");

    // Appends move the read models; readiness reports them caught up.
    let out = commands.execute::<Device>(&meta(), "d1", &submit(1)).await.unwrap();
    let ready: serde_json::Value = loop {
        let res = http.get(format!("{base}/readyz")).send().await.unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        if body["read_models"]["devices"]["position"] == out.position && body["status"] == "ok" {
            break body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(ready["nats"], true);

    let res =
        http.get(format!("{base}/no/such/path")).header("X-MEN-RequestID", "req-42").send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-men-requestid"], "req-42");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "error": "no such endpoint", "request_id": "req-42" }));

    let res = http.post(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["error"].is_string() && body["request_id"].is_string(), "{body}");

    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    for needle in [
        r#"fleetlog_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200""#,
        "fleetlog_append_seconds_bucket",
        r#"fleetlog_projection_lag{model="devices"}"#,
    ] {
        assert!(metrics.contains(needle), "metrics lack {needle}");
    }

    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(http.get(format!("{base}/healthz")).send().await.is_err(), "stopped listening");
}

#[tokio::test]
async fn oversized_and_bad_bodies_get_menders_error_format() {
    async fn echo(body: Bytes) -> Bytes {
        body
    }
    let router: Router = with_layers(Router::new().route("/echo", post(echo)), 1024);
    let res = router
        .clone()
        .oneshot(Request::post("/echo").body(Body::from(vec![b'x'; 2048])).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let id = res.headers()["x-men-requestid"].to_str().unwrap().to_owned();
    let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["request_id"], id);
    assert!(json["error"].as_str().unwrap().to_lowercase().contains("length limit"), "{json}");

    let ok = router.oneshot(Request::post("/echo").body(Body::from("hello")).unwrap()).await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn serve_without_a_nats_url_runs_its_own_nats_server_and_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(dir.path().into(), None);
    let conn = args.conn.clone();
    let app = Box::pin(Application::build(args)).await.unwrap();
    let url = std::fs::read_to_string(dir.path().join("nats.url")).expect("embedded URL recorded");
    assert!(url.starts_with("nats://127.0.0.1:"), "{url}");
    let conf = std::fs::read_to_string(dir.path().join("nats/nats-server.conf")).unwrap();
    assert!(conf.contains("sync_interval: always"), "{conf}");
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    // `fleetlog admin create-user` on the same data dir reaches the running server's log.
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "ops@example.com", "ops-password")).await.unwrap();
    let login = format!("{base}/api/management/v1/useradm/auth/login");
    let mut status = 0;
    for _ in 0..100 {
        let res = reqwest::Client::new()
            .post(&login)
            .basic_auth("ops@example.com", Some("ops-password"))
            .send()
            .await
            .unwrap();
        status = res.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the user created by the CLI logs in");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(!dir.path().join("nats.url").exists(), "URL file removed on stop");
    assert!(async_nats::connect(url.as_str()).await.is_err(), "embedded server stopped");
}

#[tokio::test]
async fn a_missing_nats_server_binary_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = serve_args(dir.path().into(), None);
    args.conn.nats_server_bin = "/nonexistent/nats-server".into();
    let err = Application::build(args).await.err().expect("fails").to_string();
    assert!(
        err.contains("nats-server not found") && err.contains("make setup") && !err.contains('\n'),
        "{err}"
    );
}
