//! Rollout controls over simulated devices speaking the client's wire: phases that open on
//! time with no poll needed, scheduled deployments, and the failure-rate stop and resume
//! (`rollouts_targets` has control maps, dynamic deployments and bad input).

use std::time::Duration;

use fleetlog_tests::{SeedDevice, append_accepted, device_claims};
use reqwest::Method;
use serde_json::{Value, json};

use crate::server::Server;

const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");
pub(crate) const DEPLOYMENTS: &str = "/api/management/v1/deployments/deployments";

/// Simulated accepted devices of one server, with their tokens (the onboarding is tested in
/// `identity`; these are appended through the command side's store).
pub(crate) struct Fleet {
    pub(crate) ids: Vec<String>,
    pub(crate) tokens: Vec<String>,
}

impl Fleet {
    pub(crate) async fn seed(server: &Server, n: usize, tag: u8) -> Fleet {
        let devices: Vec<SeedDevice> = (0..n)
            .map(|i| SeedDevice {
                id: uuid::Uuid::new_v4().to_string(),
                auth_set: uuid::Uuid::new_v4().to_string(),
                identity: format!(r#"{{"mac":"02:dd:{tag:02x}:00:00:{i:02x}"}}"#),
                pubkey: format!("KEY-{tag}-{i}"),
            })
            .collect();
        append_accepted(server.state.store(), "default", "test", &devices).await.unwrap();
        let written = server.state.store().last_seq().await.unwrap();
        assert!(server.state.read_models.wait_for(written, Duration::from_secs(30)).await);
        let tokens = devices
            .iter()
            .map(|d| server.state.jwt.sign(&device_claims(&d.id, &d.auth_set, Some(written))))
            .collect();
        Fleet { ids: devices.into_iter().map(|d| d.id).collect(), tokens }
    }

    /// The v2 `next` of device `i`, as the 3.4 client asks it: status and body.
    pub(crate) async fn next(&self, server: &Server, i: usize) -> (u16, Value) {
        let url = format!("{}/api/devices/v2/deployments/device/deployments/next", server.base);
        let body = json!({
            "device_provides": { "artifact_name": "factory", "device_type": "raspberrypi4" },
            "update_control_map": true,
        });
        let res = server.http.post(url).bearer_auth(&self.tokens[i]).json(&body).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
    }

    /// How many devices `next` hands deployment `dep`, of those in `range`.
    pub(crate) async fn served(&self, server: &Server, dep: &str, range: std::ops::Range<usize>) -> usize {
        let mut n = 0;
        for i in range {
            let (status, body) = self.next(server, i).await;
            n += usize::from(status == 200 && body["id"] == dep);
        }
        n
    }

    /// Device `i` reports `status` in deployment `dep`.
    pub(crate) async fn report(&self, server: &Server, i: usize, dep: &str, status: &str) -> u16 {
        let url = format!("{}/api/devices/v1/deployments/device/deployments/{dep}/status", server.base);
        let body = json!({ "status": status });
        server.http.put(url).bearer_auth(&self.tokens[i]).json(&body).send().await.unwrap().status().as_u16()
    }

    /// Device `i` reports inventory attributes.
    pub(crate) async fn inventory(&self, server: &Server, i: usize, attributes: Value) {
        let url = format!("{}/api/devices/v1/inventory/device/attributes", server.base);
        let res = server.http.put(url).bearer_auth(&self.tokens[i]).json(&attributes).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
}

/// Creates a deployment from `body`: its id.
pub(crate) async fn create(server: &Server, body: Value) -> String {
    let (status, headers, err) = server.send(Method::POST, DEPLOYMENTS, Some(body)).await;
    assert_eq!(status, 201, "{err}");
    headers["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

pub(crate) async fn get(server: &Server, id: &str) -> Value {
    server.get(&format!("{DEPLOYMENTS}/{id}")).await.1
}

/// Waits (polling the management API only, never `next`) until `check` holds.
async fn until(server: &Server, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..150 {
        let d = get(server, id).await;
        if check(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", get(server, id).await);
}

pub(crate) fn in_secs(s: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(s);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test]
async fn phases_open_on_time_and_a_scheduled_deployment_starts_without_a_poll() {
    let server = Server::start().await;
    assert_eq!(crate::deployments::upload(&server, ARTIFACT.to_vec(), "r").await.0, 201);
    let fleet = Fleet::seed(&server, 20, 1).await;
    let ids = &fleet.ids[..10];
    let phased = create(
        &server,
        json!({ "name": "canary", "artifact_name": "release-1", "devices": ids,
                "phases": [{ "batch_size": 10 }, { "start_ts": in_secs(3) }] }),
    )
    .await;
    let d = get(&server, &phased).await;
    assert_eq!((d["status"].clone(), d["phases"][0]["devices"].clone()), (json!("pending"), json!(1)));
    assert_eq!(d["phases"][1]["started"], false);
    assert_eq!(fleet.served(&server, &phased, 0..10).await, 1, "phase 1 is one device of ten");

    // Phase 1's device asks and reports: it counts in phase 1's device_count.
    let mut canary = None;
    for i in 0..10 {
        if fleet.next(&server, i).await.0 == 200 {
            canary = Some(i);
        }
    }
    let canary = canary.expect("one device in phase 1");
    assert_eq!(fleet.report(&server, canary, &phased, "downloading").await, 204);
    let d = get(&server, &phased).await;
    assert_eq!(
        (d["phases"][0]["device_count"].clone(), d["phases"][1]["device_count"].clone()),
        (json!(1), json!(0))
    );

    // A deployment scheduled in the future: `scheduled`, listed as such, and it starts on its
    // own (nothing polls the devices meanwhile).
    let later = &fleet.ids[10..20];
    let scheduled = create(
        &server,
        json!({ "name": "tonight", "artifact_name": "release-1", "devices": later,
                "phases": [{ "batch_size": 100, "start_ts": in_secs(2) }] }),
    )
    .await;
    assert_eq!(get(&server, &scheduled).await["status"], "scheduled");
    let (_, listed) = server.get(&format!("{DEPLOYMENTS}?status=scheduled")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(fleet.served(&server, &scheduled, 10..20).await, 0, "not before its time");
    until(&server, &scheduled, "the scheduled deployment starts", |d| d["status"] == "pending").await;
    assert_eq!(fleet.served(&server, &scheduled, 10..20).await, 10);

    // Phase 2 starts at its time; then the other nine devices get the deployment.
    until(&server, &phased, "phase 2 starts", |d| d["phases"][1]["started"] == true).await;
    assert_eq!(fleet.served(&server, &phased, 0..10).await, 10);

    // A deployment scheduled far ahead can be aborted before it starts.
    let far = create(
        &server,
        json!({ "name": "never", "artifact_name": "release-1", "devices": [fleet.ids[0]],
                "phases": [{ "batch_size": 100, "start_ts": in_secs(3600) }] }),
    )
    .await;
    let (status, _, _) = server
        .send(Method::PUT, &format!("{DEPLOYMENTS}/{far}/status"), Some(json!({ "status": "aborted" })))
        .await;
    assert_eq!(status, 204);
    assert_eq!(get(&server, &far).await["status"], "finished");
}

#[tokio::test]
async fn a_failure_rate_over_the_limit_pauses_the_rollout_until_the_operator_resumes() {
    let server = Server::start().await;
    assert_eq!(crate::deployments::upload(&server, ARTIFACT.to_vec(), "r").await.0, 201);
    let fleet = Fleet::seed(&server, 10, 2).await;
    let dep = create(
        &server,
        json!({ "name": "risky", "artifact_name": "release-1", "devices": fleet.ids,
                "phases": [{ "batch_size": 30 }, { "start_ts": in_secs(2) }],
                "max_failure_rate": 20, "failure_rate_min_devices": 3 }),
    )
    .await;
    let mut first = Vec::new();
    for i in 0..10 {
        if fleet.next(&server, i).await.0 == 200 {
            first.push(i);
        }
    }
    assert_eq!(first.len(), 3, "phase 1 is 30%");
    for i in &first {
        assert_eq!(fleet.report(&server, *i, &dep, "failure").await, 204);
    }
    // The third failure's report itself trips the limit: paused before the report returns.
    let d = get(&server, &dep).await;
    assert_eq!(d["paused"], true, "{d}");
    let reason = d["pause_reason"].as_str().unwrap();
    assert!(reason.contains("100%") && reason.contains("3 of 3"), "{reason}");
    // Phase 2's time passes: it does not start, and its devices get nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d = get(&server, &dep).await;
    assert_eq!((d["phases"][1]["started"].clone(), d["status"].clone()), (json!(false), json!("inprogress")));
    let rest: Vec<usize> = (0..10).filter(|i| !first.contains(i)).collect();
    for i in &rest {
        assert_eq!(fleet.next(&server, *i).await.0, 204, "a paused rollout reaches no new device");
    }
    // The pause is an event with its reason; the operator resumes (another event) and the
    // rollout goes on with phase 2, counting failures from here.
    let url = format!(
        "{}/api/management/v1/fleetlog/events?from=1&format=ndjson&follow=false&aggregate_type=deployment&object_id={dep}",
        server.base
    );
    let text = server.http.get(url).bearer_auth(&server.token).send().await.unwrap().text().await.unwrap();
    let types: Vec<Value> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].clone()).collect();
    assert_eq!(
        types,
        [json!("DeploymentCreated"), json!("DeploymentPhaseStarted"), json!("DeploymentPaused")]
    );
    let resume = json!({ "status": "resumed" });
    let (status, _, err) =
        server.send(Method::PUT, &format!("{DEPLOYMENTS}/{dep}/status"), Some(resume.clone())).await;
    assert_eq!(status, 204, "{err}");
    let d = get(&server, &dep).await;
    assert_eq!((d["paused"].clone(), d["phases"][1]["started"].clone()), (json!(false), json!(true)));
    let mut second = 0;
    for i in &rest {
        second += usize::from(fleet.next(&server, *i).await.0 == 200);
    }
    assert_eq!(second, 7);
    let (status, _, _) = server.send(Method::PUT, &format!("{DEPLOYMENTS}/{dep}/status"), Some(resume)).await;
    assert_eq!(status, 409, "resuming a running deployment");
    // An operator may pause by hand too.
    let pause = json!({ "status": "paused" });
    assert_eq!(server.send(Method::PUT, &format!("{DEPLOYMENTS}/{dep}/status"), Some(pause)).await.0, 204);
    assert!(get(&server, &dep).await["pause_reason"].as_str().unwrap().starts_with("paused by"));

    // Replaying the log reproduces the rollout: a replica building its read models from the
    // log shows the same phases, pauses, counts and devices.
    let replica = server.replica_server(|_| {}).await;
    let written = server.state.store().last_seq().await.unwrap();
    assert!(replica.state.read_models.wait_for(written, Duration::from_secs(30)).await);
    assert_eq!(get(&replica, &dep).await, get(&server, &dep).await);
    let devices = format!("{DEPLOYMENTS}/{dep}/devices");
    assert_eq!(replica.get(&devices).await.1, server.get(&devices).await.1);
}
