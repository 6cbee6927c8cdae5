//! Building and running the whole server: NATS (embedded or external), the event store, the
//! read models and the HTTP listener, and stopping them in order.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fleetlog_commands::CommandService;
use fleetlog_commands::app::{App, AppSettings};
use fleetlog_projections::audit::AuditProjection;
use fleetlog_projections::{
    HostConfig, Projection, ProjectionHost, devices::DevicesProjection, users::UsersProjection,
};
use tokio::net::TcpListener;

use fleetlog_projections::reporting::opensearch::{OpenSearchBackend, SearchClient, SearchIndexer};

use crate::auth::jwt::{JwtAlgorithm, JwtKeys};
pub use crate::nats_client::Nats;
use crate::nats_client::{NATS_URL_FILE, record_nats_url};
use crate::settings::ServeArgs;
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

/// The token keys: `--jwt-key` (or one generated into the data dir on first start) and the
/// previous keys that still verify.
fn load_jwt_keys(args: &ServeArgs) -> anyhow::Result<JwtKeys> {
    let read = |path: &std::path::Path| -> anyhow::Result<JwtKeys> {
        let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        JwtKeys::from_pem(&pem).with_context(|| format!("loading the token key {}", path.display()))
    };
    let previous = args.jwt_previous_keys.iter().map(|p| read(p)).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(current_jwt_key(args, read)?.with_previous(previous))
}

fn current_jwt_key(
    args: &ServeArgs,
    read: impl Fn(&std::path::Path) -> anyhow::Result<JwtKeys>,
) -> anyhow::Result<JwtKeys> {
    if let Some(path) = &args.jwt_key {
        return read(path);
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
    let scheme = if args.tls.enabled() { "https" } else { "http" };
    let base = args.public_url.clone().unwrap_or_else(|| format!("{scheme}://{local}"));
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
    tls: Option<crate::tls::ServerTls>,
    redirect: Option<TcpListener>,
    search: Option<Search>,
}

/// Reporting on OpenSearch (`--opensearch-url`): the indexer and the backend it feeds.
struct Search {
    indexer: Arc<SearchIndexer>,
    backend: OpenSearchBackend,
}

impl Search {
    /// Starts indexing into OpenSearch. OpenSearch need not be up: the indexer retries, and
    /// reporting answers 503 until it can.
    fn start(args: &ServeArgs, read_models: &Arc<ProjectionHost>) -> anyhow::Result<Option<Search>> {
        let Some(url) = &args.opensearch_url else { return Ok(None) };
        let client = SearchClient::new(url, &args.opensearch_index_prefix)?;
        let indexer = SearchIndexer::start(read_models.clone(), client.clone())?;
        Ok(Some(Search { indexer, backend: OpenSearchBackend::new(client) }))
    }
}

impl Application {
    /// Starts everything but the HTTP loop. `--listen` with port 0 picks a free port.
    pub async fn build(args: ServeArgs) -> anyhow::Result<Application> {
        // First, so that a wrong certificate or key stops the start before anything runs.
        let tls = crate::tls::ServerTls::from_args(&args.tls)?;
        let nats = Nats::connect(&args.conn).await?;
        let store_cfg = args.conn.store_config();
        let store = crate::nats_client::open_store(&nats.client, store_cfg).await?;
        let db = args.conn.open_read_models().context("opening the read models")?;
        let host_cfg = HostConfig { stream: args.conn.stream.clone(), ..HostConfig::default() };
        let read_models = ProjectionHost::start(db, nats.client.clone(), host_cfg, projections()).await?;
        let listener =
            TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
        match (&nats.embedded, &nats.external_url) {
            (Some(server), _) => record_nats_url(&args.conn.data_dir, server.url(), false)?,
            (None, Some(url)) => record_nats_url(&args.conn.data_dir, url, true)?,
            (None, None) => {}
        }
        let redirect = match args.tls.http_redirect {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?),
            None => None,
        };
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
        let search = Search::start(&args, &state.read_models)?;
        Ok(Application { listener, state, nats, args, tls, redirect, search })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// `https://ADDR` with TLS, else `http://ADDR`.
    pub fn local_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr())
    }

    /// The address of the `--http-redirect` listener.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
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
        let Application { listener, state, nats, args, tls, redirect, search } = self;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(addr = %listener.local_addr()?, scheme, "fleetlog serving");
        // `fleetlog replay` on this data dir reaches this process through its id.
        let serve_id = uuid::Uuid::new_v4().simple().to_string();
        let id_file = args.conn.data_dir.join(crate::rebuild_rpc::SERVE_ID_FILE);
        std::fs::write(&id_file, &serve_id)?;
        let subject = crate::rebuild_rpc::rebuild_subject(&args.conn.stream, &serve_id);
        let rebuilds = tokio::spawn(crate::rebuild_rpc::serve_rebuilds(
            nats.client.clone(),
            subject,
            state.read_models.clone(),
            search.as_ref().map(|s| s.indexer.clone()),
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
        // Starts phases on time and stops rollouts over their failure limit (issue 18).
        let scheduler = {
            let state = state.clone();
            tokio::spawn(async move {
                let stop = state.shutdown.clone();
                crate::app::rollouts::scheduler(&state, stop.cancelled()).await
            })
        };
        let processes =
            tokio::spawn(crate::app::processes::run_all(state.clone(), state.shutdown.child_token()));
        let mut router = crate::http::app(state.clone(), args.max_body_bytes);
        if let Some(search) = &search {
            router =
                crate::http::reporting::with_backend(router, search.backend.clone(), search.indexer.status());
        }
        let token = state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            token.cancel();
        };
        let limits = crate::http::serve::ConnLimits {
            header_read_timeout: Duration::from_secs(args.header_read_timeout),
        };
        let reloads = tls.as_ref().map(|tls| {
            let interval = Duration::from_secs(args.tls.reload_interval);
            tokio::spawn(crate::tls::watch(tls.clone(), interval, state.shutdown.clone()))
        });
        let https_port = listener.local_addr()?.port();
        let redirects = redirect.map(|redirect| {
            let target = crate::http::redirect::Target::new(args.public_url.as_deref(), https_port);
            tokio::spawn(crate::http::redirect::serve(redirect, target, limits, state.shutdown.clone()))
        });
        let acceptor = tls.as_ref().map(crate::tls::ServerTls::acceptor);
        crate::http::serve::serve(listener, router, limits, acceptor, shutdown).await?;
        tracing::info!("HTTP drained; stopping");
        if let Some(task) = redirects {
            let _ = task.await;
        }
        if let Some(task) = reloads {
            task.abort();
        }
        rebuilds.abort();
        waits.abort();
        sweeper.abort();
        scheduler.abort();
        if let Some(search) = search {
            search.indexer.stop().await;
        }
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
