//! Device mutual TLS (`--device-client-ca`): an auth request that arrives over a connection
//! whose client certificate the handshake verified against the device CA admits its device
//! without an operator. As with Mender Enterprise's mTLS ambassador (which preauthorizes the
//! request's identity and key, then forwards it), the identity and key are those of the
//! signed auth request; the certificate vouches that a device made by the fleet's owner sent
//! it. Only a pending auth set is accepted: a device an operator rejected stays rejected.

use fleetlog_events::device::AuthSetStatus;

use crate::app::devices::{self as svc, devices};
use crate::app::{AppError, Caller, claim_id};
use crate::auth::signature::parse_public_key_with;
use crate::state::AppState;
use crate::tls::ClientCertificate;

/// Accepts the pending auth set that the auth request `body` (signed with `signature`, as the
/// first attempt already checked) created; true when one was accepted.
pub(super) async fn admit(
    state: &AppState,
    body: &[u8],
    signature: Option<&str>,
    cert: &ClientCertificate,
) -> Result<bool, AppError> {
    #[derive(serde::Deserialize)]
    struct Request {
        id_data: String,
        pubkey: String,
    }
    let req: Request =
        serde_json::from_slice(body).map_err(|e| AppError::Invalid(format!("invalid auth request: {e}")))?;
    let key = parse_public_key_with(&req.pubkey, &state.key_policy)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    // Checked again here so that nothing but a request signed by the key is ever admitted.
    let signed = signature.is_some_and(|s| key.verify(body, s).is_ok());
    if !signed {
        return Ok(false);
    }
    let identity = svc::canonical_identity(&req.id_data)?;
    let tenant = crate::DEFAULT_TENANT;
    let Some(device_id) = state.claim_holder(tenant, &claim_id("identity", &identity)).await? else {
        return Ok(false);
    };
    let Some(device) = devices(state, |q| q.get(tenant, &device_id))? else {
        return Ok(false);
    };
    let pubkey = key.to_canonical_pem();
    let Some(set) =
        device.auth_sets.iter().find(|a| a.pubkey == pubkey && a.status == AuthSetStatus::Pending)
    else {
        return Ok(false);
    };
    let caller = Caller::system(tenant, "device-client-ca");
    svc::set_auth_status(state, &caller, &device.id, &set.id, "accepted").await?;
    tracing::info!(device = %device.id, certificate_sha256 = %cert.sha256, "device admitted by its client certificate");
    Ok(true)
}
