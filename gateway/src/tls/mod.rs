//! TLS at the gateway: the certificate and key read from PEM files (each way they can be wrong
//! is one clear error), the rustls settings (TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`, the
//! ring provider: no OpenSSL, nothing to build but Rust and ring's C), and a certificate that
//! is swapped under a running server while its connections stay up.

mod failures;
pub mod gencert;
mod reload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

pub use failures::HandshakeFailures;
pub use reload::watch;

use crate::settings::TlsArgs;

/// The ALPN protocol id of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";

/// The crypto fleetlog's TLS uses: ring's, named explicitly so that nothing depends on a
/// process-wide default.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a certificate chain and its key, and checks that they belong together.
pub fn load_pair(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let cert_pem =
        std::fs::read(cert).with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the TLS certificate {} is not valid PEM: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("the TLS certificate {} holds no PEM CERTIFICATE block", cert.display());
    }
    let key_pem = std::fs::read(key).with_context(|| format!("reading the TLS key {}", key.display()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        anyhow!(
            "the TLS key {} holds no usable private key (PEM PRIVATE KEY, RSA PRIVATE KEY or \
             EC PRIVATE KEY): {e}",
            key.display()
        )
    })?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            anyhow!("the TLS key {} does not belong to the certificate {}", key.display(), cert.display())
        }
        other => anyhow!("the TLS certificate {} with the key {}: {other}", cert.display(), key.display()),
    })
}

/// Verifies client certificates against the CAs in `path`; clients without one are let through
/// (operators, and devices admitted the usual way).
fn client_verifier(path: &Path) -> anyhow::Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let pem =
        std::fs::read(path).with_context(|| format!("reading the device client CA {}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert =
            cert.map_err(|e| anyhow!("the device client CA {} is not valid PEM: {e}", path.display()))?;
        roots.add(cert).map_err(|e| anyhow!("the device client CA {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        anyhow::bail!("the device client CA {} holds no PEM CERTIFICATE block", path.display());
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| anyhow!("the device client CA {}: {e}", path.display()))
}

/// A client certificate the handshake verified against `--device-client-ca`: every request
/// of that connection carries it (as a request extension).
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    /// SHA-256 of the certificate (DER), hex: how logs name it.
    pub sha256: String,
}

impl ClientCertificate {
    /// The verified leaf certificate of `conn`, if the client presented one.
    pub fn of(conn: &rustls::ServerConnection) -> Option<ClientCertificate> {
        use sha2::Digest as _;
        let leaf = conn.peer_certificates()?.first()?;
        let digest = sha2::Sha256::digest(leaf.as_ref());
        Some(ClientCertificate { sha256: digest.iter().map(|b| format!("{b:02x}")).collect() })
    }
}

/// The certificate new handshakes get; swapped whole, so a handshake sees the old pair or the
/// new one, never a mix.
#[derive(Debug)]
struct CurrentCert(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// The server's TLS: its files, the pair loaded from them, and the acceptor built on it.
#[derive(Clone)]
pub struct ServerTls {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: Arc<CurrentCert>,
    acceptor: TlsAcceptor,
}

impl ServerTls {
    /// The TLS `args` ask for, or `None` for plain HTTP.
    pub fn from_args(args: &TlsArgs) -> anyhow::Result<Option<ServerTls>> {
        let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
            return Ok(None);
        };
        ServerTls::build(cert, key, args.device_client_ca.as_deref()).map(Some)
    }

    /// Loads `cert` and `key` and builds the rustls server settings on them.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<ServerTls> {
        ServerTls::build(cert, key, None)
    }

    /// Like [`ServerTls::load`]; with `client_ca`, clients may present a certificate, which
    /// must be signed by a CA in that file.
    pub fn build(cert: &Path, key: &Path, client_ca: Option<&Path>) -> anyhow::Result<ServerTls> {
        let pair = load_pair(cert, key)?;
        let current = Arc::new(CurrentCert(ArcSwap::from_pointee(pair)));
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .context("TLS protocol versions")?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => builder.with_client_cert_verifier(client_verifier(path)?),
        };
        let mut config = builder.with_cert_resolver(current.clone());
        // HTTP/2 first: clients that speak it get it. WebSocket clients ask for http/1.1 only.
        config.alpn_protocols = vec![ALPN_H2.to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            current,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Accepts TLS connections with the current certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// Reads the files again and, when they hold a good pair, hands it to new handshakes.
    /// On an error the pair in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let pair = load_pair(&self.cert_path, &self.key_path)?;
        self.current.0.store(Arc::new(pair));
        Ok(())
    }

    /// The certificate and key files.
    pub fn paths(&self) -> (&Path, &Path) {
        (&self.cert_path, &self.key_path)
    }
}
