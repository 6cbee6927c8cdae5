//! Round trips of every event, and the committed fixture that old encodings must keep decoding.

use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::user::UserEvent;
use fleetlog_events::{Actor, ActorKind, AggregateRef, DomainEvent, EventEnvelope, Timestamp};

use super::*;

mod sample_events;
use sample_events::later_events;

/// One envelope per event type, with every field set.
fn samples() -> Vec<EventEnvelope> {
    let events = [
        DeviceEvent::AuthSetSubmitted {
            auth_set_id: "0192d0f4-0000-7000-8000-000000000001".into(),
            identity_data: r#"{"mac":"52:54:00:12:34:56"}"#.into(),
            pubkey: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n".into(),
        },
        DeviceEvent::AuthSetAccepted { auth_set_id: "a1".into() },
        DeviceEvent::AuthSetRejected { auth_set_id: "a2".into() },
        DeviceEvent::DeviceDecommissioned,
        DeviceEvent::DevicePreauthorized {
            auth_set_id: "p1".into(),
            identity_data: r#"{"mac":"52:54:00:12:34:57"}"#.into(),
            pubkey: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEB\n-----END PUBLIC KEY-----\n".into(),
        },
        DeviceEvent::AuthSetPending { auth_set_id: "a1".into() },
        DeviceEvent::AuthSetDismissed { auth_set_id: "a2".into() },
        DeviceEvent::DeviceTokensRevoked { auth_set_id: "a1".into() },
    ]
    .map(DomainEvent::Device)
    .into_iter()
    .chain([
        DomainEvent::User(UserEvent::UserCreated {
            email: "admin@example.com".into(),
            password_hash: "$argon2id$v=19$x".into(),
        }),
        DomainEvent::User(UserEvent::UserPasswordChanged { password_hash: "$argon2id$v=19$y".into() }),
        DomainEvent::User(UserEvent::UserEmailChanged { email: "root@example.com".into() }),
        DomainEvent::User(UserEvent::UserDeleted),
        DomainEvent::User(UserEvent::UserTokenIssued {
            jti: "t1".into(),
            name: "ci".into(),
            exp: 1_800_000_000,
        }),
        DomainEvent::User(UserEvent::UserTokenRevoked { jti: "t1".into() }),
        DomainEvent::Settings(fleetlog_events::settings::SettingsEvent::SettingsSaved {
            json: "{\"2fa\":\"disabled\"}".into(),
        }),
        DomainEvent::Inventory(fleetlog_events::inventory::InventoryEvent::InventoryReported {
            attributes: [
                ("device_type".to_owned(), fleetlog_events::inventory::AttrValue::Text("qemux86-64".into())),
                ("mem_kb".to_owned(), fleetlog_events::inventory::AttrValue::Number(1024.0)),
                (
                    "ipv4".to_owned(),
                    fleetlog_events::inventory::AttrValue::List(vec![
                        fleetlog_events::inventory::Scalar::Text("10.0.2.15/24".into()),
                    ]),
                ),
            ]
            .into_iter()
            .collect(),
        }),
        DomainEvent::Claim(ClaimEvent::ClaimTaken { holder: "u1".into() }),
        DomainEvent::Claim(ClaimEvent::ClaimReleased { holder: "u1".into() }),
    ])
    .chain(later_events());
    events
        .enumerate()
        .map(|(i, e)| EventEnvelope {
            event_id: format!("0192d0f4-0000-7000-8000-0000000001{i:02}"),
            aggregate: AggregateRef { tenant: "default".into(), kind: "device".into(), id: "dev-1".into() },
            occurred_at: Timestamp(1_764_000_000_000_000 + i as i64),
            actor: Actor { kind: ActorKind::User, id: "u1".into(), email: "admin@example.com".into() },
            command_id: format!("cmd-{i}"),
            correlation_id: format!("req-{i}"),
            event: e,
        })
        .collect()
}

#[test]
fn every_event_round_trips_through_protobuf() {
    for sample in samples() {
        let bytes = encode(&sample);
        assert_eq!(decode(&bytes).unwrap(), sample);
    }
}

#[test]
fn garbage_is_a_decode_error_not_a_panic() {
    assert!(matches!(decode(b"\xff\xff\xff"), Err(DecodeError::Malformed(_))));
    // A valid envelope with no event (e.g. one written by a newer build) is named as such.
    assert!(matches!(decode(&[]), Err(DecodeError::UnknownEvent(0))));
}

#[test]
fn every_event_renders_as_json() {
    for (i, sample) in samples().iter().enumerate() {
        let json = to_json(i as u64 + 1, sample);
        assert_eq!(json["seq"], i as u64 + 1);
        assert_eq!(json["type"], sample.event.event_type());
        assert_eq!(json["data"]["type"], sample.event.event_type());
        assert!(!json.to_string().contains("argon2"), "password hashes never render");
        assert!(!json.to_string().contains("c0ffee"), "webhook secrets never render");
        assert_eq!(json["actor"]["kind"], "user");
    }
}

/// The encodings of released schema versions, committed as hex lines. They must keep
/// decoding to the samples forever; regenerate only when adding a new version's file,
/// with `FLEETLOG_BLESS=1 cargo test -p fleetlog-schemas`.
#[test]
fn released_encodings_keep_decoding() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events-v1.hex");
    if std::env::var_os("FLEETLOG_BLESS").is_some() {
        let hex: Vec<String> = samples().iter().map(|s| to_hex(&encode(s))).collect();
        std::fs::write(path, hex.join("\n") + "\n").unwrap();
    }
    let text = std::fs::read_to_string(path).expect("fixture present");
    let decoded: Vec<EventEnvelope> = text.lines().map(|l| decode(&from_hex(l)).unwrap()).collect();
    assert_eq!(decoded, samples());
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn the_list_of_event_types_is_complete() {
    let mut seen: Vec<&str> = samples().iter().map(|s| s.event.event_type()).collect();
    seen.sort();
    seen.dedup();
    let mut listed = fleetlog_events::EVENT_TYPES.to_vec();
    listed.sort();
    assert_eq!(seen, listed, "every event type has a sample and is listed in EVENT_TYPES");
}

/// The committed JSON Schema is the generated one; regenerate with `FLEETLOG_BLESS=1`.
#[test]
fn the_committed_json_schema_is_current_and_describes_every_event() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/json/events.schema.json");
    if std::env::var_os("FLEETLOG_BLESS").is_some() {
        std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/json")).unwrap();
        std::fs::write(path, JSON_SCHEMA).unwrap();
    }
    assert_eq!(std::fs::read_to_string(path).expect("committed schema"), JSON_SCHEMA);
    let schema: serde_json::Value = serde_json::from_str(JSON_SCHEMA).unwrap();
    let variants = schema["properties"]["data"]["oneOf"].as_array().unwrap();
    assert_eq!(variants.len(), fleetlog_events::EVENT_TYPES.len());
    // Every sample's JSON form has exactly the fields its variant lists.
    for (i, sample) in samples().iter().enumerate() {
        let json = to_json(i as u64 + 1, sample);
        for key in schema["required"].as_array().unwrap() {
            assert!(json.get(key.as_str().unwrap()).is_some(), "{key} missing");
        }
        let variant = variants.iter().find(|v| v["title"] == json["type"]).expect("a variant per type");
        let mut want: Vec<&str> =
            variant["required"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
        let mut have: Vec<&str> = json["data"].as_object().unwrap().keys().map(String::as_str).collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "{}", json["type"]);
    }
}

/// Issue 12: reports now store only what changed (`InventoryChanged`); the whole-inventory
/// `InventoryReported` of the committed fixture must keep folding, alone and under later changes.
#[test]
fn the_committed_whole_inventory_report_still_folds() {
    use fleetlog_events::Aggregate;
    use fleetlog_events::inventory::{AttrValue, Inventory, InventoryEvent};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events-v1.hex");
    let text = std::fs::read_to_string(path).expect("fixture present");
    let inventory: Vec<InventoryEvent> = text
        .lines()
        .filter_map(|l| match decode(&from_hex(l)).unwrap().event {
            DomainEvent::Inventory(
                e @ (InventoryEvent::InventoryReported { .. } | InventoryEvent::InventoryChanged { .. }),
            ) => Some(e),
            _ => None,
        })
        .collect();
    let [old @ InventoryEvent::InventoryReported { attributes }, change] = inventory.as_slice() else {
        panic!("the fixture holds one report of each shape: {inventory:?}");
    };
    let whole = Inventory::evolve(Inventory::initial(), old);
    assert_eq!(&whole.attributes, attributes);
    let same = InventoryEvent::InventoryChanged { set: attributes.clone(), removed: vec![] };
    assert_eq!(Inventory::evolve(Inventory::initial(), &same), whole);
    let later = Inventory::evolve(whole, change);
    let names: Vec<&str> = later.attributes.keys().map(String::as_str).collect();
    assert_eq!(names, ["device_type", "mem_kb"]);
    assert_eq!(later.attributes["mem_kb"], AttrValue::Number(2048.0));
}
