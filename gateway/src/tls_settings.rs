//! The TLS flags of `fleetlog serve` and the flags of `fleetlog admin gen-cert`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// Flags of `fleetlog admin gen-cert`.
#[derive(Debug, Clone, Args)]
pub struct GenCertArgs {
    /// A name the server is reached by: a DNS name or an IP address (repeatable).
    #[arg(long = "host", required = true)]
    pub hosts: Vec<String>,
    /// Directory to write the files into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// The server key's type: `ecdsa-p256` or `rsa-2048` (the CA's is ECDSA P-256).
    #[arg(long, default_value = "ecdsa-p256")]
    pub key_type: String,
    /// Days the server certificate is valid.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

/// TLS flags of `fleetlog serve`: without `--tls-cert` fleetlog serves plain HTTP.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Certificate chain (PEM, the server's certificate first, then intermediates): serve
    /// HTTPS and WSS on `--listen` (HTTP/1.1 and HTTP/2, TLS 1.2 and 1.3).
    #[arg(id = "tls_cert", long = "tls-cert", env = "FLEETLOG_TLS_CERT", requires = "tls_key")]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    #[arg(id = "tls_key", long = "tls-key", env = "FLEETLOG_TLS_KEY", requires = "tls_cert")]
    pub key: Option<PathBuf>,
    /// How often the certificate and key files are checked for changes, in seconds (a new
    /// pair is used for new connections; SIGHUP checks at once). 0: only on SIGHUP.
    #[arg(long = "tls-reload-interval", env = "FLEETLOG_TLS_RELOAD_INTERVAL", default_value_t = 10)]
    pub reload_interval: u64,
    /// Also listen on this address with plain HTTP, answering every request with a redirect to
    /// the HTTPS address. For browsers only: devices do not follow redirects of their POSTs.
    #[arg(long = "http-redirect", env = "FLEETLOG_HTTP_REDIRECT", requires = "tls_cert")]
    pub http_redirect: Option<SocketAddr>,
    /// Device mutual TLS: a device presenting a client certificate signed by a CA in this PEM
    /// file is admitted without an operator (its pending auth set of the identity and key of
    /// its signed auth request is accepted), as Mender Enterprise's mTLS ambassador does.
    /// Devices without a certificate go the usual way; a certificate of another CA fails the
    /// handshake. Read at start.
    #[arg(long = "device-client-ca", env = "FLEETLOG_DEVICE_CLIENT_CA", requires = "tls_cert")]
    pub device_client_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// Whether TLS is on.
    pub fn enabled(&self) -> bool {
        self.cert.is_some()
    }
}
