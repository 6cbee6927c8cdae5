//! The scale run's HTTP phases against the child server: onboarding of new devices (first auth
//! requests), the operator's canary group, the accepted devices' own auth requests, the steady
//! load, the load test 301 burst under that load, and one deployment to the whole fleet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};

use super::report::{Clock, Row, mib, ms};
use super::traffic::{self, INVENTORY_INTERVAL_S, POLL_INTERVAL_S, PoolDevice};
use super::{ScaleArgs, load};
use crate::child::ChildServer;
use crate::simulator::{Seed, Sim, SimDevice};

/// Requests in flight in the closed-loop phases (onboarding, auth, burst).
const IN_FLIGHT: usize = 64;
/// The canary group (10% of the fleet): devices with `index % 10 == 0`.
const CANARY: &str = "canary";
/// Steady-load devices are those with `index % 10 == 5`, appended ones only.
const POOL_CLASS: u32 = 5;
/// Device ids per group-assignment request (well under the 960 KiB body limit).
const IDS_PER_REQUEST: usize = 10_000;

/// Runs the HTTP phases, appending their rows to `rows`.
pub async fn run(
    server: &ChildServer,
    http: &reqwest::Client,
    args: &ScaleArgs,
    seed: &Seed,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let (n, m) = (args.devices, args.http_devices);
    let base = format!("http://{}", server.addr);
    let sim = Sim::with_client(&base, IN_FLIGHT, http.clone())?;
    let (email, password) = ("operator@example.com", "scale-bench-password");
    server.tool(&["admin", "create-user"], &["--email", email, "--password", password])?;
    let operator = sim.login(email, password).await?;

    // New devices through the whole real flow; their first requests are the new-device figure.
    let mut onboarded: Vec<SimDevice> = (0..m).map(|i| SimDevice::new(seed, i)).collect();
    let clock = Clock::start(Some(server));
    let steps = sim.onboard(&operator, &mut onboarded).await?;
    let rate = |d: Duration| f64::from(m) / d.as_secs_f64();
    let (first, reauth) = (rate(steps.submitted), rate(steps.authorized));
    println!(
        "(s4) {m} new devices onboarded over HTTP (own Ed25519 keys): first auth request -> 401 pending at {first:.0}/s; operator lists and accepts at {:.0}/s; their next auth request -> 200 + JWT at {reauth:.0}/s (first = {:.2}x re-auth; {IN_FLIGHT} in flight); {}",
        rate(steps.accepted),
        first / reauth,
        clock.cpu(Some(server))
    );
    rows.push(Row {
        figure: "first auth requests (new devices) over HTTP",
        measured: format!("{first:.0}/s vs re-auth of accepted {reauth:.0}/s = {:.2}x", first / reauth),
        goal: ">= 3000/s",
        met: Some(first >= 3000.0),
    });

    // The operator puts 10% of the fleet in a group, through the management API.
    let mut ids: Vec<String> = onboarded.iter().step_by(10).map(|d| d.id.clone()).collect();
    ids.extend((m..n).filter(|i| i % 10 == 0).map(load::device_id));
    let clock = Clock::start(Some(server));
    let url = format!("{base}/api/management/v1/inventory/groups/{CANARY}/devices");
    for chunk in ids.chunks(IDS_PER_REQUEST) {
        let res = sim.http.patch(&url).bearer_auth(&operator).json(chunk).send().await?;
        ensure!(res.status() == StatusCode::OK, "group: {} {}", res.status(), res.text().await?);
    }
    caught_up(http, server).await?;
    println!(
        "(s5) operator added {} devices (10%) to group {CANARY} over HTTP in requests of {IDS_PER_REQUEST} ids: {:.0} devices/s, projected; {}",
        ids.len(),
        ids.len() as f64 / clock.secs(),
        clock.cpu(Some(server))
    );

    // Appended devices that will speak HTTP authenticate themselves first, as a client does
    // on start: the canary devices and the steady-load pool.
    let rate_total = f64::from(n) / POLL_INTERVAL_S + f64::from(n) / INVENTORY_INTERVAL_S;
    let pool_size = ((rate_total * args.steady_secs as f64).ceil() as usize).max(1);
    let mut canary: Vec<SimDevice> =
        (m..n).filter(|i| i % 10 == 0).map(|i| SimDevice::new(seed, i)).collect();
    let pool_idx: Vec<u32> = (m..n).filter(|i| i % 10 == POOL_CLASS).take(pool_size).collect();
    let mut pool: Vec<SimDevice> = pool_idx.iter().map(|&i| SimDevice::new(seed, i)).collect();
    let clock = Clock::start(Some(server));
    traffic::authorize(&sim, &mut canary).await?;
    traffic::authorize(&sim, &mut pool).await?;
    let auth_rate = (canary.len() + pool.len()) as f64 / clock.secs();
    println!(
        "(s6) {} appended devices sent their own signed auth requests (accepted -> 200 + JWT) at {auth_rate:.0}/s ({IN_FLIGHT} in flight); {}",
        canary.len() + pool.len(),
        clock.cpu(Some(server))
    );
    canary.extend(onboarded.into_iter().step_by(10));
    let pool: Arc<Vec<PoolDevice>> = Arc::new(
        pool_idx.into_iter().zip(pool).map(|(index, device)| PoolDevice { index, device }).collect(),
    );

    upload(&sim, &operator).await?;

    // Steady load: Mender's default intervals across the whole fleet.
    let stop = Arc::new(AtomicBool::new(false));
    let clock = Clock::start(Some(server));
    let steady = tokio::spawn(traffic::paced(sim.clone(), pool.clone(), rate_total, stop.clone()));
    tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
    stop.store(true, Ordering::Relaxed);
    let s = steady.await??;
    let sent = s.polls.len() + s.reports.len();
    println!(
        "(s7) steady load over HTTP for {:.0} s at {rate_total:.0} req/s offered (every device polls every {POLL_INTERVAL_S} s, reports inventory every {INVENTORY_INTERVAL_S} s; {} distinct devices, open loop): {:.0} req/s done, {} errors; next p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} polls); inventory PUT p50 {:.2} ms, p99 {:.2} ms ({} reports); fleetlog RSS {:.0} MiB; {}",
        s.wall.as_secs_f64(),
        pool.len(),
        sent as f64 / s.wall.as_secs_f64(),
        s.errors,
        ms(&s.polls, 0.5),
        ms(&s.polls, 0.99),
        s.polls.max() as f64 / 1000.0,
        s.polls.len(),
        ms(&s.reports, 0.5),
        ms(&s.reports, 0.99),
        s.reports.len(),
        mib(server.rss_kib()),
        clock.cpu(Some(server))
    );
    rows.push(Row {
        figure: "steady load (poll 1800 s, inventory 28800 s)",
        measured: format!(
            "{:.0} req/s; next p50 {:.2} ms, p99 {:.2} ms; {} errors",
            sent as f64 / s.wall.as_secs_f64(),
            ms(&s.polls, 0.5),
            ms(&s.polls, 0.99),
            s.errors
        ),
        goal: "~590 req/s at 1M",
        met: Some(s.errors == 0),
    });

    // Load test 301 under the steady load: the rest of the fleet keeps polling.
    let stop = Arc::new(AtomicBool::new(false));
    let clock = Clock::start(Some(server));
    let background = tokio::spawn(traffic::paced(sim.clone(), pool.clone(), rate_total, stop.clone()));
    let burst = traffic::burst(&sim, &operator, CANARY, &mut canary).await;
    stop.store(true, Ordering::Relaxed);
    let b = background.await??;
    let (_, created, reported, finished) = burst?;
    println!(
        "(s8) load test 301: deployment to group {CANARY} ({} devices, 10%) created in {:.2} s; every device next -> downloading -> installing -> success over HTTP ({IN_FLIGHT} in flight, 1 in 1000 downloads the artifact) in {:.1} s; finished per the management API at {:.1} s = {:.0} devices/s (Mender's window: 1800 s); steady load meanwhile: next p50 {:.2} ms, p99 {:.2} ms, {} errors; fleetlog RSS {:.0} MiB; {}",
        canary.len(),
        created.as_secs_f64(),
        reported.as_secs_f64(),
        finished.as_secs_f64(),
        canary.len() as f64 / finished.as_secs_f64(),
        ms(&b.polls, 0.5),
        ms(&b.polls, 0.99),
        b.errors,
        mib(server.rss_kib()),
        clock.cpu(Some(server))
    );
    rows.push(Row {
        figure: "test 301 burst (10% within one 30-min poll interval)",
        measured: format!("{} devices to success in {:.0} s", canary.len(), finished.as_secs_f64()),
        goal: "<= 1800 s",
        met: Some(finished.as_secs_f64() <= 1800.0),
    });

    let before = server.peak_rss_kib();
    let clock = Clock::start(Some(server));
    let w = traffic::whole_fleet(&sim, &operator, u64::from(n), || server.step_peak_rss_kib()).await?;
    println!(
        "(s9) one deployment to all {n} devices (all_devices): created in {:.2} s, read back with device_count {} and statistics in {:.2} s, listed in {:.2} s, aborted (statistics: all aborted) in {:.2} s; fleetlog peak RSS before / while creating / while aborting: {:.0} / {:.0} / {:.0} MiB; {}",
        w.created.as_secs_f64(),
        w.counted,
        w.read.as_secs_f64(),
        w.listed.as_secs_f64(),
        w.aborted.as_secs_f64(),
        mib(before),
        mib(w.peaks_kib.0),
        mib(w.peaks_kib.1),
        clock.cpu(Some(server))
    );
    rows.push(Row {
        figure: "one deployment to all devices",
        measured: format!(
            "created {:.1} s, counted {}, listed {:.2} s, aborted {:.1} s; {} of its requests answered 503 (written, read models behind)",
            w.created.as_secs_f64(),
            w.counted,
            w.listed.as_secs_f64(),
            w.aborted.as_secs_f64(),
            w.unavailable
        ),
        goal: "works at any size",
        met: Some(w.unavailable == 0),
    });
    Ok(())
}

/// Uploads the fixture artifact (release-1, raspberrypi4) through the management API.
async fn upload(sim: &Sim, operator: &str) -> anyhow::Result<()> {
    let artifact = crate::rollout::ARTIFACT;
    let form = Form::new().text("size", artifact.len().to_string()).part(
        "artifact",
        Part::bytes(artifact).file_name("release-1.mender").mime_str("application/octet-stream")?,
    );
    let url = format!("{}/api/management/v1/deployments/artifacts", sim.base);
    let res = sim.http.post(url).bearer_auth(operator).multipart(form).send().await?;
    ensure!(res.status() == StatusCode::CREATED, "upload: {} {}", res.status(), res.text().await?);
    Ok(())
}

/// Waits until `/readyz` answers 200: every read model has what the log holds.
async fn caught_up(http: &reqwest::Client, server: &ChildServer) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", server.addr);
    let started = Instant::now();
    while http.get(&url).send().await?.status() != StatusCode::OK {
        ensure!(started.elapsed() < Duration::from_secs(3600), "read models never caught up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
