//! Deployment figures (issue 5): `next` polled by thousands of devices onboarded through the
//! real auth flow, against an unauthenticated hello route of the same server process and state,
//! measured in the same run; p99 at a fixed offered rate; then Mender's load test 301 shape
//! (see [`crate::rollout`]).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::ensure;
use axum::Router;
use axum::routing::get;
use fleetlog_commands::{EventStore, StoreConfig};
use fleetlog_gateway::http::with_layers;
use futures::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use reqwest::StatusCode;

use crate::rollout;
use crate::simulator::{Seed, Sim, SimDevice};

/// Devices onboarded through HTTP; they poll in (n) and (o) and are the targets in (p).
pub const ONBOARDED: u32 = 10_000;
/// Requests in flight in the closed-loop runs and during onboarding.
pub(crate) const IN_FLIGHT: usize = 64;
/// One closed-loop run.
pub(crate) const RUN: Duration = Duration::from_secs(3);
/// The fixed offered rate of the open-loop run, and its length.
const PACED_RATE: f64 = 5_000.0;
const PACED_RUN: Duration = Duration::from_secs(10);
/// Requests in flight at most in the open-loop run.
const OPEN_CONNECTIONS: usize = 256;

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Runs the deployment figures and prints them.
pub async fn run(url: &str) -> anyhow::Result<()> {
    // The devices that never speak HTTP here go straight into the log, before the server starts.
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_DEP".into(), prefix: "bdep".into(), replicas: 1 };
    let store = EventStore::open(client, cfg.clone()).await?;
    let seed = Seed::random();
    let started = Instant::now();
    let (seeded, last) = rollout::seed_devices(&store, &seed, ONBOARDED, rollout::TOTAL - ONBOARDED).await?;
    println!(
        "    {} accepted devices appended to the log directly (AuthSetSubmitted + AuthSetAccepted) in {:.1} s",
        seeded.len(),
        started.elapsed().as_secs_f64()
    );

    let server = crate::server::BenchServer::start(url, &cfg.stream, &cfg.prefix).await?;
    let state = server.state.clone();
    ensure!(state.read_models.wait_for(last, Duration::from_secs(600)).await, "seeded devices projected");
    let base = format!("http://{}", server.addr);
    // The baseline: a hello route with the same layers, in the same process, on the same state.
    let hello = with_layers(Router::new().route("/hello", get(|| async { "hello" })), 1024 * 1024)
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello_url = format!("http://{}/hello", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, hello).await });

    let operator = crate::user_token(&state, "operator@example.com").await?;

    println!(
        "    server up with {} devices projected; process RSS {} MiB",
        seeded.len(),
        crate::rss_kib() / 1024
    );
    let sim = Sim::new(&base, IN_FLIGHT)?;
    let mut devices: Vec<SimDevice> = (0..ONBOARDED).map(|i| SimDevice::new(&seed, i)).collect();
    let (cpu, nats_cpu) = crate::cpu_seconds();
    let steps = sim.onboard(&operator, &mut devices).await?;
    let (cpu_after, nats_after) = crate::cpu_seconds();
    let rate = |d: Duration| f64::from(ONBOARDED) / d.as_secs_f64();
    println!(
        "    {ONBOARDED} devices onboarded through HTTP (own Ed25519 keys): auth request -> 401 at {:.0}/s, operator lists and accepts at {:.0}/s, auth request -> 200 + JWT at {:.0}/s",
        rate(steps.submitted),
        rate(steps.accepted),
        rate(steps.authorized)
    );
    println!(
        "    CPU during onboarding: this process {:.1} s, nats-server {:.1} s, over {:.1} s wall",
        cpu_after - cpu,
        nats_after - nats_cpu,
        (steps.submitted + steps.accepted + steps.authorized).as_secs_f64()
    );
    // One poll each first: every device is idle, and each token's signature is checked once.
    futures::stream::iter(devices.iter())
        .map(|d| async {
            ensure!(sim.next(d).await?.is_none(), "no deployment yet");
            Ok(())
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<()>()
        .await?;

    let devices = Arc::new(devices);
    let poll = {
        let (sim, devices) = (sim.clone(), devices.clone());
        move |k: usize| {
            let res = sim.next_request(&devices[k % devices.len()]).send();
            async move {
                let status = res.await?.status();
                ensure!(status == StatusCode::NO_CONTENT, "idle poll: {status}");
                Ok(())
            }
        }
    };
    let say_hello = {
        let http = sim.http.clone();
        move |_: usize| {
            let res = http.get(&hello_url).send();
            async move {
                let res = res.await?;
                ensure!(res.status() == StatusCode::OK, "hello: {}", res.status());
                res.bytes().await?;
                Ok(())
            }
        }
    };
    let (mut polls, mut hellos) = (Vec::new(), Vec::new());
    let (mut poll_h, mut hello_h) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    for _ in 0..3 {
        let (r, h) = closed_loop(say_hello.clone()).await?;
        hellos.push(r);
        hello_h.add(h)?;
        let (r, h) = closed_loop(poll.clone()).await?;
        polls.push(r);
        poll_h.add(h)?;
    }
    let (polled, hello_rate) = (crate::median(polls), crate::median(hellos));
    println!(
        "(n) deployments/next, {ONBOARDED} devices polling (204, nothing for them): {polled:.0} polls/s vs hello route {hello_rate:.0}/s = {:.2}x  (goal >= 15k/s and >= 0.30x; {IN_FLIGHT} in flight, median of 3 runs of {} s)",
        polled / hello_rate,
        RUN.as_secs()
    );
    println!(
        "    latency: next p50 {:.2} ms, p99 {:.2} ms; hello p50 {:.2} ms, p99 {:.2} ms",
        ms(&poll_h, 0.5),
        ms(&poll_h, 0.99),
        ms(&hello_h, 0.5),
        ms(&hello_h, 0.99)
    );
    let paced = open_loop(PACED_RATE, PACED_RUN, poll).await?;
    println!(
        "(o) deployments/next at a fixed offered rate of {PACED_RATE:.0} polls/s (open loop, latency from the scheduled start): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms  (goal p99 <= 10 ms; {} polls over {} s)",
        ms(&paced, 0.5),
        ms(&paced, 0.99),
        paced.max() as f64 / 1000.0,
        paced.len(),
        PACED_RUN.as_secs()
    );

    let mut devices = Arc::try_unwrap(devices).map_err(|_| anyhow::anyhow!("devices still shared"))?;
    Box::pin(rollout::run(&state, &sim, &operator, &mut devices, &seed, &seeded)).await?;
    server.stop().await?;
    Ok(())
}

/// `IN_FLIGHT` loops calling `f` (with a running count, to pick a device) for `RUN`: requests
/// per second and the latency histogram (µs).
pub(crate) async fn closed_loop<F, Fut>(f: F) -> anyhow::Result<(f64, Histogram<u64>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let f = Arc::new(f);
    let count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (f, count) = (f.clone(), count.clone());
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3)?;
                while started.elapsed() < RUN {
                    let t = Instant::now();
                    f(count.fetch_add(1, Ordering::Relaxed)).await?;
                    h.record(t.elapsed().as_micros() as u64)?;
                }
                anyhow::Ok(h)
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3)?;
    for w in workers {
        all.add(w.await??)?;
    }
    Ok((all.len() as f64 / started.elapsed().as_secs_f64(), all))
}

/// Starts `f` at fixed intervals for `rate` per second, whether or not earlier requests have
/// finished, and times each from its scheduled start, so a stall shows in every request it
/// delays (no coordinated omission). Timer ticks are 1 ms, so that much lateness is included.
/// At most `OPEN_CONNECTIONS` are in flight: a server that falls behind makes requests wait
/// (counted in their latency) instead of opening connections until the kernel resets them.
async fn open_loop<F, Fut>(rate: f64, run: Duration, f: F) -> anyhow::Result<Histogram<u64>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let period = Duration::from_secs_f64(1.0 / rate);
    let n = (run.as_secs_f64() * rate) as usize;
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3)?));
    let mut tasks = tokio::task::JoinSet::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(OPEN_CONNECTIONS));
    let start = tokio::time::Instant::now();
    for i in 0..n {
        let at = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(at).await;
        let (request, hist, permits) = (f(i), hist.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            request.await?;
            let us = at.elapsed().as_micros() as u64;
            hist.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.record(us)?;
            anyhow::Ok(())
        });
        while let Some(done) = tasks.try_join_next() {
            done??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let h = hist.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    Ok(h)
}
