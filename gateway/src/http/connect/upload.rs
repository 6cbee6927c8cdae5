//! `PUT /api/management/v1/deviceconnect/devices/{id}/upload`: the multipart file goes to the
//! device as `put_file` and 4 KiB chunks with int64 offsets, never more than the device's
//! window ahead of its acks; 201 once the device has acknowledged the last byte.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fleetlog_commands::app::Caller;
use fleetlog_events::connect::SessionCommand;
use futures::StreamExt;

use super::channel::{DeviceChannel, error_text};
use super::files::{CHUNK, WINDOW, check_path};
use super::protomsg::{PROTO_FILE, ProtoMsg, encode_body};
use super::session::record;
use crate::http::{ApiError, UserAuth};
use crate::state::AppState;

/// The upload request as mender-connect reads it.
#[derive(serde::Serialize, Default)]
struct UploadRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    src_path: Option<String>,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<u32>,
}

pub(super) async fn upload(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    super::require_connected(&state, &id)?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::BadRequest(format!("invalid multipart body: {e}"))
    };
    let number = |name: &str, text: &str, radix: u32| {
        u32::from_str_radix(text.trim(), radix).map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
    };
    let mut req = UploadRequest::default();
    // Fields after `file` are not read, as in Mender (mender-cli sends `mode` last).
    while let Some(field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "path" => req.path = field.text().await.map_err(bad)?,
            "uid" => req.uid = Some(number("uid", &field.text().await.map_err(bad)?, 10)?),
            "gid" => req.gid = Some(number("gid", &field.text().await.map_err(bad)?, 10)?),
            "mode" => req.mode = Some(number("mode", &field.text().await.map_err(bad)?, 8)?),
            "file" => {
                check_path(&req.path)?;
                req.src_path = field.file_name().map(str::to_owned);
                let bytes = send_file(&state, &user.caller, &id, req, field).await?;
                tracing::info!(device = %id, bytes, "file uploaded");
                return Ok(StatusCode::CREATED.into_response());
            }
            _ => {
                field.bytes().await.map_err(bad)?;
            }
        }
    }
    check_path(&req.path)?;
    Err(ApiError::BadRequest("bad request: file: cannot be blank.".into()))
}

async fn send_file(
    state: &AppState,
    user: &Caller,
    id: &str,
    req: UploadRequest,
    mut file: axum::extract::multipart::Field<'_>,
) -> Result<u64, ApiError> {
    let mut ch = DeviceChannel::open(state, id, &user.actor.id).await?;
    record(
        state,
        user,
        &ch.sid,
        SessionCommand::Start { device_id: id.into(), kind: "file-upload".into(), detail: req.path.clone() },
    )
    .await;
    let result = async {
        if let Err(why) = ch.handshake(PROTO_FILE).await? {
            return Err(ApiError::BadGateway(why));
        }
        let uid = user.actor.id.as_str();
        ch.send(ProtoMsg::new(PROTO_FILE, "put_file", "").prop("user_id", uid).body(encode_body(&req)))
            .await?;
        let mut acked = expect_ack(&mut ch).await?;
        let mut offset = 0u64;
        let mut pending = bytes::BytesMut::new();
        loop {
            let next = file
                .next()
                .await
                .transpose()
                .map_err(|e| ApiError::BadRequest(format!("invalid multipart body: {e}")))?;
            if let Some(b) = &next {
                pending.extend_from_slice(b);
            }
            while pending.len() >= CHUNK || (next.is_none() && !pending.is_empty()) {
                let piece = pending.split_to(pending.len().min(CHUNK));
                while offset > acked + WINDOW {
                    acked = expect_ack(&mut ch).await?;
                }
                let chunk = ProtoMsg::new(PROTO_FILE, "file_chunk", "")
                    .prop("user_id", uid)
                    .prop("offset", offset as i64)
                    .body(piece.to_vec());
                ch.send(chunk).await?;
                offset += piece.len() as u64;
            }
            if next.is_none() {
                break;
            }
        }
        ch.send(
            ProtoMsg::new(PROTO_FILE, "file_chunk", "").prop("user_id", uid).prop("offset", offset as i64),
        )
        .await?;
        while acked < offset {
            acked = expect_ack(&mut ch).await?;
        }
        Ok(offset)
    }
    .await;
    ch.close().await;
    match &result {
        Ok(bytes) => {
            record(state, user, &ch.sid, SessionCommand::End { bytes: *bytes, error: String::new() }).await
        }
        Err(e) => record(state, user, &ch.sid, SessionCommand::End { bytes: 0, error: e.to_string() }).await,
    }
    result
}

/// Waits for the device's next ack; its error frame becomes a 400 with the device's words.
async fn expect_ack(ch: &mut DeviceChannel) -> Result<u64, ApiError> {
    loop {
        let frame = ch.recv().await?;
        match frame.hdr.typ.as_str() {
            "ack" => return Ok(frame.int_prop("offset").unwrap_or(0).max(0) as u64),
            "error" => return Err(ApiError::BadRequest(error_text(&frame))),
            _ => {}
        }
    }
}
