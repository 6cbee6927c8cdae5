//! Who is calling: `UserAuth` for the management API, `DeviceAuth` for the device API. Both
//! check the token's signature and expiry, then the read models, so a deleted user or a
//! rejected or decommissioned device loses access as soon as the change is applied (on every
//! replica, since each applies the same log).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use fleetlog_commands::app::{Caller, DEFAULT_TENANT, DeviceCaller};
use fleetlog_projections::users::UsersQueries;

use super::{ApiError, RequestId};
use crate::app::devices::devices;
use crate::auth::jwt::Claims;
use crate::state::AppState;

/// An authenticated management user.
#[derive(Debug, Clone)]
pub struct UserAuth {
    /// User id.
    pub id: String,
    /// The user's e-mail.
    pub email: String,
    /// The id of the presented token (for logout).
    pub jti: String,
    /// The caller the application layer sees: tenant, the user as actor, the request id.
    pub caller: Caller,
}

impl UserAuth {
    /// The user's tenant, from the token.
    pub fn tenant(&self) -> &str {
        &self.caller.tenant
    }
}

/// An authenticated, accepted device: the verified claims of its token, shared with the token
/// cache (no copy on the polling path).
#[derive(Debug, Clone)]
pub struct DeviceAuth(std::sync::Arc<Claims>);

impl DeviceAuth {
    /// Device id.
    pub fn device_id(&self) -> &str {
        &self.0.sub
    }

    /// The accepted auth set the token was issued for.
    pub fn auth_set_id(&self) -> &str {
        &self.0.jti
    }

    /// The device's tenant, from its token.
    pub fn tenant(&self) -> &str {
        tenant_of(&self.0)
    }

    /// The caller for a command this device's request runs; built only then, so the polling
    /// path allocates nothing for it.
    pub fn caller(&self, request_id: &str) -> Caller {
        self.borrowed(request_id).caller()
    }

    /// The caller, borrowed from the token (the polling path).
    pub fn borrowed<'a>(&'a self, request_id: &'a str) -> DeviceCaller<'a> {
        DeviceCaller { tenant: self.tenant(), device: self.device_id(), request_id }
    }
}

/// A token's tenant: single-tenant installations sign tokens without one.
fn tenant_of(claims: &Claims) -> &str {
    if claims.tenant.is_empty() { DEFAULT_TENANT } else { &claims.tenant }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("Authorization not present in header".into()))
}

fn bearer_claims(parts: &Parts, state: &AppState) -> Result<Claims, ApiError> {
    let now = fleetlog_commands::now().unix_seconds();
    state.jwt.verify(bearer(parts)?, now).map_err(|e| ApiError::Unauthorized(e.to_string()))
}

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims = bearer_claims(parts, state)?;
        if !claims.user {
            return Err(ApiError::Unauthorized("not a user token".into()));
        }
        let model = state.model(fleetlog_projections::Model::Users)?;
        let users = UsersQueries(&model);
        let tenant = tenant_of(&claims);
        let user =
            users.get(tenant, &claims.sub)?.ok_or_else(|| ApiError::Unauthorized("user not found".into()))?;
        if users.is_revoked(tenant, &claims.jti)? {
            return Err(ApiError::Unauthorized("token revoked".into()));
        }
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.as_str()).unwrap_or_default();
        let caller = Caller::user(tenant, &user.id, &user.email, request_id);
        Ok(UserAuth { id: user.id, email: user.email, jti: claims.jti, caller })
    }
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    /// The device API's hot path: a cache hit costs a map lookup, an expiry check and one sled
    /// key lookup; the signature is verified once per token.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let now = fleetlog_commands::now().unix_seconds();
        let claims = match state.device_tokens.get(token) {
            Some(c) if c.exp > now => c,
            Some(_) => return Err(ApiError::Unauthorized("token expired".into())),
            None => {
                let c = state.jwt.verify(token, now).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
                if !c.device {
                    return Err(ApiError::Unauthorized("not a device token".into()));
                }
                let c = std::sync::Arc::new(c);
                state.device_tokens.insert(token, c.clone());
                c
            }
        };
        // Admission is read on every request, so rejecting or decommissioning a device takes
        // effect as soon as the change is applied here.
        let valid = devices(state, |q| {
            q.token_valid(tenant_of(&claims), &claims.sub, &claims.jti, claims.epoch, claims.iat)
        })?;
        if !valid {
            return Err(ApiError::Unauthorized("device not accepted".into()));
        }
        Ok(DeviceAuth(claims))
    }
}
