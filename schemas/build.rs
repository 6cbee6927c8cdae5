//! Compiles the `.proto` files with protox (pure Rust), so no system `protoc` is needed, and
//! generates from the same descriptors the JSON Schema of the events' JSON form (tail, SSE).

use std::collections::BTreeMap;

use prost_types::field_descriptor_proto::Type;
use serde_json::{Value, json};

/// Fields that never appear in the JSON form (secrets stay in the protobuf payload only).
const SECRET_FIELDS: &[&str] = &["password_hash"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/fleetlog/events/v1/envelope.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(files, ["proto"])?;
    let schema = json_schema(&descriptors);
    let out = std::env::var("OUT_DIR")?;
    std::fs::write(format!("{out}/events.schema.json"), serde_json::to_string_pretty(&schema)? + "\n")?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}

fn json_type(t: Type) -> Value {
    match t {
        Type::String | Type::Bytes => json!({ "type": "string" }),
        Type::Bool => json!({ "type": "boolean" }),
        Type::Double | Type::Float => json!({ "type": "number" }),
        // Maps (the only message-typed fields of events) render as JSON objects.
        Type::Message => json!({ "type": "object" }),
        _ => json!({ "type": "integer" }),
    }
}

/// One schema for the JSON form of every event: the envelope fields, and `data` as one of the
/// event messages (its fields plus `type`, the message name).
fn json_schema(fds: &prost_types::FileDescriptorSet) -> Value {
    let messages: BTreeMap<&str, &prost_types::DescriptorProto> =
        fds.file.iter().flat_map(|f| f.message_type.iter()).map(|m| (m.name(), m)).collect();
    let envelope = messages["Envelope"];
    let mut variants = Vec::new();
    for field in envelope.field.iter().filter(|f| f.oneof_index.is_some()) {
        let name = field.type_name().rsplit('.').next().unwrap_or_default();
        let message = messages[name];
        let mut properties = serde_json::Map::new();
        properties.insert("type".into(), json!({ "const": name }));
        for f in message.field.iter().filter(|f| !SECRET_FIELDS.contains(&f.name())) {
            properties.insert(f.name().into(), json_type(f.r#type()));
        }
        let required: Vec<&String> = properties.keys().collect();
        variants
            .push(json!({ "title": name, "type": "object", "properties": properties, "required": required }));
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "fleetlog event (JSON form)",
        "type": "object",
        "required": ["seq", "id", "type", "tenant", "aggregate", "occurred_at_us", "actor", "command_id", "correlation_id", "data"],
        "properties": {
            "seq": { "type": "integer", "description": "position in the log (stream sequence)" },
            "id": { "type": "string", "description": "event id, UUIDv7" },
            "type": { "type": "string", "description": "event type, the name of the data message" },
            "tenant": { "type": "string" },
            "aggregate": {
                "type": "object",
                "required": ["type", "id"],
                "properties": { "type": { "type": "string" }, "id": { "type": "string" } }
            },
            "occurred_at_us": { "type": "integer", "description": "microseconds since the Unix epoch" },
            "actor": {
                "type": "object",
                "required": ["kind", "id"],
                "properties": {
                    "kind": { "enum": ["user", "device", "system"] },
                    "id": { "type": "string" },
                    "email": { "type": "string" }
                }
            },
            "command_id": { "type": "string" },
            "correlation_id": { "type": "string" },
            "data": { "oneOf": variants }
        }
    })
}
