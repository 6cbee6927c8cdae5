//! A webhook receiver that is down while fleetlog restarts still gets every event, at least
//! once, when it comes back: the delivery process's checkpoint is its durable consumer.
//!
//! fleetlog runs here as it does in production: stopped gracefully and started again on the
//! same data dir and log (so the harness keeps no handle on the process's state).

use std::time::Duration;

use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::ServeArgs;
use reqwest::Method;
use serde_json::{Value, json};

use crate::server::captured;
use crate::webhooks::{LIFECYCLE, Receiver, SECRET};

/// fleetlog, reached only over HTTP, that can be restarted.
struct Fleetlog {
    args: ServeArgs,
    base: String,
    token: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Fleetlog {
    async fn start() -> Fleetlog {
        let (dir, conn) = fleetlog_tests::fresh_conn("W");
        Box::pin(fleetlog_gateway::admin::create_user(&conn, "admin@example.com", "secret-password"))
            .await
            .unwrap();
        let args = ServeArgs::with_defaults(conn, "127.0.0.1:0".parse().unwrap());
        let mut f = Fleetlog {
            args,
            base: String::new(),
            token: String::new(),
            http: reqwest::Client::new(),
            stop: None,
            task: None,
            _dir: dir,
        };
        f.serve().await;
        for _ in 0..100 {
            let res = f
                .http
                .post(format!("{}/api/management/v1/useradm/auth/login", f.base))
                .basic_auth("admin@example.com", Some("secret-password"))
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                f.token = res.text().await.unwrap();
                return f;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no login");
    }

    async fn serve(&mut self) {
        let app = Box::pin(Application::build(self.args.clone())).await.unwrap();
        self.base = format!("http://{}", app.local_addr());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        self.task = Some(tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        })));
        self.stop = Some(tx);
    }

    async fn restart(&mut self) {
        drop(self.stop.take());
        self.task.take().unwrap().await.unwrap().unwrap();
        self.serve().await;
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        self.send(Method::GET, path, None).await.2
    }

    /// The captured device asks, is accepted, then decommissioned.
    async fn accept_and_decommission(&self) {
        let (body, signature) = captured().remove(0);
        let auth = format!("{}/api/devices/v1/authentication/auth_requests", self.base);
        let ask = || {
            self.http
                .post(&auth)
                .header("Content-Type", "application/json")
                .header("X-MEN-Signature", &signature)
                .body(body.clone())
                .send()
        };
        assert_eq!(ask().await.unwrap().status(), 401);
        let devices = self.get("/api/management/v2/devauth/devices").await;
        let (id, set) =
            (devices[0]["id"].as_str().unwrap(), devices[0]["auth_sets"][0]["id"].as_str().unwrap());
        let path = format!("/api/management/v2/devauth/devices/{id}/auth/{set}/status");
        assert_eq!(self.send(Method::PUT, &path, Some(json!({"status": "accepted"}))).await.0, 204);
        let path = format!("/api/management/v2/devauth/devices/{id}");
        assert_eq!(self.send(Method::DELETE, &path, None).await.0, 204);
    }
}

impl Drop for Fleetlog {
    fn drop(&mut self) {
        drop(self.stop.take());
    }
}

#[tokio::test]
async fn a_receiver_down_while_fleetlog_restarts_still_gets_every_event() {
    let mut receiver = Receiver::start().await;
    let mut fleetlog = Fleetlog::start().await;
    let body = json!({
        "provider": "webhook",
        "credentials": { "type": "http", "http": { "url": receiver.url(), "secret": SECRET } },
    });
    let (status, headers, _) =
        fleetlog.send(Method::POST, "/api/management/v1/iot-manager/integrations", Some(body)).await;
    assert_eq!(status, 201);
    let integration = headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned();
    receiver.down().await;

    fleetlog.accept_and_decommission().await;
    // Deliveries fail and are retried; the process shows its backlog.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ready = fleetlog.get("/readyz").await;
    let process = &ready["processes"][format!("webhook:{integration}")];
    assert!(process["lag"].as_u64().unwrap() >= 1 && process["retrying"] == true, "{ready}");
    let metrics =
        fleetlog.http.get(format!("{}/metrics", fleetlog.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("fleetlog_process_lag"), "lag in /metrics");

    fleetlog.restart().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    receiver.up().await;

    receiver.wait_for(&LIFECYCLE, Duration::from_secs(60)).await;
    for _ in 0..200 {
        let path = format!("/api/management/v1/iot-manager/events?integration_id={integration}");
        let events = fleetlog.get(&path).await;
        let done = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["delivery_statuses"][0]["success"] == true)
            .count();
        let ready = fleetlog.get("/readyz").await;
        if done == 3 && ready["processes"][format!("webhook:{integration}")]["lag"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outcomes were not all recorded as delivered, or the process kept a lag");
}
