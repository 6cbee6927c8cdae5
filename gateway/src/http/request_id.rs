//! `X-MEN-RequestID` on every response, and Mender's error body on every error response.
//!
//! Errors come from our handlers, from axum's extractors (bad JSON, body too large), from the
//! router (404, 405) and from layers; rewriting them here gives all of them one format:
//! `{"error": "...", "request_id": "..."}`.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request id header Mender's clients and services use.
pub const REQUEST_ID: &str = "x-men-requestid";

/// The request id of the current request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Largest sum of header names and values a request may have. hyper reads heads up to 1 MiB
/// (see `serve`), so a larger header than this is answered here, in Mender's format.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Error bodies are small; anything larger is replaced rather than buffered.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Echoes or generates the request id and normalises error bodies.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(v) = HeaderValue::from_str(&id) {
        // Inner layers (the trace span) read it from the header.
        req.headers_mut().insert(REQUEST_ID, v);
    }
    req.extensions_mut().insert(RequestId(id.clone()));
    let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    let mut res = if header_bytes > MAX_HEADER_BYTES {
        let error = format!("request header fields too large (at most {MAX_HEADER_BYTES} bytes)");
        (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, axum::Json(serde_json::json!({ "error": error })))
            .into_response()
    } else {
        next.run(req).await
    };
    if res.status().is_client_error() || res.status().is_server_error() {
        res = mender_error_body(res, &id).await;
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

async fn mender_error_body(res: Response, id: &str) -> Response {
    let (mut parts, body) = res.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let mut json = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v @ serde_json::Value::Object(_)) if v.get("error").is_some() => v,
        // A JSON document that is not an error: deviceauth's 409 carries the existing device,
        // `/readyz`'s 503 each read model's position and lag (our handlers only; their 5xx
        // errors carry "error" and are opaque).
        Ok(serde_json::Value::Object(_)) => {
            return Response::from_parts(parts, Body::from(bytes));
        }
        _ => {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            let text = if text.is_empty() || parts.status.is_server_error() {
                parts.status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            };
            serde_json::json!({ "error": text })
        }
    };
    json["request_id"] = serde_json::Value::String(id.to_owned());
    let body = serde_json::to_vec(&json).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
