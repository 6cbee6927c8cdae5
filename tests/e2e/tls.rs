//! HTTPS at the gateway (`--tls-cert/--tls-key`): HTTP/2 and HTTP/1.1 by ALPN, TLS 1.2 and 1.3,
//! WebSockets over TLS, https download links, plain HTTP on the TLS port answered with a TLS
//! alert and only counted, clear start errors for wrong files, the certificate rotated under a
//! running server (file change and SIGHUP) without dropping connections, and `--http-redirect`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{GenCertArgs, ServeArgs};
use fleetlog_gateway::tls::gencert::{CA_CERT, SERVER_CERT, SERVER_KEY, generate};
use reqwest::{Method, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::{Server, client_trusting};

/// `fleetlog admin gen-cert --host 127.0.0.1 --host localhost --out DIR`.
pub fn certs(key_type: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let args = GenCertArgs {
        hosts: vec!["127.0.0.1".into(), "localhost".into()],
        out: dir.path().into(),
        key_type: key_type.into(),
        days: 30,
    };
    generate(&args).unwrap();
    dir
}

/// A rustls client config trusting `ca`, offering `alpn`.
fn client_config(ca: &Path, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `base` (`https://ADDR`) trusting `ca`.
async fn tls_connect(
    base: &str,
    ca: &Path,
    alpn: &[&[u8]],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let addr = base.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(client_config(ca, alpn));
    connector.connect("127.0.0.1".try_into().unwrap(), tcp).await
}

#[tokio::test]
async fn https_speaks_http2_and_http1_tls12_and_13_wss_and_hands_out_https_links() {
    let dir = certs("ecdsa-p256");
    let server = Server::start_tls(dir.path(), |_| {}).await;
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let ca = server.ca.clone().unwrap();

    // ALPN: HTTP/2 for a client that offers it, HTTP/1.1 for one that does not.
    let res = server.http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.version()), (200, Version::HTTP_2));
    let h1 = client_trusting(&ca, reqwest::Client::builder().http1_only());
    let res = h1.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.version()), (200, Version::HTTP_11));
    // TLS 1.2 too (rustls has nothing older, nor does the server).
    let tls12 =
        client_trusting(&ca, reqwest::Client::builder().max_tls_version(reqwest::tls::Version::TLS_1_2));
    assert_eq!(tls12.get(format!("{}/healthz", server.base)).send().await.unwrap().status(), 200);
    let raw = tls_connect(&server.base, &ca, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(raw.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    drop(raw);

    // Links handed out point at https.
    let (status, _, link) =
        server.send(Method::POST, "/api/management/v1/deployments/artifacts/directupload", None).await;
    assert_eq!(status, 200, "{link}");
    assert!(link["uri"].as_str().unwrap().starts_with(&format!("{}/", server.base)), "{link}");

    // A device's WebSocket over TLS (what mender-client's proxy opens for mender-connect).
    let (id, token) = server.accepted_device().await;
    let stream = tls_connect(&server.base, &ca, &[b"http/1.1"]).await.unwrap();
    let url = format!("{}/api/devices/v1/deviceconnect/connect", server.base.replace("https://", "wss://"));
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        (_, status) = server.get(&format!("/api/management/v1/deviceconnect/devices/{id}")).await;
        if status["status"] == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status["status"], "connected");
    drop(ws);
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_an_alert_and_is_only_counted() {
    let dir = certs("ecdsa-p256");
    let server = Server::start_tls(dir.path(), |args| args.header_read_timeout = 1).await;
    let addr = server.base.trim_start_matches("https://").to_owned();
    // A client that connects and never starts the handshake is cut off after the header timeout.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut nothing = Vec::new();
    let cut = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut nothing)).await;
    assert!(cut.is_ok() && nothing.is_empty(), "closed without an answer");
    for _ in 0..20 {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await.unwrap();
        // A TLS record of type alert (21), not an HTTP answer.
        assert_eq!(answer.first(), Some(&21), "{answer:?}");
    }
    // A client that does not trust the certificate is refused by its own side, and the server
    // goes on serving.
    let other = certs("ecdsa-p256");
    let stranger = client_trusting(&other.path().join(CA_CERT), reqwest::Client::builder());
    assert!(stranger.get(format!("{}/healthz", server.base)).send().await.is_err());
    assert_eq!(server.http.get(format!("{}/healthz", server.base)).send().await.unwrap().status(), 200);
    let metrics =
        server.http.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap();
    let failed: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fleetlog_tls_handshake_failures_total "))
        .expect("the failure counter")
        .parse()
        .unwrap();
    assert!(failed >= 22.0, "{failed}");
}

/// The start error of a server given `cert` and `key`, as `main` prints it.
async fn start_error(cert: PathBuf, key: PathBuf) -> String {
    let (_dir, conn) = fleetlog_tests::fresh_conn("TLSERR");
    let mut args = ServeArgs::with_defaults(conn, "127.0.0.1:0".parse().unwrap());
    args.tls.cert = Some(cert);
    args.tls.key = Some(key);
    match Box::pin(Application::build(args)).await {
        Ok(_) => panic!("started with a bad certificate or key"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn a_missing_unreadable_or_mismatched_certificate_or_key_is_one_clear_line() {
    let a = certs("ecdsa-p256");
    let b = certs("rsa-2048");
    let (cert, key) = (a.path().join(SERVER_CERT), a.path().join(SERVER_KEY));
    let missing = a.path().join("nope.crt");
    let garbage = a.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let cases = [
        (missing.clone(), key.clone(), "reading the TLS certificate"),
        (cert.clone(), a.path().join("nope.key"), "reading the TLS key"),
        (garbage.clone(), key.clone(), "holds no PEM CERTIFICATE block"),
        (cert.clone(), garbage.clone(), "holds no usable private key"),
        (cert.clone(), b.path().join(SERVER_KEY), "does not belong to the certificate"),
        (b.path().join(SERVER_CERT), key.clone(), "does not belong to the certificate"),
    ];
    for (cert, key, want) in cases {
        let error = start_error(cert, key).await;
        assert!(error.contains(want), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
}

/// Replaces the server's files with those in `from` (the key first, then the certificate,
/// each by a rename: a reader sees old or new files, never half-written ones), and the CA the
/// test's own client trusts.
fn install(from: &Path, to: &Path) {
    for name in [SERVER_KEY, SERVER_CERT, CA_CERT] {
        let tmp = to.join(format!("{name}.new"));
        std::fs::copy(from.join(name), &tmp).unwrap();
        std::fs::rename(&tmp, to.join(name)).unwrap();
    }
}

/// Whether a new client trusting only `ca` gets through within a few seconds.
async fn trusted_within(base: &str, ca: &Path, wait: Duration) -> bool {
    let started = std::time::Instant::now();
    loop {
        let client = client_trusting(ca, reqwest::Client::builder());
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        if started.elapsed() > wait {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_certificate_rotates_under_a_running_server_and_open_connections_stay() {
    let live = certs("ecdsa-p256");
    let (first, second) = (certs("ecdsa-p256"), certs("rsa-2048"));
    install(first.path(), live.path());
    let ca1 = first.path().join(CA_CERT);
    let server = Server::start_tls(live.path(), |args| args.tls.reload_interval = 1).await;
    // An HTTP/1.1 keep-alive connection opened under the first certificate.
    let old = client_trusting(&ca1, reqwest::Client::builder().http1_only());
    assert_eq!(old.get(format!("{}/healthz", server.base)).send().await.unwrap().status(), 200);

    // A half-done rotation (the new key beside the old certificate) is refused: the old pair
    // stays in use.
    std::fs::copy(second.path().join(SERVER_KEY), live.path().join(SERVER_KEY)).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(trusted_within(&server.base, &ca1, Duration::ZERO).await);

    install(second.path(), live.path());
    let ca2 = second.path().join(CA_CERT);
    assert!(
        trusted_within(&server.base, &ca2, Duration::from_secs(10)).await,
        "the new certificate is served"
    );
    assert!(!trusted_within(&server.base, &ca1, Duration::ZERO).await, "the old one is not");
    // The connection opened before still works: a new one would not, `old` trusts only CA 1.
    let res = old.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // SIGHUP reloads at once when the files are not watched.
    let hup = Server::start_tls(live.path(), |args| args.tls.reload_interval = 0).await;
    install(first.path(), live.path());
    assert!(!trusted_within(&hup.base, &ca1, Duration::from_millis(1500)).await, "not watched");
    nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(trusted_within(&hup.base, &ca1, Duration::from_secs(5)).await, "reloaded on SIGHUP");
}

#[tokio::test]
async fn the_http_redirect_listener_sends_browsers_to_https() {
    let dir = certs("ecdsa-p256");
    let server =
        Server::start_tls(dir.path(), |args| args.tls.http_redirect = Some("127.0.0.1:0".parse().unwrap()))
            .await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let addr = server.redirect.unwrap();
    let res = plain.get(format!("http://{addr}/ui/devices?x=1")).send().await.unwrap();
    assert_eq!(res.status(), 301);
    let port = server.base.rsplit(':').next().unwrap();
    assert_eq!(res.headers()["location"], format!("https://127.0.0.1:{port}/ui/devices?x=1").as_str());
    let res = plain
        .post(format!("http://{addr}/api/devices/v1/authentication/auth_requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 308);
    // Followed, it lands on the HTTPS server.
    let follow = client_trusting(server.ca.as_ref().unwrap(), reqwest::Client::builder());
    assert_eq!(follow.get(format!("http://{addr}/healthz")).send().await.unwrap().status(), 200);
}
