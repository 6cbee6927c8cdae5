//! The scale run's log-side phases: loading the fleet, the server's first build of its read
//! models against a raw read, bytes per device, and projection of one-attribute reports; then
//! hands over to the HTTP phases ([`super::http`]).

use std::time::{Duration, Instant};

use anyhow::ensure;
use fleetlog_commands::{EventStore, StoreConfig};
use serde_json::Value;

use super::report::{Clock, Row, mib};
use super::{ScaleArgs, load};
use crate::child::ChildServer;
use crate::simulator::Seed;

/// The stream and subject prefix of the run.
const STREAM: &str = "BENCH_SCALE";
const PREFIX: &str = "bscale";
/// Probe devices (one-attribute reports) are those with `index % 10 == PROBE_CLASS`.
const PROBE_CLASS: u32 = 3;

/// Runs every phase and prints the figures and the table.
pub async fn run(url: &str, args: &ScaleArgs) -> anyhow::Result<()> {
    let (n, m) = (args.devices, args.http_devices);
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: STREAM.into(), prefix: PREFIX.into(), replicas: 1 };
    let store = EventStore::open(client.clone(), cfg).await?;
    let seed = Seed::random();
    let mut rows = Vec::new();

    println!(
        "(s0) fleet of {n} devices: {} appended to the log directly through the command side's store (identity claim, auth set submitted by the device and accepted, 20-attribute inventory report: {} events each, real Ed25519 keys); {m} onboarded over HTTP later",
        n - m,
        load::EVENTS_PER_DEVICE
    );
    let clock = Clock::start(None);
    let (last, probes) = load::fill(&store, &seed, m, n, PROBE_CLASS).await?;
    println!(
        "     appended {last} events in {:.1} s = {:.0} events/s (DIRECT APPEND, not HTTP); {}",
        clock.secs(),
        last as f64 / clock.secs(),
        clock.cpu(None)
    );

    // The server starts on a log it has never seen: its startup builds every read model from
    // position 1, the same work as a rebuild of all of them.
    let mut extra = Vec::new();
    if let Some(c) = args.cache_mb {
        extra = vec!["--cache-mb".to_owned(), c.to_string()];
    }
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let clock = Clock::start(None);
    let mut server = ChildServer::start(url, STREAM, PREFIX, &extra)?;
    let fl_clock = Clock::start(Some(&server));
    server.wait_ready(&http, Duration::from_secs(4 * 3600)).await?;
    let build = clock.secs();
    let build_rate = last as f64 / build;
    println!(
        "(s1) fleetlog serve (child pid {}, cache {}) built every read model from position 1 (its first start on this log = a rebuild of all of them, one pass) in {build:.1} s = {build_rate:.0} events/s; RSS {:.0} MiB; {}",
        server.pid,
        args.cache_mb.map_or("default".to_owned(), |c| format!("{c} MiB")),
        mib(server.rss_kib()),
        fl_clock.cpu(Some(&server))
    );
    let raw = crate::rebuild::raw_push_read(&client, STREAM, last).await?;
    println!(
        "     vs raw push ordered-consumer read of the same {last} events: {raw:.0} events/s = {:.2}x",
        build_rate / raw
    );
    rows.push(Row {
        figure: "rebuild of all read models (first build at start)",
        measured: format!("{build_rate:.0} events/s vs raw read {raw:.0} = {:.2}x", build_rate / raw),
        goal: ">= 200k events/s, >= 0.7x raw",
        met: Some(build_rate >= 200_000.0 && build_rate / raw >= 0.7),
    });
    let disk = server.disk_bytes("readmodels");
    println!(
        "(s2) read-model store after the build: {:.0} MiB allocated = {:.0} bytes/device",
        disk as f64 / f64::from(1 << 20),
        disk as f64 / f64::from(n)
    );

    // Steady-state reports appended directly, projected by the running server.
    let clock = Clock::start(Some(&server));
    let reports_last = load::one_attribute_reports(&store, &probes).await?;
    let appended = clock.secs();
    wait_position(&http, &server, "inventory", reports_last).await?;
    let rate = probes.len() as f64 / clock.secs();
    println!(
        "(s3) {} one-attribute inventory reports (InventoryChanged, uptime) appended directly in {appended:.1} s, projected by the inventory model at {rate:.0} events/s (from first append to /readyz position); {}",
        probes.len(),
        clock.cpu(Some(&server))
    );
    rows.push(Row {
        figure: "projecting inventory reports",
        measured: format!("{rate:.0} events/s ({} one-attribute reports)", probes.len()),
        goal: ">= 50k events/s",
        met: Some(rate >= 50_000.0),
    });

    let outcome = Box::pin(super::http::run(&server, &http, args, &seed, &mut rows)).await;
    if let Err(e) = &outcome {
        println!("     the HTTP phases failed: {e:#}\n     server log tail:\n{}", server.log_tail());
    }
    let disk = server.disk_bytes("readmodels");
    let per_device = disk as f64 / f64::from(n);
    println!(
        "(s10) read-model store at the end: {:.0} MiB allocated = {per_device:.0} bytes/device",
        disk as f64 / f64::from(1 << 20)
    );
    rows.push(Row {
        figure: "read-model store on disk",
        measured: format!("{per_device:.0} bytes/device (sled files, allocated blocks)"),
        goal: "<= 2 KB/device",
        met: Some(per_device <= 2048.0),
    });
    let peak = mib(server.peak_rss_kib());
    println!("(s11) peak RSS of fleetlog alone (VmHWM of the child process): {peak:.0} MiB");
    rows.push(Row {
        figure: "fleetlog RSS (server process alone, peak)",
        measured: format!("{peak:.0} MiB"),
        goal: "<= 1024 MiB",
        met: Some(peak <= 1024.0),
    });
    if args.replay && outcome.is_ok() {
        replay(&mut server, store.last_seq().await?, &mut rows)?;
    } else {
        server.stop()?;
    }
    let cache_mb = args.cache_mb.unwrap_or(fleetlog_projections::DEFAULT_CACHE_MB);
    if let Err(e) = super::ceiling::run(&server.data_dir.join("readmodels"), n, build, cache_mb, &mut rows) {
        println!("(s12) sled ceiling not measured: {e:#}");
    }
    super::report::table(n, &rows);
    outcome
}

/// Stops the server and times `fleetlog replay` (all models, one pass over the log) on its
/// data dir.
fn replay(server: &mut ChildServer, last: u64, rows: &mut Vec<Row>) -> anyhow::Result<()> {
    server.stop()?;
    let started = Instant::now();
    server.tool(&["replay"], &[])?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "(s13) fleetlog replay (offline, all models in one pass: one reader of the {last} events, fresh trees swapped in) took {secs:.1} s = {:.0} log events/s",
        last as f64 / secs
    );
    rows.push(Row {
        figure: "`fleetlog replay` of all models (offline)",
        measured: format!("{:.0} events/s ({last} events in {secs:.0} s)", last as f64 / secs),
        goal: ">= 200k events/s",
        met: Some(last as f64 / secs >= 200_000.0),
    });
    Ok(())
}

/// Waits until `/readyz` shows read model `model` at `position` or beyond.
pub async fn wait_position(
    http: &reqwest::Client,
    server: &ChildServer,
    model: &str,
    position: u64,
) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", server.addr);
    let started = Instant::now();
    loop {
        let v: Value = http.get(&url).send().await?.json().await?;
        if v["read_models"][model]["position"].as_u64().unwrap_or(0) >= position {
            return Ok(());
        }
        ensure!(started.elapsed() < Duration::from_secs(4 * 3600), "{model} never reached {position}: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
