//! File transfer with a connected device, as Mender's deviceconnect serves it to `mender-cli
//! cp`: `GET .../devices/{id}/download?path=` streams a file from the device, `PUT
//! .../devices/{id}/upload` (multipart `path`, `uid`, `gid`, `mode`, `file`) sends one. The
//! server speaks mender-connect's file-transfer protocol itself: handshake, stat, chunks of
//! 4 KiB under the device's 20-chunk window, acks every 10 chunks and at the end. Each
//! transfer is a session event with who, what path and how many bytes.

use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fleetlog_events::connect::SessionCommand;
use futures::StreamExt;
use serde::Deserialize;

use super::channel::{ChannelError, DeviceChannel, error_text};
use super::protomsg::{PROTO_FILE, ProtoMsg, encode_body};
use super::session::{connected, record};
use crate::http::{ApiError, UserAuth};
use crate::state::AppState;

const CHUNK: usize = 4096;
/// The device sends (and takes) at most this many chunks beyond the last ack.
const WINDOW: u64 = 20 * CHUNK as u64;
/// Acknowledge every this many chunks, as Mender's server does.
const ACK_EVERY: u64 = 10;

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        match e {
            ChannelError::Timeout => ApiError::Timeout(e.to_string()),
            ChannelError::Gone => ApiError::Conflict(e.to_string()),
            ChannelError::Nats(_) => ApiError::Unavailable(anyhow::anyhow!(e)),
        }
    }
}

fn check_path(path: &str) -> Result<(), ApiError> {
    if path.is_empty() {
        return Err(ApiError::BadRequest("bad request: path: cannot be blank.".into()));
    }
    if !path.starts_with('/') {
        return Err(ApiError::BadRequest("bad request: path: must be absolute.".into()));
    }
    Ok(())
}

/// The device connected (404 unknown, 409 not connected, as Mender's file routes answer).
fn reachable(state: &AppState, id: &str) -> Result<(), ApiError> {
    match connected(state, id) {
        Err(ApiError::NotFound(m)) if m.contains("not connected") => Err(ApiError::Conflict(m)),
        other => other,
    }
}

/// What the device says about a file.
#[derive(Debug, Default, Deserialize)]
struct FileInfo {
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    gid: Option<u32>,
    #[serde(default)]
    mode: Option<u32>,
}

/// Go's `os.FileMode` type bits: a regular file has none of them.
const MODE_TYPE: u32 = 0x8f28_0000;

#[derive(Debug, Deserialize)]
pub(super) struct DownloadQuery {
    #[serde(default)]
    path: String,
}

#[derive(serde::Serialize)]
struct PathBody<'a> {
    path: &'a str,
}

pub(super) async fn download(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    reachable(&state, &id)?;
    check_path(&q.path)?;
    let mut ch = DeviceChannel::open(&state, &id, &user.id).await?;
    let start =
        SessionCommand::Start { device_id: id.clone(), kind: "file-download".into(), detail: q.path.clone() };
    record(&state, &user, &ch.sid, start).await;
    if let Err(why) = ch.handshake(PROTO_FILE).await? {
        end(&state, &user, &ch, 0, &why).await;
        return Err(ApiError::BadGateway(why));
    }
    ch.send(
        ProtoMsg::new(PROTO_FILE, "stat", "")
            .prop("user_id", user.id.as_str())
            .body(encode_body(&PathBody { path: &q.path })),
    )
    .await?;
    let reply = ch.recv().await?;
    if reply.hdr.typ == "error" {
        let why = format!("failed to retrieve file info: error received from device: {}", error_text(&reply));
        end(&state, &user, &ch, 0, &why).await;
        return Err(ApiError::BadRequest(why));
    }
    let info: FileInfo = rmp_serde::from_slice(&reply.body).unwrap_or_default();
    let Some(mode) = info.mode.filter(|m| m & MODE_TYPE == 0) else {
        end(&state, &user, &ch, 0, "path is not a regular file").await;
        return Err(ApiError::BadRequest("path is not a regular file".into()));
    };
    ch.send(
        ProtoMsg::new(PROTO_FILE, "get_file", "")
            .prop("user_id", user.id.as_str())
            .body(encode_body(&PathBody { path: &q.path })),
    )
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
    let name = q.path.rsplit('/').next().unwrap_or("file").to_owned();
    let headers = [
        (header::CONTENT_TYPE.as_str().to_owned(), "application/octet-stream".to_owned()),
        (header::CONTENT_DISPOSITION.as_str().to_owned(), format!("attachment; filename=\"{name}\"")),
        ("x-men-file-path".into(), q.path.clone()),
        ("x-men-file-uid".into(), info.uid.unwrap_or(0).to_string()),
        ("x-men-file-gid".into(), info.gid.unwrap_or(0).to_string()),
        ("x-men-file-mode".into(), format!("{mode:o}")),
        ("x-men-file-size".into(), info.size.unwrap_or(0).to_string()),
    ];
    tokio::spawn(async move {
        let (bytes, error) = pump_download(&mut ch, &tx).await;
        if !error.is_empty() {
            let _ = tx.send(Err(std::io::Error::other(error.clone()))).await;
        }
        end(&state, &user, &ch, bytes, &error).await;
    });
    let mut response = Response::builder().status(StatusCode::OK);
    for (k, v) in headers {
        response = response.header(k, v);
    }
    response
        .body(Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Relays the device's chunks to the response; returns the bytes moved and an error text.
async fn pump_download(
    ch: &mut DeviceChannel,
    tx: &tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
) -> (u64, String) {
    let (mut received, mut chunks) = (0u64, 0u64);
    loop {
        let frame = match ch.recv().await {
            Ok(f) => f,
            Err(e) => return (received, e.to_string()),
        };
        match frame.hdr.typ.as_str() {
            "file_chunk" => {
                if frame.int_prop("offset") != Some(received as i64) {
                    return (received, "wrong offset received".into());
                }
                if frame.body.is_empty() {
                    let ack = ProtoMsg::new(PROTO_FILE, "ack", "")
                        .prop("user_id", ch.user_id.as_str())
                        .prop("offset", received as i64);
                    let _ = ch.send(ack).await;
                    ch.close().await;
                    return (received, String::new());
                }
                received += frame.body.len() as u64;
                chunks += 1;
                if tx.send(Ok(bytes::Bytes::from(frame.body.into_vec()))).await.is_err() {
                    ch.close().await;
                    return (received, "client went away".into());
                }
                if chunks % ACK_EVERY == 0 {
                    let ack = ProtoMsg::new(PROTO_FILE, "ack", "")
                        .prop("user_id", ch.user_id.as_str())
                        .prop("offset", received as i64);
                    if ch.send(ack).await.is_err() {
                        return (received, "messaging failed".into());
                    }
                }
            }
            "error" => {
                ch.close().await;
                return (received, error_text(&frame));
            }
            _ => {}
        }
    }
}

async fn end(state: &AppState, user: &UserAuth, ch: &DeviceChannel, bytes: u64, error: &str) {
    record(state, user, &ch.sid, SessionCommand::End { bytes, error: error.to_owned() }).await;
}

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
    reachable(&state, &id)?;
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
                let bytes = send_file(&state, &user, &id, req, field).await?;
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
    user: &UserAuth,
    id: &str,
    req: UploadRequest,
    mut file: axum::extract::multipart::Field<'_>,
) -> Result<u64, ApiError> {
    let mut ch = DeviceChannel::open(state, id, &user.id).await?;
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
        let uid = user.id.as_str();
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
