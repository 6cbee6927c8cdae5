//! The inventory read model alone, at fleet scale: how fast it builds from the log, how fast it
//! folds steady-state reports (one attribute of twenty changed, as a device's periodic report
//! is once the command side has diffed it), and how many bytes each device costs on disk.
//! Baselines from the same run: a raw ordered-consumer read of the same stream and sled's own
//! write rate for the model's keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetlog_commands::{EventStore, StoreConfig, SubjectAppend};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::inventory::{AttrValue, Attributes, InventoryEvent};
use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope};
use fleetlog_projections::inventory::InventoryProjection;
use fleetlog_projections::{HostConfig, ProjectionHost};

/// Devices per atomic batch: four events each, on two subjects (a batch holds ≤ 1000 messages).
const PER_BATCH: usize = 250;

/// A device id shaped like the ones fleetlog assigns (a UUID), so key sizes are realistic.
pub(crate) fn device_id(i: usize) -> String {
    format!("{i:08x}-7e57-4000-8000-{i:012x}")
}

/// An event of `actor` on aggregate `kind`/`id` of the default tenant, as the command side
/// would envelope it.
pub(crate) fn envelope(kind: &str, id: &str, actor: Actor, event: DomainEvent) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate: AggregateRef { tenant: "default".into(), kind: kind.into(), id: id.into() },
        occurred_at: fleetlog_commands::now(),
        actor,
        command_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: String::new(),
        event,
    }
}

/// Each device asks to join, is accepted, reports twenty attributes and is put in a group, in
/// atomic batches appended one after the other; returns each device's inventory subject
/// position (a batch's messages take consecutive sequences, in order).
async fn fill(store: &EventStore, devices: usize) -> anyhow::Result<Vec<u64>> {
    let mut positions = Vec::with_capacity(devices);
    for chunk in (0..devices).collect::<Vec<_>>().chunks(PER_BATCH) {
        let per_device: Vec<[Vec<EventEnvelope>; 2]> = chunk
            .iter()
            .map(|&i| {
                let id = device_id(i);
                let set = format!("{i:08x}-a5e7-4000-8000-{i:012x}");
                let identity = format!(
                    r#"{{"mac":"02:00:{:02x}:{:02x}:{:02x}:{:02x}"}}"#,
                    i >> 24 & 255,
                    i >> 16 & 255,
                    i >> 8 & 255,
                    i & 255
                );
                let by_device = || Actor::device(&id);
                let submitted = DeviceEvent::AuthSetSubmitted {
                    auth_set_id: set.clone(),
                    identity_data: identity,
                    pubkey: "K".into(),
                };
                let accepted = DeviceEvent::AuthSetAccepted { auth_set_id: set };
                let first_report = InventoryEvent::InventoryChanged {
                    set: crate::inventory::attributes(i),
                    removed: vec![],
                };
                let group = InventoryEvent::InventoryGroupAssigned { group: format!("group-{}", i % 10) };
                [
                    vec![
                        envelope("device", &id, by_device(), DomainEvent::Device(submitted)),
                        envelope(
                            "device",
                            &id,
                            Actor::user("u1", "bench@example.com"),
                            DomainEvent::Device(accepted),
                        ),
                    ],
                    vec![
                        envelope("inventory", &id, by_device(), DomainEvent::Inventory(first_report)),
                        envelope("inventory", &id, Actor::system("bench"), DomainEvent::Inventory(group)),
                    ],
                ]
            })
            .collect();
        let last = crate::inventory::append_new(store, &per_device).await?;
        let first = last + 1 - 4 * chunk.len() as u64;
        positions.extend((0..chunk.len() as u64).map(|j| first + 4 * j + 3));
    }
    Ok(positions)
}

/// Every device reports once more with one value changed: the event the command side appends
/// for such a report (`InventoryChanged` with only what changed), by the device itself.
async fn reports(store: &EventStore, positions: &[u64]) -> anyhow::Result<u64> {
    let mut last = 0;
    for (c, chunk) in positions.chunks(1000).enumerate() {
        let events: Vec<Vec<EventEnvelope>> = (0..chunk.len())
            .map(|j| {
                let i = c * 1000 + j;
                vec![uptime_changed(&device_id(i), (i + 1_000_000) as f64)]
            })
            .collect();
        let appends: Vec<SubjectAppend<'_>> = events
            .iter()
            .zip(chunk)
            .map(|(evs, &seq)| SubjectAppend {
                subject: store.subject(&evs[0].aggregate).unwrap(),
                expected_last_seq: seq,
                events: evs,
            })
            .collect();
        last = store.append(&uuid::Uuid::new_v4().to_string(), &appends).await?.last_seq;
    }
    Ok(last)
}

/// Device `id`'s steady-state report with only its uptime changed, by the device itself.
pub(crate) fn uptime_changed(id: &str, uptime: f64) -> EventEnvelope {
    let set: Attributes = [("uptime_s".to_owned(), AttrValue::Number(uptime))].into();
    let changed = InventoryEvent::InventoryChanged { set, removed: vec![] };
    envelope("inventory", id, Actor::device(id), DomainEvent::Inventory(changed))
}

/// Every key and value of a tree: (keys, bytes).
fn logical_size(tree: &sled::Tree) -> anyhow::Result<(usize, u64)> {
    let mut keys = 0;
    let mut bytes = 0u64;
    for kv in tree.iter() {
        let (k, v) = kv?;
        keys += 1;
        bytes += (k.len() + v.len()) as u64;
    }
    Ok((keys, bytes))
}

/// Bytes of disk blocks allocated to the files under `p` (sled's files may have holes).
fn allocated_size(p: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => allocated_size(&e.path()),
                    Ok(m) => m.blocks() * 512,
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Runs the figures for `devices` devices with a sled cache of `cache_mb` MiB and prints them.
pub async fn run(url: &str, devices: usize, cache_mb: u64) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_IM".into(), prefix: "bim".into(), replicas: 1 };
    let store = EventStore::open(client.clone(), cfg.clone()).await?;
    let started = Instant::now();
    let positions = fill(&store, devices).await?;
    let built_at = positions.last().copied().unwrap_or(0) + 1;
    let last = reports(&store, &positions).await?;
    println!(
        "(im) {devices} devices: {} events (join, accept, 20-attribute report, group) + {devices} one-attribute reports appended in {:.1} s",
        built_at - 1,
        started.elapsed().as_secs_f64()
    );

    let dir = tempfile::tempdir()?;
    let db = sled::Config::new().path(dir.path()).cache_capacity(cache_mb << 20).open()?;
    let host_cfg = HostConfig { stream: cfg.stream.clone(), ..HostConfig::default() };
    let started = Instant::now();
    let host =
        ProjectionHost::start(db.clone(), client.clone(), host_cfg, vec![Arc::new(InventoryProjection)])
            .await?;
    anyhow::ensure!(host.wait_for(built_at - 1, Duration::from_secs(3600)).await, "build did not finish");
    let build = started.elapsed().as_secs_f64();
    anyhow::ensure!(host.wait_for(last, Duration::from_secs(3600)).await, "reports not projected");
    let report = started.elapsed().as_secs_f64() - build;
    let model = host.model("inventory").expect("inventory model");
    let (keys, bytes) = logical_size(&model.tree())?;
    let build_rate = (built_at - 1) as f64 / build;
    println!(
        "     inventory projection, live: build {build_rate:.0} events/s ({keys} keys = {:.1} per device); steady-state reports {:.0} events/s",
        keys as f64 / devices as f64,
        devices as f64 / report
    );
    db.flush_async().await?;
    let (disk, allocated) = (crate::inventory::fs_size(dir.path()), allocated_size(dir.path()));
    println!(
        "     on disk: {:.0} bytes/device (sled files; {:.0} allocated, cache {cache_mb} MiB); keys and values themselves {:.0} bytes/device; process RSS {} MiB",
        disk as f64 / devices as f64,
        allocated as f64 / devices as f64,
        bytes as f64 / devices as f64,
        crate::rss_kib() / 1024
    );

    let raw = crate::rebuild::raw_push_read(&client, &cfg.stream, last).await?;
    let started = Instant::now();
    host.rebuild("inventory", &|_, _| {}).await?;
    let rebuild = last as f64 / started.elapsed().as_secs_f64();
    println!(
        "     rebuild of the inventory model: {rebuild:.0} events/s vs raw push ordered-consumer read {raw:.0} events/s = {:.2}x",
        rebuild / raw
    );
    let (raw_keys, sled_rate, raw_disk) = crate::rebuild::raw_sled_write(&model.tree())?;
    println!(
        "     sled ceiling: the model's {raw_keys} keys written raw in key order, batches of 1000, at {sled_rate:.0} keys/s; the build stored {:.0} keys/s ({:.2} of that)",
        build_rate * keys as f64 / (built_at - 1) as f64,
        build_rate * keys as f64 / (built_at - 1) as f64 / sled_rate
    );
    println!(
        "     sled's own size for those keys written in key order: {:.0} bytes/device ({:.1}x the keys and values)",
        raw_disk as f64 / devices as f64,
        raw_disk as f64 / bytes as f64
    );
    host.stop().await;
    Ok(())
}
