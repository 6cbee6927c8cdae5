//! Direct upload routes: request a link (`{id, uri, expire}`), complete the upload (202), and,
//! for the local store, the signed link's `PUT` that receives the file.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{post, put};
use futures::StreamExt;
use serde_json::{Value, json};

use super::download::DOWNLOAD_ROUTE;
use super::json::rfc3339;
use super::{ApiError, UserAuth};
use crate::app::direct_upload as svc;
use crate::state::AppState;

const BASE: &str = "/api/management/v1/deployments/artifacts/directupload";

/// The direct upload routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(BASE, post(request))
        .route(&format!("{BASE}/{{id}}/complete"), post(complete))
        .route(&format!("{DOWNLOAD_ROUTE}/uploads/{{*key}}"), put(receive).layer(DefaultBodyLimit::disable()))
}

async fn request(State(state): State<AppState>, user: UserAuth) -> Result<Json<Value>, ApiError> {
    let (id, uri, expires_at) = svc::request(&state, &user.caller).await?;
    Ok(Json(json!({ "id": id, "uri": uri, "expire": rfc3339(expires_at) })))
}

/// 202 as in Mender; the optional metadata body is not needed, since the file is always
/// parsed and checked here.
async fn complete(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    svc::complete(&state, &user.caller, &id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT` of the file to a local upload link: the link must be an upload link, the upload
/// still pending, and the file within the artifact size limit.
async fn receive(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let key = format!("uploads/{key}");
    let signer = state.storage.link_signer().ok_or_else(|| ApiError::NotFound("not found".into()))?;
    let link = signer
        .verify(&key, query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::Forbidden(format!("invalid upload link: {e}")))?;
    if link.file_name.as_deref() != Some(fleetlog_storage::UPLOAD_LINK_MARK) {
        return Err(ApiError::Forbidden("not an upload link".into()));
    }
    let id = svc::id_of_key(&key).ok_or_else(|| ApiError::Forbidden("not an upload link".into()))?;
    // A completed or abandoned upload takes no more bytes (its link may not have expired).
    svc::pending(&state, id).map_err(|_| ApiError::Conflict("the upload is no longer pending".into()))?;
    let max = state.max_artifact_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|n: u64| n > max) {
        return Err(ApiError::TooLarge);
    }
    let too_large = Arc::new(AtomicBool::new(false));
    let mut seen = 0u64;
    let cut = too_large.clone();
    let limited = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > max {
            cut.store(true, Ordering::Relaxed);
            return Err(io::Error::new(io::ErrorKind::InvalidData, "artifact too large"));
        }
        Ok(chunk)
    });
    match state.storage.put_stream(&key, limited, declared).await {
        Ok(_) => Ok(StatusCode::OK),
        Err(_) if too_large.load(Ordering::Relaxed) => Err(ApiError::TooLarge),
        Err(e) if e.is_client_error() => Err(ApiError::BadRequest(e.to_string())),
        Err(e) => Err(ApiError::Unavailable(e.into())),
    }
}
