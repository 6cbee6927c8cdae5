//! One error type for every handler, rendered in Mender's error format.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fleetlog_commands::StoreError;
use fleetlog_commands::app::AppError;

/// An error a handler returns. 4xx variants carry the message the client sees; 5xx bodies are
/// opaque and the cause is logged once.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 422: well-formed but refused (Mender's useradm uses it for duplicates and weak passwords).
    #[error("{0}")]
    Unprocessable(String),
    /// 409: conflicts with the current state (or concurrent writers kept winning).
    #[error("{0}")]
    Conflict(String),
    /// 412: an `If-Match` precondition failed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the body is over the limit.
    #[error("request body too large")]
    TooLarge,
    /// 413: what the request would store is over what the log takes in one event.
    #[error("request too large to store: {0}")]
    TooLargeToStore(String),
    /// 415: the body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 408: a device did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// 502: a device cannot do what was asked (e.g. file transfer disabled on it). The text is
    /// shown: it is the device's answer, not an internal detail.
    #[error("{0}")]
    BadGateway(String),
    /// 503: the log is unreachable; the client may retry.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 503: the change was sent to the log but not confirmed: it may or may not be stored.
    #[error(
        "the outcome is unknown: the change may or may not have been stored; retry with the same \
         Idempotency-Key header to get its outcome without a duplicate"
    )]
    OutcomeUnknown(#[source] anyhow::Error),
    /// 500: a bug or an unexpected failure.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The status code of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::TooLarge | ApiError::TooLargeToStore(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) | ApiError::OutcomeUnknown(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        }
        // The request-id middleware adds "request_id" to every error body.
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

/// The one place an application error becomes a status: each kind to its HTTP code.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(text) => ApiError::BadRequest(text),
            AppError::Unauthorized(text) => ApiError::Unauthorized(text),
            AppError::Forbidden(text) => ApiError::Forbidden(text),
            AppError::NotFound(text) => ApiError::NotFound(text),
            AppError::Refused(text) => ApiError::Unprocessable(text),
            AppError::Conflict(text) => ApiError::Conflict(text),
            AppError::Taken { .. } => ApiError::Conflict("already exists".into()),
            AppError::PreconditionFailed(text) => ApiError::PreconditionFailed(text),
            AppError::TooLarge => ApiError::TooLarge,
            AppError::TooLargeToStore(text) => ApiError::TooLargeToStore(text),
            AppError::Timeout(text) => ApiError::Timeout(text),
            AppError::DeviceRefused(text) => ApiError::BadGateway(text),
            AppError::Unavailable(cause) => ApiError::Unavailable(cause),
            AppError::OutcomeUnknown(cause) => ApiError::OutcomeUnknown(cause),
            AppError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl From<fleetlog_projections::ProjectionError> for ApiError {
    fn from(e: fleetlog_projections::ProjectionError) -> Self {
        AppError::from(e).into()
    }
}

impl From<fleetlog_projections::QueryError> for ApiError {
    fn from(e: fleetlog_projections::QueryError) -> Self {
        AppError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_outcome_is_a_503_that_says_to_retry_with_the_same_key() {
        let e: ApiError = StoreError::OutcomeUnknown("request timed out".into()).into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = e.to_string();
        assert!(text.contains("outcome is unknown") && text.contains("Idempotency-Key"), "{text}");
        let e: ApiError = StoreError::Unavailable("no responders".into()).into();
        assert_eq!(e.to_string(), "service unavailable");
    }

    #[test]
    fn each_application_error_kind_has_its_status() {
        let cause = || anyhow::anyhow!("cause");
        let cases: Vec<(AppError, StatusCode)> = vec![
            (AppError::Invalid("x".into()), StatusCode::BAD_REQUEST),
            (AppError::Unauthorized("x".into()), StatusCode::UNAUTHORIZED),
            (AppError::Forbidden("x".into()), StatusCode::FORBIDDEN),
            (AppError::NotFound("x".into()), StatusCode::NOT_FOUND),
            (AppError::Refused("x".into()), StatusCode::UNPROCESSABLE_ENTITY),
            (AppError::Conflict("x".into()), StatusCode::CONFLICT),
            (AppError::Taken { holder: "h".into() }, StatusCode::CONFLICT),
            (AppError::PreconditionFailed("x".into()), StatusCode::PRECONDITION_FAILED),
            (AppError::TooLarge, StatusCode::PAYLOAD_TOO_LARGE),
            (AppError::TooLargeToStore("x".into()), StatusCode::PAYLOAD_TOO_LARGE),
            (AppError::Timeout("x".into()), StatusCode::REQUEST_TIMEOUT),
            (AppError::DeviceRefused("x".into()), StatusCode::BAD_GATEWAY),
            (AppError::Unavailable(cause()), StatusCode::SERVICE_UNAVAILABLE),
            (AppError::OutcomeUnknown(cause()), StatusCode::SERVICE_UNAVAILABLE),
            (AppError::Internal(cause()), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (e, status) in cases {
            let shown = e.to_string();
            let client = e.is_client_error();
            let api = ApiError::from(e);
            assert_eq!(api.status(), status, "{shown}");
            assert_eq!(client, status.is_client_error(), "{shown}");
            if client {
                assert_eq!(api.to_string(), shown, "the client sees the application's text");
            }
        }
    }

    #[test]
    fn a_taken_holder_is_never_shown() {
        let e: ApiError = AppError::Taken { holder: "secret-id".into() }.into();
        assert!(!e.to_string().contains("secret-id"));
    }
}
