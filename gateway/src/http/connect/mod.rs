//! Remote access (Mender's deviceconnect): the device's WebSocket, operators' sessions over it
//! (terminal, port forwarding) and file transfers. The two sockets of a session may live on
//! different replicas, so every frame travels over core NATS subjects, never through one
//! process's memory:
//!
//! - `_FLEETLOG.<stream>.dc.<tenant>.<device>.down`: frames for the device;
//! - `_FLEETLOG.<stream>.dc.<tenant>.<device>.up.<session>`: the device's frames of a session;
//! - `_FLEETLOG.<stream>.dc.<tenant>.<device>.ctl`: a new socket of the device takes over;
//! - `_FLEETLOG.<stream>.dc.<tenant>.<device>.gone`: the device's socket ended.
//!
//! Connections and sessions are events; the bytes are not.

pub mod channel;
mod device;
mod files;
mod playback;
pub mod protomsg;
mod session;
mod upload;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

/// The deviceconnect routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/devices/v1/deviceconnect/connect", get(device::connect))
        .route("/api/management/v1/deviceconnect/devices/{id}", get(device::status))
        .route("/api/management/v1/deviceconnect/devices/{id}/connect", get(session::connect))
        .route("/api/management/v1/deviceconnect/devices/{id}/download", get(files::download))
        .route("/api/management/v1/deviceconnect/sessions/{id}/playback", get(playback::playback))
        .route(
            "/api/management/v1/deviceconnect/devices/{id}/check-update",
            axum::routing::post(device::check_update),
        )
        .route(
            "/api/management/v1/deviceconnect/devices/{id}/send-inventory",
            axum::routing::post(device::send_inventory),
        )
        .route(
            "/api/management/v1/deviceconnect/devices/{id}/upload",
            axum::routing::put(upload::upload).layer(axum::extract::DefaultBodyLimit::max(1 << 30)),
        )
}

/// Whether a known device is connected now (unknown device: 404). Callers choose how to
/// refuse a disconnected one: Mender answers 404 on the session socket, 409 elsewhere.
pub(crate) fn is_connected(state: &AppState, id: &str) -> Result<bool, crate::http::ApiError> {
    // The id goes into NATS subjects: refuse what cannot be one before anything else.
    fleetlog_commands::check_token(id)?;
    crate::app::inventory::device(state, id)?;
    let view = crate::app::connect::remote(state, |q| q.connection(crate::DEFAULT_TENANT, id))?;
    Ok(view.is_some_and(|v| v.connected))
}

/// Sends one frame to a device, wherever its socket is.
pub(crate) async fn to_device(
    state: &AppState,
    device: &str,
    frame: &protomsg::ProtoMsg,
) -> Result<(), crate::http::ApiError> {
    let client = state.store().client();
    let subject = subject(state, device, "down");
    client
        .publish(subject, frame.encode().into())
        .await
        .map_err(|e| crate::http::ApiError::Unavailable(e.into()))
}

/// A connected device, or 409 as Mender's file and command routes answer.
pub(crate) fn require_connected(state: &AppState, id: &str) -> Result<(), crate::http::ApiError> {
    if is_connected(state, id)? {
        Ok(())
    } else {
        Err(crate::http::ApiError::Conflict("device not connected".into()))
    }
}

/// The subject `leaf` of one device (see the module documentation).
pub fn subject(state: &AppState, device: &str, leaf: &str) -> String {
    let stream = &state.store().config().stream;
    format!("_FLEETLOG.{stream}.dc.{}.{device}.{leaf}", crate::DEFAULT_TENANT)
}
