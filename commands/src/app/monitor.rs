//! devicemonitor: a device's alerts and monitor configuration (device side), and what operators
//! read of them: a device's alerts, the latest per check, its configuration, and the fleet's
//! devices with open CRITICAL alerts.

use fleetlog_events::monitor::{Alert, DeviceMonitor, MonitorCommand};
use fleetlog_projections::monitor::{AlertView, MonitorQueries, MonitorSummary};

use super::{App, AppError, Caller};

/// Runs a query on the devicemonitor read model.
pub fn monitor<T>(
    app: &App,
    f: impl FnOnce(&MonitorQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, AppError> {
    let model = app.model(fleetlog_projections::Model::Monitor)?;
    Ok(f(&MonitorQueries(&model))?)
}

/// Records the alerts of one device request, all or none (the caller is the device).
pub async fn raise(app: &App, device: &Caller, alerts: Vec<Alert>) -> Result<(), AppError> {
    let id = device.actor.id.clone();
    app.execute::<DeviceMonitor>(device, &id, &MonitorCommand::Raise(alerts)).await?;
    Ok(())
}

/// Records a device's monitor configuration.
pub async fn set_config(app: &App, device: &Caller, config_json: String) -> Result<(), AppError> {
    let id = device.actor.id.clone();
    app.execute::<DeviceMonitor>(device, &id, &MonitorCommand::SetConfig { config_json }).await?;
    Ok(())
}

/// A known device's alerts, newest first (`page` from 1).
pub fn alerts(
    app: &App,
    tenant: &str,
    device: &str,
    page: usize,
    per_page: usize,
) -> Result<Vec<AlertView>, AppError> {
    known_device(app, tenant, device)?;
    let skip = page.saturating_sub(1).saturating_mul(per_page);
    monitor(app, |q| q.alerts(tenant, device, skip, per_page))
}

/// A known device's latest alert per check.
pub fn latest(app: &App, tenant: &str, device: &str) -> Result<Vec<AlertView>, AppError> {
    known_device(app, tenant, device)?;
    monitor(app, |q| q.latest(tenant, device))
}

/// A known device's monitor configuration (`{}` before it reported one).
pub fn config(app: &App, tenant: &str, device: &str) -> Result<String, AppError> {
    known_device(app, tenant, device)?;
    Ok(monitor(app, |q| q.config(tenant, device))?.unwrap_or_else(|| "{}".into()))
}

/// The devices with an open CRITICAL alert.
pub fn alerting(app: &App, tenant: &str) -> Result<Vec<MonitorSummary>, AppError> {
    monitor(app, |q| q.alerting(tenant))
}

fn known_device(app: &App, tenant: &str, device: &str) -> Result<(), AppError> {
    match super::devices::devices(app, |q| q.get(tenant, device))? {
        Some(_) => Ok(()),
        None => Err(AppError::NotFound("device not found".into())),
    }
}
