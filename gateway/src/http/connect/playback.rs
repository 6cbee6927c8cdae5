//! `GET /api/management/v1/deviceconnect/sessions/{id}/playback`: Mender replays a recorded
//! terminal session over a WebSocket. fleetlog records who opened which session and when (events),
//! but deliberately never the terminal bytes, so a known session's playback socket says so in a
//! control error frame and closes; an unknown session is 404 as in Mender.

use axum::extract::ws::{CloseFrame, Message, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::protomsg::{PROTO_CONTROL, ProtoMsg, encode_body};
use crate::http::{ApiError, UserAuth};
use crate::state::AppState;

/// Longest session id looked up: server-made ids are UUIDs.
const MAX_SESSION_ID: usize = 64;

/// What the operator's player is told.
pub const NOT_RECORDED: &str = "fleetlog does not record terminal output: no playback for this session";

/// The playback route.
pub(super) async fn playback(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if id.is_empty() || id.len() > MAX_SESSION_ID {
        return Err(ApiError::NotFound("session not found".into()));
    }
    let known = crate::app::connect::remote(&state, |q| q.session(user.tenant(), &id))?;
    if known.is_none() {
        return Err(ApiError::NotFound("session not found".into()));
    }
    let upgrade = upgrade.map_err(|e| ApiError::BadRequest(format!("playback needs a WebSocket: {e}")))?;
    Ok(upgrade
        .on_upgrade(move |mut socket| async move {
            #[derive(Serialize)]
            struct Error<'a> {
                err: &'a str,
                close: bool,
            }
            let body = encode_body(&Error { err: NOT_RECORDED, close: true });
            let frame = ProtoMsg::new(PROTO_CONTROL, "error", &id).body(body);
            let _ = socket.send(Message::Binary(frame.encode().into())).await;
            let close = CloseFrame { code: 1000, reason: "no recording".into() };
            let _ = socket.send(Message::Close(Some(close))).await;
        })
        .into_response())
}
