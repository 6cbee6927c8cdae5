//! A fleetlog server for the HTTP tests: on the shared nats-server with a stream of its own,
//! with an admin user logged in.

use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ServeArgs};
use fleetlog_tests::fresh_conn;
use reqwest::StatusCode;
use serde_json::Value;

/// A server on the shared nats-server, with its own stream, plus an admin user.
pub struct Server {
    pub base: String,
    pub state: fleetlog_gateway::state::AppState,
    pub conn: ConnectionArgs,
    pub http: reqwest::Client,
    pub token: String,
    /// The `--http-redirect` listener's address, when the test asked for one.
    pub redirect: Option<std::net::SocketAddr>,
    /// The CA the server's TLS certificate is signed by (`None`: plain HTTP).
    pub ca: Option<std::path::PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    /// A server whose settings `tune` adjusts first (e.g. another storage backend).
    pub async fn start_with(tune: impl FnOnce(&mut ServeArgs)) -> Server {
        Self::launch(tune, None).await
    }

    /// A server on HTTPS with the certificate `fleetlog admin gen-cert` wrote into `certs`;
    /// its client trusts that CA.
    pub async fn start_tls(certs: &std::path::Path, tune: impl FnOnce(&mut ServeArgs)) -> Server {
        use fleetlog_gateway::tls::gencert::{CA_CERT, SERVER_CERT, SERVER_KEY};
        let certs = certs.to_owned();
        let ca = certs.join(CA_CERT);
        let with_tls = move |args: &mut ServeArgs| {
            args.tls.cert = Some(certs.join(SERVER_CERT));
            args.tls.key = Some(certs.join(SERVER_KEY));
            tune(args);
        };
        Self::launch(with_tls, Some(ca)).await
    }

    async fn launch(tune: impl FnOnce(&mut ServeArgs), ca: Option<std::path::PathBuf>) -> Server {
        let (dir, conn) = fresh_conn("I");
        Box::pin(fleetlog_gateway::admin::create_user(&conn, "Admin@Example.com", "secret-password"))
            .await
            .unwrap();
        Self::start_on_trusting(dir, conn, tune, ca).await
    }

    /// A server on `conn` (a log where the admin exists already), with its data in `dir`.
    pub async fn start_on(
        dir: tempfile::TempDir,
        conn: ConnectionArgs,
        tune: impl FnOnce(&mut ServeArgs),
    ) -> Server {
        Self::start_on_trusting(dir, conn, tune, None).await
    }

    async fn start_on_trusting(
        dir: tempfile::TempDir,
        conn: ConnectionArgs,
        tune: impl FnOnce(&mut ServeArgs),
        ca: Option<std::path::PathBuf>,
    ) -> Server {
        let mut args = ServeArgs::with_defaults(conn.clone(), "127.0.0.1:0".parse().unwrap());
        tune(&mut args);
        let app = Box::pin(Application::build(args)).await.unwrap();
        let base = app.local_url();
        let redirect = app.redirect_addr();
        let state = app.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        let http = match &ca {
            Some(ca) => client_trusting(ca, reqwest::Client::builder()),
            None => reqwest::Client::new(),
        };
        // The CLI wrote the user before serve started: the read models catch up from the log.
        let mut token = String::new();
        for _ in 0..100 {
            let res = http
                .post(format!("{base}/api/management/v1/useradm/auth/login"))
                .basic_auth("admin@example.com", Some("secret-password"))
                .send()
                .await
                .unwrap();
            if res.status() == 200 {
                assert_eq!(res.headers()["content-type"], "application/jwt");
                token = res.text().await.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(!token.is_empty() && !token.ends_with('\n'), "login works");
        Server {
            base,
            state,
            conn,
            http,
            token,
            redirect,
            ca,
            stop: Some(tx),
            task: Some(task),
            dir: Some(dir),
        }
    }

    /// A second replica as a [`Server`] (logged in as the admin there): its own data dir, the
    /// same log and token key file, settings adjusted by `tune`.
    pub async fn replica_server(&self, tune: impl FnOnce(&mut ServeArgs)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let key = self.conn.data_dir.join("keys").join("jwt-ed25519.pem");
        let conn = ConnectionArgs { data_dir: dir.path().into(), ..self.conn.clone() };
        Self::start_on(dir, conn, |args| {
            args.jwt_key = Some(key);
            tune(args);
        })
        .await
    }

    /// A second replica on the same log (its own data dir, so its own read models and the
    /// same token key file). Returns its base URL; it stops when the returned sender drops.
    pub async fn replica(&self) -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let key = self.conn.data_dir.join("keys").join("jwt-ed25519.pem");
        let conn = ConnectionArgs { data_dir: dir.path().into(), ..self.conn.clone() };
        let args = ServeArgs {
            jwt_key: Some(key),
            ..ServeArgs::with_defaults(conn, "127.0.0.1:0".parse().unwrap())
        };
        let app = Box::pin(Application::build(args)).await.unwrap();
        let base = app.local_url();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        (base, tx, dir)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let res =
            self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Sends the captured devices' first auth requests; returns the device list (in id order).
    pub async fn with_captured_devices(&self) -> Vec<Value> {
        for (body, signature) in captured() {
            self.auth_request(&body, &signature).await;
        }
        let (_, all) = self.get("/api/management/v2/devauth/devices").await;
        all.as_array().unwrap().clone()
    }

    pub async fn auth_request(&self, body: &str, signature: &str) -> (StatusCode, String) {
        let res = self
            .http
            .post(format!("{}/api/devices/v1/authentication/auth_requests", self.base))
            .header("Content-Type", "application/json")
            .header("X-MEN-Signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// `method path` with the admin's token and an optional JSON body: status, headers, body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (status, headers, res.json().await.unwrap_or(Value::Null))
    }

    /// The first captured real client asks, is accepted by the admin, and asks again: the
    /// device's id and token.
    pub async fn accepted_device(&self) -> (String, String) {
        let (body, signature) = captured().remove(0);
        self.auth_request(&body, &signature).await;
        let (_, devices) = self.get("/api/management/v2/devauth/devices").await;
        let id = devices[0]["id"].as_str().unwrap().to_owned();
        let set = devices[0]["auth_sets"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(self.set_status(&id, &set, "accepted").await, 204);
        let (status, token) = self.auth_request(&body, &signature).await;
        assert_eq!(status, 200, "{token}");
        (id, token)
    }

    /// `DELETE path` with the admin's token.
    pub async fn delete(&self, path: &str) -> StatusCode {
        self.http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .status()
    }

    pub async fn set_status(&self, device: &str, auth_set: &str, status: &str) -> StatusCode {
        let url = format!("{}/api/management/v2/devauth/devices/{device}/auth/{auth_set}/status", self.base);
        let body = serde_json::json!({ "status": status });
        self.http.put(url).bearer_auth(&self.token).json(&body).send().await.unwrap().status()
    }
}

impl Server {
    /// Stops this server as `fleetlog serve` stops (drain, read models flushed) and hands back
    /// its data dir, to start it again on the same read models.
    pub async fn stop_keeping_data(mut self) -> (tempfile::TempDir, ConnectionArgs) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        (self.dir.take().expect("data dir"), self.conn.clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// An HTTP client (from `builder`) that trusts the CA in the PEM file `ca`, and no other.
pub fn client_trusting(ca: &std::path::Path, builder: reqwest::ClientBuilder) -> reqwest::Client {
    let pem = std::fs::read(ca).unwrap();
    builder
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

/// The captured auth requests: (body, signature).
pub fn captured() -> Vec<(String, String)> {
    let text = include_str!("../fixtures/captures/14-tenant-token.jsonl");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["path"] == "/api/devices/v1/authentication/auth_requests")
        .map(|r| {
            (
                r["body"].as_str().unwrap().to_owned(),
                r["headers"]["X-Men-Signature"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
