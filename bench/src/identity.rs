//! Identity figures: a device-authenticated no-op route against the same route without auth,
//! auth requests per second for Ed25519 and RSA-3072 device keys, and first auth requests of
//! new devices (each creates a device and claims its identity) against the accepted device's
//! re-authentication in the same run, through HTTP on a real fleetlog server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePublicKey;
use fleetlog_gateway::http::{DeviceAuth, with_layers};
use sha2::{Digest, Sha256};

/// Requests in flight during a throughput run.
const IN_FLIGHT: usize = 32;
/// Length of one measured run.
const RUN: Duration = Duration::from_secs(3);
/// New devices that onboard in the new-device run (each once: a first request is a new device).
const NEW_DEVICES: usize = 4000;

/// A device key that can sign auth requests.
enum Key {
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Rsa(Box<rsa::RsaPrivateKey>),
}

impl Key {
    fn pem(&self) -> String {
        let lf = ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF;
        match self {
            Key::Ed25519(k) => k.verifying_key().to_public_key_pem(lf).expect("pem"),
            Key::Rsa(k) => {
                rsa::pkcs8::EncodePublicKey::to_public_key_pem(&k.to_public_key(), lf).expect("pem")
            }
        }
    }

    fn sign(&self, body: &[u8]) -> String {
        let sig = match self {
            Key::Ed25519(k) => ed25519_dalek::Signer::sign(k.as_ref(), body).to_bytes().to_vec(),
            Key::Rsa(k) => k
                .sign(fleetlog_gateway::auth::signature::pkcs1v15_sha256(), &Sha256::digest(body))
                .expect("rsa sign"),
        };
        base64::engine::general_purpose::STANDARD.encode(sig)
    }
}

/// Runs `f` with `IN_FLIGHT` concurrent loops for `RUN`; returns completed requests per second.
async fn throughput<F, Fut>(f: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let f = Arc::new(f);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (f, done) = (f.clone(), done.clone());
            tokio::spawn(async move {
                while started.elapsed() < RUN {
                    assert!(f().await, "request failed");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Runs the identity figures and prints them.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let server = crate::server::BenchServer::start(url, "BENCH_ID", "bid").await?;
    let state = server.state.clone();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build()?;

    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let started = Instant::now();
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 3072)?;
    println!("    generated an RSA-3072 key in {:.1} s", started.elapsed().as_secs_f64());
    let keys = [
        ("Ed25519", Key::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))),
        ("RSA-3072", Key::Rsa(Box::new(rsa_key))),
    ];

    let mut device_token = String::new();
    let mut accepted_rate = 0.0;
    for (i, (name, key)) in keys.iter().enumerate() {
        let id_data = format!(r#"{{"mac":"02:be:00:00:00:{i:02x}"}}"#);
        let body = serde_json::json!({ "id_data": id_data, "tenant_token": "", "pubkey": key.pem() })
            .to_string()
            + "\n";
        let signature = key.sign(body.as_bytes());
        let send = {
            let (http, url, body, signature) = (
                http.clone(),
                format!("{base}/api/devices/v1/authentication/auth_requests"),
                body.clone(),
                signature.clone(),
            );
            move || {
                let req = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("X-MEN-Signature", &signature);
                req.body(body.clone()).send()
            }
        };
        assert_eq!(send().await?.status(), 401, "new device is pending");
        // Accept it the way the management API does.
        let model = state.read_models.model("devices").expect("devices model");
        let queries = fleetlog_projections::devices::DevicesQueries(&model);
        let pending = queries.list("default", Some(fleetlog_events::device::DeviceStatus::Pending), 0, 10)?;
        let device = pending.into_iter().next().expect("device recorded");
        let device_id = device.id.clone();
        let caller = fleetlog_gateway::app::Caller::system("default", "bench");
        // As the management API does: the accept returns once the read models show it.
        let out = fleetlog_gateway::app::devices::set_auth_status(
            &state,
            &caller,
            &device_id,
            &device.auth_sets[0].id,
            "accepted",
        )
        .await?;
        anyhow::ensure!(
            state.read_models.wait_for(out.position, Duration::from_secs(10)).await,
            "accept applied"
        );
        let res = send().await?;
        anyhow::ensure!(res.status() == 200, "accepted device gets a token");
        device_token = res.text().await?;
        let rate = throughput(move || {
            let fut = send();
            async move { fut.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        if i == 0 {
            accepted_rate = rate;
        }
        println!(
            "(c) auth requests of an accepted {name} device: {rate:.0}/s  ({IN_FLIGHT} in flight, {} s)",
            RUN.as_secs()
        );
    }

    // The log's own ceiling right now: a new device is two guarded appends (its identity claim,
    // then its first event), so half the raw rate is the most it can reach.
    let raw = raw_publish_rate(url).await?;
    let new_rate = new_devices(&http, &base).await?;
    let model = state.read_models.model("devices").expect("devices model");
    let pending = fleetlog_projections::devices::DevicesQueries(&model)
        .count("default", Some(fleetlog_events::device::DeviceStatus::Pending))?;
    anyhow::ensure!(pending == NEW_DEVICES, "{pending} pending devices, expected {NEW_DEVICES}");
    println!(
        "(c) first auth requests of {NEW_DEVICES} new Ed25519 devices (401, device pending): {new_rate:.0}/s vs raw guarded publish {raw:.0}/s = {:.2}x (two appends per device: 0.50 is the log's ceiling); vs the accepted device's re-auth {accepted_rate:.0}/s = {:.2}x  ({IN_FLIGHT} in flight)",
        new_rate / raw,
        new_rate / accepted_rate
    );

    // The same no-op route with and without device authentication, on the real state.
    let routes = Router::new()
        .route("/noop", get(|| async { StatusCode::NO_CONTENT }))
        .route("/noop-device", get(|_device: DeviceAuth| async { StatusCode::NO_CONTENT }));
    let router = with_layers(routes, 1024 * 1024).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let noop_base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    let hit = |path: &'static str| {
        let (http, url, token) = (http.clone(), format!("{noop_base}{path}"), device_token.clone());
        move || {
            let fut = http.get(&url).bearer_auth(&token).send();
            async move { fut.await.is_ok_and(|r| r.status() == 204) }
        }
    };
    let (mut plain, mut authed) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        plain.push(throughput(hit("/noop")).await);
        authed.push(throughput(hit("/noop-device")).await);
    }
    let (plain, authed) = (crate::median(plain), crate::median(authed));
    println!(
        "(d) device-authenticated no-op {authed:.0}/s vs the same route without auth {plain:.0}/s = {:.2}x  (goal >= 0.70x; {IN_FLIGHT} in flight, median of 3 runs of {} s)",
        authed / plain,
        RUN.as_secs()
    );
    server.stop().await?;
    Ok(())
}

/// Raw guarded publishes per second on a stream of their own (the append bench's round, after
/// one warm-up round).
async fn raw_publish_rate(url: &str) -> anyhow::Result<f64> {
    let client = async_nats::connect(url).await?;
    let cfg =
        fleetlog_commands::StoreConfig { stream: "BENCH_ID_RAW".into(), prefix: "bidr".into(), replicas: 1 };
    fleetlog_commands::EventStore::open(client.clone(), cfg).await?;
    let js = async_nats::jetstream::new(client);
    crate::append::raw_round(&js, "bidr", 1000).await;
    Ok(crate::append::raw_round(&js, "bidr", 0).await)
}

/// Sends the first auth request of [`NEW_DEVICES`] devices, each with its own identity and
/// Ed25519 key, `IN_FLIGHT` at a time; returns requests per second. The bodies are signed
/// before the clock starts, so the figure is the server's (verify, claim the identity, create
/// the device, wait for the read models) and not the simulated devices' signing.
async fn new_devices(http: &reqwest::Client, base: &str) -> anyhow::Result<f64> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let requests: Vec<(String, String)> = (0..NEW_DEVICES)
        .map(|n| {
            let seed: [u8; 32] = Sha256::digest(format!("{run}/{n}")).into();
            let key = Key::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)));
            let id_data = format!(r#"{{"mac":"02:{}:{n:08x}"}}"#, &run[..8]);
            let body = serde_json::json!({ "id_data": id_data, "tenant_token": "", "pubkey": key.pem() })
                .to_string()
                + "\n";
            let signature = key.sign(body.as_bytes());
            (body, signature)
        })
        .collect();
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicU64::new(0));
    let url = Arc::new(format!("{base}/api/devices/v1/authentication/auth_requests"));
    let started = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (http, url, requests, next) = (http.clone(), url.clone(), requests.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some((body, signature)) = requests.get(n) else { return anyhow::Ok(()) };
                    let res = http
                        .post(url.as_str())
                        .header("Content-Type", "application/json")
                        .header("X-MEN-Signature", signature)
                        .body(body.clone())
                        .send()
                        .await?;
                    anyhow::ensure!(res.status() == 401, "a new device is pending, got {}", res.status());
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(NEW_DEVICES as f64 / started.elapsed().as_secs_f64())
}
