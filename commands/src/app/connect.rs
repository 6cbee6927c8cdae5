//! Remote access (Mender's deviceconnect): a device's connection state and operators'
//! sessions, recorded as events; queries over the remote-access read model.

use fleetlog_events::connect::{Connection, ConnectionCommand, RemoteSession, SessionCommand};
use fleetlog_projections::remote::RemoteQueries;
use fleetlog_projections::{Model, ProjectionError};

use super::{App, AppError, Caller};

/// Runs `f` over the remote-access read model (connections, sessions, device configuration).
pub fn remote<T>(
    app: &App,
    f: impl FnOnce(&RemoteQueries<'_>) -> Result<T, ProjectionError>,
) -> Result<T, AppError> {
    let model = app.model(Model::Remote)?;
    Ok(f(&RemoteQueries(&model))?)
}

/// Records a change of the calling device's connection (connected, disconnected).
pub async fn record_connection(
    app: &App,
    device: &Caller,
    command: &ConnectionCommand,
) -> Result<(), AppError> {
    app.execute::<Connection>(device, &device.actor.id, command).await?;
    Ok(())
}

/// Records a change of remote session `sid` (each its own command: a start and an end are two
/// decisions).
pub async fn record_session(
    app: &App,
    caller: &Caller,
    sid: &str,
    command: &SessionCommand,
) -> Result<(), AppError> {
    app.execute::<RemoteSession>(caller, sid, command).await?;
    Ok(())
}
