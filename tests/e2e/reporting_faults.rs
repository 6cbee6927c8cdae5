//! Reporting under faults: an OpenSearch node of the test's own is stopped and restarted while
//! devices keep reporting; afterwards the index must hold exactly what the log says — every
//! device, as the sled model shows it, at the version of the last event that touched it (none
//! lost, none applied twice or out of order).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fleetlog_events::inventory::{AttrValue, Inventory, InventoryCommand};
use fleetlog_tests::{OpenSearchNode, SeedDevice, append_accepted, meta};
use serde_json::{Value, json};

use crate::reporting::{opensearch_replica, ready, refresh, search_reaches};
use crate::server::Server;

const DEVICES: usize = 20;

async fn all_devices(http: &reqwest::Client, base: &str, token: &str) -> Value {
    let res = http
        .post(format!("{base}/api/management/v1/reporting/devices/search"))
        .bearer_auth(token)
        .json(&json!({"per_page": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opensearch_restart_under_writes_loses_nothing_and_applies_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let node = tokio::task::spawn_blocking(move || OpenSearchNode::start(Some(path), None))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}"));
    let (url, port) = (node.url().to_owned(), node.port());

    let main = Server::start().await;
    let devices: Vec<SeedDevice> = (0..DEVICES)
        .map(|i| SeedDevice {
            id: format!("f-{i:02}"),
            auth_set: format!("fs-{i:02}"),
            identity: format!(r#"{{"sn":"{i}"}}"#),
            pubkey: String::new(),
        })
        .collect();
    append_accepted(main.state.store(), "default", "seed", &devices).await.unwrap();
    let replica = opensearch_replica(&main, &url).await;
    ready(&main.http, &replica.base).await;

    // Devices report a counter, one command after another, until told to stop; the last
    // position of each device's reports is what its document's version must be.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (commands, stop) =
            (fleetlog_commands::CommandService::new(main.state.store().clone()), stop.clone());
        tokio::spawn(async move {
            let mut last = BTreeMap::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("f-{:02}", i % DEVICES);
                let attributes = [("counter".to_owned(), AttrValue::Number(i as f64))].into();
                let report = InventoryCommand::Report { attributes, replace: false };
                let outcome = commands.execute::<Inventory>(&meta(), &id, &report).await.unwrap();
                last.insert(id, outcome.position);
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            last
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(move || node.stop()).await.unwrap();
    // Writes go on while the node is down; the indexer keeps retrying.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let path = dir.path().to_owned();
    let node = tokio::task::spawn_blocking(move || OpenSearchNode::start(Some(path), Some(port)))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("restart: {e}"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let last = writer.await.unwrap();
    let end = *last.values().max().unwrap();
    assert!(last.len() == DEVICES, "every device reported");

    assert!(main.state.read_models.wait_for(end, Duration::from_secs(30)).await);
    search_reaches(&main.http, &replica.base, end).await;
    refresh(&main.http, node.url(), &replica.prefix).await;

    // The same devices with the same attributes as the sled model.
    let embedded = all_devices(&main.http, &main.base, &main.token).await;
    let searched = all_devices(&main.http, &replica.base, &main.token).await;
    assert_eq!(embedded.as_array().unwrap().len(), DEVICES);
    assert_eq!(embedded, searched);

    // Each document at the version of the last event of its device.
    let res = main
        .http
        .post(format!("{}/{}devices/_search", node.url(), replica.prefix))
        .json(&json!({"size": 1000, "version": true, "_source": ["id"]}))
        .send()
        .await
        .unwrap();
    let found: Value = res.json().await.unwrap();
    let versions: BTreeMap<String, u64> = found["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["_source"]["id"].as_str().unwrap().to_owned(), h["_version"].as_u64().unwrap()))
        .collect();
    assert_eq!(versions, last, "document versions are the positions of each device's last event");
    drop(node);
}
