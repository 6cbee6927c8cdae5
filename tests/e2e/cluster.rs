//! The clustered shape (issue 17): three real nats-server nodes clustered with JetStream (the
//! log replicated R3) and fleetlog replicas on it, each with its own data dir, sharing the
//! token key and the link secret through configuration.

use std::time::{Duration, Instant};

use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ServeArgs};
use fleetlog_tests::cluster::Cluster;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "cluster-test-link-secret-0123456789";

/// A log of its own on `cluster` (replicated R3), with the admin created in it.
pub(super) async fn cluster_log(cluster: &Cluster) -> (tempfile::TempDir, ConnectionArgs) {
    let (dir, mut conn) = fleetlog_tests::fresh_conn("C");
    conn.nats_url = Some(cluster.urls());
    conn.replicas = 3;
    Box::pin(fleetlog_gateway::admin::create_user(&conn, "admin@example.com", "secret-password"))
        .await
        .unwrap();
    (dir, conn)
}

/// Waits until both servers' read models reach the end of the log, then checks they are equal
/// model by model (both applied the same log, so their bytes must match).
pub(super) async fn assert_same_read_models(a: &crate::server::Server, b: &crate::server::Server) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = a.state.store().last_seq().await.unwrap();
        let at_end = |s: &crate::server::Server| s.state.read_models.models().all(|m| m.position() >= last);
        if at_end(a) && at_end(b) {
            break;
        }
        assert!(Instant::now() < deadline, "both replicas reach the end of the log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (ma, mb) in a.state.read_models.models().zip(b.state.read_models.models()) {
        assert_eq!(ma.name(), mb.name());
        assert_eq!(ma.content_hash().unwrap(), mb.content_hash().unwrap(), "{} equal on both", ma.name());
    }
}

/// A replica: its base URL, its data dir and the sender that stops it.
struct Replica {
    base: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn replica(conn: &ConnectionArgs, jwt_key: Option<std::path::PathBuf>) -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let conn = ConnectionArgs { data_dir: dir.path().into(), ..conn.clone() };
    let mut args = ServeArgs::with_defaults(conn, "127.0.0.1:0".parse().unwrap());
    args.jwt_key = jwt_key;
    args.storage.link_secret = Some(SECRET.into());
    let app = Box::pin(Application::build(args)).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    Replica { base, _dir: dir, _stop: tx }
}

/// Retries `f` until it answers `want` (the other replica applies the log on its own time).
async fn eventually(what: &str, want: StatusCode, f: impl AsyncFn() -> StatusCode) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = f().await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {got}, wanted {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let url = format!("{base}/api/management/v1/useradm/auth/login");
    for _ in 0..200 {
        let res =
            http.post(&url).basic_auth("admin@example.com", Some("secret-password")).send().await.unwrap();
        if res.status() == 200 {
            return res.text().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("login on {base}");
}

async fn filters(http: &reqwest::Client, base: &str, token: &str) -> usize {
    let url = format!("{base}/api/management/v2/inventory/filters");
    let res = http.get(url).bearer_auth(token).send().await.unwrap();
    res.json::<Vec<Value>>().await.map_or(0, |l| l.len())
}

/// The name of the node leading the stream.
pub(super) async fn stream_leader(urls: &str, stream: &str) -> String {
    let client = async_nats::connect(urls.split(',').next().unwrap()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut s = js.get_stream(stream).await.unwrap();
    let info = s.info().await.unwrap();
    info.cluster.as_ref().and_then(|c| c.leader.clone()).expect("a leader")
}

#[tokio::test]
async fn replicas_share_sessions_and_ride_out_a_killed_node_and_a_late_replica_catches_up() {
    fleetlog_tests::init_tracing();
    let mut cluster = tokio::task::spawn_blocking(|| Cluster::start(3)).await.unwrap();
    cluster.ready().await;
    let (_dir, conn) = cluster_log(&cluster).await;
    let a = replica(&conn, None).await;
    let key = a._dir.path().join("keys").join("jwt-ed25519.pem");
    let b = replica(&conn, Some(key.clone())).await;
    let http = reqwest::Client::new();

    // A session opened on A works on B; ending it on B ends it on A.
    let token = login(&http, &a.base).await;
    let me = |base: String, token: String| {
        let http = http.clone();
        async move || {
            let url = format!("{base}/api/management/v1/useradm/users/me");
            http.get(&url).bearer_auth(&token).send().await.unwrap().status()
        }
    };
    eventually("token of A on B", StatusCode::OK, me(b.base.clone(), token.clone())).await;
    let logout = http
        .post(format!("{}/api/management/v1/useradm/auth/logout", b.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 202);
    eventually("logged out on B, refused on A", StatusCode::UNAUTHORIZED, me(a.base.clone(), token)).await;

    // Writes through both replicas while the stream's leader node is killed: every one is
    // acknowledged (the command rides out the election) and none is lost.
    let token = login(&http, &a.base).await;
    let total = 40;
    for i in 0..total {
        if i == 10 {
            let leader = stream_leader(&cluster.urls(), &conn.stream).await;
            let node = cluster.index_of(&leader).expect("leader is a node");
            cluster.kill(node);
        }
        if i == 30 {
            for n in cluster.down() {
                cluster.start_node(n);
            }
            cluster.ready().await;
        }
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let term = json!({ "scope": "inventory", "attribute": "n", "type": "$eq", "value": i });
        let res = http
            .post(format!("{base}/api/management/v2/inventory/filters"))
            .bearer_auth(&token)
            .json(&json!({ "name": format!("f{i}"), "terms": [term] }))
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_eq!(status, 201, "write {i}: {}", res.text().await.unwrap());
    }
    for base in [&a.base, &b.base] {
        let deadline = Instant::now() + Duration::from_secs(20);
        while filters(&http, base, &token).await != total {
            assert!(Instant::now() < deadline, "{base} shows every acknowledged write");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A replica started later on an empty data dir builds its read models from the log and
    // says it is ready only once it has.
    let c = replica(&conn, Some(key)).await;
    let ready = async || http.get(format!("{}/readyz", c.base)).send().await.unwrap().status();
    eventually("the late replica gets ready", StatusCode::OK, ready).await;
    assert_eq!(filters(&http, &c.base, &token).await, total);
}
