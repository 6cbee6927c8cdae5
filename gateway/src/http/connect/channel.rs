//! One session's path to a device over NATS: frames go out on the device's `down` subject and
//! come back on `up.<sid>`; the device's `gone` notice ends the wait. Used by the file
//! transfers, where the server itself speaks to mender-connect.

use std::time::Duration;

use futures::StreamExt;

use super::protomsg::{PROTO_CONTROL, ProtoMsg, encode_body};
use super::subject;
use crate::state::AppState;

/// How long the device may stay silent during a transfer (Mender: 60 s).
pub const SILENCE: Duration = Duration::from_secs(60);

/// Why talking to the device failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Nothing came in time.
    #[error("file transfer timed out")]
    Timeout,
    /// The device's socket ended.
    #[error("device disconnected")]
    Gone,
    /// NATS failed.
    #[error("messaging: {0}")]
    Nats(String),
}

/// A session with one device.
pub struct DeviceChannel {
    client: async_nats::Client,
    down: String,
    up: async_nats::Subscriber,
    gone: async_nats::Subscriber,
    /// The session id.
    pub sid: String,
    /// The operator, as `user_id` in every frame.
    pub user_id: String,
}

impl DeviceChannel {
    /// Opens a fresh session id towards `device`.
    pub async fn open(state: &AppState, device: &str, user_id: &str) -> Result<DeviceChannel, ChannelError> {
        let client = state.store().client().clone();
        let sid = uuid::Uuid::new_v4().to_string();
        let nats = |e: async_nats::SubscribeError| ChannelError::Nats(e.to_string());
        let up = client.subscribe(subject(state, device, &format!("up.{sid}"))).await.map_err(nats)?;
        let gone = client.subscribe(subject(state, device, "gone")).await.map_err(nats)?;
        Ok(DeviceChannel {
            client,
            down: subject(state, device, "down"),
            up,
            gone,
            sid,
            user_id: user_id.to_owned(),
        })
    }

    /// Sends a frame (its sid set to this session's).
    pub async fn send(&self, mut frame: ProtoMsg) -> Result<(), ChannelError> {
        frame.hdr.sid.clone_from(&self.sid);
        self.client
            .publish(self.down.clone(), frame.encode().into())
            .await
            .map_err(|e| ChannelError::Nats(e.to_string()))
    }

    /// The next frame of this session, answering the device's control pings on the way.
    pub async fn recv(&mut self) -> Result<ProtoMsg, ChannelError> {
        loop {
            let msg = tokio::select! {
                m = tokio::time::timeout(SILENCE, self.up.next()) => m.map_err(|_| ChannelError::Timeout)?.ok_or(ChannelError::Gone)?,
                _ = self.gone.next() => return Err(ChannelError::Gone),
            };
            let Ok(frame) = ProtoMsg::decode(&msg.payload) else { continue };
            if frame.hdr.proto == PROTO_CONTROL && frame.hdr.typ == "ping" {
                let pong = ProtoMsg::new(PROTO_CONTROL, "pong", "").prop("user_id", self.user_id.as_str());
                self.send(pong).await?;
                continue;
            }
            return Ok(frame);
        }
    }

    /// The protocol handshake: `open` with version 1; the device's `accept` must list `proto`.
    pub async fn handshake(&mut self, proto: u16) -> Result<Result<(), String>, ChannelError> {
        #[derive(serde::Serialize)]
        struct Open {
            versions: Vec<i32>,
        }
        #[derive(serde::Deserialize)]
        struct Accept {
            #[serde(default)]
            protocols: Vec<u16>,
        }
        self.send(ProtoMsg::new(PROTO_CONTROL, "open", "").body(encode_body(&Open { versions: vec![1] })))
            .await?;
        let reply = self.recv().await?;
        if reply.hdr.typ == "error" {
            return Ok(Err(format!("handshake error from client: {}", error_text(&reply))));
        }
        let accept: Option<Accept> = rmp_serde::from_slice(&reply.body).ok();
        match accept {
            Some(a) if reply.hdr.typ == "accept" && a.protocols.contains(&proto) => Ok(Ok(())),
            Some(_) if reply.hdr.typ == "accept" => Ok(Err("file transfer disabled on device".into())),
            _ => Ok(Err("file transfer not implemented on device".into())),
        }
    }

    /// Ends the session on the device (control `close`).
    pub async fn close(&self) {
        let _ = self.send(ProtoMsg::new(PROTO_CONTROL, "close", "")).await;
    }
}

/// The `err` text of an error frame's body.
pub fn error_text(frame: &ProtoMsg) -> String {
    #[derive(serde::Deserialize)]
    struct Err {
        #[serde(default)]
        err: String,
    }
    rmp_serde::from_slice::<Err>(&frame.body).map(|e| e.err).unwrap_or_else(|_| "unknown device error".into())
}
