//! Test harness: one real nats-server (and, for reporting, one OpenSearch node) per test
//! binary, and a fresh stream per test.
//!
//! Tests isolate themselves by stream name and subject prefix, never by restarting the shared
//! server. Tests that must restart a server start their own with [`own_nats_server`].

pub mod cluster;
mod opensearch;
mod seed;

pub use opensearch::{OpenSearchNode, opensearch_home, opensearch_java, shared_opensearch_url};
pub use seed::{MAX_SEED_BATCH, SeedDevice, append_accepted, device_claims};

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use fleetlog_commands::{CommandMeta, CommandService, EventStore, StoreConfig};
use fleetlog_events::Actor;
use fleetlog_gateway::nats_server::{NatsServer, NatsServerConfig};
use fleetlog_projections::{HostConfig, Projection, ProjectionHost};

/// The nats-server binary: `FLEETLOG_NATS_SERVER` (set by `make`), else `nats-server` on PATH.
pub fn nats_server_bin() -> PathBuf {
    std::env::var_os("FLEETLOG_NATS_SERVER").map(PathBuf::from).unwrap_or_else(|| "nats-server".into())
}

/// Starts a nats-server of this test's own on `dir`, or on a temp dir that is removed when the
/// server exits.
pub fn own_nats_server(port: Option<u16>, dir: Option<PathBuf>) -> NatsServer {
    let remove_dir_on_exit = dir.is_none();
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().expect("temp dir").keep());
    let cfg = NatsServerConfig { binary: nats_server_bin(), dir, port, remove_dir_on_exit };
    NatsServer::start_blocking(&cfg).unwrap_or_else(|e| panic!("{e}"))
}

/// The URL of the nats-server shared by every test of this binary. It stops, and its store is
/// deleted, when the test process exits (its stdin pipe closes).
pub fn shared_nats_url() -> &'static str {
    static SERVER: OnceLock<NatsServer> = OnceLock::new();
    SERVER.get_or_init(|| own_nats_server(None, None)).url()
}

/// Logs to stderr when `TEST_LOG` is set (its value, when not empty, is the filter).
pub fn init_tracing() {
    if let Some(filter) = std::env::var_os("TEST_LOG") {
        let filter = filter.to_string_lossy().into_owned();
        let filter =
            if filter.is_empty() || filter == "1" { "info,fleetlog=debug".to_owned() } else { filter };
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
}

/// A fresh, isolated log on the shared server: its own stream and subject prefix.
pub struct TestLog {
    /// Connected client.
    pub client: async_nats::Client,
    /// The store over the test's stream.
    pub store: EventStore,
}

impl TestLog {
    /// Creates a new stream named after a random id.
    pub async fn new() -> TestLog {
        Self::on(shared_nats_url()).await
    }

    /// Creates a new stream on the server at `url`.
    pub async fn on(url: &str) -> TestLog {
        init_tracing();
        let client = async_nats::connect(url).await.expect("connect to nats");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let cfg = StoreConfig { stream: format!("T{id}"), prefix: format!("t{}", &id[..12]), replicas: 1 };
        let store = EventStore::open(client.clone(), cfg).await.expect("open store");
        TestLog { client, store }
    }

    /// The command service over this log.
    pub fn commands(&self) -> CommandService {
        CommandService::new(self.store.clone())
    }

    /// Starts a projection host over this log with a fresh sled db in `dir`.
    pub async fn host(&self, db: sled::Db, projections: Vec<Arc<dyn Projection>>) -> Arc<ProjectionHost> {
        let cfg = HostConfig { stream: self.store.config().stream.clone(), batch_size: 256 };
        ProjectionHost::start(db, self.client.clone(), cfg, projections).await.expect("start projections")
    }
}

/// Command metadata for a test command with a fresh id.
pub fn meta() -> CommandMeta {
    CommandMeta::new(
        "default",
        Actor::user("tester", "tester@example.com"),
        &uuid::Uuid::new_v4().to_string(),
    )
}

/// A temporary sled database.
pub fn temp_db() -> (tempfile::TempDir, sled::Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::Config::new().path(dir.path()).open().expect("open sled");
    (dir, db)
}

/// A data dir and connection settings (for `serve` and the subcommands) with a stream of their
/// own on the shared server; `tag` makes the stream name tell which test made it.
pub fn fresh_conn(tag: &str) -> (tempfile::TempDir, fleetlog_gateway::settings::ConnectionArgs) {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = uuid::Uuid::new_v4().simple().to_string();
    let conn = fleetlog_gateway::settings::ConnectionArgs {
        data_dir: dir.path().into(),
        nats_url: Some(shared_nats_url().into()),
        nats_server_bin: nats_server_bin(),
        stream: format!("{}{id}", tag.to_uppercase()),
        subject_prefix: format!("{}{}", tag.to_lowercase(), &id[..12]),
        replicas: 1,
        cache_mb: fleetlog_projections::DEFAULT_CACHE_MB,
    };
    (dir, conn)
}
