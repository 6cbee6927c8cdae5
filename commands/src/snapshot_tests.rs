//! The snapshot codec: what is trusted and what is ignored (the loads that use it are tested
//! against a real JetStream in the e2e binary's `snapshots` module).

use fleetlog_events::device::{Device, DeviceState};
use fleetlog_events::inventory::{AttrValue, InventoryState, Scalar, Tag};

use super::*;

fn state() -> InventoryState {
    let mut s = InventoryState::default();
    s.attributes.insert("uptime".into(), AttrValue::Number(42.5));
    s.attributes.insert("hostname".into(), AttrValue::Text("pi-1".into()));
    s.attributes.insert("ipv4".into(), AttrValue::List(vec![Scalar::Text("10.0.0.2/8".into())]));
    s.tags.insert("site".into(), Tag { value: "lab".into(), description: "bench 3".into() });
    s.tags_etag = "e1".into();
    s.group = Some("canary".into());
    s
}

#[test]
fn an_inventory_snapshot_round_trips_with_its_position_and_recent_commands() {
    let commands: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    let bytes = encode::<Inventory>(&state(), 7, "ev-7", &commands).expect("inventory is snapshotted");
    let (snap, event_id) = decode::<Inventory>(&bytes).expect("decodes");
    assert_eq!((snap.state, snap.seq, event_id.as_str()), (state(), 7, "ev-7"));
    assert_eq!(snap.commands, commands[50 - KEPT_COMMANDS..], "only the newest are kept");
}

#[test]
fn aggregates_without_a_policy_are_not_snapshotted() {
    assert!(policy(Device::TYPE).is_none());
    assert!(encode::<Device>(&DeviceState::default(), 1, "ev-1", &[]).is_none());
}

#[test]
fn a_corrupt_snapshot_is_ignored() {
    let bytes = encode::<Inventory>(&state(), 7, "ev-7", &[]).unwrap();
    assert!(decode::<Inventory>(&bytes[..bytes.len() / 2]).is_none(), "truncated");
    assert!(decode::<Inventory>(b"not a snapshot").is_none());
    assert!(decode::<Inventory>(&[]).is_none());
}

#[test]
fn a_snapshot_of_another_shape_version_or_aggregate_is_ignored() {
    let shape = policy(Inventory::TYPE).unwrap().shape;
    let stored = |aggregate: &str, shape: u32| {
        rmp_serde::to_vec_named(&Stored {
            aggregate: aggregate.into(),
            shape,
            seq: 3,
            event_id: "ev-3".into(),
            commands: vec![],
            state: state(),
        })
        .unwrap()
    };
    assert!(decode::<Inventory>(&stored("inventory", shape)).is_some(), "the control case decodes");
    assert!(decode::<Inventory>(&stored("inventory", shape + 1)).is_none(), "a newer shape");
    assert!(decode::<Inventory>(&stored("inventory", shape - 1)).is_none(), "an older shape");
    assert!(decode::<Inventory>(&stored("device", shape)).is_none(), "another aggregate");
    // The right header over a state of another type (a shape change without a new version).
    let other = rmp_serde::to_vec_named(&Stored {
        aggregate: "inventory".into(),
        shape,
        seq: 3,
        event_id: "ev-3".into(),
        commands: vec![],
        state: vec![1u8, 2, 3],
    })
    .unwrap();
    assert!(decode::<Inventory>(&other).is_none());
}

/// The stored shape of an inventory state, pinned: if this fails, `InventoryState` changed,
/// and [`policy`]'s `shape` must change with it so that old snapshots are ignored.
#[test]
fn the_inventory_state_shape_is_pinned_to_its_version() {
    let encoded = rmp_serde::to_vec_named(&state()).unwrap();
    let value: rmpv::Value = rmp_serde::from_slice(&encoded).unwrap();
    let fields: Vec<String> =
        value.as_map().unwrap().iter().map(|(k, _)| k.as_str().unwrap().to_owned()).collect();
    assert_eq!(fields, ["attributes", "tags", "tags_etag", "group"]);
    let tag = &value.as_map().unwrap()[1].1.as_map().unwrap()[0].1;
    let tag_fields: Vec<&str> = tag.as_map().unwrap().iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(tag_fields, ["value", "description"]);
    assert_eq!(policy(Inventory::TYPE).unwrap().shape, 1);
}

#[test]
fn keys_map_subject_tokens_one_to_one() {
    assert_eq!(key("fleetlog.default.inventory.a:b"), "fleetlog.default.inventory.a=b");
    assert_eq!(bucket("FLEETLOG"), "FLEETLOG-snapshots");
}
