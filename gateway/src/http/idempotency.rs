//! `Idempotency-Key` on creating requests: a retry after an unknown outcome (a 503, a lost
//! connection) gets the first outcome instead of a second object. The key and the caller name
//! the request; from them come both the new object's id and the command id, and the command
//! loop stores a command id at most once (a repeat answers with its first position).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use fleetlog_commands::CommandMeta;
use sha2::{Digest as _, Sha256};

use super::{ApiError, UserAuth};

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

    /// The command metadata and the new object's id for a creating request of `what` (e.g.
    /// "deployment") by `user`: derived from the key when there is one, fresh otherwise.
    pub fn ids(&self, user: &UserAuth, what: &str) -> (CommandMeta, String) {
        let mut meta = user.meta();
        let Some(key) = &self.0 else { return (meta, uuid::Uuid::new_v4().to_string()) };
        // Length-prefixed fields: no two (tenant, user, what, key) name the same request.
        let name: String = [meta.tenant.as_str(), user.id.as_str(), what, key.as_str()]
            .iter()
            .map(|f| format!("{}:{f};", f.len()))
            .collect();
        meta.command_id = derived("command", &name);
        (meta, derived("object", &name))
    }
}

/// A UUID (version 8, RFC 9562) from SHA-256 over `purpose` and `name`.
fn derived(purpose: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("fleetlog idempotency {purpose} {name}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserAuth {
        UserAuth { id: id.into(), email: "a@b.co".into(), jti: "j".into(), request_id: "r".into() }
    }

    #[test]
    fn one_key_names_one_request_per_caller_and_kind() {
        let key = IdempotencyKey::new(Some("k-1"));
        let (m1, id1) = key.ids(&user("u1"), "deployment");
        let (m2, id2) = key.ids(&user("u1"), "deployment");
        assert_eq!((&m1.command_id, &id1), (&m2.command_id, &id2), "a retry: same ids");
        assert_ne!(m1.command_id, id1);
        assert_ne!(key.ids(&user("u2"), "deployment").1, id1, "another caller");
        assert_ne!(key.ids(&user("u1"), "user").1, id1, "another kind of object");
        assert_ne!(IdempotencyKey::new(Some("k-2")).ids(&user("u1"), "deployment").1, id1);
        let (m3, id3) = IdempotencyKey::default().ids(&user("u1"), "deployment");
        assert_ne!((m3.command_id, id3), (m1.command_id, id1), "no key: fresh ids");
    }
}
