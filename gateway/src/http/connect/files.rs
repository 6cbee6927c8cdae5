//! File transfer with a connected device, as Mender's deviceconnect serves it to `mender-cli
//! cp`: `GET .../devices/{id}/download?path=` streams a file from the device, `PUT
//! .../devices/{id}/upload` (multipart `path`, `uid`, `gid`, `mode`, `file`) sends one. The
//! server speaks mender-connect's file-transfer protocol itself: handshake, stat, chunks of
//! 4 KiB under the device's 20-chunk window, acks every 10 chunks and at the end. Each
//! transfer is a session event with who, what path and how many bytes. Uploads are in
//! `upload`.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use fleetlog_commands::app::Caller;
use fleetlog_events::connect::SessionCommand;
use serde::Deserialize;

use super::channel::{ChannelError, DeviceChannel, error_text};
use super::protomsg::{PROTO_FILE, ProtoMsg, encode_body};
use super::session::record;
use crate::http::{ApiError, UserAuth};
use crate::state::AppState;

pub(super) const CHUNK: usize = 4096;
/// The device sends (and takes) at most this many chunks beyond the last ack.
pub(super) const WINDOW: u64 = 20 * CHUNK as u64;
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

pub(super) fn check_path(path: &str) -> Result<(), ApiError> {
    if path.is_empty() {
        return Err(ApiError::BadRequest("bad request: path: cannot be blank.".into()));
    }
    if !path.starts_with('/') {
        return Err(ApiError::BadRequest("bad request: path: must be absolute.".into()));
    }
    Ok(())
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
    super::require_connected(&state, &id)?;
    check_path(&q.path)?;
    let mut ch = DeviceChannel::open(&state, &id, &user.id).await?;
    let start =
        SessionCommand::Start { device_id: id.clone(), kind: "file-download".into(), detail: q.path.clone() };
    record(&state, &user.caller, &ch.sid, start).await;
    if let Err(why) = ch.handshake(PROTO_FILE).await? {
        end(&state, &user.caller, &ch, 0, &why).await;
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
        end(&state, &user.caller, &ch, 0, &why).await;
        return Err(ApiError::BadRequest(why));
    }
    let info: FileInfo = rmp_serde::from_slice(&reply.body).unwrap_or_default();
    let Some(mode) = info.mode.filter(|m| m & MODE_TYPE == 0) else {
        end(&state, &user.caller, &ch, 0, "path is not a regular file").await;
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
        end(&state, &user.caller, &ch, bytes, &error).await;
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

async fn end(state: &AppState, user: &Caller, ch: &DeviceChannel, bytes: u64, error: &str) {
    record(state, user, &ch.sid, SessionCommand::End { bytes, error: error.to_owned() }).await;
}
