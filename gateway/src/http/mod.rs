//! The HTTP surface: one router per API area, merged in [`app`], and the layers around them.

mod error;
mod health;
mod metrics;
mod request_id;

pub use error::ApiError;
pub use metrics::handle as metrics_handle;
pub use request_id::{REQUEST_ID, RequestId};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn;
use tower_http::trace::TraceLayer;

use crate::state::AppState;

/// The whole gateway: every router and the layers that give all of them request ids, Mender's
/// error format, body limits, tracing and latency metrics.
pub fn app(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(health::router())
        .route_layer(from_fn(metrics::track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), uri = %req.uri().path(), request_id = %id)
        }))
        .layer(from_fn(request_id::request_id))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}
