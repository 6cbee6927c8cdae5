//! The device's side: `GET /api/devices/v1/deviceconnect/connect` (device JWT, WebSocket)
//! relays between the device and NATS, and records when the device connects and disconnects;
//! `GET /api/management/v1/deviceconnect/devices/{id}` tells operators whether it is connected.

use axum::Json;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use fleetlog_commands::app::Caller;
use fleetlog_events::connect::ConnectionCommand;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

use super::protomsg::{PROTO_CONTROL, ProtoMsg};
use super::subject;
use crate::http::json::rfc3339;
use crate::http::{ApiError, DeviceAuth, UserAuth};
use crate::state::AppState;

/// Largest frame accepted from a device (mender-connect sends at most 8 KiB per message; a
/// little headroom for the framing).
const MAX_FRAME: usize = 64 * 1024;

pub(super) async fn connect(
    State(state): State<AppState>,
    device: DeviceAuth,
    ws: WebSocketUpgrade,
) -> Response {
    let device_id = device.device_id().to_owned();
    ws.max_message_size(MAX_FRAME).on_upgrade(move |socket| relay(state, device_id, socket))
}

async fn record(state: &AppState, device: &str, command: ConnectionCommand) {
    let caller = fleetlog_commands::app::Caller::device(crate::DEFAULT_TENANT, device, "");
    if let Err(e) = crate::app::connect::record_connection(state, &caller, &command).await {
        tracing::warn!(%device, error = %e, "could not record the device's connection state");
    }
}

async fn relay(state: AppState, device: String, socket: WebSocket) {
    let connection_id = uuid::Uuid::new_v4().to_string();
    let client = state.store().client().clone();
    let (down, ctl) = match (
        client.subscribe(subject(&state, &device, "down")).await,
        client.subscribe(subject(&state, &device, "ctl")).await,
    ) {
        (Ok(d), Ok(c)) => (d, c),
        _ => return,
    };
    // Older sockets of this device (on any replica) close when they hear of this one.
    let _ = client.publish(subject(&state, &device, "ctl"), connection_id.clone().into()).await;
    record(&state, &device, ConnectionCommand::Open { connection_id: connection_id.clone() }).await;
    tracing::info!(%device, %connection_id, "device connected");
    let (mut to_device, mut from_device) = socket.split();
    let (mut down, mut ctl) = (down, ctl);
    // Replaced by a newer socket of the same device: its sessions go on over the new one.
    let mut replaced = false;
    loop {
        tokio::select! {
            frame = down.next() => {
                let Some(frame) = frame else { break };
                if to_device.send(Message::Binary(frame.payload)).await.is_err() {
                    break;
                }
            }
            notice = ctl.next() => {
                match notice {
                    Some(n) if n.payload.as_ref() != connection_id.as_bytes() => {
                        replaced = true;
                        break;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            frame = from_device.next() => {
                match frame {
                    Some(Ok(Message::Binary(bytes))) => route(&state, &client, &device, bytes).await,
                    // WebSocket pings are answered by the socket itself; text is not the protocol.
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Text(_))) => {}
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                }
            }
            () = state.shutdown.cancelled() => break,
        }
    }
    if !replaced {
        let _ = client.publish(subject(&state, &device, "gone"), connection_id.clone().into()).await;
    }
    record(&state, &device, ConnectionCommand::Close { connection_id: connection_id.clone() }).await;
    tracing::info!(%device, %connection_id, "device disconnected");
}

/// Sends a device's frame to its session; control pings without a session are answered here.
async fn route(state: &AppState, client: &async_nats::Client, device: &str, bytes: bytes::Bytes) {
    let Ok(frame) = ProtoMsg::decode(&bytes) else {
        tracing::debug!(%device, "dropping a frame that is not a ProtoMsg");
        return;
    };
    if frame.hdr.sid.is_empty() {
        if frame.hdr.proto == PROTO_CONTROL && frame.hdr.typ == "ping" {
            let pong = ProtoMsg::new(PROTO_CONTROL, "pong", "").encode();
            let _ = client.publish(subject(state, device, "down"), pong.into()).await;
        }
        return;
    }
    // Only a session the server named can be on a subject: anything else (a long or odd sid)
    // would make a subject nats-server refuses, dropping the connection every request shares.
    if !fleetlog_events::token::is_session_id(&frame.hdr.sid) {
        tracing::debug!(%device, sid_len = frame.hdr.sid.len(), "dropping a frame with an invalid session id");
        return;
    }
    let to = subject(state, device, &format!("up.{}", frame.hdr.sid));
    let _ = client.publish(to, bytes).await;
}

/// `{device_id, status, created_ts, updated_ts}`.
pub(super) async fn status(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    crate::app::inventory::device(&state, &id)?;
    let view = crate::app::connect::remote(&state, |q| q.connection(user.tenant(), &id))?;
    Ok(Json(match view {
        Some(v) => json!({
            "device_id": id,
            "status": if v.connected { "connected" } else { "disconnected" },
            "created_ts": rfc3339(v.created_ts),
            "updated_ts": rfc3339(v.updated_ts),
        }),
        None => json!({ "device_id": id, "status": "unknown" }),
    }))
}

/// Sends mender-client command `typ` to a connected device (no session: nobody waits for the
/// answer, as in Mender).
async fn client_command(
    state: &AppState,
    user: &Caller,
    id: &str,
    typ: &str,
) -> Result<StatusCode, ApiError> {
    super::require_connected(state, id)?;
    let frame =
        ProtoMsg::new(super::protomsg::PROTO_MENDER_CLIENT, typ, "").prop("user_id", user.actor.id.as_str());
    super::to_device(state, id, &frame).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST .../devices/{id}/check-update`: 202.
pub(super) async fn check_update(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    client_command(&state, &user.caller, &id, "check-update").await
}

/// `POST .../devices/{id}/send-inventory`: 202.
pub(super) async fn send_inventory(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    client_command(&state, &user.caller, &id, "send-inventory").await
}
