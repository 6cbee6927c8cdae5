//! Webhook delivery (iot-manager): how fast the delivery process drains a backlog to a local
//! receiver, against a plain HTTP POST loop from the same process (same receiver, same body
//! size, one request at a time, as deliveries to one integration are); and event → delivery
//! latency (from the start of the append to the receiver's arrival), one device at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fleetlog_commands::app::Caller;
use fleetlog_commands::app::integrations::{self, NewIntegration};
use fleetlog_events::integration::{Secret, WebhookTarget};
use fleetlog_tests::{SeedDevice, append_accepted};
use hdrhistogram::Histogram;

use crate::server::BenchServer;

/// Devices in the backlog (two deliveries each: provisioned, status changed).
const BACKLOG_DEVICES: usize = 2_000;

/// Devices accepted one at a time for the latency.
const LATENCY_DEVICES: usize = 300;

/// What the receiver saw: arrivals by (device, type), and bodies' sizes.
#[derive(Default)]
struct Seen {
    arrivals: HashMap<(String, String), Instant>,
    first: Option<Instant>,
    last: Option<Instant>,
    bytes: usize,
}

async fn receiver(open: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) -> anyhow::Result<std::net::SocketAddr> {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (open, seen) = (open.clone(), seen.clone());
            async move {
                if !open.load(Ordering::Relaxed) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let now = Instant::now();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let key = (
                    v["data"]["id"].as_str().unwrap_or("").to_owned(),
                    v["type"].as_str().unwrap_or("").to_owned(),
                );
                let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
                s.arrivals.insert(key, now);
                s.first.get_or_insert(now);
                s.last = Some(now);
                s.bytes += body.len();
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

fn seeds(from: usize, n: usize) -> Vec<SeedDevice> {
    (from..from + n)
        .map(|i| SeedDevice {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            auth_set: format!("10000000-0000-4000-8000-{i:012}"),
            identity: format!(
                r#"{{"mac":"02:00:00:{:02x}:{:02x}:{:02x}"}}"#,
                i >> 16 & 255,
                i >> 8 & 255,
                i & 255
            ),
            pubkey: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n".into(),
        })
        .collect()
}

async fn wait_for(seen: &Mutex<Seen>, count: usize, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while seen.lock().unwrap_or_else(|e| e.into_inner()).arrivals.len() < count {
        anyhow::ensure!(Instant::now() < deadline, "deliveries did not arrive in time");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Runs both measurements and prints them.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let server = BenchServer::start(url, "BENCH_WEBHOOKS", "bw").await?;
    let (open, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Seen::default())));
    let addr = receiver(open.clone(), seen.clone()).await?;
    let hook = format!("http://{addr}/hook");
    let new = NewIntegration {
        provider: "webhook".into(),
        credential_type: "http".into(),
        description: "bench".into(),
        target: WebhookTarget { url: hook.clone(), secret: Secret("c0ffee00".into()) },
        event_types: vec![],
    };
    integrations::create(&server.state, &Caller::system("default", "bench"), new, None).await?;

    // A backlog piles up while the receiver answers 503, then drains once it answers 200.
    let store = server.state.store().clone();
    for start in (0..BACKLOG_DEVICES).step_by(500) {
        append_accepted(&store, "default", "bench", &seeds(start, 500)).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    open.store(true, Ordering::Relaxed);
    let deliveries = 2 * BACKLOG_DEVICES;
    wait_for(&seen, deliveries, Duration::from_secs(600)).await?;
    let (drain, body_len) = {
        let s = seen.lock().unwrap_or_else(|e| e.into_inner());
        (s.last.zip(s.first).map(|(l, f)| l - f).unwrap_or_default(), s.bytes / s.arrivals.len().max(1))
    };
    let rate = deliveries as f64 / drain.as_secs_f64();

    // The baseline: the same number of POSTs of the same size, one at a time.
    let client = reqwest::Client::new();
    let body = vec![b' '; body_len];
    let started = Instant::now();
    for _ in 0..deliveries {
        client
            .post(&hook)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await?
            .bytes()
            .await?;
    }
    let plain = deliveries as f64 / started.elapsed().as_secs_f64();
    println!(
        "(w) webhook delivery of a {deliveries}-event backlog to a local receiver: {rate:.0}/s; plain POST loop from the same process: {plain:.0}/s; ratio {:.2}x (signed, {body_len}-byte bodies on average, outcome recorded per delivery)",
        rate / plain
    );

    // Latency: one accepted device at a time, from the append's start to both deliveries.
    let mut latency = Histogram::<u64>::new(3)?;
    for i in 0..LATENCY_DEVICES {
        let device = seeds(BACKLOG_DEVICES + i, 1);
        let started = Instant::now();
        append_accepted(&store, "default", "bench", &device).await?;
        let key = (device[0].id.clone(), "device-status-changed".to_owned());
        let deadline = Instant::now() + Duration::from_secs(30);
        let arrived = loop {
            if let Some(at) = seen.lock().unwrap_or_else(|e| e.into_inner()).arrivals.get(&key) {
                break *at;
            }
            anyhow::ensure!(Instant::now() < deadline, "the delivery did not arrive in time");
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latency.record(arrived.duration_since(started).as_micros() as u64)?;
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "(w) event -> webhook delivery latency (append start to arrival, {LATENCY_DEVICES} devices one at a time): p50 {:.2} ms, p99 {:.2} ms",
        ms(0.5),
        ms(0.99)
    );
    server.stop().await
}
