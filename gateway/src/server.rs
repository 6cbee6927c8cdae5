//! Building and running the whole server: NATS (embedded or external), the event store, the
//! read models and the HTTP listener, and stopping them in order.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fleetlog_commands::app::{App, AppSettings};
use fleetlog_commands::{CommandService, EventStore};
use fleetlog_projections::audit::AuditProjection;
use fleetlog_projections::{
    HostConfig, Projection, ProjectionHost, devices::DevicesProjection, users::UsersProjection,
};
use tokio::net::TcpListener;

use crate::auth::jwt::{JwtAlgorithm, JwtKeys};
use crate::nats_server::{NatsServer, NatsServerConfig};
use crate::settings::{ConnectionArgs, ServeArgs};
use crate::state::AppState;

/// Every read model this build maintains. A new read model is one line here.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(DevicesProjection),
        Arc::new(UsersProjection),
        Arc::new(AuditProjection),
        Arc::new(fleetlog_projections::inventory::InventoryProjection),
        Arc::new(fleetlog_projections::deployments::DeploymentsProjection),
        Arc::new(fleetlog_projections::remote::RemoteProjection),
        Arc::new(fleetlog_projections::releases::ReleasesProjection),
        Arc::new(fleetlog_projections::integrations::IntegrationsProjection),
        Arc::new(fleetlog_projections::monitor::MonitorProjection),
    ]
}

/// NATS as reached by a subcommand: a client, and the embedded server if we started one.
pub struct Nats {
    /// The connection.
    pub client: async_nats::Client,
    /// The embedded server, when no `--nats-url` was given.
    pub embedded: Option<NatsServer>,
    /// The external server's URL (`--nats-url`, or the one the data dir records).
    pub external_url: Option<String>,
}

/// File in the data dir naming the NATS server of the log the data dir belongs to: the embedded
/// server's URL while `serve` runs (removed when it stops), or an external `--nats-url` with a
/// second line `external` (kept: the data dir's read models are of that log). Subcommands
/// without `--nats-url` use it, so `fleetlog admin` reaches the log that `serve` uses.
const NATS_URL_FILE: &str = "nats.url";

/// Writes `NATS_URL_FILE` (mode 0600: a URL may carry credentials).
fn record_nats_url(data_dir: &std::path::Path, url: &str, external: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = if external { format!("{url}\nexternal\n") } else { url.to_owned() };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(data_dir.join(NATS_URL_FILE))?;
    file.write_all(text.as_bytes())
}

/// A URL without its user information, for messages.
fn redacted(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?.1))) {
        Some((scheme, host)) => format!("{scheme}://***@{host}"),
        None => url.to_owned(),
    }
}

impl Nats {
    /// Connects to `--nats-url`, to the NATS server the data dir records (an external one, or
    /// the embedded server of a `serve` running on it), or starts the embedded server.
    pub async fn connect(conn: &ConnectionArgs) -> anyhow::Result<Nats> {
        std::fs::create_dir_all(&conn.data_dir)
            .with_context(|| format!("creating {}", conn.data_dir.display()))?;
        let path = conn.data_dir.join(NATS_URL_FILE);
        let recorded = std::fs::read_to_string(&path).ok();
        let recorded = recorded.as_deref().and_then(|text| {
            let mut lines = text.lines().map(str::trim);
            let url = lines.next().filter(|u| !u.is_empty())?.to_owned();
            Some((url, lines.next() == Some("external")))
        });
        if let Some(url) = &conn.nats_url {
            let client =
                connect(url).await.with_context(|| format!("connecting to NATS at {}", redacted(url)))?;
            return Ok(Nats { client, embedded: None, external_url: Some(url.clone()) });
        }
        if let Some((url, external)) = recorded {
            match connect(&url).await {
                Ok(client) => {
                    let external_url = external.then_some(url);
                    return Ok(Nats { client, embedded: None, external_url });
                }
                // Starting a private server here would write into a log nobody reads.
                Err(e) if external => anyhow::bail!(
                    "this data dir belongs to the log on NATS at {} ({} says so), which is not reachable: {e}; \
                     pass --nats-url to use another server",
                    redacted(&url),
                    path.display()
                ),
                // A `serve` with the embedded server ran here and is gone: start it ourselves.
                Err(_) => {}
            }
        }
        let cfg = NatsServerConfig {
            binary: conn.nats_server_bin.clone(),
            dir: conn.data_dir.join("nats"),
            port: None,
            remove_dir_on_exit: false,
        };
        let server = NatsServer::start(&cfg).await?;
        let url = server.url().to_owned();
        let client = connect(&url).await.with_context(|| format!("connecting to NATS at {url}"))?;
        Ok(Nats { client, embedded: Some(server), external_url: None })
    }
}

impl Nats {
    /// Flushes the connection and stops the embedded server, if this process started one.
    pub async fn close(self) {
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "flushing NATS");
        }
        if let Some(server) = self.embedded {
            server.stop().await;
        }
    }
}

async fn connect(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .name("fleetlog")
        .connection_timeout(Duration::from_secs(5))
        // Once connected, never give up: the log may restart or fail over under us.
        .max_reconnects(None)
        .connect(url)
        .await
}

/// The token key: `--jwt-key`, or one generated into the data dir on first start.
fn load_jwt_keys(args: &ServeArgs) -> anyhow::Result<JwtKeys> {
    if let Some(path) = &args.jwt_key {
        let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return JwtKeys::from_pem(&pem).with_context(|| format!("loading the token key {}", path.display()));
    }
    let alg = match args.jwt_algorithm.to_ascii_lowercase().as_str() {
        "eddsa" | "ed25519" => JwtAlgorithm::EdDSA,
        "rs256" => JwtAlgorithm::RS256,
        other => anyhow::bail!("unknown --jwt-algorithm {other:?}: use eddsa or rs256"),
    };
    JwtKeys::load_or_generate(&args.conn.data_dir.join("keys"), alg).context("loading the token key")
}

/// Opens the artifact store. Local files default to `<data-dir>/artifacts`, and their download
/// links are signed with a secret kept in `<data-dir>/keys/` (so links survive restarts) unless
/// one is given (replicas must share it).
async fn open_storage(
    args: &ServeArgs,
    local: SocketAddr,
) -> anyhow::Result<(fleetlog_storage::Store, fleetlog_storage::LinkSigner)> {
    let mut cfg = args.storage.clone();
    if cfg.dir.is_none() {
        cfg.dir = Some(args.conn.data_dir.join("artifacts"));
    }
    let secret = match &cfg.link_secret {
        Some(s) => s.clone(),
        None => {
            let path = args.conn.data_dir.join("keys").join("link-secret");
            if !path.exists() {
                std::fs::create_dir_all(path.parent().expect("keys dir"))?;
                let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
                std::fs::write(&path, secret)?;
            }
            std::fs::read_to_string(&path)?.trim().to_owned()
        }
    };
    cfg.link_secret = Some(secret.clone());
    let base = args.public_url.clone().unwrap_or_else(|| format!("http://{local}"));
    let prefix = format!("{}{}", base.trim_end_matches('/'), crate::http::DOWNLOAD_ROUTE);
    let store = fleetlog_storage::Store::open(&cfg, &prefix).await.context("opening the artifact storage")?;
    // Configuration artifacts are made on request, whatever the storage: their links are
    // signed here too.
    let config_links =
        fleetlog_storage::LinkSigner::new(secret.as_bytes(), &format!("{prefix}/configuration"))
            .context("the download link secret")?;
    Ok((store, config_links))
}

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    nats: Nats,
    args: ServeArgs,
}

impl Application {
    /// Starts everything but the HTTP loop. `--listen` with port 0 picks a free port.
    pub async fn build(args: ServeArgs) -> anyhow::Result<Application> {
        let nats = Nats::connect(&args.conn).await?;
        let store_cfg = args.conn.store_config();
        let store =
            EventStore::open(nats.client.clone(), store_cfg).await.context("opening the event stream")?;
        let db = sled::open(args.conn.data_dir.join("readmodels")).context("opening the read models")?;
        let host_cfg = HostConfig { stream: args.conn.stream.clone(), ..HostConfig::default() };
        let read_models = ProjectionHost::start(db, nats.client.clone(), host_cfg, projections()).await?;
        let listener =
            TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
        match (&nats.embedded, &nats.external_url) {
            (Some(server), _) => record_nats_url(&args.conn.data_dir, server.url(), false)?,
            (None, Some(url)) => record_nats_url(&args.conn.data_dir, url, true)?,
            (None, None) => {}
        }
        let jwt = Arc::new(load_jwt_keys(&args)?);
        let (storage, config_links) = open_storage(&args, listener.local_addr()?).await?;
        let settings = AppSettings {
            read_your_writes: Duration::from_millis(args.read_your_writes_ms),
            max_artifact_bytes: args.max_artifact_bytes,
            key_policy: args.key_policy(),
            direct_upload_expiry: Duration::from_secs(args.direct_upload_expiry.max(1)),
            webhooks: args.webhooks.settings(),
        };
        let app =
            App::new(CommandService::new(store), read_models, jwt, storage, Arc::new(config_links), settings);
        let state = AppState::new(crate::state::AppStateInner {
            app,
            metrics: crate::http::metrics_handle(),
            shutdown: tokio_util::sync::CancellationToken::new(),
        });
        Ok(Application { listener, state, nats, args })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// The shared state (for tests and tools in the same process).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains requests, stops the read models, flushes
    /// NATS and stops the embedded server.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application { listener, state, nats, args } = self;
        tracing::info!(addr = %listener.local_addr()?, "fleetlog serving");
        // `fleetlog replay` on this data dir reaches this process through its id.
        let serve_id = uuid::Uuid::new_v4().simple().to_string();
        let id_file = args.conn.data_dir.join(crate::rebuild_rpc::SERVE_ID_FILE);
        std::fs::write(&id_file, &serve_id)?;
        let subject = crate::rebuild_rpc::rebuild_subject(&args.conn.stream, &serve_id);
        let rebuilds = tokio::spawn(crate::rebuild_rpc::serve_rebuilds(
            nats.client.clone(),
            subject,
            state.read_models.clone(),
        ));
        // `fleetlog admin` waits here until this server shows what it wrote.
        let waits = tokio::spawn(crate::rebuild_rpc::serve_waits(
            nats.client.clone(),
            crate::rebuild_rpc::wait_subject(&args.conn.stream, &serve_id),
            state.read_models.clone(),
        ));
        let sweeper = {
            let state = state.clone();
            tokio::spawn(async move {
                let stop = state.shutdown.clone();
                crate::app::direct_upload::sweeper(&state, stop.cancelled()).await
            })
        };
        let processes =
            tokio::spawn(crate::app::processes::run_all(state.clone(), state.shutdown.child_token()));
        let router = crate::http::app(state.clone(), args.max_body_bytes);
        let token = state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            token.cancel();
        };
        let limits = crate::http::serve::ConnLimits {
            header_read_timeout: Duration::from_secs(args.header_read_timeout),
        };
        crate::http::serve::serve(listener, router, limits, shutdown).await?;
        tracing::info!("HTTP drained; stopping");
        rebuilds.abort();
        waits.abort();
        sweeper.abort();
        // The processes stop with the shutdown token; their unfinished messages come back later.
        let _ = tokio::time::timeout(Duration::from_secs(10), processes).await;
        let _ = std::fs::remove_file(&id_file);
        state.read_models.stop().await;
        if let Err(e) = nats.client.drain().await {
            tracing::warn!(error = %e, "draining the NATS connection");
        }
        if let Some(server) = nats.embedded {
            let _ = std::fs::remove_file(args.conn.data_dir.join(NATS_URL_FILE));
            server.stop().await;
        }
        Ok(())
    }
}
