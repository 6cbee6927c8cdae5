//! The HTTP surface: one router per API area, merged in [`app`], and the layers around them.

mod artifacts;
mod artifacts_generate;
mod auditlogs;
mod auth;
pub mod connect;
mod deployment_devices;
mod deployments;
mod deployments_device;
mod deployments_history;
mod deployments_list;
mod deployments_rollout;
mod devauth;
mod devauth_search;
mod device_mtls;
mod deviceconfig;
mod devicemonitor;
mod direct_upload;
mod download;
mod error;
mod events;
mod health;
pub mod idempotency;
mod inventory;
mod inventory_groups;
mod inventory_identities;
mod inventory_search;
mod inventory_stats;
mod iot_manager;
pub mod json;
mod json_body;
mod metrics;
pub mod redirect;
mod releases;
pub mod reporting;
mod request_id;
pub mod serve;
mod sessions;
mod settings;
mod software;
mod useradm;
mod useradm_filter;
mod useradm_plans;

pub use auth::{DeviceAuth, UserAuth};
pub use download::DOWNLOAD_ROUTE;
pub use error::ApiError;
pub use metrics::handle as metrics_handle;
pub use request_id::{REQUEST_ID, RequestId};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole gateway: every API router, wrapped in [`with_layers`].
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    let routes = Router::new()
        .merge(health::router())
        .merge(useradm::router())
        .merge(useradm_plans::router())
        .merge(iot_manager::router())
        .merge(devicemonitor::router())
        .merge(inventory_stats::router())
        .merge(sessions::router())
        .merge(settings::router())
        .merge(events::router())
        .merge(auditlogs::router())
        .merge(inventory::router())
        .merge(inventory_search::router())
        .merge(inventory_groups::router())
        .merge(inventory_identities::router())
        .merge(deployments::router())
        .merge(deployments_device::router())
        .merge(artifacts::router())
        .merge(releases::router())
        .merge(deployments_history::router())
        .merge(direct_upload::router())
        .merge(software::router())
        .merge(download::router())
        .merge(deviceconfig::router())
        .merge(connect::router())
        .merge(reporting::router())
        .merge(devauth::router());
    with_layers(routes, max_body_bytes).with_state(state)
}

/// The layers every route gets: request ids, Mender's error format, body limits, tracing and
/// latency metrics, plus a 404 in Mender's format for unknown paths.
pub fn with_layers<S: Clone + Send + Sync + 'static>(routes: Router<S>, max_body_bytes: usize) -> Router<S> {
    routes
        .route_layer(from_fn(metrics::track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), uri = %req.uri().path(), request_id = %id)
        }))
        .layer(from_fn(request_id::request_id))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}
