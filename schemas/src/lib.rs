//! The stored form of fleetlog's events: protobuf messages compiled from `proto/`, and the one
//! place that converts between them and the domain types of `fleetlog-events`.
//!
//! Domain types never derive prost. Old stored shapes are upcast in [`decode`] and nowhere else.

mod convert;
mod convert_events;
mod convert_from;
mod convert_integration;
mod convert_rollout;

use fleetlog_events::EventEnvelope;
use prost::Message;

/// Types generated from `proto/fleetlog/events/v1/*.proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/fleetlog.events.v1.rs"));
}

/// The JSON Schema of the events' JSON form ([`to_json`]), generated from the `.proto` files;
/// a copy is committed as `schemas/json/events.schema.json` for other tools.
pub const JSON_SCHEMA: &str = include_str!(concat!(env!("OUT_DIR"), "/events.schema.json"));

/// The shape version written by this build; [`decode`] accepts this and every older one.
pub const SCHEMA_VERSION: u32 = 1;

/// Why stored bytes are not an event this build understands.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a valid protobuf envelope.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] prost::DecodeError),
    /// The envelope carries no event, or one this build does not know (written by a newer one).
    #[error("unknown event in envelope (schema version {0})")]
    UnknownEvent(u32),
    /// A field required by the domain is missing or invalid.
    #[error("invalid field {0}")]
    InvalidField(&'static str),
}

/// Encodes an envelope into its stored form, appending to `buf`.
pub fn encode_into(envelope: &EventEnvelope, buf: &mut Vec<u8>) {
    let stored = proto::Envelope::from(envelope);
    buf.reserve(stored.encoded_len());
    // Encoding into a Vec cannot run out of capacity.
    stored.encode(buf).expect("Vec grows as needed");
}

/// Encodes an envelope into its stored form.
pub fn encode(envelope: &EventEnvelope) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_into(envelope, &mut buf);
    buf
}

/// Decodes a stored envelope of any released schema version into the current domain shape.
pub fn decode(bytes: &[u8]) -> Result<EventEnvelope, DecodeError> {
    let stored = proto::Envelope::decode(bytes)?;
    // Upcasting goes here: match on `stored.schema_version` and rewrite old shapes before the
    // conversion. Version 1 is the first released shape, so there is nothing to rewrite yet.
    EventEnvelope::try_from(stored)
}

/// Renders an event as JSON for tail, audit and other tools: the envelope's metadata, the
/// stream position, and the event's own fields under `data`.
pub fn to_json(seq: u64, envelope: &EventEnvelope) -> serde_json::Value {
    serde_json::json!({
        "seq": seq,
        "id": envelope.event_id,
        "type": envelope.event.event_type(),
        "tenant": envelope.aggregate.tenant,
        "aggregate": { "type": envelope.aggregate.kind, "id": envelope.aggregate.id },
        "occurred_at_us": envelope.occurred_at.0,
        "actor": envelope.actor,
        "command_id": envelope.command_id,
        "correlation_id": envelope.correlation_id,
        "data": envelope.event,
    })
}

#[cfg(test)]
mod tests;
