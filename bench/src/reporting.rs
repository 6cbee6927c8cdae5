//! Reporting figures: 100k devices (20 attributes each; `FLEETLOG_BENCH_REPORTING_DEVICES`
//! changes it) loaded through the log, then (r1) how fast a server indexes them into a real
//! OpenSearch node against how fast the same server builds its sled read models from the same
//! log, (r1b) how fast `fleetlog replay --model search` reindexes them against a raw bulk load
//! of the same documents through the same crate, (r2/r3) search and aggregation latency answered by OpenSearch against the embedded
//! backend over the same devices, (r4) the lag from a device's inventory report over HTTP
//! to its visibility in a reporting search on each backend, and (r5) the server's RSS with the
//! OpenSearch projection on and off (`fleetlog serve` as a child process).

use std::time::{Duration, Instant};

use fleetlog_commands::{EventStore, StoreConfig};
use fleetlog_tests::OpenSearchNode;
use serde_json::{Value, json};

use crate::child::ChildServer;
use crate::inventory::{fill, latency, ms};
use crate::server::BenchServer;

/// Devices loaded unless `FLEETLOG_BENCH_REPORTING_DEVICES` says otherwise.
const DEVICES: usize = 100_000;
/// Reports timed for the lag figure (sequential).
const LAG_SAMPLES: usize = 100;
/// Queries timed per backend: the embedded one reads every candidate device per query, so fewer.
const QUERIES: [usize; 2] = [200, 50];
/// Queries sent to each backend before the timed ones.
const WARM_UP: usize = 10;
/// Documents per `_bulk` request of the raw load, and requests in flight: the indexer's shape.
const RAW_BULK_DOCS: usize = 500;
const RAW_IN_FLIGHT: usize = 2;

/// Waits until `base`'s `/readyz` shows `model` at `seq` or later; returns when it did.
async fn reaches(http: &reqwest::Client, base: &str, model: &str, seq: u64) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(900);
    while Instant::now() < deadline {
        let ready: Value = http.get(format!("{base}/readyz")).send().await?.json().await?;
        if ready["read_models"][model]["position"].as_u64().is_some_and(|p| p >= seq) {
            return Ok(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("{model} did not reach {seq}")
}

/// Runs the reporting figures and prints them.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let node = tokio::task::spawn_blocking(|| OpenSearchNode::start(None, None))
        .await?
        .map_err(|e| anyhow::anyhow!(e))?;
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_REP".into(), prefix: "brep".into(), replicas: 1 };
    let store = EventStore::open(client, cfg.clone()).await?;
    let devices = std::env::var("FLEETLOG_BENCH_REPORTING_DEVICES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEVICES);
    let last = fill(&store, devices).await?;
    println!(
        "(r) OpenSearch 3.8.0 answered after {:.1} s; {devices} devices = {last} events in the log (appended directly)",
        node.startup.as_secs_f64()
    );

    let started = Instant::now();
    let searched = BenchServer::start_with(url, &cfg.stream, &cfg.prefix, |a| {
        a.opensearch_url = Some(node.url().to_owned());
        a.opensearch_index_prefix = "bench-".into();
    })
    .await?;
    let base = format!("http://{}", searched.addr);
    let http = reqwest::Client::new();
    let sled_done = reaches(&http, &base, "inventory", last).await?;
    let search_done = reaches(&http, &base, "search", last).await?;
    let (sled, search) = ((sled_done - started).as_secs_f64(), (search_done - started).as_secs_f64());
    println!(
        "(r1) indexing: {devices} device documents into OpenSearch in {search:.1} s = {:.0} docs/s vs the sled read models from the same log in {sled:.1} s = {:.2}x  (same server, same start)",
        devices as f64 / search,
        sled / search
    );
    let rebuilt = replay_search(&searched).await?;
    let raw = raw_bulk_load(node.url(), &searched).await?;
    println!(
        "(r1b) `fleetlog replay --model search` on that server (its sled models built; a new index generation, swapped in): {devices} documents in {rebuilt:.1} s = {:.0} docs/s vs a raw bulk load of the same documents through the same crate (pre-built, {} per request, {} in flight) in {raw:.1} s = {:.0} docs/s = {:.2}x",
        devices as f64 / rebuilt,
        RAW_BULK_DOCS,
        RAW_IN_FLIGHT,
        devices as f64 / raw,
        raw / rebuilt
    );
    http.post(format!("{}/bench-*/_refresh", node.url())).send().await?;

    let embedded = BenchServer::start(url, &cfg.stream, &cfg.prefix).await?;
    let local = format!("http://{}", embedded.addr);
    anyhow::ensure!(embedded.state.read_models.wait_for(last, Duration::from_secs(900)).await, "projected");
    // Each server signs with its own key: a token of each.
    let tokens = [
        crate::user_token(&searched.state, "reporting-os@example.com").await?,
        crate::user_token(&embedded.state, "reporting-sled@example.com").await?,
    ];
    let user_seq = embedded.state.store().last_seq().await?;
    for server in [&searched, &embedded] {
        anyhow::ensure!(
            server.state.read_models.wait_for(user_seq, Duration::from_secs(60)).await,
            "users seen"
        );
    }

    let search_body = json!({"page": 2, "per_page": 20,
        "filters": [
            {"scope": "inventory", "attribute": "device_type", "type": "$eq", "value": "dt-3"},
            {"scope": "inventory", "attribute": "mem_total_kB", "type": "$gte", "value": 2_097_152},
        ],
        "sort": [{"scope": "inventory", "attribute": "uptime_s", "order": "desc"}]});
    let aggregate_body = json!({"aggregations": [{"name": "type", "attribute": "device_type",
        "aggregations": [{"name": "region", "attribute": "region", "limit": 4}]}]});
    for (label, path, body) in [
        ("(r2) search, 2 filters + sort, page 2", "devices/search", &search_body),
        ("(r3) aggregate, device type x region", "devices/aggregate", &aggregate_body),
    ] {
        let mut figures = Vec::new();
        let mut answers = Vec::new();
        for ((server, token), n) in [&base, &local].into_iter().zip(&tokens).zip(QUERIES) {
            let url = format!("{server}/api/management/v1/reporting/{path}");
            let first = http.post(&url).bearer_auth(token).json(body).send().await?;
            anyhow::ensure!(first.status() == 200, "{path}: {}", first.status());
            answers.push(first.json::<Value>().await?);
            // Warm-up, not timed: OpenSearch compiles the query and fills its caches on the
            // first few, the embedded backend fills sled's cache.
            for _ in 0..WARM_UP {
                http.post(&url).bearer_auth(token).json(body).send().await?.error_for_status()?;
            }
            let h = latency(n, || {
                let req = http.post(&url).bearer_auth(token).json(body);
                async move {
                    anyhow::ensure!(req.send().await?.status() == 200);
                    Ok(())
                }
            })
            .await?;
            figures.push((ms(&h, 0.5), ms(&h, 0.99)));
        }
        anyhow::ensure!(answers[0] == answers[1], "{path}: the backends disagree");
        let ((os50, os99), (sl50, sl99)) = (figures[0], figures[1]);
        println!(
            "{label}: OpenSearch p50 {os50:.1} ms p99 {os99:.1} ms vs embedded p50 {sl50:.1} ms p99 {sl99:.1} ms = {:.1}x faster at p50  ({} and {} sequential after {WARM_UP} untimed, same answers)",
            sl50 / os50,
            QUERIES[0],
            QUERIES[1]
        );
    }
    for (label, server, token) in [("OpenSearch", &searched, &tokens[0]), ("embedded", &embedded, &tokens[1])]
    {
        let h = report_lag(&http, server, token, devices).await?;
        println!(
            "(r4) lag from a device's inventory report (PUT over HTTP, answered) to its visibility in a reporting search, {label}: p50 {:.1} ms p99 {:.1} ms  ({LAG_SAMPLES} sequential reports)",
            ms(&h, 0.5),
            ms(&h, 0.99)
        );
    }
    searched.stop().await?;
    embedded.stop().await?;
    rss_on_off(url, &cfg, node.url(), last).await?;
    tokio::task::spawn_blocking(move || node.stop()).await?;
    Ok(())
}

/// (r5) The RSS of `fleetlog serve` as a child process on the same log, caught up with it,
/// once without and once with the OpenSearch projection (the bench's own memory apart).
async fn rss_on_off(url: &str, cfg: &StoreConfig, node: &str, last: u64) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let on = ["--opensearch-url", node, "--opensearch-index-prefix", "rss-"].map(str::to_owned).to_vec();
    let mut figures = Vec::new();
    for extra in [Vec::new(), on] {
        let mut child = ChildServer::start(url, &cfg.stream, &cfg.prefix, &extra)?;
        child.wait_ready(&http, Duration::from_secs(1800)).await?;
        let base = format!("http://{}", child.addr);
        reaches(&http, &base, "inventory", last).await?;
        if !extra.is_empty() {
            reaches(&http, &base, "search", last).await?;
        }
        figures.push((child.peak_rss_kib() as f64 / 1024.0, child.rss_kib() as f64 / 1024.0));
        child.stop()?;
    }
    let ((off_peak, off_now), (on_peak, on_now)) = (figures[0], figures[1]);
    println!(
        "(r5) RSS of fleetlog serve (a child process, built its read models from the same log, caught up): OpenSearch projection off: peak {off_peak:.0} MiB, after {off_now:.0} MiB; on: peak {on_peak:.0} MiB, after {on_now:.0} MiB = {:.2}x at peak",
        on_peak / off_peak
    );
    Ok(())
}

/// Runs `fleetlog replay --model search` against `server` (it asks the running server to
/// rebuild its index into a new generation); returns the seconds it took.
async fn replay_search(server: &BenchServer) -> anyhow::Result<f64> {
    let conn = server.conn();
    let args =
        fleetlog_gateway::settings::ReplayArgs { conn, model: Some("search".into()), to: None, out: None };
    let started = Instant::now();
    fleetlog_gateway::logtools::replay(&args).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// The baseline of (r1b): every device document of `server`'s read models, built first (not
/// timed), then written into fresh indices with the same mappings (prefix `raw-`) by plain
/// `_bulk` requests through the same client; returns the seconds the writes took.
async fn raw_bulk_load(node: &str, server: &BenchServer) -> anyhow::Result<f64> {
    use fleetlog_projections::reporting::Record;
    use fleetlog_projections::reporting::opensearch::{Index, SearchClient, document};
    use futures::{StreamExt, TryStreamExt};
    let client = SearchClient::new(node, "raw-")?;
    client.ensure_indices().await?;
    let models = &server.state.read_models;
    let inventory = models.model("inventory").ok_or_else(|| anyhow::anyhow!("no inventory model"))?;
    let q = fleetlog_projections::inventory::InventoryQueries(&inventory);
    let tenant = fleetlog_gateway::DEFAULT_TENANT;
    let index = client.index(Index::Devices);
    let (mut lines, built) = (Vec::new(), Instant::now());
    for id in q.ids(tenant, 0, usize::MAX)? {
        if let Some(d) = q.get(tenant, &id)? {
            let action = json!({"index": {"_index": index, "_id": format!("{tenant}/{id}")}});
            lines.push(format!("{action}\n{}\n", document(tenant, &Record::device(&d))));
        }
    }
    let bodies: Vec<String> = lines.chunks(RAW_BULK_DOCS).map(|c| c.concat()).collect();
    println!(
        "(r1c) building the {} documents from the sled models (not timed in the raw load): {:.1} s",
        lines.len(),
        built.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    futures::stream::iter(bodies.into_iter().map(|body| client.bulk_checked(body)))
        .buffer_unordered(RAW_IN_FLIGHT)
        .try_collect::<()>()
        .await?;
    let took = started.elapsed().as_secs_f64();
    let g = client.current_generation().await?.ok_or_else(|| anyhow::anyhow!("no raw generation"))?;
    let mut names: Vec<String> =
        [Index::Devices, Index::Deployments].map(|i| client.generation(i, g)).to_vec();
    names.push(client.index(Index::Meta));
    let dropped = reqwest::Client::new().delete(format!("{node}/{}", names.join(","))).send().await?;
    anyhow::ensure!(dropped.status() == 200, "dropping the raw indices: {}", dropped.status());
    Ok(took)
}

/// Times [`LAG_SAMPLES`] inventory reports of devices of `server` (a new `lag_mark` value each,
/// sent with a device token of the server's key) until a reporting search finds the value.
async fn report_lag(
    http: &reqwest::Client,
    server: &BenchServer,
    token: &str,
    devices: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let base = format!("http://{}", server.addr);
    let mut h = hdrhistogram::Histogram::<u64>::new(3)?;
    let salt = uuid::Uuid::new_v4().simple().to_string();
    for k in 0..LAG_SAMPLES {
        let i = k * devices / LAG_SAMPLES;
        let device = server.state.jwt.sign(&fleetlog_tests::device_claims(
            &format!("dev-{i:06}"),
            &format!("as-{i:06}"),
            None,
        ));
        let mark = format!("{salt}-{k}");
        let started = Instant::now();
        let res = http
            .put(format!("{base}/api/devices/v1/inventory/device/attributes"))
            .bearer_auth(&device)
            .json(&json!([{ "name": "lag_mark", "value": mark }]))
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "report: {}", res.status());
        let search = json!({ "filters": [{ "scope": "inventory", "attribute": "lag_mark", "type": "$eq", "value": mark }] });
        loop {
            let found: Value = http
                .post(format!("{base}/api/management/v1/reporting/devices/search"))
                .bearer_auth(token)
                .json(&search)
                .send()
                .await?
                .json()
                .await?;
            if found.as_array().is_some_and(|a| !a.is_empty()) {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "report {k} never visible");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        h.record(started.elapsed().as_micros() as u64)?;
    }
    Ok(h)
}
