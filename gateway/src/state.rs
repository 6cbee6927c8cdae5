//! What every handler can reach: the application layer, plus what only the server needs
//! (metrics rendering, the shutdown signal).

use std::sync::Arc;

use fleetlog_commands::app::App;
use metrics_exporter_prometheus::PrometheusHandle;

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
    /// The application layer: every command and query goes through it.
    pub app: App,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Cancelled when the server begins to stop, so that endless responses (event streams)
    /// end and the graceful shutdown can finish.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// Handlers reach the application's parts directly (`state.read_models`, `state.storage`).
impl std::ops::Deref for AppStateInner {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

/// The application behind the state, for tasks that hold the state (process managers).
impl AsRef<App> for AppState {
    fn as_ref(&self) -> &App {
        &self.0.app
    }
}
