//! Device traffic over HTTP: the steady load at Mender's default intervals (an open loop at a
//! fixed rate, so a stall shows in every request it delays) and the load test 301 burst.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::simulator::{Sim, SimDevice};

/// Mender's default `UpdatePollIntervalSeconds` and `InventoryPollIntervalSeconds`.
pub const POLL_INTERVAL_S: f64 = 1800.0;
/// See [`POLL_INTERVAL_S`].
pub const INVENTORY_INTERVAL_S: f64 = 28800.0;
/// Requests in flight at most in the open loop (a server that falls behind makes requests wait,
/// counted in their latency, instead of the bench opening connections without bound).
const OPEN_CONNECTIONS: usize = 256;

/// A device of the steady-load pool: its fleet index (for its attributes) and its state.
pub struct PoolDevice {
    /// Fleet index.
    pub index: u32,
    /// The simulated device, with the token its own auth request got.
    pub device: SimDevice,
}

/// What the open loop measured.
pub struct Paced {
    /// `next` latency (µs, from the scheduled start).
    pub polls: Histogram<u64>,
    /// Inventory PUT latency (µs, from the scheduled start).
    pub reports: Histogram<u64>,
    /// Requests that failed or got an unexpected status.
    pub errors: u64,
    /// Wall time of the loop.
    pub wall: Duration,
}

/// The inventory a device reports every `INVENTORY_INTERVAL_S`: all its attributes (the client
/// sends the whole set with PUT), of which only `uptime_s` has moved since the last one.
fn report_body(index: u32, tick: u64) -> Value {
    let mut attrs = crate::inventory::attributes(index as usize);
    attrs.insert("uptime_s".into(), fleetlog_events::inventory::AttrValue::Number((1_000_000 + tick) as f64));
    Value::Array(attrs.into_iter().map(|(name, value)| json!({ "name": name, "value": value })).collect())
}

/// Sends requests at `rate` per second until `stop` is set: in every 17, one inventory report
/// and 16 `next` polls (Mender's 28800 s : 1800 s), each from the next device of `pool`.
pub async fn paced(
    sim: Sim,
    pool: Arc<Vec<PoolDevice>>,
    rate: f64,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Paced> {
    let period = Duration::from_secs_f64(1.0 / rate);
    let polls = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3)?));
    let reports = Arc::new(std::sync::Mutex::new(Histogram::<u64>::new(3)?));
    let errors = Arc::new(AtomicU64::new(0));
    let permits = Arc::new(tokio::sync::Semaphore::new(OPEN_CONNECTIONS));
    let inventory_url = format!("{}/api/devices/v1/inventory/device/attributes", sim.base);
    let mut tasks = tokio::task::JoinSet::new();
    let start = tokio::time::Instant::now();
    let mut tick = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let at = start + period.mul_f64(tick as f64);
        tokio::time::sleep_until(at).await;
        let d = &pool[tick as usize % pool.len()];
        let report = tick % 17 == 16;
        let request = if report {
            sim.http.put(&inventory_url).bearer_auth(&d.device.token).json(&report_body(d.index, tick))
        } else {
            sim.next_request(&d.device)
        };
        let hist = if report { reports.clone() } else { polls.clone() };
        let (errors, permits) = (errors.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let ok = match request.send().await {
                // An idle device gets 204 from `next`; a report 200.
                Ok(res) => res.status() == StatusCode::NO_CONTENT || res.status() == StatusCode::OK,
                Err(_) => false,
            };
            if !ok && errors.fetch_add(1, Ordering::Relaxed) < 3 {
                println!("      (a steady-load request failed)");
            }
            let us = at.elapsed().as_micros() as u64;
            hist.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.record(us)?;
            anyhow::Ok(())
        });
        while let Some(done) = tasks.try_join_next() {
            done??;
        }
        tick += 1;
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let take = |h: &Arc<std::sync::Mutex<Histogram<u64>>>| -> anyhow::Result<Histogram<u64>> {
        Ok(h.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone())
    };
    Ok(Paced {
        polls: take(&polls)?,
        reports: take(&reports)?,
        errors: errors.load(Ordering::Relaxed),
        wall: start.elapsed(),
    })
}

/// Each of `devices` sends its own auth request (signed with its key) and keeps the token it
/// gets: accepted devices get 200. Answers requests per second.
pub async fn authorize(sim: &Sim, devices: &mut [SimDevice]) -> anyhow::Result<f64> {
    let started = Instant::now();
    futures::stream::iter(devices.iter_mut())
        .map(|d| async move {
            let res = sim.auth_request(d).await?;
            ensure!(res.status() == StatusCode::OK, "accepted device {}: {}", d.mac, res.status());
            d.token = res.text().await?;
            Ok(())
        })
        .buffer_unordered(sim.in_flight)
        .try_collect::<()>()
        .await?;
    Ok(devices.len() as f64 / started.elapsed().as_secs_f64())
}

/// Load test 301: a deployment to group `group` (the operator's click), then every targeted
/// device polls, gets it and reports downloading, installing and success; done when the
/// management API says finished. Answers (deployment id, created in, devices done in, finished in).
pub async fn burst(
    sim: &Sim,
    operator: &str,
    group: &str,
    devices: &mut [SimDevice],
) -> anyhow::Result<(String, Duration, Duration, Duration)> {
    let started = Instant::now();
    let url = format!("{}/api/management/v1/deployments/deployments/group/{group}", sim.base);
    let body = json!({ "name": "load-test-301", "artifact_name": "release-1" });
    let (deployment, _) = create(sim, operator, &url, &body, "load-test-301").await?;
    let created = started.elapsed();
    let done = AtomicU64::new(0);
    futures::stream::iter(devices.iter_mut().enumerate())
        .map(|(i, d)| {
            let (deployment, done) = (&deployment, &done);
            async move {
                let update = sim.next(d).await?.ok_or_else(|| anyhow::anyhow!("{}: no deployment", d.mac))?;
                ensure!(&update.deployment == deployment, "{}: another deployment", d.mac);
                // One device in 1000 also downloads the artifact (checks the link and length).
                sim.install(d, &update, i % 1000 == 0).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 20_000 == 0 {
                    println!("      ... {n} devices updated in {:.0} s", started.elapsed().as_secs_f64());
                }
                Ok(())
            }
        })
        .buffer_unordered(sim.in_flight)
        .try_collect::<()>()
        .await?;
    let reported = started.elapsed();
    let url = format!("{}/api/management/v1/deployments/deployments/{deployment}", sim.base);
    loop {
        let d: Value = sim.http.get(&url).bearer_auth(operator).send().await?.json().await?;
        if d["status"] == "finished" {
            let success = d["statistics"]["status"]["success"].as_u64().unwrap_or(0);
            ensure!(success == devices.len() as u64, "{success} of {} succeeded", devices.len());
            return Ok((deployment, created, reported, started.elapsed()));
        }
        ensure!(started.elapsed() < Duration::from_secs(3600), "not finished: {}", d["status"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Times of the whole-fleet deployment's steps.
pub struct WholeFleet {
    /// POST with `all_devices` until 201.
    pub created: Duration,
    /// The deployment's device count as the management API shows it.
    pub counted: u64,
    /// GET of the deployment and of its statistics.
    pub read: Duration,
    /// The first page of the deployments list (and that it lists this one).
    pub listed: Duration,
    /// PUT status aborted until 204, then statistics showing every device aborted.
    pub aborted: Duration,
    /// Requests (create, abort) answered 503 although their write landed.
    pub unavailable: usize,
    /// What `step_peak` gave after the creation (with the reads and the list) and after the
    /// abort: fleetlog's peak RSS in each step, in KiB.
    pub peaks_kib: (u64, u64),
}

/// One deployment to every accepted device: created, read back and counted, listed, aborted;
/// `step_peak` is asked for the server's peak RSS after each of the two steps.
pub async fn whole_fleet(
    sim: &Sim,
    operator: &str,
    total: u64,
    step_peak: impl Fn() -> u64,
) -> anyhow::Result<WholeFleet> {
    let base = format!("{}/api/management/v1/deployments/deployments", sim.base);
    let body = json!({ "name": "everyone", "artifact_name": "release-1", "all_devices": true });
    let started = Instant::now();
    let (id, mut unavailable) = create(sim, operator, &base, &body, "everyone").await?;
    let created = started.elapsed();
    let url = format!("{base}/{id}");
    let started = Instant::now();
    let d: Value = sim.http.get(&url).bearer_auth(operator).send().await?.json().await?;
    let counted = d["device_count"].as_u64().unwrap_or(0);
    ensure!(counted == total, "counted {counted} of {total}");
    let stats = sim.http.get(format!("{url}/statistics")).bearer_auth(operator).send().await?;
    ensure!(stats.status() == StatusCode::OK, "statistics: {}", stats.status());
    let read = started.elapsed();
    let started = Instant::now();
    let res = sim.http.get(format!("{base}?page=1&per_page=20")).bearer_auth(operator).send().await?;
    ensure!(res.status() == StatusCode::OK, "list: {}", res.status());
    let listed: Vec<Value> = res.json().await?;
    ensure!(listed.iter().any(|d| d["id"] == id.as_str()), "the deployment is not listed");
    let listed = started.elapsed();
    let created_peak = step_peak();
    let started = Instant::now();
    let abort = json!({ "status": "aborted" });
    let res = sim.http.put(format!("{url}/status")).bearer_auth(operator).json(&abort).send().await?;
    let status = res.status();
    ensure!(status == StatusCode::NO_CONTENT || status == StatusCode::SERVICE_UNAVAILABLE, "abort: {status}");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        unavailable += 1;
        // As with creation: written, not yet shown by the read models when the wait ran out.
        println!(
            "      abort: 503 after {:.1} s (read models behind the write); waiting for the statistics",
            started.elapsed().as_secs_f64()
        );
    }
    // Devices that already finished the earlier deployment are still targets here; all abort.
    loop {
        let stats: Value =
            sim.http.get(format!("{url}/statistics")).bearer_auth(operator).send().await?.json().await?;
        if stats["aborted"].as_u64() == Some(total) {
            return Ok(WholeFleet {
                created,
                counted,
                read,
                listed,
                aborted: started.elapsed(),
                unavailable,
                peaks_kib: (created_peak, step_peak()),
            });
        }
        ensure!(started.elapsed() < Duration::from_secs(3600), "aborted: {stats}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// POSTs a new deployment; answers its id and how many 503s it met (0 or 1). A 503 (the
/// write landed but the local read models stalled before showing it) is said and then waited
/// out as an operator would: by looking for the deployment in the list until it is there.
async fn create(
    sim: &Sim,
    operator: &str,
    url: &str,
    body: &Value,
    name: &str,
) -> anyhow::Result<(String, usize)> {
    let started = Instant::now();
    let res = sim.http.post(url).bearer_auth(operator).json(body).send().await?;
    if res.status() == StatusCode::CREATED {
        let location = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
        return Ok((location.rsplit('/').next().unwrap_or_default().to_owned(), 0));
    }
    let status = res.status();
    ensure!(status == StatusCode::SERVICE_UNAVAILABLE, "create {name}: {status} {}", res.text().await?);
    println!(
        "      create {name}: 503 after {:.1} s (read models behind the write); looking for it in the list",
        started.elapsed().as_secs_f64()
    );
    let list = format!("{}/api/management/v1/deployments/deployments?search={name}&per_page=20", sim.base);
    loop {
        let found: Vec<Value> = sim.http.get(&list).bearer_auth(operator).send().await?.json().await?;
        if let Some(id) = found.iter().find(|d| d["name"] == name).and_then(|d| d["id"].as_str()) {
            println!("      {name} listed at {:.1} s", started.elapsed().as_secs_f64());
            return Ok((id.to_owned(), 1));
        }
        ensure!(started.elapsed() < Duration::from_secs(3600), "{name} never listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
