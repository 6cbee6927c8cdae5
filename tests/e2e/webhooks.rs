//! iot-manager webhooks end to end: a real HTTP receiver started here (axum on a local port)
//! gets Mender-signed deliveries of device lifecycle events, the events list shows their
//! outcome, secrets never render, and a receiver that is down while fleetlog restarts still
//! gets every event once it is back (`webhooks_restart`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::Server;

pub(crate) const SECRET: &str = "c0ffee00d00d";

/// One request the receiver got: its headers and body.
#[derive(Clone)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A webhook receiver on a fixed local port; it can go down and come back on the same port.
pub(crate) struct Receiver {
    addr: std::net::SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut r =
            Receiver { addr: listener.local_addr().unwrap(), got: Arc::default(), stop: None, task: None };
        r.serve(listener);
        r
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let got = self.got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let got = got.clone();
                async move {
                    got.lock().unwrap().push(Received { headers, body: body.to_vec() });
                    "ok"
                }
            }),
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(tx);
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        }));
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub(crate) async fn down(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    pub(crate) async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    /// The (type, data) of every request so far, after checking each one's signature.
    pub(crate) fn events(&self) -> Vec<(String, Value)> {
        let got = self.got.lock().unwrap().clone();
        got.iter()
            .map(|r| {
                assert_eq!(r.headers["x-men-algorithm"], "MEN-HMAC-SHA256-Payload");
                assert_eq!(r.headers["content-type"], "application/json");
                let key: Vec<u8> = (0..SECRET.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&SECRET[i..i + 2], 16).unwrap())
                    .collect();
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
                mac.update(&r.body);
                let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(r.headers["x-men-signature"].to_str().unwrap(), want, "signature verifies");
                let event: Value = serde_json::from_slice(&r.body).unwrap();
                assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
                assert!(event["time"].as_str().unwrap().ends_with('Z'));
                (event["type"].as_str().unwrap().to_owned(), event["data"].clone())
            })
            .collect()
    }

    /// Waits until every one of `kinds` arrived (at least once).
    pub(crate) async fn wait_for(&self, kinds: &[&str], within: Duration) -> Vec<(String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let events = self.events();
            if kinds.iter().all(|k| events.iter().any(|(t, _)| t == k)) {
                return events;
            }
            assert!(tokio::time::Instant::now() < deadline, "webhooks {kinds:?} not received: {events:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn create_webhook(server: &Server, url: &str) -> String {
    let body = json!({
        "provider": "webhook",
        "credentials": { "type": "http", "http": { "url": url, "secret": SECRET } },
        "description": "test receiver",
    });
    let (status, headers, _) =
        server.send(Method::POST, "/api/management/v1/iot-manager/integrations", Some(body)).await;
    assert_eq!(status, 201);
    let location = headers["location"].to_str().unwrap();
    location.rsplit('/').next().unwrap().to_owned()
}

/// Accepts the captured device, then decommissions it: its id.
async fn accept_and_decommission(server: &Server) -> String {
    let (id, _token) = server.accepted_device().await;
    assert_eq!(server.delete(&format!("/api/management/v2/devauth/devices/{id}")).await, 204);
    id
}

/// The events list once every event shows a recorded outcome for `integration`.
async fn recorded_events(server: &Server, integration: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let path = format!("/api/management/v1/iot-manager/events?integration_id={integration}");
        let (status, events) = server.get(&path).await;
        assert_eq!(status, 200);
        let events = events.as_array().unwrap().clone();
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("delivery outcomes not recorded");
}

pub(crate) const LIFECYCLE: [&str; 3] =
    ["device-provisioned", "device-status-changed", "device-decommissioned"];

#[tokio::test]
async fn device_lifecycle_events_arrive_signed_and_the_events_list_shows_them_delivered() {
    let receiver = Receiver::start().await;
    let server = Server::start().await;
    let integration = create_webhook(&server, &receiver.url()).await;

    let (status, list) = server.get("/api/management/v1/iot-manager/integrations").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], integration.as_str());
    assert_eq!(
        list[0]["credentials"],
        json!({"type": "http", "http": {"url": receiver.url(), "secret": "<omitted>"}})
    );
    let (status, one) =
        server.get(&format!("/api/management/v1/iot-manager/integrations/{integration}")).await;
    assert_eq!((status.as_u16(), &one["description"]), (200, &json!("test receiver")));

    let device = accept_and_decommission(&server).await;
    let got = receiver.wait_for(&LIFECYCLE, Duration::from_secs(30)).await;
    let data = |kind: &str| got.iter().find(|(t, _)| t == kind).unwrap().1.clone();
    assert_eq!(data("device-provisioned")["id"], device.as_str());
    assert_eq!(data("device-provisioned")["auth_sets"][0]["status"], "accepted");
    assert!(data("device-provisioned")["auth_sets"][0]["pubkey"].as_str().unwrap().contains("PUBLIC KEY"));
    assert_eq!(data("device-status-changed"), json!({"id": device, "status": "accepted"}));
    assert_eq!(data("device-decommissioned"), json!({"id": device}));

    let events = recorded_events(&server, &integration, 3).await;
    let mut kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["device-decommissioned", "device-provisioned", "device-status-changed"]);
    for e in &events {
        assert_eq!(
            e["delivery_statuses"],
            json!([{"integration_id": integration, "success": true, "status_code": 200}])
        );
    }
    assert_eq!(events[0]["type"], "device-decommissioned", "newest first");

    // The secret renders nowhere: not in the log's JSON form, not in the audit log.
    let res = server
        .http
        .get(format!("{}/api/management/v1/fleetlog/events?from=1&format=ndjson&follow=false", server.base))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains("IntegrationCreated") && !text.contains(SECRET), "{text}");
    let (_, audit) = server.get("/api/management/v1/auditlogs/logs").await;
    assert!(audit.to_string().contains("integration") && !audit.to_string().contains(SECRET));
    let (_, history) =
        server.get(&format!("/api/management/v1/fleetlog/objects/integration/{integration}")).await;
    assert!(history.to_string().contains(&receiver.url()) && !history.to_string().contains(SECRET));

    // Removing the integration stops deliveries to it.
    assert_eq!(
        server.delete(&format!("/api/management/v1/iot-manager/integrations/{integration}")).await,
        204
    );
    let (_, list) = server.get("/api/management/v1/iot-manager/integrations").await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn bad_integrations_are_clear_4xx_and_cloud_providers_are_not_available() {
    let server = Server::start().await;
    let post =
        |body: Value| server.send(Method::POST, "/api/management/v1/iot-manager/integrations", Some(body));
    let (status, _, body) = post(
        json!({"provider": "iot-hub", "credentials": {"type": "sas", "connection_string": "HostName=x"}}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("not available in this build"), "{body}");
    let (status, _, _) =
        post(json!({"provider": "iot-core", "credentials": {"type": "aws", "aws": {}}})).await;
    assert_eq!(status, 400);
    for bad in [
        json!({"provider": "webhook", "credentials": {"type": "http", "http": {"url": "ftp://x/"}}}),
        json!({"provider": "webhook", "credentials": {"type": "http", "http": {"url": "http://x/", "secret": "xyz"}}}),
        json!({"provider": "webhook", "credentials": {"type": "sas"}}),
        json!({"provider": "webhook"}),
        json!({"credentials": {"type": "http", "http": {"url": "http://x/"}}}),
    ] {
        let (status, _, body) = post(bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["request_id"].is_string());
    }
    let unknown = uuid::Uuid::new_v4();
    let base = "/api/management/v1/iot-manager";
    assert_eq!(server.get(&format!("{base}/integrations/{unknown}")).await.0, 404);
    assert_eq!(server.get(&format!("{base}/integrations/not-a-uuid")).await.0, 400);
    assert_eq!(server.delete(&format!("{base}/integrations/{unknown}")).await, 404);
    let creds = json!({"type": "http", "http": {"url": "http://127.0.0.1:9/"}});
    let (status, _, _) =
        server.send(Method::PUT, &format!("{base}/integrations/{unknown}/credentials"), Some(creds)).await;
    assert_eq!(status, 404);
    assert_eq!(server.get(&format!("{base}/events?integration_id=nope")).await.0, 400);
    // Device states belong to cloud providers: as Mender answers without such an integration.
    assert_eq!(server.get(&format!("{base}/devices/{unknown}/state")).await.0, 404);
    assert_eq!(server.get(&format!("{base}/devices/{unknown}/state/{unknown}")).await.0, 404);
    assert_eq!(server.get(&format!("{base}/devices/{unknown}/state/x")).await.0, 400);
}

#[tokio::test]
async fn webhook_allow_refuses_hosts_outside_the_list() {
    let server = Server::start_with(|args| {
        args.webhooks.allow =
            fleetlog_commands::app::processes::allow::AllowList::parse("10.0.0.0/8").unwrap();
    })
    .await;
    let body = json!({"provider": "webhook", "credentials": {"type": "http", "http": {"url": "http://127.0.0.1:9/h"}}});
    let (status, _, body) =
        server.send(Method::POST, "/api/management/v1/iot-manager/integrations", Some(body)).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("--webhook-allow"), "{body}");
}
