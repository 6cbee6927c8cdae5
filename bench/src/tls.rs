//! TLS figures (issue 19): idle `deployments/next` polls over HTTPS against plain HTTP on the
//! same server state and router (one extra listener with TLS beside the plain one, keep-alive
//! HTTP/1.1 connections on both, as devices use), and the rate of new TLS connections (full
//! handshakes, no resumption) with an ECDSA P-256 and an RSA-2048 certificate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use fleetlog_gateway::http::serve::{ConnLimits, serve};
use fleetlog_gateway::settings::{DEFAULT_MAX_BODY_BYTES, GenCertArgs};
use fleetlog_gateway::tls::ServerTls;
use fleetlog_gateway::tls::gencert::{CA_CERT, SERVER_CERT, SERVER_KEY};
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_util::sync::CancellationToken;

use crate::deployments::{IN_FLIGHT, RUN, closed_loop};
use crate::simulator::{Seed, Sim, SimDevice};

/// Devices polling.
const DEVICES: u32 = 1_000;
/// Connections opened at once in the handshake run.
const HANDSHAKERS: usize = 16;

/// A certificate of `key_type` for 127.0.0.1 in a temp dir.
fn certs(key_type: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let args = GenCertArgs {
        hosts: vec!["127.0.0.1".into()],
        out: dir.path().into(),
        key_type: key_type.into(),
        days: 1,
    };
    fleetlog_gateway::tls::gencert::generate(&args)?;
    Ok(dir)
}

/// Serves the gateway's router for `state` over TLS with the pair in `dir`: its URL.
async fn tls_listener(
    state: &fleetlog_gateway::state::AppState,
    dir: &std::path::Path,
    stop: &CancellationToken,
) -> anyhow::Result<String> {
    let tls = ServerTls::load(&dir.join(SERVER_CERT), &dir.join(SERVER_KEY))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("https://{}", listener.local_addr()?);
    let router = fleetlog_gateway::http::app(state.clone(), DEFAULT_MAX_BODY_BYTES);
    let limits = ConnLimits { header_read_timeout: Duration::from_secs(30) };
    let stop = stop.clone();
    tokio::spawn(serve(
        listener,
        router,
        limits,
        Some(tls.acceptor()),
        async move { stop.cancelled().await },
    ));
    Ok(base)
}

/// Accepts any certificate: the handshake run measures the server's side of a handshake, not
/// the verification the (same-process) client would add.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Full TLS 1.3 handshakes per second against `base` (`https://ADDR`), `HANDSHAKERS` at once.
async fn handshake_rate(base: &str) -> anyhow::Result<f64> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    // Every connection a full handshake, as a fleet of devices each connecting once would be.
    config.resumption = rustls::client::Resumption::disabled();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = base.trim_start_matches("https://").to_owned();
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..HANDSHAKERS)
        .map(|_| {
            let (connector, addr, count) = (connector.clone(), addr.clone(), count.clone());
            tokio::spawn(async move {
                while started.elapsed() < RUN {
                    let tcp = tokio::net::TcpStream::connect(&addr).await?;
                    let tls = connector.connect(ServerName::try_from("127.0.0.1")?.to_owned(), tcp).await?;
                    drop(tls);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Polls per second through `sim` by `devices` (all idle), in one closed-loop run.
async fn polls(sim: &Sim, devices: &Arc<Vec<SimDevice>>) -> anyhow::Result<f64> {
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
    Ok(closed_loop(poll).await?.0)
}

/// Runs the TLS figures and prints them.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let server = crate::server::BenchServer::start(url, "BENCH_TLS", "btls").await?;
    let state = server.state.clone();
    let stop = CancellationToken::new();
    let (p256, rsa) = (certs("ecdsa-p256")?, certs("rsa-2048")?);
    let https = tls_listener(&state, p256.path(), &stop).await?;
    let https_rsa = tls_listener(&state, rsa.path(), &stop).await?;
    let operator = crate::user_token(&state, "tls@example.com").await?;

    let plain = Sim::new(&format!("http://{}", server.addr), IN_FLIGHT)?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(p256.path().join(CA_CERT))?)?;
    let client = |h1: bool| {
        let b = reqwest::Client::builder().use_rustls_tls().add_root_certificate(ca.clone());
        let b = if h1 { b.http1_only() } else { b };
        b.pool_max_idle_per_host(IN_FLIGHT).build()
    };
    let secure = Sim::with_client(&https, IN_FLIGHT, client(true)?)?;
    let secure_h2 = Sim::with_client(&https, IN_FLIGHT, client(false)?)?;
    let seed = Seed::random();
    let mut devices: Vec<SimDevice> = (0..DEVICES).map(|i| SimDevice::new(&seed, i)).collect();
    plain.onboard(&operator, &mut devices).await?;
    let devices = Arc::new(devices);
    // One poll each on every client first: connections open, each token's signature checked.
    for sim in [&plain, &secure, &secure_h2] {
        futures::stream::iter(devices.iter())
            .map(|d| async move {
                ensure!(sim.next(d).await?.is_none(), "no deployment yet");
                Ok(())
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<()>()
            .await?;
    }
    let (mut over_http, mut over_https, mut over_h2) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        over_http.push(polls(&plain, &devices).await?);
        over_https.push(polls(&secure, &devices).await?);
        over_h2.push(polls(&secure_h2, &devices).await?);
    }
    let (http_rate, https_rate, h2_rate) =
        (crate::median(over_http), crate::median(over_https), crate::median(over_h2));
    println!(
        "(t) deployments/next over https (TLS 1.3, P-256, HTTP/1.1 keep-alive) {https_rate:.0} polls/s vs plain http {http_rate:.0}/s = {:.2}x  (goal >= 0.6x; same server state and router, {IN_FLIGHT} in flight, {DEVICES} devices, median of 3 runs of {} s)",
        https_rate / http_rate,
        RUN.as_secs()
    );
    println!(
        "    over https with HTTP/2 (one connection, {IN_FLIGHT} streams): {h2_rate:.0} polls/s = {:.2}x plain http",
        h2_rate / http_rate
    );
    let (mut ec, mut rs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ec.push(handshake_rate(&https).await?);
        rs.push(handshake_rate(&https_rsa).await?);
    }
    let (ec, rs) = (crate::median(ec), crate::median(rs));
    println!(
        "(u) new TLS connections (full TLS 1.3 handshakes, X25519, no resumption, {HANDSHAKERS} at once; the client in the same process does not verify): ECDSA P-256 {ec:.0}/s, RSA-2048 {rs:.0}/s = {:.2}x",
        rs / ec
    );
    stop.cancel();
    server.stop().await?;
    Ok(())
}
