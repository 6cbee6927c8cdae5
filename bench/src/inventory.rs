//! Inventory figures: 100k devices with ~20 attributes each, loaded through the event log and
//! projected by a real server; then, over HTTP, a two-filter v2 search and a group listing
//! (p50/p99), inventory PATCH throughput, and memory.

use std::time::{Duration, Instant};

use fleetlog_commands::{EventStore, StoreConfig, SubjectAppend};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::inventory::{AttrValue, Attributes, InventoryEvent, Scalar};
use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope};
use futures::StreamExt;
use hdrhistogram::Histogram;

const DEVICES: usize = 100_000;
/// Devices per atomic batch (four events on two subjects each; a batch holds ≤ 1000 messages).
const PER_BATCH: usize = 250;
/// Devices whose tokens drive the PATCH run.
const PATCHERS: usize = 1_000;
const IN_FLIGHT: usize = 32;

pub(crate) fn envelope(kind: &str, id: &str, event: DomainEvent) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate: AggregateRef { tenant: "default".into(), kind: kind.into(), id: id.into() },
        occurred_at: fleetlog_commands::now(),
        actor: Actor::system("bench"),
        command_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: String::new(),
        event,
    }
}

/// Twenty attributes, shaped like a real client's report: a device type out of 10, a region
/// out of 4, versions, numbers and a list.
pub(crate) fn attributes(i: usize) -> Attributes {
    let text = |s: String| AttrValue::Text(s);
    let mut a = Attributes::new();
    a.insert("device_type".into(), text(format!("dt-{}", i % 10)));
    a.insert("region".into(), text(["eu", "us", "apac", "latam"][i % 4].into()));
    a.insert("artifact_name".into(), text(format!("release-{}", i % 7)));
    a.insert("mender_client_version".into(), text("3.4.0".into()));
    a.insert("kernel".into(), text(format!("Linux version 6.1.{} (builder@host)", i % 50)));
    a.insert("hostname".into(), text(format!("host-{i}")));
    a.insert("mem_total_kB".into(), AttrValue::Number((1 << 20) as f64 * (1 + i % 4) as f64));
    a.insert("cpu_model".into(), text("ARMv8 Processor rev 3 (v8l)".into()));
    a.insert("os".into(), text("Debian GNU/Linux 12 (bookworm)".into()));
    a.insert("rootfs_type".into(), text("ext4".into()));
    a.insert(
        "ipv4_eth0".into(),
        AttrValue::List(vec![Scalar::Text(format!("10.{}.{}.{}/24", i >> 16 & 255, i >> 8 & 255, i & 255))]),
    );
    a.insert(
        "mac_eth0".into(),
        text(format!("02:00:00:{:02x}:{:02x}:{:02x}", i >> 16 & 255, i >> 8 & 255, i & 255)),
    );
    a.insert(
        "network_interfaces".into(),
        AttrValue::List(vec![Scalar::Text("eth0".into()), Scalar::Text("wlan0".into())]),
    );
    a.insert(
        "update_modules".into(),
        AttrValue::List(
            ["deb", "docker", "single-file", "script"].iter().map(|m| Scalar::Text((*m).into())).collect(),
        ),
    );
    a.insert("bootloader_integration".into(), text("uboot".into()));
    a.insert("uptime_s".into(), AttrValue::Number((i * 37 % 100_000) as f64));
    a.insert("disk_free_mb".into(), AttrValue::Number((i % 2048) as f64));
    a.insert("geo_city".into(), text(format!("city-{}", i % 300)));
    a.insert("serial".into(), text(format!("SN{i:08}")));
    a.insert("site".into(), text(format!("site-{}", i % 1000)));
    a
}

/// Appends each device's groups of events, each group on its own new subject, in one atomic
/// batch; answers the batch's last position.
pub(crate) async fn append_new(
    store: &EventStore,
    per_device: &[[Vec<EventEnvelope>; 2]],
) -> Result<u64, fleetlog_commands::StoreError> {
    let appends: Vec<SubjectAppend<'_>> = per_device
        .iter()
        .flat_map(|pair| pair.iter())
        .map(|evs| SubjectAppend {
            subject: store.subject(&evs[0].aggregate).expect("bench subjects are valid"),
            expected_last_seq: 0,
            events: evs,
        })
        .collect();
    Ok(store.append(&uuid::Uuid::new_v4().to_string(), &appends).await?.last_seq)
}

/// Appends each device's admission, report and group: 4 events per device.
pub(crate) async fn fill(store: &EventStore, devices: usize) -> anyhow::Result<u64> {
    let batches: Vec<Vec<usize>> =
        (0..devices).collect::<Vec<_>>().chunks(PER_BATCH).map(<[usize]>::to_vec).collect();
    let mut last = 0;
    let mut results = futures::stream::iter(batches)
        .map(|chunk| async move {
            let per_device: Vec<[Vec<EventEnvelope>; 2]> = chunk
                .iter()
                .map(|&i| {
                    let id = format!("dev-{i:06}");
                    let set = format!("as-{i:06}");
                    let identity = format!(
                        r#"{{"mac":"02:00:00:{:02x}:{:02x}:{:02x}"}}"#,
                        i >> 16 & 255,
                        i >> 8 & 255,
                        i & 255
                    );
                    let device = |e| envelope("device", &id, DomainEvent::Device(e));
                    let inventory = |e| envelope("inventory", &id, DomainEvent::Inventory(e));
                    [
                        vec![
                            device(DeviceEvent::AuthSetSubmitted {
                                auth_set_id: set.clone(),
                                identity_data: identity,
                                pubkey: "K".into(),
                            }),
                            device(DeviceEvent::AuthSetAccepted { auth_set_id: set }),
                        ],
                        vec![
                            inventory(InventoryEvent::InventoryReported { attributes: attributes(i) }),
                            inventory(InventoryEvent::InventoryGroupAssigned {
                                group: format!("group-{}", i % 10),
                            }),
                        ],
                    ]
                })
                .collect();
            append_new(store, &per_device).await
        })
        .buffer_unordered(4);
    while let Some(r) = results.next().await {
        last = last.max(r?);
    }
    Ok(last)
}

pub(crate) fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Times `n` sequential requests made by `send`; all must succeed.
pub(crate) async fn latency<F, Fut>(n: usize, send: F) -> anyhow::Result<Histogram<u64>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut h = Histogram::<u64>::new(3)?;
    for _ in 0..n {
        let t = Instant::now();
        send().await?;
        h.record(t.elapsed().as_micros() as u64)?;
    }
    Ok(h)
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0)
        / 1024
}

/// Runs the inventory figures and prints them.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_INV".into(), prefix: "binv".into(), replicas: 1 };
    let store = EventStore::open(client, cfg.clone()).await?;
    let started = Instant::now();
    let last = fill(&store, DEVICES).await?;
    let load = started.elapsed().as_secs_f64();
    println!(
        "(i) loaded {DEVICES} devices x 20 attributes = {} events through the log in {load:.1} s",
        DEVICES * 4
    );

    let started = Instant::now();
    let server = crate::server::BenchServer::start(url, &cfg.stream, &cfg.prefix).await?;
    let state = server.state.clone();
    anyhow::ensure!(state.read_models.wait_for(last, Duration::from_secs(900)).await, "projected");
    let projected = started.elapsed().as_secs_f64();
    println!(
        "    all read models (devices, inventory with its index, audit, ...) built from the log in {projected:.1} s = {:.0} events/s; process RSS {} MiB",
        (DEVICES * 4) as f64 / projected,
        rss_mib()
    );
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let admin = crate::user_token(&state, "bench@example.com").await?;

    let search_url = format!("{base}/api/management/v2/inventory/filters/search");
    let body = serde_json::json!({ "page": 2, "per_page": 20, "filters": [
        { "scope": "inventory", "attribute": "device_type", "type": "$eq", "value": "dt-3" },
        { "scope": "inventory", "attribute": "region", "type": "$eq", "value": "us" },
    ]});
    let check = http.post(&search_url).bearer_auth(&admin).json(&body).send().await?;
    anyhow::ensure!(check.status() == 200, "search: {}", check.status());
    let total = check.headers()["x-total-count"].to_str()?.to_owned();
    let search = latency(300, || {
        let req = http.post(&search_url).bearer_auth(&admin).json(&body);
        async move {
            anyhow::ensure!(req.send().await?.status() == 200);
            Ok(())
        }
    })
    .await?;
    println!(
        "(j) v2 search, two filters (device_type = dt-3 AND region = us: {total} of {DEVICES} devices), page 2 of 20: p50 {:.2} ms, p99 {:.2} ms  (goal p99 <= 50 ms; 300 sequential requests)",
        ms(&search, 0.5),
        ms(&search, 0.99)
    );
    let group_url = format!("{base}/api/management/v1/inventory/groups/group-3/devices?page=3&per_page=20");
    let groups = latency(300, || {
        let req = http.get(&group_url).bearer_auth(&admin);
        async move {
            anyhow::ensure!(req.send().await?.status() == 200);
            Ok(())
        }
    })
    .await?;
    println!(
        "(k) group listing (group-3: 10,000 devices), page 3 of 20 with X-Total-Count: p50 {:.2} ms, p99 {:.2} ms",
        ms(&groups, 0.5),
        ms(&groups, 0.99)
    );
    let v1_url = format!("{base}/api/management/v1/inventory/devices?device_type=dt-5&region=eu&per_page=20");
    let v1 = latency(300, || {
        let req = http.get(&v1_url).bearer_auth(&admin);
        async move {
            anyhow::ensure!(req.send().await?.status() == 200);
            Ok(())
        }
    })
    .await?;
    println!(
        "    v1 list with two attribute filters: p50 {:.2} ms, p99 {:.2} ms",
        ms(&v1, 0.5),
        ms(&v1, 0.99)
    );

    // PATCH: accepted devices with tokens signed by the server, each report changing a value.
    let tokens: Vec<String> = (0..PATCHERS)
        .map(|i| {
            state.jwt.sign(&fleetlog_tests::device_claims(
                &format!("dev-{i:06}"),
                &format!("as-{i:06}"),
                None,
            ))
        })
        .collect();
    let patch_url = format!("{base}/api/devices/v1/inventory/device/attributes");
    let counter = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let run_for = Duration::from_secs(5);
    let done = futures::stream::iter(0..IN_FLIGHT)
        .map(|w| {
            let (http, tokens, url, counter) = (&http, &tokens, &patch_url, &counter);
            async move {
                let mut n = 0u64;
                while started.elapsed() < run_for {
                    let k = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let token = &tokens[(k as usize + w) % tokens.len()];
                    let body = serde_json::json!([{ "name": "uptime_s", "value": 1_000_000 + k }]);
                    let res = http.patch(url).bearer_auth(token).json(&body).send().await?;
                    anyhow::ensure!(res.status() == 200, "patch: {}", res.status());
                    n += 1;
                }
                anyhow::Ok(n)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    let patches: u64 = done.into_iter().collect::<anyhow::Result<Vec<u64>>>()?.into_iter().sum();
    println!(
        "(l) inventory PATCH (each changes a value, so each appends an event): {:.0}/s  ({IN_FLIGHT} in flight, {} devices, 5 s)",
        patches as f64 / started.elapsed().as_secs_f64(),
        PATCHERS
    );
    let db_mib = fs_size(server.data_dir()) / (1 << 20);
    println!(
        "(m) memory: process RSS {} MiB with 100k devices loaded; read-model store on disk {db_mib} MiB",
        rss_mib()
    );
    server.stop().await?;
    Ok(())
}

/// Bytes of every file under `p`.
pub(crate) fn fs_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => fs_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
