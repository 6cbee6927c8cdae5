//! Artifact downloads from the local store: links signed by the server (expiring, HMAC), no
//! token, `Content-Length` always, `Range` answered with 206 — what the Mender client needs to
//! download and resume.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fleetlog_storage::{RangeSpec, StoreError, content_disposition};

use super::ApiError;
use crate::state::AppState;

/// Where local downloads are served; links are `{public url}{DOWNLOAD_ROUTE}/{key}?...`.
pub const DOWNLOAD_ROUTE: &str = "/api/devices/v1/deployments/download";

/// The download route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{DOWNLOAD_ROUTE}/artifacts/{{*key}}"), get(download))
        .route(&format!("{DOWNLOAD_ROUTE}/configuration/{{*key}}"), get(configuration))
}

async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Stored artifacts live under `artifacts/`, which is also the route's last segment.
    let key = format!("artifacts/{key}");
    let signer = state.storage.link_signer().ok_or_else(|| ApiError::NotFound("not found".into()))?;
    let link = signer
        .verify(&key, query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::Forbidden(format!("invalid download link: {e}")))?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(RangeSpec::parse);
    match state.storage.get(&key, range).await {
        Ok(object) => {
            let status = if object.range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
            let mut response = Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, "application/vnd.mender-artifact")
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::CONTENT_LENGTH, object.content_length());
            if let Some(range) = object.range {
                response = response.header(header::CONTENT_RANGE, range.content_range(object.size));
            }
            if let Some(name) = &link.file_name {
                response = response.header(header::CONTENT_DISPOSITION, content_disposition(name));
            }
            response.body(Body::from_stream(object.body)).map_err(|e| ApiError::Internal(e.into()))
        }
        Err(StoreError::NotFound(_)) => Err(ApiError::NotFound("artifact file not found".into())),
        Err(StoreError::RangeNotSatisfiable { size }) => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, fleetlog_storage::range::unsatisfied_content_range(size))],
        )
            .into_response()),
        Err(e) => Err(ApiError::Unavailable(e.into())),
    }
}

/// A generated configuration artifact, behind a link signed by `next`.
async fn configuration(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    state
        .config_links
        .verify(&key, query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::Forbidden(format!("invalid download link: {e}")))?;
    let bytes = crate::app::devconfig::artifact(&state, &key)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/vnd.mender-artifact".to_owned()),
            (header::CONTENT_LENGTH, bytes.len().to_string()),
        ],
        bytes,
    )
        .into_response())
}
