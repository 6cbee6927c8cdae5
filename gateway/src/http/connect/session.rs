//! The operator's side: `GET /api/management/v1/deviceconnect/devices/{id}/connect` (user JWT,
//! WebSocket) — a terminal or port-forward session relayed to the device over NATS. The server
//! names the session, stamps each of the operator's frames with it and the user id, and sends
//! the device's frames of that session back unchanged. Starting and ending are events.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use fleetlog_commands::app::Caller;
use fleetlog_events::connect::SessionCommand;
use futures::{SinkExt, StreamExt};

use super::protomsg::{
    DEVICE_MAX_MESSAGE, PROTO_CONTROL, PROTO_PORT_FORWARD, PROTO_SHELL, ProtoMsg, encode_body,
};
use super::subject;
use crate::http::{ApiError, UserAuth};
use crate::state::AppState;

pub(super) async fn connect(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Mender answers 404 for the session socket whether the device is unknown or offline.
    if !super::is_connected(&state, &id)? {
        return Err(ApiError::NotFound("device not connected".into()));
    }
    Ok(ws.max_message_size(64 * 1024).on_upgrade(move |socket| relay(state, user, id, socket)))
}

/// What the session turned out to be, from the operator's first frames.
fn kind_of(frame: &ProtoMsg) -> Option<(&'static str, String)> {
    #[derive(serde::Deserialize)]
    struct Forward {
        #[serde(default)]
        remote_host: String,
        #[serde(default)]
        remote_port: u16,
    }
    match (frame.hdr.proto, frame.hdr.typ.as_str()) {
        (PROTO_SHELL, "new") => Some(("terminal", String::new())),
        (PROTO_PORT_FORWARD, "new") => {
            let f: Option<Forward> = rmp_serde::from_slice(&frame.body).ok();
            Some((
                "port-forward",
                f.map(|f| format!("{}:{}", f.remote_host, f.remote_port)).unwrap_or_default(),
            ))
        }
        _ => None,
    }
}

async fn relay(state: AppState, user: UserAuth, device: String, socket: WebSocket) {
    let sid = uuid::Uuid::new_v4().to_string();
    let client = state.store().client().clone();
    let (Ok(mut up), Ok(mut gone)) = (
        client.subscribe(subject(&state, &device, &format!("up.{sid}"))).await,
        client.subscribe(subject(&state, &device, "gone")).await,
    ) else {
        return;
    };
    let down = subject(&state, &device, "down");
    let (mut to_user, mut from_user) = socket.split();
    let (mut started, mut shell_running, mut terminal, mut error) = (false, false, false, String::new());
    loop {
        tokio::select! {
            msg = up.next() => {
                let Some(msg) = msg else { break };
                if let Ok(f) = ProtoMsg::decode(&msg.payload)
                    && f.hdr.proto == PROTO_SHELL && f.hdr.typ == "stop"
                {
                    // mender-cli still sends its own stop after this one: keep the socket open.
                    shell_running = false;
                }
                if to_user.send(Message::Binary(msg.payload)).await.is_err() {
                    break;
                }
            }
            _ = gone.next() => {
                error = "device disconnected".into();
                if !terminal {
                    break;
                }
                // mender-cli's terminal only ends on a shell stop; without one it would hang.
                let stop = ProtoMsg::new(PROTO_SHELL, "stop", &sid).prop("status", 2).body(b"device disconnected".to_vec());
                let _ = to_user.send(Message::Binary(stop.encode().into())).await;
                shell_running = false;
            }
            frame = from_user.next() => {
                let bytes = match frame {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Text(_))) | Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                };
                let mut frame = match ProtoMsg::decode(&bytes) {
                    Ok(f) => f,
                    Err(e) => {
                        // Not the protocol: end this session with a clear error; others go on.
                        error = e.to_string();
                        refuse(&mut to_user, &sid, &error).await;
                        break;
                    }
                };
                frame.hdr.sid.clone_from(&sid);
                frame.hdr.props.insert("user_id".into(), user.id.as_str().into());
                let encoded = frame.encode();
                if encoded.len() > DEVICE_MAX_MESSAGE {
                    error = format!("frame of {} bytes is over the device's limit of {DEVICE_MAX_MESSAGE}", encoded.len());
                    refuse(&mut to_user, &sid, &error).await;
                    break;
                }
                if !started && let Some((kind, detail)) = kind_of(&frame) {
                    started = true;
                    let start = SessionCommand::Start { device_id: device.clone(), kind: kind.into(), detail };
                    record(&state, &user.caller, &sid, start).await;
                }
                match (frame.hdr.proto, frame.hdr.typ.as_str()) {
                    (PROTO_SHELL, "new") => (shell_running, terminal) = (true, true),
                    (PROTO_SHELL, "stop") => shell_running = false,
                    _ => {}
                }
                if client.publish(down.clone(), encoded.into()).await.is_err() {
                    break;
                }
            }
            () = state.shutdown.cancelled() => break,
        }
    }
    if shell_running {
        let stop = ProtoMsg::new(PROTO_SHELL, "stop", &sid)
            .prop("status", 2)
            .prop("user_id", user.id.as_str())
            .body(b"user disconnected".to_vec());
        let _ = client.publish(down, stop.encode().into()).await;
    }
    if started {
        record(&state, &user.caller, &sid, SessionCommand::End { bytes: 0, error }).await;
    }
    let _ = to_user.close().await;
}

/// Tells the operator why the session ends (a control error frame, then a close frame).
async fn refuse(to_user: &mut futures::stream::SplitSink<WebSocket, Message>, sid: &str, why: &str) {
    #[derive(serde::Serialize)]
    struct Error<'a> {
        err: &'a str,
        close: bool,
    }
    let frame =
        ProtoMsg::new(PROTO_CONTROL, "error", sid).body(encode_body(&Error { err: why, close: true }));
    let _ = to_user.send(Message::Binary(frame.encode().into())).await;
    let close = CloseFrame { code: 1003, reason: "invalid frame".into() };
    let _ = to_user.send(Message::Close(Some(close))).await;
}

/// Records a session change (each its own command: a start and an end are two decisions);
/// a failure to record is logged, the session goes on.
pub(super) async fn record(state: &AppState, user: &Caller, sid: &str, command: SessionCommand) {
    if let Err(e) = crate::app::connect::record_session(state, user, sid, &command).await {
        tracing::warn!(%sid, error = %e, "could not record the remote session");
    }
}
