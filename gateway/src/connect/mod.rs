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

/// The subject `leaf` of one device (see the module documentation).
pub fn subject(state: &AppState, device: &str, leaf: &str) -> String {
    let stream = &state.commands.store().config().stream;
    format!("_FLEETLOG.{stream}.dc.{}.{device}.{leaf}", crate::DEFAULT_TENANT)
}
