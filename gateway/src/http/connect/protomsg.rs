//! Mender's deviceconnect frame: a msgpack `ProtoMsg` `{hdr: {proto, typ, sid, props}, body}`
//! in one binary WebSocket message. Empty fields are left out, as the Go peers do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Remote terminal.
pub const PROTO_SHELL: u16 = 1;
/// File transfer.
pub const PROTO_FILE: u16 = 2;
/// Port forwarding.
pub const PROTO_PORT_FORWARD: u16 = 3;
/// Commands to mender-client (check-update, send-inventory).
pub const PROTO_MENDER_CLIENT: u16 = 4;
/// Session control: open, accept, close, ping, pong, error.
pub const PROTO_CONTROL: u16 = 0xFFFF;

/// The largest message the device reads (mender-connect's limit): bigger ones kill its socket.
pub const DEVICE_MAX_MESSAGE: usize = 8192;

/// A frame's header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Protocol.
    pub proto: u16,
    /// Message type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub typ: String,
    /// Session id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
    /// Properties (types as the peer sent them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, rmpv::Value>,
}

/// One frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtoMsg {
    /// Header.
    pub hdr: Header,
    /// Payload.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub body: ByteBuf,
}

fn is_empty(b: &ByteBuf) -> bool {
    b.as_slice().is_empty()
}

/// Why a frame is refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid frame: {0}")]
pub struct FrameError(String);

impl ProtoMsg {
    /// A frame of `proto`/`typ` in session `sid`.
    pub fn new(proto: u16, typ: &str, sid: &str) -> ProtoMsg {
        ProtoMsg {
            hdr: Header { proto, typ: typ.into(), sid: sid.into(), props: BTreeMap::new() },
            body: ByteBuf::new(),
        }
    }

    /// With a property.
    pub fn prop(mut self, key: &str, value: impl Into<rmpv::Value>) -> ProtoMsg {
        self.hdr.props.insert(key.into(), value.into());
        self
    }

    /// With a body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> ProtoMsg {
        self.body = ByteBuf::from(body.into());
        self
    }

    /// Decodes one frame.
    pub fn decode(bytes: &[u8]) -> Result<ProtoMsg, FrameError> {
        rmp_serde::from_slice(bytes).map_err(|e| FrameError(e.to_string()))
    }

    /// Encodes the frame as the Go peers write it: maps with field names, `proto` as a
    /// uint16, and `offset` always as a 9-byte int64 — mender-connect reads it with a Go type
    /// assertion to int64 and refuses any narrower encoding.
    pub fn encode(&self) -> Vec<u8> {
        use rmp::encode as e;
        let mut out = Vec::with_capacity(64 + self.body.len());
        let h = &self.hdr;
        let fields =
            1 + u32::from(!h.typ.is_empty()) + u32::from(!h.sid.is_empty()) + u32::from(!h.props.is_empty());
        // Writing to a Vec cannot fail.
        let _ = e::write_map_len(&mut out, 1 + u32::from(!self.body.is_empty()));
        let _ = e::write_str(&mut out, "hdr");
        let _ = e::write_map_len(&mut out, fields);
        let _ = e::write_str(&mut out, "proto");
        let _ = e::write_u16(&mut out, h.proto);
        if !h.typ.is_empty() {
            let _ = e::write_str(&mut out, "typ");
            let _ = e::write_str(&mut out, &h.typ);
        }
        if !h.sid.is_empty() {
            let _ = e::write_str(&mut out, "sid");
            let _ = e::write_str(&mut out, &h.sid);
        }
        if !h.props.is_empty() {
            let _ = e::write_str(&mut out, "props");
            let _ = e::write_map_len(&mut out, h.props.len() as u32);
            for (k, v) in &h.props {
                let _ = e::write_str(&mut out, k);
                match (k.as_str(), v.as_i64()) {
                    ("offset", Some(n)) => {
                        let _ = e::write_i64(&mut out, n);
                    }
                    _ => {
                        let _ = rmpv::encode::write_value(&mut out, v);
                    }
                }
            }
        }
        if !self.body.is_empty() {
            let _ = e::write_str(&mut out, "body");
            let _ = e::write_bin(&mut out, &self.body);
        }
        out
    }

    /// An integer property.
    pub fn int_prop(&self, key: &str) -> Option<i64> {
        self.hdr.props.get(key).and_then(rmpv::Value::as_i64)
    }

    /// A text property.
    pub fn str_prop(&self, key: &str) -> Option<&str> {
        self.hdr.props.get(key).and_then(rmpv::Value::as_str)
    }
}

/// Encodes a msgpack body (a map with named fields) for protocols that carry structured
/// payloads (file transfer requests, control errors).
pub fn encode_body<T: Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_leave_out_empty_fields() {
        let m = ProtoMsg::new(PROTO_SHELL, "new", "s1").prop("terminal_width", 80u16).body(b"x".to_vec());
        let bytes = m.encode();
        assert_eq!(ProtoMsg::decode(&bytes).unwrap(), m);
        let bare = ProtoMsg::new(PROTO_CONTROL, "ping", "").encode();
        let text = String::from_utf8_lossy(&bare);
        assert!(!text.contains("sid") && !text.contains("props") && !text.contains("body"), "{text}");
        assert!(ProtoMsg::decode(b"not msgpack").is_err());
    }

    #[test]
    fn offsets_are_int64_as_mender_connect_requires() {
        // The device's end-of-file chunk as mender-connect writes it (research vector).
        let sid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0";
        let ack = ProtoMsg::new(PROTO_FILE, "ack", sid).prop("user_id", "u1").prop("offset", 5i64).encode();
        let hex: String = ack.iter().map(|b| format!("{b:02x}")).collect();
        let sid_hex: String = sid.bytes().map(|b| format!("{b:02x}")).collect();
        let want = format!(
            "81a368647284a570726f746fcd0002a3747970a361636ba3736964d924{sid_hex}a570726f707382a66f6666736574d30000000000000005a7757365725f6964a27531"
        );
        assert_eq!(hex, want);
        assert_eq!(ProtoMsg::decode(&ack).unwrap().int_prop("offset"), Some(5));
    }
}
