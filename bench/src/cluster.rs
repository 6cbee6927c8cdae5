//! The clustered shape (issue 17), same run: appends and device polls on a 3-node JetStream
//! cluster (R3, `sync_interval: always` on every node) against the single embedded-style node;
//! the latency of writes while the stream's leader node is killed; the catch-up rate of a
//! replica started on an empty data dir.

use std::time::{Duration, Instant};

use fleetlog_commands::{CommandMeta, CommandService, EventStore, StoreConfig};
use fleetlog_events::Actor;
use fleetlog_events::settings::{Settings, SettingsCommand};
use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ServeArgs};
use fleetlog_tests::cluster::Cluster;
use futures::StreamExt;

const IN_FLIGHT: usize = 32;
const PER_ROUND: usize = 2_000;
const ROUNDS: usize = 3;

/// One command (a settings save on its own object) through the command loop, as a request
/// would run it.
async fn command(commands: &CommandService, i: usize) -> Duration {
    let meta = CommandMeta::new("default", Actor::system("bench"), "");
    let save = SettingsCommand::Save { json: format!(r#"{{"n":{i}}}"#), if_match: None };
    let started = Instant::now();
    commands.execute::<Settings>(&meta, &format!("s{i}"), &save).await.expect("command");
    started.elapsed()
}

async fn round(commands: &CommandService, from: usize) -> f64 {
    let started = Instant::now();
    futures::stream::iter(from..from + PER_ROUND)
        .for_each_concurrent(IN_FLIGHT, |i| async move {
            command(commands, i).await;
        })
        .await;
    PER_ROUND as f64 / started.elapsed().as_secs_f64()
}

async fn store(url: &str, stream: &str, replicas: usize) -> anyhow::Result<EventStore> {
    let client = async_nats::ConnectOptions::new().connect(url.split(',').collect::<Vec<_>>()).await?;
    Ok(EventStore::open(
        client,
        StoreConfig { stream: stream.into(), prefix: stream.to_lowercase(), replicas },
    )
    .await?)
}

/// A `fleetlog serve` of the bench on `url`'s stream `stream`, with an empty data dir; its
/// read models' time to reach `last` (the catch-up).
async fn catch_up(url: &str, stream: &str, replicas: usize, last: u64) -> anyhow::Result<Duration> {
    let dir = tempfile::tempdir()?;
    let conn = ConnectionArgs {
        data_dir: dir.path().into(),
        nats_url: Some(url.into()),
        nats_server_bin: "nats-server".into(),
        stream: stream.into(),
        subject_prefix: stream.to_lowercase(),
        replicas,
        cache_mb: fleetlog_projections::DEFAULT_CACHE_MB,
    };
    let started = Instant::now();
    let app = Box::pin(Application::build(ServeArgs::with_defaults(conn, "127.0.0.1:0".parse()?))).await?;
    let state = app.state().clone();
    anyhow::ensure!(state.read_models.wait_for(last, Duration::from_secs(600)).await, "caught up");
    let took = started.elapsed();
    drop(app);
    Ok(took)
}

/// The stream's last position, asked again while the client reconnects after the fault.
async fn last_seq(commands: &CommandService) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        match commands.store().last_seq().await {
            Ok(seq) => return Ok(seq),
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs the comparisons and prints them.
pub async fn run(single: &str) -> anyhow::Result<()> {
    let mut cluster = tokio::task::spawn_blocking(|| Cluster::start(3)).await?;
    cluster.ready().await;
    let urls = cluster.urls();
    let one = CommandService::new(store(single, "BENCH_C1", 1).await?);
    let three = CommandService::new(store(&urls, "BENCH_C3", 3).await?);
    round(&one, 1_000_000).await;
    round(&three, 1_000_000).await;
    let (mut r1, mut r3) = (Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        r1.push(round(&one, r * PER_ROUND).await);
        r3.push(round(&three, r * PER_ROUND).await);
    }
    let (r1, r3) = (crate::median(r1), crate::median(r3));
    println!(
        "(cluster) commands/s (load, decide, append, {IN_FLIGHT} in flight): 3-node R3 cluster {r3:.0}/s vs one node {r1:.0}/s = {:.2}x",
        r3 / r1
    );

    // Writes while the leader of the stream dies: the latency of each, over 10 s.
    let leader = {
        let client = async_nats::connect(urls.split(',').next().unwrap_or_default()).await?;
        let mut s = async_nats::jetstream::new(client).get_stream("BENCH_C3").await?;
        s.info().await?.cluster.as_ref().and_then(|c| c.leader.clone()).unwrap_or_default()
    };
    let victim = cluster.index_of(&leader).ok_or_else(|| anyhow::anyhow!("no leader"))?;
    let mut hist = hdrhistogram::Histogram::<u64>::new(3)?;
    let started = Instant::now();
    let mut killed = false;
    let mut i = 2_000_000;
    while started.elapsed() < Duration::from_secs(10) {
        if !killed && started.elapsed() > Duration::from_secs(2) {
            cluster.kill(victim);
            killed = true;
        }
        let batch: Vec<Duration> =
            futures::stream::iter(i..i + 8).map(|n| command(&three, n)).buffer_unordered(8).collect().await;
        i += 8;
        for d in batch {
            hist.record(d.as_micros() as u64)?;
        }
    }
    println!(
        "(cluster) commands while the stream's leader node is killed (8 in flight, 10 s, kill at 2 s): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} commands, none failed",
        hist.value_at_quantile(0.5) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0,
        hist.len()
    );
    let cluster = tokio::task::spawn_blocking(move || {
        for n in cluster.down() {
            cluster.start_node(n);
        }
        cluster
    })
    .await?;
    cluster.ready().await;

    // A replica started on an empty data dir reads the whole stream into its read models.
    let last = last_seq(&three).await?;
    let took = catch_up(&urls, "BENCH_C3", 3, last).await?;
    let last1 = one.store().last_seq().await?;
    let took1 = catch_up(single, "BENCH_C1", 1, last1).await?;
    let (rate3, rate1) = (last as f64 / took.as_secs_f64(), last1 as f64 / took1.as_secs_f64());
    println!(
        "(cluster) a new replica catches up: {rate3:.0} events/s from the R3 cluster vs {rate1:.0} events/s from one node = {:.2}x ({last} events, start included)",
        rate3 / rate1
    );
    Ok(())
}
