//! The four fuzz targets: the artifact parser, the device auth request (body and signature),
//! deviceconnect frames, and the inventory filter language. Each runs the same code the
//! gateway runs on client input and names the outcome; properties that must hold (a decoded
//! frame survives re-encoding) are asserted, so breaking one is a crash.

use fleetlog_artifact::{ArtifactParser, Limits};
use fleetlog_gateway::app::devices::canonical_identity;
use fleetlog_gateway::auth::parse_public_key;
use fleetlog_gateway::http::connect::protomsg::ProtoMsg;
use fleetlog_projections::inventory::predicate::{FilterTerm, Predicate};
use fleetlog_projections::inventory::wire;
use serde_json::Value;

use super::{Target, class_of};

/// Every target, in the order the bench runs them.
pub const ALL: &[Target] = &[
    Target { name: "artifact", run: artifact },
    Target { name: "auth", run: auth_request },
    Target { name: "frame", run: frame },
    Target { name: "filter", run: filter },
];

/// The parser fed in uneven chunks (as an upload arrives), with limits small enough that a
/// decompression bomb costs milliseconds.
fn artifact(input: &[u8]) -> String {
    let limits = Limits {
        max_header_size: 1 << 20,
        max_small_file_size: 64 << 10,
        max_payload_files: 64,
        max_unpacked_payload_size: 4 << 20,
        xz_memory_limit: 16 << 20,
    };
    let mut parser = ArtifactParser::new(limits);
    let step = 1 + input.len() % 997;
    for chunk in input.chunks(step) {
        if let Err(e) = parser.feed(chunk) {
            return class_of("feed:", &e.to_string());
        }
    }
    match parser.finish() {
        Ok(meta) => format!("ok:v{}:{}", meta.info.version, meta.updates.len()),
        Err(e) => class_of("finish:", &e.to_string()),
    }
}

/// `signature\nbody`: the auth request's path before anything is stored — JSON, identity,
/// public key, signature over the raw body.
fn auth_request(input: &[u8]) -> String {
    let split = input.iter().position(|b| *b == b'\n').unwrap_or(input.len());
    let signature = String::from_utf8_lossy(&input[..split]);
    let body = input.get(split + 1..).unwrap_or_default();
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return "json".into();
    };
    let (Some(id_data), Some(pubkey)) =
        (req.get("id_data").and_then(Value::as_str), req.get("pubkey").and_then(Value::as_str))
    else {
        return "fields".into();
    };
    if let Err(e) = canonical_identity(id_data) {
        return class_of("identity:", &e.to_string());
    }
    let key = match parse_public_key(pubkey) {
        Ok(k) => k,
        Err(e) => return class_of("key:", &e.to_string()),
    };
    match key.verify(body, &signature) {
        Ok(()) => format!("verified:{}", key.algorithm()),
        Err(e) => class_of(key.algorithm(), &e.to_string()),
    }
}

/// A deviceconnect frame: decoding never panics, and what decodes re-encodes to a frame that
/// decodes to the same value (the relay re-encodes what it forwards).
fn frame(input: &[u8]) -> String {
    match ProtoMsg::decode(input) {
        Ok(msg) => {
            let again = ProtoMsg::decode(&msg.encode()).expect("a re-encoded frame decodes");
            assert_eq!(again, msg, "a frame survives re-encoding");
            format!("ok:{}:{}:{}", msg.hdr.proto, msg.hdr.props.len().min(4), msg.body.is_empty())
        }
        Err(e) => class_of("err:", &e.to_string()),
    }
}

/// A `filters/search` body's terms checked and evaluated against a device with a text, a
/// number and a list attribute, and planned on the index.
fn filter(input: &[u8]) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(input) else {
        return "json".into();
    };
    let terms: Vec<FilterTerm> = match body.get("filters").cloned().map(wire::terms) {
        Some(Ok(terms)) => terms,
        Some(Err(_)) => return "terms".into(),
        None => return "nofilters".into(),
    };
    let device = |scope: &str, name: &str| -> Option<Value> {
        match (scope, name) {
            ("inventory", "device_type") => Some(Value::String("raspberrypi4".into())),
            ("inventory", "mem_total_kB") => Some(serde_json::json!(1_024_000)),
            ("inventory", "ipv4") => Some(serde_json::json!(["10.0.0.2/8", "192.168.1.2/24"])),
            ("identity", "status") => Some(Value::String("accepted".into())),
            _ => None,
        }
    };
    let mut class = String::new();
    for term in &terms {
        match Predicate::parse(term) {
            Ok(f) => {
                let _ = f.ranges();
                let _ = f.point_values();
                class.push(if f.matches(device) { 'm' } else { 'n' });
            }
            Err(e) => return class_of("parse:", &e.to_string()),
        }
    }
    format!("ok:{class}")
}
