//! Device authentication (Mender's deviceauth): auth requests, admission, decommissioning.

use crate::{ClaimOp, Outcome};
use fleetlog_events::device::{AuthSetStatus, Device, DeviceCommand};
use fleetlog_projections::devices::{DeviceView, DevicesQueries};
use serde::Deserialize;

use super::{App, AppError, Caller};
use crate::auth::jwt::Claims;
use crate::auth::signature::parse_public_key_with;

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

/// A device's `id_data` in canonical form (`fleetlog_events::device::canonical_identity`).
pub fn canonical_identity(id_data: &str) -> Result<String, AppError> {
    fleetlog_events::device::canonical_identity(id_data)
        .ok_or_else(|| AppError::Invalid("id_data must be a non-empty JSON object".into()))
}

/// Handles one device auth request: verify, record (the first request creates the device),
/// and answer with a token once the device's key is accepted.
pub async fn auth_request(
    app: &App,
    body: &[u8],
    signature: Option<&str>,
    request_id: &str,
) -> Result<String, AppError> {
    let req: AuthRequest =
        serde_json::from_slice(body).map_err(|e| AppError::Invalid(format!("invalid auth request: {e}")))?;
    let signature = signature.ok_or_else(|| AppError::Invalid("missing request signature header".into()))?;
    let identity = canonical_identity(&req.id_data)?;
    let key =
        parse_public_key_with(&req.pubkey, &app.key_policy).map_err(|e| AppError::Invalid(e.to_string()))?;
    // Verified before anything is stored: an unverified request never reaches the log.
    key.verify(body, signature)
        .map_err(|_| AppError::Unauthorized("signature verification failed".into()))?;
    let pubkey = key.to_canonical_pem();

    let tenant = super::DEFAULT_TENANT;
    let claim = super::claim_id("identity", &identity);
    let command = DeviceCommand::SubmitAuthSet {
        auth_set_id: uuid::Uuid::new_v4().to_string(),
        identity_data: identity,
        pubkey: pubkey.clone(),
    };
    let device_id = match app.claim_holder(tenant, &claim).await? {
        // The identity's device: its command (also the first event of a device whose creation
        // was cut short after its claim, which this completes).
        Some(holder) => {
            app.execute::<Device>(&Caller::device(tenant, &holder, request_id), &holder, &command).await?;
            holder
        }
        None => {
            let fresh = uuid::Uuid::new_v4().to_string();
            let caller = Caller::device(tenant, &fresh, request_id);
            match app.execute_claim_first::<Device>(&caller, &fresh, &command, &claim).await {
                Ok(_) => fresh,
                // Another request claimed this identity first: join its device.
                Err(AppError::Taken { holder }) => {
                    let caller = Caller::device(tenant, &holder, request_id);
                    app.execute::<Device>(&caller, &holder, &command).await?;
                    holder
                }
                Err(e) => return Err(e),
            }
        }
    };

    let device = devices(app, |q| q.get(tenant, &device_id))?.ok_or_else(unauthorized)?;
    let set = device.auth_sets.iter().find(|a| a.pubkey == pubkey).ok_or_else(unauthorized)?;
    if set.status != AuthSetStatus::Accepted {
        return Err(unauthorized());
    }
    let now = crate::now().unix_seconds();
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
    Ok(app.jwt.sign(&claims))
}

fn unauthorized() -> AppError {
    AppError::Unauthorized("unauthorized".into())
}

/// Runs a query on the devices read model.
pub fn devices<T>(
    app: &App,
    f: impl FnOnce(&DevicesQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, AppError> {
    let model = app.model(fleetlog_projections::Model::Devices)?;
    Ok(f(&DevicesQueries(&model))?)
}

/// Sets an auth set's status from the management API (`accepted` or `rejected`).
pub async fn set_auth_status(
    app: &App,
    caller: &Caller,
    device_id: &str,
    auth_set_id: &str,
    status: &str,
) -> Result<Outcome, AppError> {
    let command = match status {
        "accepted" => DeviceCommand::AcceptAuthSet { auth_set_id: auth_set_id.into() },
        "rejected" => DeviceCommand::RejectAuthSet { auth_set_id: auth_set_id.into() },
        "pending" => DeviceCommand::SetPending { auth_set_id: auth_set_id.into() },
        other => {
            let msg = format!("invalid status {other:?}: use accepted, rejected or pending");
            return Err(AppError::Invalid(msg));
        }
    };
    app.execute::<Device>(caller, device_id, &command).await
}

/// Decommissions a device and frees its identity for a new device.
pub async fn decommission(app: &App, caller: &Caller, device: &DeviceView) -> Result<Outcome, AppError> {
    let claim = super::claim_id("identity", &device.identity_data);
    let release = [ClaimOp::Release(&claim)];
    app.execute_with_claims::<Device>(caller, &device.id, &DeviceCommand::Decommission, &release).await
}

/// Removes one auth set of a device.
pub async fn dismiss(
    app: &App,
    caller: &Caller,
    device_id: &str,
    auth_set_id: &str,
) -> Result<Outcome, AppError> {
    let command = DeviceCommand::DismissAuthSet { auth_set_id: auth_set_id.into() };
    app.execute::<Device>(caller, device_id, &command).await
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
    app: &App,
    caller: &Caller,
    id: &str,
    identity_data: &serde_json::Value,
    pubkey: &str,
) -> Result<Preauthorized, AppError> {
    let identity = fleetlog_events::device::canonical_identity(&identity_data.to_string())
        .ok_or_else(|| AppError::Invalid("identity_data must be a non-empty JSON object".into()))?;
    let key = parse_public_key_with(pubkey, &app.key_policy).map_err(|e| AppError::Invalid(e.to_string()))?;
    let claim = super::claim_id("identity", &identity);
    let command = DeviceCommand::Preauthorize {
        auth_set_id: uuid::Uuid::new_v4().to_string(),
        identity_data: identity,
        pubkey: key.to_canonical_pem(),
    };
    match app.execute_claim_first::<Device>(caller, id, &command, &claim).await {
        Ok(outcome) => Ok(Preauthorized::Created(id.to_owned(), outcome)),
        // Held by another device; one whose creation was cut short has no events yet and is
        // completed by its own next auth request (a preauthorization does not take it over: the
        // holder could be decommissioned meanwhile, and must then stay so).
        Err(AppError::Taken { holder }) => Ok(Preauthorized::Exists(holder)),
        // The claim is this device's, but a first auth request of the identity, joining the
        // claim, created the device before the preauthorization's event landed.
        Err(AppError::Conflict(reason)) => {
            match app.claim_holder(&caller.tenant, &claim).await?.as_deref() == Some(id) {
                true => Ok(Preauthorized::Exists(id.to_owned())),
                false => Err(AppError::Conflict(reason)),
            }
        }
        Err(e) => Err(e),
    }
}

/// Revokes the tokens of an accepted auth set (a device token's `jti`): the device must
/// authenticate again.
pub async fn revoke_tokens(app: &App, caller: &Caller, jti: &str) -> Result<(), AppError> {
    let device = devices(app, |d| d.device_of_accepted_set(&caller.tenant, jti))?
        .ok_or_else(|| AppError::NotFound("token not found".into()))?;
    let command = DeviceCommand::RevokeTokens { auth_set_id: jti.to_owned() };
    app.execute::<Device>(caller, &device, &command).await?;
    Ok(())
}
