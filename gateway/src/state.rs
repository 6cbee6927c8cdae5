//! What every handler can reach: the command side, the read models, settings.

use std::sync::Arc;
use std::time::Duration;

use fleetlog_commands::CommandService;
use fleetlog_projections::ProjectionHost;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::http::ApiError;

/// Shared state of the gateway: one pointer, so that handing it to every request (axum clones
/// the state per request) costs one reference count, not a clone of each part.
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: AppStateInner) -> AppState {
        AppState(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppStateInner {
    /// Runs commands against aggregates.
    pub commands: CommandService,
    /// The local read models.
    pub read_models: Arc<ProjectionHost>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// How long a write waits for the read models to show it.
    pub read_your_writes: Duration,
    /// Signs and verifies user and device tokens.
    pub jwt: Arc<crate::auth::jwt::JwtKeys>,
    /// Device tokens whose signature was already verified.
    pub device_tokens: Arc<crate::auth::cache::TokenCache>,
    /// Where artifacts are stored.
    pub storage: fleetlog_storage::Store,
    /// Signs links to generated configuration artifacts.
    pub config_links: Arc<fleetlog_storage::LinkSigner>,
    /// Largest artifact an upload may send, in bytes.
    pub max_artifact_bytes: u64,
    /// Which device keys are accepted (`--min-rsa-bits`, `--allow-ecdsa-p224`).
    pub key_policy: crate::auth::signature::KeyPolicy,
    /// How long a direct upload may take before it is abandoned.
    pub direct_upload_expiry: std::time::Duration,
    /// Cancelled when the server begins to stop, so that endless responses (event streams)
    /// end and the graceful shutdown can finish.
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl AppStateInner {
    /// A read model (every [`fleetlog_projections::Model`] has its projection in
    /// `app::projections`, which a test checks).
    pub fn model(
        &self,
        model: fleetlog_projections::Model,
    ) -> Result<Arc<fleetlog_projections::ReadModel>, ApiError> {
        let name = model.name();
        self.read_models.model(name).ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no {name} model")))
    }

    /// True while the NATS connection is up.
    pub fn nats_connected(&self) -> bool {
        self.commands.store().client().connection_state() == async_nats::connection::State::Connected
    }

    /// Waits until the local read models show position `seq`, so that a client that writes and
    /// then reads sees its write. The write itself has happened either way; a timeout is 503.
    pub async fn seen(&self, seq: u64) -> Result<(), ApiError> {
        if self.read_models.wait_for(seq, self.read_your_writes).await {
            Ok(())
        } else {
            Err(ApiError::Unavailable(anyhow::anyhow!("read models did not reach {seq} in time")))
        }
    }
}
