//! Command-line flags and `FLEETLOG_*` environment variables, parsed once in `main`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::tls_settings::{GenCertArgs, TlsArgs};

/// fleetlog: a Mender-compatible OTA update server on an event log.
#[derive(Debug, Parser)]
#[command(name = "fleetlog", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway, command handlers and projections.
    Serve(Box<ServeArgs>),
    /// Show events from the log as JSON lines, live (like `tail -f`) or up to now.
    Tail(TailArgs),
    /// Rebuild read models from the log (offline, or in the `serve` running on this data dir).
    Replay(ReplayArgs),
    /// Every event of one object, and its state now or at an instant, as JSON.
    History(HistoryArgs),
    /// Administrative tasks (work whether `serve` runs or not).
    Admin {
        /// The task.
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// `fleetlog admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a management user (the first admin), like Mender's `useradm create-user`.
    CreateUser {
        /// Connection settings.
        #[command(flatten)]
        conn: ConnectionArgs,
        /// The user's e-mail (login name).
        #[arg(long, alias = "username")]
        email: String,
        /// The password (at least 8 characters).
        #[arg(long, env = "FLEETLOG_ADMIN_PASSWORD")]
        password: String,
    },
    /// Write a self-signed CA and a server certificate signed by it, for trying TLS locally:
    /// `ca.crt` (give it to devices as `ServerCertificate`), `server.crt` and `server.key`
    /// (for `serve --tls-cert/--tls-key`), `ca.key` (to sign more).
    GenCert(GenCertArgs),
}

/// Where the log and the local state are; every subcommand takes these.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Directory for read models, the embedded nats-server's store and runtime files.
    #[arg(long, env = "FLEETLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// NATS server(s) to use (comma-separated). Without it fleetlog runs its own nats-server.
    #[arg(long, env = "FLEETLOG_NATS_URL")]
    pub nats_url: Option<String>,
    /// The nats-server binary for the embedded server (path, or a name on PATH).
    #[arg(long, env = "FLEETLOG_NATS_SERVER", default_value = "nats-server")]
    pub nats_server_bin: PathBuf,
    /// JetStream stream holding the log.
    #[arg(long, env = "FLEETLOG_STREAM", default_value = "FLEETLOG")]
    pub stream: String,
    /// First token of every event subject.
    #[arg(long, env = "FLEETLOG_SUBJECT_PREFIX", default_value = "fleetlog")]
    pub subject_prefix: String,
    /// Stream replicas (3 on a JetStream cluster).
    #[arg(long, env = "FLEETLOG_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// Page cache of the read models' sled store, in MiB (most of fleetlog's memory).
    #[arg(long, env = "FLEETLOG_CACHE_MB", default_value_t = fleetlog_projections::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,
}

impl ConnectionArgs {
    /// Opens the read models' store under the data dir with the chosen cache.
    pub fn open_read_models(&self) -> Result<sled::Db, sled::Error> {
        fleetlog_projections::open_store(&self.data_dir.join("readmodels"), self.cache_mb)
    }

    /// The event store settings these flags select.
    pub fn store_config(&self) -> fleetlog_commands::StoreConfig {
        fleetlog_commands::StoreConfig {
            stream: self.stream.clone(),
            prefix: self.subject_prefix.clone(),
            replicas: self.replicas,
        }
    }
}

/// Default `--max-body-bytes`: 960 KiB, leaving room for the event's envelope under 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 960 * 1024;

/// Flags of `fleetlog serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Address to listen on.
    #[arg(long, env = "FLEETLOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Public base URL of this server (used in links handed to devices). Without it links
    /// point at `--listen`, with `https://` when TLS is on.
    #[arg(long, env = "FLEETLOG_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve HTTPS (and WSS) with this certificate chain (PEM, the server's certificate first).
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Largest request body of the JSON APIs, in bytes (below NATS's default 1 MiB message
    /// limit, so that what a body changes can be stored as one event).
    #[arg(long, env = "FLEETLOG_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive
    /// connection stays open).
    #[arg(long, env = "FLEETLOG_HEADER_READ_TIMEOUT", default_value_t = 30)]
    pub header_read_timeout: u64,
    /// How long a write waits for the local read models to show it without seeing them make
    /// progress, in milliseconds (while they advance or apply a batch it waits on, up to 60
    /// times this in all); past it the write answers 503 though it happened.
    #[arg(long, env = "FLEETLOG_READ_YOUR_WRITES_MS", default_value_t = 5000)]
    pub read_your_writes_ms: u64,
    /// Key that signs user and device tokens (PKCS#8 PEM, Ed25519 or RSA). Give replicas the same
    /// file. Without it a key is generated on first start into `<data-dir>/keys/`.
    #[arg(long, env = "FLEETLOG_JWT_KEY")]
    pub jwt_key: Option<PathBuf>,
    /// Earlier token keys (PEM files, comma-separated in the environment) that still verify the
    /// tokens they signed but sign no more: rotate by making the new key `--jwt-key` and the
    /// old one a previous key until its tokens have expired (a week for devices).
    #[arg(long = "jwt-previous-key", env = "FLEETLOG_JWT_PREVIOUS_KEYS", value_delimiter = ',')]
    pub jwt_previous_keys: Vec<PathBuf>,
    /// Algorithm of a generated token key: `eddsa` (Ed25519) or `rs256`.
    #[arg(long, env = "FLEETLOG_JWT_ALGORITHM", default_value = "eddsa")]
    pub jwt_algorithm: String,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "FLEETLOG_LOG_JSON")]
    pub log_json: bool,
    /// Largest artifact an upload may send, in bytes (Mender: 10 GiB).
    #[arg(long, env = "FLEETLOG_MAX_ARTIFACT_BYTES", default_value_t = 10 << 30)]
    pub max_artifact_bytes: u64,
    /// How long a direct upload's link is valid, in seconds; an upload not completed by then
    /// is abandoned and its file removed.
    #[arg(long, env = "FLEETLOG_DIRECT_UPLOAD_EXPIRY", default_value_t = 900)]
    pub direct_upload_expiry: u64,
    /// Where artifacts are stored.
    #[command(flatten)]
    pub storage: fleetlog_storage::StorageConfig,
    /// Webhook deliveries (iot-manager).
    #[command(flatten)]
    pub webhooks: crate::webhook_settings::WebhookArgs,
    /// Smallest RSA device key accepted, in bits (1024..=8192). Mender accepts 1024-bit keys;
    /// fleetlog refuses them unless this says so.
    #[arg(long, env = "FLEETLOG_MIN_RSA_BITS", default_value_t = 2048,
          value_parser = clap::value_parser!(u64).range(1024..=8192))]
    pub min_rsa_bits: u64,
    /// Accept ECDSA P-224 device keys (Mender does; off by default: 112-bit security).
    #[arg(long, env = "FLEETLOG_ALLOW_ECDSA_P224")]
    pub allow_ecdsa_p224: bool,
    /// OpenSearch for the reporting API (e.g. `http://127.0.0.1:9200`): the log is indexed
    /// there and reporting answers from it. Without it, reporting answers from the local read
    /// models.
    #[arg(long, env = "FLEETLOG_OPENSEARCH_URL")]
    pub opensearch_url: Option<String>,
    /// Prefix of fleetlog's OpenSearch index names (one installation per prefix).
    #[arg(long, env = "FLEETLOG_OPENSEARCH_INDEX_PREFIX", default_value = "fleetlog-")]
    pub opensearch_index_prefix: String,
}

impl ServeArgs {
    /// The device key policy these settings ask for.
    pub fn key_policy(&self) -> crate::auth::signature::KeyPolicy {
        crate::auth::signature::KeyPolicy {
            min_rsa_bits: usize::try_from(self.min_rsa_bits).unwrap_or(usize::MAX),
            allow_p224: self.allow_ecdsa_p224,
        }
    }

    /// Settings as the flags' defaults would give them, on `conn`, listening on `listen`
    /// (port 0 for a free one): for tests, benchmarks and embedding.
    pub fn with_defaults(conn: ConnectionArgs, listen: SocketAddr) -> ServeArgs {
        ServeArgs {
            conn,
            listen,
            public_url: None,
            tls: TlsArgs::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: 30,
            read_your_writes_ms: 5000,
            jwt_key: None,
            jwt_previous_keys: Vec::new(),
            jwt_algorithm: "eddsa".into(),
            log_json: false,
            max_artifact_bytes: 10 << 30,
            direct_upload_expiry: 900,
            storage: fleetlog_storage::StorageConfig::default(),
            webhooks: crate::webhook_settings::WebhookArgs::default(),
            min_rsa_bits: 2048,
            allow_ecdsa_p224: false,
            opensearch_url: None,
            opensearch_index_prefix: "fleetlog-".into(),
        }
    }
}

/// Flags of `fleetlog tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Start at this position (1 = the beginning); without it, only new events are shown.
    #[arg(long)]
    pub from: Option<u64>,
    /// Stop once caught up instead of waiting for new events.
    #[arg(long)]
    pub no_follow: bool,
    /// Only this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only this aggregate type (device, user, claim, settings).
    #[arg(long = "type")]
    pub aggregate_type: Option<String>,
    /// Only this aggregate id.
    #[arg(long)]
    pub id: Option<String>,
    /// Only this event type (e.g. AuthSetAccepted).
    #[arg(long)]
    pub event: Option<String>,
}

/// Flags of `fleetlog replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Only this read model (default: all sled models); `search` rebuilds the OpenSearch
    /// index of a running `serve --opensearch-url` and swaps it in when caught up.
    #[arg(long)]
    pub model: Option<String>,
    /// Build a point-in-time copy up to this position, or this instant (RFC 3339), into `--out`
    /// instead of rebuilding the live read models.
    #[arg(long, requires = "out")]
    pub to: Option<String>,
    /// Directory of the point-in-time copy (its read models in `readmodels/`).
    #[arg(long, requires = "to")]
    pub out: Option<std::path::PathBuf>,
}

/// Flags of `fleetlog history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Connection settings.
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Object type (device, user, claim, settings).
    #[arg(long = "type")]
    pub kind: String,
    /// Object id.
    #[arg(long)]
    pub id: String,
    /// The state at this instant (RFC 3339, or Unix seconds) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::{Cli, Command};

    fn serve(args: &[&str]) -> Result<crate::auth::KeyPolicy, clap::Error> {
        let argv = [&["fleetlog", "serve"], args].concat();
        match Cli::try_parse_from(argv)?.command {
            Command::Serve(s) => Ok(s.key_policy()),
            _ => unreachable!("serve parses as serve"),
        }
    }

    #[test]
    fn device_key_settings_default_to_the_secure_policy_and_are_bounded() {
        assert_eq!(serve(&[]).unwrap(), crate::auth::KeyPolicy::default());
        let relaxed = serve(&["--min-rsa-bits", "1024", "--allow-ecdsa-p224"]).unwrap();
        assert_eq!((relaxed.min_rsa_bits, relaxed.allow_p224), (1024, true));
        assert!(serve(&["--min-rsa-bits", "512"]).is_err(), "below Mender's own smallest key");
        assert!(serve(&["--min-rsa-bits", "9000"]).is_err(), "above the largest key accepted");
    }

    #[test]
    fn tls_flags_come_in_pairs_and_the_redirect_needs_tls() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["fleetlog", "serve"], args].concat());
        assert!(parse(&["--tls-cert", "c.pem"]).is_err(), "a certificate without its key");
        assert!(parse(&["--tls-key", "k.pem"]).is_err(), "a key without its certificate");
        assert!(parse(&["--http-redirect", "127.0.0.1:80"]).is_err(), "a redirect to no https");
        assert!(parse(&["--device-client-ca", "ca.pem"]).is_err(), "mTLS without TLS");
        match parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap().command {
            Command::Serve(s) => assert!(s.tls.enabled() && s.tls.reload_interval == 10),
            _ => unreachable!("serve parses as serve"),
        }
    }
}
