//! Mender's load test 301 shape: 100k accepted devices, a deployment to 10% of them, and every
//! targeted device reporting through to success over HTTP; wall time and peak memory.
//!
//! Onboarding 100k devices through signed auth requests would take most of the run on two
//! cores, so 90k of them are appended to the log directly (the events the accept flow would
//! record); the 10k targets are the devices onboarded through HTTP, and do the whole device
//! flow over HTTP.

use std::time::{Duration, Instant};

use anyhow::ensure;
use fleetlog_commands::EventStore;
use fleetlog_gateway::state::AppState;
use fleetlog_tests::{SeedDevice, append_accepted};
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::simulator::{Seed, Sim, SimDevice};

/// Devices in the fleet.
pub const TOTAL: u32 = 100_000;
/// Devices per atomic batch: two events on one subject each, and a batch holds ≤ 1000.
const PER_BATCH: u32 = fleetlog_tests::MAX_SEED_BATCH as u32;
/// The fixture artifact (single-file, device type raspberrypi4), uploaded through the API.
pub(crate) const ARTIFACT: &[u8] = include_bytes!("../../tests/fixtures/artifacts/release-1.mender");
/// One device in this many also downloads the artifact and checks its length.
const DOWNLOAD_EVERY: usize = 100;
/// Devices appended to the log that prove, with a minted token, that the server accepts them.
const SAMPLE: u32 = 100;

/// Appends `count` accepted devices (indices `from..from + count` of `seed`, each with its own
/// public key) as their submit and accept events. Returns (device id, auth set id) per device
/// and the last position.
pub async fn seed_devices(
    store: &EventStore,
    seed: &Seed,
    from: u32,
    count: u32,
) -> anyhow::Result<(Vec<(String, String)>, u64)> {
    let ids: Vec<(String, String)> =
        (0..count).map(|_| (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string())).collect();
    let batches = ids.chunks(PER_BATCH as usize).enumerate().map(|(b, chunk)| async move {
        let first = from + b as u32 * PER_BATCH;
        let devices: Vec<SeedDevice> = chunk
            .iter()
            .zip(first..)
            .map(|((device, set), index)| {
                let (mac, pubkey) = seed.identity(index);
                SeedDevice {
                    id: device.clone(),
                    auth_set: set.clone(),
                    identity: json!({ "mac": mac }).to_string(),
                    pubkey,
                }
            })
            .collect();
        anyhow::Ok(append_accepted(store, "default", "bench", &devices).await?)
    });
    let last = futures::stream::iter(batches)
        .buffer_unordered(4)
        .try_fold(0, |a, b| async move { Ok(a.max(b)) })
        .await?;
    Ok((ids, last))
}

/// Runs the rollout against the server behind `sim` and prints its figures. `devices` are the
/// HTTP-onboarded targets; `seeded` the devices appended to the log from `ONBOARDED` on.
pub async fn run(
    state: &AppState,
    sim: &Sim,
    operator: &str,
    devices: &mut [SimDevice],
    seed: &Seed,
    seeded: &[(String, String)],
) -> anyhow::Result<()> {
    // A sample of the appended devices, with tokens minted by the server's key, poll like any.
    for (k, (device, set)) in seeded.iter().take(SAMPLE as usize).enumerate() {
        let mut d = SimDevice::new(seed, crate::deployments::ONBOARDED + k as u32);
        d.id.clone_from(device);
        d.token = state.jwt.sign(&fleetlog_tests::device_claims(device, set, None));
        ensure!(sim.next(&d).await?.is_none(), "an appended device is an accepted, idle device");
    }

    let form =
        Form::new().text("size", ARTIFACT.len().to_string()).text("description", "load test 301").part(
            "artifact",
            Part::bytes(ARTIFACT).file_name("release-1.mender").mime_str("application/octet-stream")?,
        );
    let url = format!("{}/api/management/v1/deployments/artifacts", sim.base);
    let res = sim.http.post(url).bearer_auth(operator).multipart(form).send().await?;
    ensure!(res.status() == StatusCode::CREATED, "upload: {} {}", res.status(), res.text().await?);

    let total = devices.len() + seeded.len();
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    let body = json!({ "name": "load-test-301", "artifact_name": "release-1", "devices": ids });
    let (cpu, nats_cpu) = crate::cpu_seconds();
    let started = Instant::now();
    let url = format!("{}/api/management/v1/deployments/deployments", sim.base);
    let res = sim.http.post(url).bearer_auth(operator).json(&body).send().await?;
    ensure!(res.status() == StatusCode::CREATED, "create: {} {}", res.status(), res.text().await?);
    let location = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
    let deployment = location.rsplit('/').next().unwrap_or_default().to_owned();
    let created = started.elapsed();

    // Every target: next (200), downloading, installing, success; a sample downloads too.
    futures::stream::iter(devices.iter_mut().enumerate())
        .map(|(i, d)| {
            let deployment = &deployment;
            async move {
                let update = sim.next(d).await?.ok_or_else(|| anyhow::anyhow!("{}: no deployment", d.mac))?;
                ensure!(&update.deployment == deployment, "{}: another deployment", d.mac);
                sim.install(d, &update, i % DOWNLOAD_EVERY == 0).await
            }
        })
        .buffer_unordered(sim.in_flight)
        .try_collect::<()>()
        .await?;
    let reported = started.elapsed();

    // The deployment as the operator sees it: finished, with every device a success.
    let url = format!("{}/api/management/v1/deployments/deployments/{deployment}", sim.base);
    let finished = loop {
        let d: Value = sim.http.get(&url).bearer_auth(operator).send().await?.json().await?;
        if d["status"] == "finished" {
            let success = d["statistics"]["status"]["success"].as_u64().unwrap_or(0);
            ensure!(success == devices.len() as u64, "{success} of {} succeeded", devices.len());
            break started.elapsed();
        }
        ensure!(started.elapsed() < Duration::from_secs(600), "deployment not finished: {}", d["status"]);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (cpu_after, nats_after) = crate::cpu_seconds();
    // Done is done: an updated device's next poll is idle.
    for d in devices.iter().step_by(DOWNLOAD_EVERY) {
        ensure!(sim.next(d).await?.is_none(), "{}: served again after success", d.mac);
    }
    println!(
        "(p) load test 301 shape: {total} accepted devices ({} onboarded through HTTP, {} appended to the log directly), deployment to {} of them (10%): created in {:.2} s; every device next -> downloading -> installing -> success over HTTP ({} in flight, 1 in {DOWNLOAD_EVERY} downloads the artifact) in {:.1} s; status finished via the management API at {:.1} s = {:.0} devices/s end to end",
        devices.len(),
        seeded.len(),
        devices.len(),
        created.as_secs_f64(),
        sim.in_flight,
        reported.as_secs_f64(),
        finished.as_secs_f64(),
        devices.len() as f64 / finished.as_secs_f64()
    );
    println!(
        "    CPU during the rollout: this process (server + simulator) {:.1} s, nats-server {:.1} s, over {:.1} s wall on {} cores",
        cpu_after - cpu,
        nats_after - nats_cpu,
        finished.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!(
        "(q) peak RSS of the process (server, its read models and the simulator) after the rollout: {} MiB",
        crate::peak_rss_kib() / 1024
    );
    whole_fleet(state, sim, operator, total).await
}

/// (r) One deployment to every accepted device (`all_devices`): its device list goes in parts
/// of one append, so it is created, counted and aborted at any fleet size.
async fn whole_fleet(state: &AppState, sim: &Sim, operator: &str, total: usize) -> anyhow::Result<()> {
    let before = state.store().last_seq().await?;
    let body = json!({ "name": "everyone", "artifact_name": "release-1", "all_devices": true });
    let started = Instant::now();
    let url = format!("{}/api/management/v1/deployments/deployments", sim.base);
    let res = sim.http.post(url).bearer_auth(operator).json(&body).send().await?;
    ensure!(res.status() == StatusCode::CREATED, "create: {} {}", res.status(), res.text().await?);
    let created = started.elapsed();
    let location = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_owned();
    let events = state.store().last_seq().await? - before;
    let url = format!("{}{location}", sim.base);
    let d: Value = sim.http.get(&url).bearer_auth(operator).send().await?.json().await?;
    ensure!(d["device_count"] == total as u64, "counted {} of {total}", d["device_count"]);
    let started = Instant::now();
    let abort = json!({ "status": "aborted" });
    let res = sim.http.put(format!("{url}/status")).bearer_auth(operator).json(&abort).send().await?;
    ensure!(res.status() == StatusCode::NO_CONTENT, "abort: {}", res.status());
    let d: Value = sim.http.get(&url).bearer_auth(operator).send().await?.json().await?;
    ensure!(d["statistics"]["status"]["aborted"] == total as u64, "aborted: {}", d["statistics"]);
    println!(
        "(r) one deployment to all {total} devices (all_devices): created and projected in {:.2} s as {events} events of at most {} device ids, counted {}, aborted and projected in {:.2} s; peak RSS {} MiB",
        created.as_secs_f64(),
        fleetlog_events::deployment::DEVICES_PER_EVENT,
        d["device_count"],
        started.elapsed().as_secs_f64(),
        crate::peak_rss_kib() / 1024
    );
    Ok(())
}
