//! Liveness, readiness and metrics endpoints for operators and orchestrators.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Json, Router};

use crate::state::AppState;

/// `/healthz`, `/readyz`, `/metrics`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving HTTP.
async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// NATS is connected and every read model has caught up with the log: safe to send traffic.
/// Each model's lag is measured now, against the stream's last sequence: a model's own figure
/// dates from its last batch and reads 0 right after a write it has not seen yet.
///
/// With `--opensearch-url`, the OpenSearch indexer is listed as model `search` with its lag,
/// but does not make the server unready: only reporting depends on it.
async fn readyz(
    State(state): State<AppState>,
    search: Option<Extension<super::reporting::SearchStatus>>,
) -> impl IntoResponse {
    let nats = state.nats_connected();
    let last = if nats { state.store().last_seq().await.ok() } else { None };
    let mut behind = false;
    let mut models: serde_json::Map<String, serde_json::Value> = state
        .read_models
        .models()
        .map(|m| {
            let position = m.position();
            let lag = last.map(|last| last.saturating_sub(position));
            behind |= lag != Some(0);
            let v = serde_json::json!({ "position": position, "lag": lag, "failed": m.failed() });
            (m.name().to_owned(), v)
        })
        .collect();
    if let Some(Extension(super::reporting::SearchStatus(status))) = search {
        let position = status.position();
        let lag = last.map(|last| last.saturating_sub(position));
        let v = serde_json::json!({ "position": position, "lag": lag, "failed": status.failing() });
        models.insert(fleetlog_projections::reporting::opensearch::SEARCH_MODEL.to_owned(), v);
    }
    let ready = nats && !behind && state.read_models.caught_up();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    // Process managers' lag is shown but does not make the server unready: a webhook receiver
    // that is down must not take the API out of a load balancer.
    let processes = state.processes.snapshot();
    let body = serde_json::json!({
        "status": if ready { "ok" } else { "not ready" }, "nats": nats, "read_models": models,
        "processes": processes,
    });
    // Not an error in Mender's sense: keep the detailed body even for 503.
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body))
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
