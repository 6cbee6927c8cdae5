//! A rollout to a few hundred simulated devices on the clustered shape, through both
//! replicas, while the stream's leader node is killed (`kill -9`) and one replica is stopped
//! and started again on its data dir: every device finishes (those of the stopped replica by
//! retrying against the other), the statistics are exact, and the restarted replica catches up
//! to read models that hash-equal the other's.

use fleetlog_gateway::settings::ServeArgs;
use fleetlog_tests::cluster::Cluster;
use fleetlog_tests::{MAX_SEED_BATCH, SeedDevice, append_accepted, device_claims};
use futures::StreamExt as _;
use serde_json::json;

use crate::cluster::{cluster_log, stream_leader};
use crate::server::Server;

const DEVICES: usize = 200;
const ARTIFACT: &[u8] = include_bytes!("../fixtures/artifacts/release-1.mender");

/// One device's whole update (next, downloading, installing, success) against the first of
/// `bases` that answers; the others are where it retries. A device token the shortcut signs
/// directly (the onboarding is not what this test measures; it is in `identity`).
async fn update(http: &reqwest::Client, bases: &[String], token: &str) -> Result<(), String> {
    let mut last = String::new();
    for base in bases {
        let next = format!("{base}/api/devices/v1/deployments/device/deployments/next");
        let asked = json!({ "artifact_name": "factory", "device_type": "raspberrypi4" });
        let res = match http.post(&next).bearer_auth(token).json(&asked).send().await {
            Ok(r) if r.status() == 200 => r,
            Ok(r) => {
                last = format!("next on {base}: {}", r.status());
                continue;
            }
            Err(e) => {
                last = format!("next on {base}: {e}");
                continue;
            }
        };
        let dep: serde_json::Value = res.json().await.map_err(|e| e.to_string())?;
        let id = dep["id"].as_str().ok_or("no deployment id")?;
        let url = format!("{base}/api/devices/v1/deployments/device/deployments/{id}/status");
        let mut ok = true;
        for status in ["downloading", "installing", "success"] {
            let sent = http.put(&url).bearer_auth(token).json(&json!({ "status": status })).send().await;
            if !sent.as_ref().is_ok_and(|r| r.status() == 204) {
                last = format!("{status} on {base}: {:?}", sent.map(|r| r.status()));
                ok = false;
                break;
            }
        }
        if ok {
            return Ok(());
        }
    }
    Err(last)
}

#[tokio::test]
async fn a_rollout_finishes_through_a_killed_node_and_a_restarted_replica() {
    let mut cluster = tokio::task::spawn_blocking(|| Cluster::start(3)).await.unwrap();
    cluster.ready().await;
    let (dir, conn) = cluster_log(&cluster).await;
    let a = Server::start_on(dir, conn, |_| {}).await;
    let key = a.conn.data_dir.join("keys").join("jwt-ed25519.pem");
    let shared = move |args: &mut ServeArgs| args.jwt_key = Some(key.clone());
    let b = a.replica_server(shared.clone()).await;

    // The fleet, appended through the command side's store, and a deployment to all of it.
    let devices: Vec<SeedDevice> = (0..DEVICES)
        .map(|n| SeedDevice {
            id: uuid::Uuid::new_v4().to_string(),
            auth_set: uuid::Uuid::new_v4().to_string(),
            identity: format!(r#"{{"mac":"02:cc:00:00:{:02x}:{:02x}"}}"#, n / 256, n % 256),
            pubkey: format!("KEY-{n}"),
        })
        .collect();
    for chunk in devices.chunks(MAX_SEED_BATCH) {
        append_accepted(a.state.store(), "default", "test", chunk).await.unwrap();
    }
    assert_eq!(crate::deployments::upload(&a, ARTIFACT.to_vec(), "r").await.0, 201);
    // Replicas are consistent with each other only eventually: B checks the artifact and the
    // devices against its own read models, so it must have applied what A wrote (read-your-
    // writes holds per replica; across replicas it is the client's to wait for).
    let written = a.state.store().last_seq().await.unwrap();
    assert!(b.state.read_models.wait_for(written, std::time::Duration::from_secs(30)).await, "B caught up");
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    let body = json!({ "name": "cluster rollout", "artifact_name": "release-1", "devices": ids });
    let (status, headers, err) =
        b.send(reqwest::Method::POST, "/api/management/v1/deployments/deployments", Some(body)).await;
    assert_eq!(status, 201, "{err}");
    let location = headers["location"].to_str().unwrap().to_owned();
    // Tokens of the admission the seeding recorded: its epoch is the accept's log position.
    let epoch = a.state.store().last_seq().await.unwrap();
    let token = |d: &SeedDevice| a.state.jwt.sign(&device_claims(&d.id, &d.auth_set, Some(epoch)));
    let tokens: Vec<String> = devices.iter().map(token).collect();

    // Half the fleet on each replica, 16 at a time; the leader node dies a quarter in.
    let http = reqwest::Client::new();
    let run = |range: std::ops::Range<usize>, first: String, second: String| {
        let (http, tokens) = (http.clone(), tokens.clone());
        async move {
            futures::stream::iter(range)
                .map(|i| {
                    let (http, bases, token) =
                        (http.clone(), [first.clone(), second.clone()], tokens[i].clone());
                    async move { update(&http, &bases, &token).await }
                })
                .buffer_unordered(16)
                .collect::<Vec<_>>()
                .await
        }
    };
    let quarter = DEVICES / 4;
    let mut results = run(0..quarter, a.base.clone(), b.base.clone()).await;
    let leader = stream_leader(&cluster.urls(), &a.conn.stream).await;
    cluster.kill(cluster.index_of(&leader).unwrap());
    results.extend(run(quarter..2 * quarter, b.base.clone(), a.base.clone()).await);
    // Replica B stops mid-rollout: the devices that were on it retry against A.
    let b_base = b.base.clone();
    let (b_dir, b_conn) = b.stop_keeping_data().await;
    results.extend(run(2 * quarter..3 * quarter, b_base, a.base.clone()).await);
    for n in cluster.down() {
        cluster.start_node(n);
    }
    results.extend(run(3 * quarter..DEVICES, a.base.clone(), a.base.clone()).await);
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} devices failed, e.g. {:?}", failed.len(), failed.first());

    let (_, _, d) = a.send(reqwest::Method::GET, &location, None).await;
    assert_eq!(
        (d["status"].as_str(), d["statistics"]["status"]["success"].as_u64()),
        (Some("finished"), Some(DEVICES as u64)),
        "{d}"
    );

    // B again, on its own read models: it catches up and equals A.
    let b = Server::start_on(b_dir, b_conn, shared).await;
    crate::cluster::assert_same_read_models(&a, &b).await;
}
