//! Mender's reporting API (`/api/management/v1/reporting`): device and device-deployment
//! searches and aggregations, and the filterable attributes. The queries, their checks and both
//! backends live in `fleetlog_projections::reporting`; this module only picks the backend (the
//! OpenSearch one when the server was given `--opensearch-url`, else the local read models)
//! and maps answers and errors to HTTP.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use fleetlog_projections::Model;
use fleetlog_projections::reporting::opensearch::{IndexerStatus, OpenSearchBackend};
use fleetlog_projections::reporting::query::{AggregateBody, Kind, SearchBody};
use fleetlog_projections::reporting::{
    AggregationResult, Backend, Embedded, Page, ReportingError, attributes_usage, sort_attribute_counts,
};

use super::json::AppJson;
use super::{ApiError, UserAuth};
use crate::DEFAULT_TENANT;
use crate::state::AppState;

/// The reporting routes.
pub fn router() -> Router<AppState> {
    let base = "/api/management/v1/reporting";
    Router::new()
        .route(&format!("{base}/devices/search"), post(search_devices))
        .route(&format!("{base}/devices/aggregate"), post(aggregate_devices))
        .route(&format!("{base}/devices/attributes"), get(attributes))
        .route(&format!("{base}/devices/search/attributes"), get(search_attributes))
        .route(&format!("{base}/deployments/devices/search"), post(search_deployments))
        .route(&format!("{base}/deployments/devices/aggregate"), post(aggregate_deployments))
}

/// The OpenSearch backend, when configured: added to the router as an extension at start.
#[derive(Clone)]
pub struct ExternalBackend(pub Arc<Backend>);

/// The OpenSearch indexer's progress, for `/readyz`.
#[derive(Clone)]
pub struct SearchStatus(pub Arc<IndexerStatus>);

/// `router` answering reporting from OpenSearch, and showing the indexer in `/readyz`.
pub fn with_backend(router: Router, backend: OpenSearchBackend, status: Arc<IndexerStatus>) -> Router {
    router
        .layer(Extension(ExternalBackend(Arc::new(Backend::OpenSearch(Box::new(backend))))))
        .layer(Extension(SearchStatus(status)))
}

/// The backend of this request.
struct Reporting(Backend);

impl FromRequestParts<AppState> for Reporting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let external =
            <Extension<ExternalBackend> as OptionalFromRequestParts<AppState>>::from_request_parts(
                parts, state,
            )
            .await
            .ok()
            .flatten();
        if let Some(Extension(ExternalBackend(backend))) = external {
            return Ok(Reporting(backend.as_ref().clone()));
        }
        let embedded = Embedded::new(state.model(Model::Inventory)?, state.model(Model::Deployments)?);
        Ok(Reporting(Backend::Embedded(embedded)))
    }
}

/// A reporting failure as an HTTP answer: 400 for an invalid query, 503 (saying so) when the
/// backend is down, 500 otherwise.
struct Failure(ReportingError);

impl From<ReportingError> for Failure {
    fn from(e: ReportingError) -> Self {
        Failure(e)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self.0 {
            ReportingError::Invalid(msg) => ApiError::BadRequest(msg).into_response(),
            e @ ReportingError::Unavailable(_) => {
                tracing::warn!(error = %e, "reporting backend unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": e.to_string() })))
                    .into_response()
            }
            e => ApiError::Internal(e.into()).into_response(),
        }
    }
}

fn page_response(page: Page) -> Response {
    ([("x-total-count", page.total.to_string())], Json(page.items)).into_response()
}

async fn search_devices(
    _user: UserAuth,
    Reporting(backend): Reporting,
    AppJson(body): AppJson<SearchBody>,
) -> Result<Response, Failure> {
    let search = body.check(Kind::Devices)?;
    Ok(page_response(backend.search_devices(DEFAULT_TENANT, &search).await?))
}

async fn aggregate_devices(
    _user: UserAuth,
    Reporting(backend): Reporting,
    AppJson(body): AppJson<AggregateBody>,
) -> Result<Json<Vec<AggregationResult>>, Failure> {
    let aggregate = body.check(Kind::Devices)?;
    Ok(Json(backend.aggregate_devices(DEFAULT_TENANT, &aggregate).await?))
}

async fn search_deployments(
    _user: UserAuth,
    Reporting(backend): Reporting,
    AppJson(body): AppJson<SearchBody>,
) -> Result<Response, Failure> {
    let search = body.check(Kind::Deployments)?;
    Ok(page_response(backend.search_deployments(DEFAULT_TENANT, &search).await?))
}

async fn aggregate_deployments(
    _user: UserAuth,
    Reporting(backend): Reporting,
    AppJson(body): AppJson<AggregateBody>,
) -> Result<Json<Vec<AggregationResult>>, Failure> {
    let aggregate = body.check(Kind::Deployments)?;
    Ok(Json(backend.aggregate_deployments(DEFAULT_TENANT, &aggregate).await?))
}

/// `{attributes: [{name, scope}], count, limit}`.
async fn attributes(
    _user: UserAuth,
    Reporting(backend): Reporting,
) -> Result<Json<serde_json::Value>, Failure> {
    Ok(Json(attributes_usage(backend.attribute_counts(DEFAULT_TENANT).await?)))
}

/// `[{name, scope, count}]`, most common first.
async fn search_attributes(
    _user: UserAuth,
    Reporting(backend): Reporting,
) -> Result<Json<serde_json::Value>, Failure> {
    let mut counts = backend.attribute_counts(DEFAULT_TENANT).await?;
    sort_attribute_counts(&mut counts);
    Ok(Json(serde_json::to_value(counts).unwrap_or_default()))
}
