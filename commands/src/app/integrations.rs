//! iot-manager (Mender's integrations service): registering webhook integrations, replacing
//! their credentials, removing them, the events pushed to them with each delivery's outcome,
//! and the device-state operations, which belong to cloud providers this build does not have.

use fleetlog_events::integration::{Integration, IntegrationCommand, WebhookTarget};
use fleetlog_projections::integrations::{IntegrationView, IntegrationsQueries, WebhookEventView};

use super::{App, AppError, Caller};

/// What an operator asks for when registering an integration.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// `webhook` (`iot-hub` and `iot-core` are refused with a reason).
    pub provider: String,
    /// The credentials' `type`.
    pub credential_type: String,
    /// Up to 1024 characters.
    pub description: String,
    /// Where to post, and the secret to sign with.
    pub target: WebhookTarget,
    /// Event types wanted (empty: Mender's three device lifecycle types).
    pub event_types: Vec<String>,
}

/// Runs a query on the iot-manager read model.
pub fn integrations<T>(
    app: &App,
    f: impl FnOnce(&IntegrationsQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, AppError> {
    let model = app.model(fleetlog_projections::Model::Integrations)?;
    Ok(f(&IntegrationsQueries(&model))?)
}

/// Registers an integration under a new id (derived from the idempotency key when one is
/// given); returns the id.
pub async fn create(
    app: &App,
    caller: &Caller,
    new: NewIntegration,
    idempotency_key: Option<&str>,
) -> Result<String, AppError> {
    check_allowed(app, &new.target)?;
    let (caller, id) = caller.creating("integration", idempotency_key);
    let command = IntegrationCommand::Create {
        provider: new.provider,
        credential_type: new.credential_type,
        description: new.description,
        target: new.target,
        event_types: new.event_types,
    };
    app.execute::<Integration>(&caller, &id, &command).await?;
    Ok(id)
}

/// A tenant's integrations, oldest first.
pub fn list(app: &App, tenant: &str) -> Result<Vec<IntegrationView>, AppError> {
    let mut all = integrations(app, |q| q.integrations(tenant))?;
    all.sort_by_key(|i| i.created_seq);
    Ok(all)
}

/// One integration; the id must be a UUID (400 otherwise, as in Mender).
pub fn get(app: &App, tenant: &str, id: &str) -> Result<IntegrationView, AppError> {
    check_id(id)?;
    integrations(app, |q| q.integration(tenant, id))?.ok_or_else(not_found)
}

/// Replaces an integration's credentials.
pub async fn set_credentials(
    app: &App,
    caller: &Caller,
    id: &str,
    credential_type: String,
    target: WebhookTarget,
) -> Result<(), AppError> {
    check_id(id)?;
    check_allowed(app, &target)?;
    let command = IntegrationCommand::SetCredentials { credential_type, target };
    app.execute::<Integration>(caller, id, &command).await?;
    Ok(())
}

/// Removes an integration: its deliveries stop (the process drops its consumer).
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    check_id(id)?;
    app.execute::<Integration>(caller, id, &IntegrationCommand::Delete).await?;
    Ok(())
}

/// Webhook events with their delivery outcomes, newest first (`page` from 1).
pub fn events(
    app: &App,
    tenant: &str,
    integration_id: Option<&str>,
    page: usize,
    per_page: usize,
) -> Result<Vec<WebhookEventView>, AppError> {
    if let Some(id) = integration_id {
        uuid::Uuid::parse_str(id)
            .map_err(|_| AppError::Invalid("integration_id: must be a valid UUID".into()))?;
    }
    let skip = page.saturating_sub(1).saturating_mul(per_page);
    integrations(app, |q| q.events(tenant, integration_id, skip, per_page))
}

/// The device's state in every cloud integration: none exist in this build, so a known device
/// has an empty map and an unknown one is 404, as Mender answers for a device without cloud
/// integrations.
pub fn device_states(app: &App, tenant: &str, device_id: &str) -> Result<(), AppError> {
    known_device(app, tenant, device_id)
}

/// The device's state in one integration: Mender's answer for a device without that (cloud)
/// integration, 404; 400 when the id is not a UUID.
pub fn device_state(
    _app: &App,
    _tenant: &str,
    _device_id: &str,
    integration_id: &str,
) -> Result<(), AppError> {
    uuid::Uuid::parse_str(integration_id)
        .map_err(|_| AppError::Invalid("integration ID is not a valid UUID".into()))?;
    Err(not_found())
}

/// Removes a device's cloud integrations: there are none to remove, so a known device is done
/// and an unknown one is 404.
pub fn unregister_device(app: &App, tenant: &str, device_id: &str) -> Result<(), AppError> {
    known_device(app, tenant, device_id)
}

fn known_device(app: &App, tenant: &str, device_id: &str) -> Result<(), AppError> {
    match super::devices::devices(app, |q| q.get(tenant, device_id))? {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound("device not found".into())),
    }
}

/// A target `--webhook-allow` refuses outright is a clear 400 now rather than failed
/// deliveries later (names are checked again on their resolved addresses at delivery).
fn check_allowed(app: &App, target: &WebhookTarget) -> Result<(), AppError> {
    let host = super::processes::allow::host_of(&target.url).unwrap_or_default();
    if host.is_empty() || app.webhooks.allow.allows_host(host) {
        return Ok(());
    }
    Err(AppError::Invalid(format!(
        "credentials.http.url: the host {host} is not permitted by this server's --webhook-allow setting"
    )))
}

fn check_id(id: &str) -> Result<(), AppError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| AppError::Invalid("integration ID must be a valid UUID".into()))
}

fn not_found() -> AppError {
    AppError::NotFound("integration not found".into())
}
