//! Device authentication (Mender's deviceauth): auth requests, admission, decommissioning.

use fleetlog_commands::{CommandError, CommandMeta, Outcome};
use fleetlog_events::device::{AuthSetStatus, Device, DeviceCommand, DeviceError};
use fleetlog_projections::devices::{DeviceView, DevicesQueries};
use serde::Deserialize;

use crate::auth::jwt::Claims;
use crate::auth::signature::parse_public_key_with;
use crate::http::ApiError;
use crate::state::AppState;

/// How long a device token lives (Mender's default: one week).
pub const DEVICE_TOKEN_SECONDS: i64 = 7 * 24 * 3600;

/// The body of `POST /api/devices/v1/authentication/auth_requests`.
#[derive(Debug, Deserialize)]
struct AuthRequest {
    id_data: String,
    pubkey: String,
    #[serde(default)]
    #[allow(dead_code)]
    tenant_token: String,
}

/// Identity attributes in canonical form (keys sorted, no spaces): the device's identity.
pub fn canonical_identity(id_data: &str) -> Result<String, ApiError> {
    match serde_json::from_str::<serde_json::Value>(id_data) {
        // serde_json's maps are ordered by key, so re-serialising sorts them as Mender does.
        Ok(v @ serde_json::Value::Object(_)) if v.as_object().is_some_and(|o| !o.is_empty()) => {
            Ok(v.to_string())
        }
        _ => Err(ApiError::BadRequest("id_data must be a non-empty JSON object".into())),
    }
}

/// Handles one device auth request: verify, record (the first request creates the device),
/// and answer with a token once the device's key is accepted.
pub async fn auth_request(
    state: &AppState,
    body: &[u8],
    signature: Option<&str>,
    request_id: &str,
) -> Result<String, ApiError> {
    let req: AuthRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid auth request: {e}")))?;
    let signature =
        signature.ok_or_else(|| ApiError::BadRequest("missing request signature header".into()))?;
    let identity = canonical_identity(&req.id_data)?;
    let key = parse_public_key_with(&req.pubkey, &state.key_policy)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // Verified before anything is stored: an unverified request never reaches the log.
    key.verify(body, signature)
        .map_err(|_| ApiError::Unauthorized("signature verification failed".into()))?;
    let pubkey = key.to_canonical_pem();

    let tenant = crate::DEFAULT_TENANT;
    let claim = super::claim_id("identity", &identity);
    let mut device_id = match state.commands.claim_holder(tenant, &claim).await? {
        Some(holder) => holder,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let command = DeviceCommand::SubmitAuthSet {
        auth_set_id: uuid::Uuid::new_v4().to_string(),
        identity_data: identity,
        pubkey: pubkey.clone(),
    };
    let meta =
        |actor_id: &str| CommandMeta::new(tenant, fleetlog_events::Actor::device(actor_id), request_id);
    let outcome = loop {
        match state.commands.execute_claiming::<Device>(&meta(&device_id), &device_id, &command, &claim).await
        {
            Ok(o) => break o,
            // Another request created this identity's device first: join it.
            Err(CommandError::Taken { holder }) if holder != device_id => device_id = holder,
            Err(e) => return Err(e.into()),
        }
    };
    state.seen(outcome.position).await?;

    let device = devices(state, |q| q.get(tenant, &device_id))?.ok_or_else(unauthorized)?;
    let set = device.auth_sets.iter().find(|a| a.pubkey == pubkey).ok_or_else(unauthorized)?;
    if set.status != AuthSetStatus::Accepted {
        return Err(unauthorized());
    }
    let now = fleetlog_commands::now().unix_seconds();
    let claims = Claims {
        jti: set.id.clone(),
        sub: device_id,
        iat: now,
        exp: now + DEVICE_TOKEN_SECONDS,
        iss: "fleetlog".into(),
        device: true,
        user: false,
        tenant: String::new(),
        // The admission this token belongs to: a later reject, re-accept or revoke ends it.
        epoch: Some(set.token_epoch),
    };
    Ok(state.jwt.sign(&claims))
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("unauthorized".into())
}

/// Runs a query on the devices read model.
pub fn devices<T>(
    state: &AppState,
    f: impl FnOnce(&DevicesQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, ApiError> {
    let model = state.model(fleetlog_projections::Model::Devices)?;
    Ok(f(&DevicesQueries(&model))?)
}

/// Sets an auth set's status from the management API (`accepted` or `rejected`).
pub async fn set_auth_status(
    state: &AppState,
    meta: &CommandMeta,
    device_id: &str,
    auth_set_id: &str,
    status: &str,
) -> Result<Outcome, ApiError> {
    let command = match status {
        "accepted" => DeviceCommand::AcceptAuthSet { auth_set_id: auth_set_id.into() },
        "rejected" => DeviceCommand::RejectAuthSet { auth_set_id: auth_set_id.into() },
        "pending" => DeviceCommand::SetPending { auth_set_id: auth_set_id.into() },
        other => {
            let msg = format!("invalid status {other:?}: use accepted, rejected or pending");
            return Err(ApiError::BadRequest(msg));
        }
    };
    Ok(state.commands.execute::<Device>(meta, device_id, &command).await?)
}

/// Decommissions a device and frees its identity for a new device.
pub async fn decommission(
    state: &AppState,
    meta: &CommandMeta,
    device: &DeviceView,
) -> Result<Outcome, ApiError> {
    let claim = super::claim_id("identity", &device.identity_data);
    let result = state
        .commands
        .execute_releasing::<Device>(meta, &device.id, &DeviceCommand::Decommission, &claim)
        .await;
    result.map_err(|e| match e {
        CommandError::Rejected(DeviceError::NotFound) => ApiError::NotFound("device not found".into()),
        other => other.into(),
    })
}

/// Removes one auth set of a device.
pub async fn dismiss(
    state: &AppState,
    meta: &CommandMeta,
    device_id: &str,
    auth_set_id: &str,
) -> Result<Outcome, ApiError> {
    let command = DeviceCommand::DismissAuthSet { auth_set_id: auth_set_id.into() };
    Ok(state.commands.execute::<Device>(meta, device_id, &command).await?)
}

/// What preauthorizing did.
pub enum Preauthorized {
    /// A new device, with its id.
    Created(String, Outcome),
    /// The identity already belongs to this device.
    Exists(String),
}

/// Admits a device ahead of its first request, as device `id` (a new id): `identity_data` is a
/// JSON object.
pub async fn preauthorize(
    state: &AppState,
    meta: &CommandMeta,
    id: &str,
    identity_data: &serde_json::Value,
    pubkey: &str,
) -> Result<Preauthorized, ApiError> {
    if identity_data.as_object().is_none_or(|o| o.is_empty()) {
        return Err(ApiError::BadRequest("identity_data must be a non-empty JSON object".into()));
    }
    let identity = identity_data.to_string();
    let key =
        parse_public_key_with(pubkey, &state.key_policy).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let claim = super::claim_id("identity", &identity);
    let command = DeviceCommand::Preauthorize {
        auth_set_id: uuid::Uuid::new_v4().to_string(),
        identity_data: identity,
        pubkey: key.to_canonical_pem(),
    };
    match state.commands.execute_claiming::<Device>(meta, id, &command, &claim).await {
        Ok(outcome) => Ok(Preauthorized::Created(id.to_owned(), outcome)),
        Err(CommandError::Taken { holder }) => Ok(Preauthorized::Exists(holder)),
        Err(e) => Err(e.into()),
    }
}
