//! (b) Rebuilding the devices read model in sled from the log, against a raw ordered-consumer
//! read of the same stream.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetlog_commands::{EventStore, StoreConfig};
use fleetlog_projections::devices::DevicesProjection;
use fleetlog_projections::{HostConfig, ProjectionHost};
use fleetlog_tests::{SeedDevice, append_accepted};
use futures::StreamExt;

/// Devices per atomic batch (two events each; a batch holds at most 1000 messages).
const DEVICES_PER_BATCH: usize = 250;

/// Writes `events` events: each device submitted, then accepted.
async fn fill(store: &EventStore, events: usize) -> anyhow::Result<u64> {
    let devices = events / 2;
    let mut last = 0;
    for chunk in (0..devices).collect::<Vec<_>>().chunks(DEVICES_PER_BATCH) {
        let seeds: Vec<SeedDevice> = chunk
            .iter()
            .map(|i| SeedDevice {
                id: format!("d{i}"),
                auth_set: format!("as{i}"),
                identity: format!(
                    r#"{{"mac":"02:00:00:{:02x}:{:02x}:{:02x}","sn":"{i}"}}"#,
                    i >> 16 & 255,
                    i >> 8 & 255,
                    i & 255
                ),
                pubkey: format!("-----BEGIN PUBLIC KEY-----\nKEY{i}\n-----END PUBLIC KEY-----\n"),
            })
            .collect();
        last = append_accepted(store, "default", "bench", &seeds).await?;
    }
    Ok(last)
}

/// Reads messages until stream sequence `last`, touching each payload; events per second
/// since `started`.
async fn drain<S, E>(mut messages: S, last: u64, started: Instant) -> anyhow::Result<f64>
where
    S: futures::Stream<Item = Result<async_nats::jetstream::Message, E>> + Unpin,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut bytes = 0usize;
    while let Some(m) = messages.next().await {
        let m = m?;
        bytes += m.payload.len();
        if m.info().map_err(|e| anyhow::anyhow!("{e}"))?.stream_sequence >= last {
            break;
        }
    }
    std::hint::black_box(bytes);
    Ok(last as f64 / started.elapsed().as_secs_f64())
}

/// Reads the whole stream with a push ordered consumer (what the runner uses).
pub(crate) async fn raw_push_read(
    client: &async_nats::Client,
    stream: &str,
    last: u64,
) -> anyhow::Result<f64> {
    let stream = async_nats::jetstream::new(client.clone()).get_stream(stream).await?;
    let started = Instant::now();
    let config = async_nats::jetstream::consumer::push::OrderedConfig {
        deliver_subject: client.new_inbox(),
        ..Default::default()
    };
    drain(stream.create_consumer(config).await?.messages().await?, last, started).await
}

/// Reads the whole stream with async-nats's pull ordered consumer.
async fn raw_pull_read(client: &async_nats::Client, stream: &str, last: u64) -> anyhow::Result<f64> {
    let stream = async_nats::jetstream::new(client.clone()).get_stream(stream).await?;
    let started = Instant::now();
    let config = async_nats::jetstream::consumer::pull::OrderedConfig::default();
    drain(stream.create_consumer(config).await?.messages().await?, last, started).await
}

/// Writes every key and value of `tree` into a fresh tree in batches of 1000: what sled alone
/// costs for the model's data. Returns (keys, keys per second, bytes of the fresh store's files
/// after a flush).
pub(crate) fn raw_sled_write(tree: &sled::Tree) -> anyhow::Result<(usize, f64, u64)> {
    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let target = db.open_tree("raw")?;
    let pairs: Vec<(sled::IVec, sled::IVec)> = tree.iter().collect::<Result<_, _>>()?;
    let rate = write_batches(&target, &pairs)?;
    db.flush()?;
    Ok((pairs.len(), rate, crate::inventory::fs_size(dir.path())))
}

/// Writes `pairs` into `target` in batches of 1000, as the projections batch their writes;
/// returns keys per second.
pub(crate) fn write_batches(target: &sled::Tree, pairs: &[(sled::IVec, sled::IVec)]) -> anyhow::Result<f64> {
    let started = Instant::now();
    for chunk in pairs.chunks(1000) {
        let mut batch = sled::Batch::default();
        for (k, v) in chunk {
            batch.insert(k.clone(), v.clone());
        }
        target.apply_batch(batch)?;
    }
    Ok(pairs.len() as f64 / started.elapsed().as_secs_f64())
}

/// Runs the comparison and prints it.
pub async fn run(url: &str, events: usize) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_B".into(), prefix: "bb".into(), replicas: 1 };
    let store = EventStore::open(client.clone(), cfg.clone()).await?;
    let started = Instant::now();
    let last = fill(&store, events).await?;
    let fill_rate = last as f64 / started.elapsed().as_secs_f64();
    println!(
        "    filled {last} events in atomic batches of {} at {fill_rate:.0} events/s",
        DEVICES_PER_BATCH * 2
    );

    let dir = tempfile::tempdir()?;
    let db = sled::open(dir.path())?;
    let host_cfg = HostConfig { stream: cfg.stream.clone(), ..HostConfig::default() };
    let host = ProjectionHost::start(db, client.clone(), host_cfg, vec![Arc::new(DevicesProjection)]).await?;
    anyhow::ensure!(host.wait_for(last, Duration::from_secs(600)).await, "initial build did not finish");

    let (mut ours, mut base, mut pull) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        base.push(raw_push_read(&client, &cfg.stream, last).await?);
        pull.push(raw_pull_read(&client, &cfg.stream, last).await?);
        let started = Instant::now();
        host.rebuild("devices", &|_, _| {}).await?;
        ours.push(last as f64 / started.elapsed().as_secs_f64());
    }
    let (ours, base) = (crate::median(ours), crate::median(base));
    println!(
        "(b) read-model rebuild: {ours:.0} events/s vs raw push ordered-consumer read {base:.0} events/s = {:.2}x  (goal >= 0.30x and >= 200000 events/s; {last} events, median of 3)",
        ours / base
    );
    let pull = crate::median(pull);
    println!("    vs async-nats's pull ordered consumer {pull:.0} events/s = {:.2}x", ours / pull);
    let model = host.model("devices").expect("devices model");
    let (keys, sled_rate, _) = raw_sled_write(&model.tree())?;
    println!(
        "    sled ceiling: the model's {keys} keys written raw in batches of 1000 at {sled_rate:.0} keys/s; the rebuild writes {:.0} keys/s ({:.2} of that)",
        ours * keys as f64 / last as f64,
        ours * keys as f64 / last as f64 / sled_rate
    );
    host.stop().await;
    Ok(())
}
