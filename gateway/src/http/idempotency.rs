//! `Idempotency-Key` on creating requests: a retry after an unknown outcome (a 503, a lost
//! connection) gets the first outcome instead of a second object. The key and the caller name
//! the request; from them come both the new object's id and the command id, and the command
//! loop stores a command id at most once (a repeat answers with its first position).

use super::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The header.
pub const HEADER: &str = "idempotency-key";

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The request's `Idempotency-Key`, if it sent one (validated: 1..=255 printable ASCII).
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let Some(value) = values.next() else { return Ok(IdempotencyKey(None)) };
        if values.next().is_some() {
            return Err(ApiError::BadRequest("give one Idempotency-Key header".into()));
        }
        let key = value.as_bytes();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters"
            )));
        }
        Ok(IdempotencyKey(Some(String::from_utf8_lossy(key).into_owned())))
    }
}

impl IdempotencyKey {
    /// A key for tests and tools that build requests in code.
    pub fn new(key: Option<&str>) -> Self {
        IdempotencyKey(key.map(str::to_owned))
    }

    /// The key, if the request sent one (the application derives ids from it:
    /// `Caller::creating`).
    pub fn value(&self) -> Option<&str> {
        self.0.as_deref()
    }
}
