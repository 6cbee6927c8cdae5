//! Reporting conformance: every case of `reporting_cases` is asked of two servers on one log,
//! one answering from its sled read models and one from the shared real OpenSearch node (its
//! own index prefix), and both must answer the same status, `X-Total-Count` and body. Spot
//! checks on the embedded answers pin the semantics themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use fleetlog_events::deployment::device::{DeviceDeployment, DeviceDeploymentCommand};
use fleetlog_events::deployment::{
    Deployment, DeploymentCommand, DeploymentSpec, DeviceDeploymentStatus as S,
};
use fleetlog_events::inventory::{AttrValue, Inventory, InventoryCommand, Scalar, Tag};
use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ReplayArgs, ServeArgs};
use fleetlog_tests::{SeedDevice, append_accepted, meta, shared_opensearch_url};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::reporting_cases::{Case, bad, good};
use crate::server::Server;

/// A server on `main`'s log answering reporting from OpenSearch, with indices of its own.
pub struct OpenSearchReplica {
    pub base: String,
    pub prefix: String,
    pub conn: ConnectionArgs,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

pub async fn opensearch_replica(main: &Server, url: &str) -> OpenSearchReplica {
    let dir = tempfile::tempdir().unwrap();
    let conn = ConnectionArgs { data_dir: dir.path().into(), ..main.conn.clone() };
    let prefix = format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let args = ServeArgs {
        jwt_key: Some(main.conn.data_dir.join("keys").join("jwt-ed25519.pem")),
        opensearch_url: Some(url.to_owned()),
        opensearch_index_prefix: prefix.clone(),
        ..ServeArgs::with_defaults(conn.clone(), "127.0.0.1:0".parse().unwrap())
    };
    let app = Box::pin(Application::build(args)).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    OpenSearchReplica { base, prefix, conn, _stop: tx, _dir: dir }
}

/// Makes everything indexed under `prefix` searchable now (OpenSearch refreshes every second).
pub async fn refresh(http: &reqwest::Client, url: &str, prefix: &str) {
    let res = http.post(format!("{url}/{prefix}*/_refresh")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

fn cut(v: &Value) -> String {
    let text = v.to_string();
    if text.len() > 400 { format!("{}…", &text[..400]) } else { text }
}

/// Waits until `base` is ready (its read models have caught up with the log).
pub async fn ready(http: &reqwest::Client, base: &str) {
    for _ in 0..1200 {
        let res = http.get(format!("{base}/readyz")).send().await.unwrap();
        if res.status() == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become ready");
}

/// Waits until `base`'s OpenSearch indexer has reached `seq` (its `/readyz` shows it).
pub async fn search_reaches(http: &reqwest::Client, base: &str, seq: u64) {
    let mut last = Value::Null;
    for _ in 0..1200 {
        let res = http.get(format!("{base}/readyz")).send().await.unwrap();
        last = res.json().await.unwrap_or(Value::Null);
        if last["read_models"]["search"]["position"].as_u64().is_some_and(|p| p >= seq) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the OpenSearch indexer did not reach {seq}: {last}");
}

fn text(s: &str) -> AttrValue {
    AttrValue::Text(s.into())
}

/// The fleet every case runs against: 30 devices with texts, numbers, lists, an attribute of
/// mixed types and one with a dot in its name, groups and tags; two deployments with devices
/// in every state, one aborted. Returns the log position after the last write.
pub async fn seed(server: &Server) -> u64 {
    let store = server.state.store();
    let devices: Vec<SeedDevice> = (0..30)
        .map(|i| SeedDevice {
            id: format!("dev-{i:02}"),
            auth_set: format!("set-{i:02}"),
            identity: format!(r#"{{"mac":"02:00:00:00:00:{i:02}"}}"#),
            pubkey: String::new(),
        })
        .collect();
    append_accepted(store, "default", "seed", &devices).await.unwrap();
    let commands = &fleetlog_commands::CommandService::new(server.state.store().clone());
    let mut last = 0;
    for i in 0..30u32 {
        let id = format!("dev-{i:02}");
        let mut a = BTreeMap::new();
        a.insert("device_type".into(), text(["raspberrypi4", "beaglebone", "qemu"][i as usize % 3]));
        if i % 7 != 0 {
            a.insert("mem_kb".into(), AttrValue::Number(f64::from(1024 * (i % 4 + 1))));
        }
        let ips = vec![Scalar::Text(format!("10.0.0.{i}")), Scalar::Text(format!("192.168.1.{i}"))];
        a.insert("ips".into(), AttrValue::List(ips));
        a.insert("version".into(), text(&format!("1.{}", i % 10)));
        a.insert("artifact_name".into(), text(&format!("release-{}", i % 5)));
        if i % 2 == 0 {
            a.insert("weird.name".into(), text("x<y>&z"));
            a.insert("mixed".into(), AttrValue::Number(f64::from(i % 6)));
        } else {
            a.insert("mixed".into(), text(&format!("m{}", i % 4)));
        }
        let report = InventoryCommand::Report { attributes: a, replace: true };
        last = commands.execute::<Inventory>(&meta(), &id, &report).await.unwrap().position;
        if i < 20 {
            let group = if i < 10 { "group-a" } else { "group-b" };
            let assign = InventoryCommand::AssignGroup { group: group.into() };
            last = commands.execute::<Inventory>(&meta(), &id, &assign).await.unwrap().position;
        }
        if i % 3 != 2 {
            let mut tags = BTreeMap::new();
            let location = if i % 2 == 0 { "north" } else { "south" };
            tags.insert("location".to_owned(), Tag { value: location.into(), description: String::new() });
            let set =
                InventoryCommand::SetTags { tags, replace: true, if_match: None, new_etag: format!("e{i}") };
            last = commands.execute::<Inventory>(&meta(), &id, &set).await.unwrap().position;
        }
    }
    for (dep, name, range, abort) in [("dep-1", "first", 0..10, false), ("dep-2", "second", 5..16, true)] {
        let spec = DeploymentSpec {
            name: name.into(),
            artifact_name: format!("release-{name}"),
            devices: range.clone().map(|i| format!("dev-{i:02}")).collect(),
            retries: u32::from(abort),
            force_installation: abort,
            target: if abort { "devices".into() } else { "group:group-a".into() },
            configuration: None,
            ..Default::default()
        };
        commands.execute::<Deployment>(&meta(), dep, &DeploymentCommand::Create(spec)).await.unwrap();
        for i in range {
            let status = match i % 4 {
                0 => S::Success,
                1 => S::Failure,
                2 => S::Downloading,
                _ => continue,
            };
            let report = DeviceDeploymentCommand::Report {
                status,
                substate: String::new(),
                aborted: false,
                retries: 0,
            };
            let part = format!("{dep}:dev-{i:02}");
            last = commands.execute::<DeviceDeployment>(&meta(), &part, &report).await.unwrap().position;
        }
        if abort {
            let abort = DeploymentCommand::Abort { finished: false };
            last = commands.execute::<Deployment>(&meta(), dep, &abort).await.unwrap().position;
        }
    }
    last
}

async fn ask(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    case: &Case,
) -> (StatusCode, Option<String>, Value) {
    let url = format!("{base}/api/management/v1/reporting{}", case.path);
    let mut req = http.request(case.method.clone(), url).bearer_auth(token);
    if let Some(raw) = case.raw {
        req = req.header("Content-Type", "application/json").body(raw);
    } else if case.method == Method::POST {
        req = req.json(&case.body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let total = res.headers().get("x-total-count").map(|v| v.to_str().unwrap().to_owned());
    let mut body: Value = res.json().await.unwrap_or(Value::Null);
    // Request ids differ; everything else must not.
    if let Some(o) = body.as_object_mut() {
        o.remove("request_id");
    }
    (status, total, body)
}

#[tokio::test]
async fn reporting_answers_the_same_from_sled_and_from_opensearch() {
    let url = shared_opensearch_url();
    let main = Server::start().await;
    let replica = opensearch_replica(&main, url).await;
    let last = seed(&main).await;
    assert!(main.state.read_models.wait_for(last, Duration::from_secs(30)).await);
    search_reaches(&main.http, &replica.base, last).await;
    refresh(&main.http, url, &replica.prefix).await;

    let (good, bad) = (good(), bad());
    let mut failures = Vec::new();
    for case in good.iter().chain(bad.iter()) {
        let embedded = ask(&main.http, &main.base, &main.token, case).await;
        let searched = ask(&main.http, &replica.base, &main.token, case).await;
        let expected_status = if bad.iter().any(|b| b.name == case.name) { 400 } else { 200 };
        if embedded.0 != expected_status {
            failures.push(format!("{}: embedded answered {} {}", case.name, embedded.0, cut(&embedded.2)));
        }
        if embedded != searched {
            failures.push(format!(
                "{}: embedded {} {:?} {}\n   opensearch {} {:?} {}",
                case.name,
                embedded.0,
                embedded.1,
                cut(&embedded.2),
                searched.0,
                searched.1,
                cut(&searched.2)
            ));
        }
        if let Some(check) = case.check
            && let Err(e) = check(&embedded.1, &embedded.2)
        {
            failures.push(format!("{}: {e}: {}", case.name, cut(&embedded.2)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        good.len() + bad.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn reporting_answers_503_while_opensearch_is_unreachable_and_the_rest_keeps_working() {
    let main = Server::start().await;
    // Nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let replica = opensearch_replica(&main, &format!("http://127.0.0.1:{port}")).await;
    ready(&main.http, &replica.base).await;
    let search = json!({"filters": []});
    let res = main
        .http
        .post(format!("{}/api/management/v1/reporting/devices/search", replica.base))
        .bearer_auth(&main.token)
        .json(&search)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("OpenSearch") && body["request_id"].is_string(), "{body}");
    // Other APIs answer, and a bad query is still the client's error.
    let res = main
        .http
        .get(format!("{}/api/management/v1/inventory/devices", replica.base))
        .bearer_auth(&main.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = main
        .http
        .post(format!("{}/api/management/v1/reporting/devices/search", replica.base))
        .bearer_auth(&main.token)
        .json(&json!({"per_page": 501}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let mut readyz = Value::Null;
    for _ in 0..100 {
        readyz =
            main.http.get(format!("{}/readyz", replica.base)).send().await.unwrap().json().await.unwrap();
        if readyz["read_models"]["search"]["failed"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(readyz["read_models"]["search"]["failed"], true, "{readyz}");
    assert_eq!(readyz["status"], "ok", "OpenSearch down does not make the server unready: {readyz}");
}

#[tokio::test]
async fn replay_model_search_rebuilds_into_a_new_index_and_swaps_it_in() {
    let url = shared_opensearch_url();
    let main = Server::start().await;
    let replica = opensearch_replica(&main, url).await;
    let last = seed(&main).await;
    search_reaches(&main.http, &replica.base, last).await;
    let alias = format!("{url}/_alias/{}devices", replica.prefix);
    let before: Value = main.http.get(&alias).send().await.unwrap().json().await.unwrap();
    assert!(before.get(format!("{}devices-1", replica.prefix)).is_some(), "{before}");

    let args = ReplayArgs { conn: replica.conn.clone(), model: Some("search".into()), to: None, out: None };
    Box::pin(fleetlog_gateway::logtools::replay(&args)).await.unwrap();
    let after: Value = main.http.get(&alias).send().await.unwrap().json().await.unwrap();
    assert!(after.get(format!("{}devices-2", replica.prefix)).is_some(), "swapped: {after}");
    let old = main.http.head(format!("{url}/{}devices-1", replica.prefix)).send().await.unwrap();
    assert_eq!(old.status(), 404, "the old generation is dropped");

    // Live indexing goes on in the new generation.
    let report = InventoryCommand::Report {
        attributes: [("after_replay".to_owned(), text("yes"))].into(),
        replace: false,
    };
    let commands = fleetlog_commands::CommandService::new(main.state.store().clone());
    let seq = commands.execute::<Inventory>(&meta(), "dev-07", &report).await.unwrap().position;
    assert!(main.state.read_models.wait_for(seq, Duration::from_secs(30)).await);
    search_reaches(&main.http, &replica.base, seq).await;
    refresh(&main.http, url, &replica.prefix).await;
    for case in good().iter().chain(bad().iter()) {
        let embedded = ask(&main.http, &main.base, &main.token, case).await;
        let searched = ask(&main.http, &replica.base, &main.token, case).await;
        assert_eq!(embedded, searched, "{}", case.name);
    }
}
