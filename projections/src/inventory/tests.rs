//! Given/when/then tests of the inventory read model: documents folded from deviceauth and
//! inventory events, the attribute index and counts, groups, tags, saved filters, check-ins.

use std::ops::Bound;

use fleetlog_events::Actor;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::DeviceDeploymentStatus;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::{FilterEvent, FilterTerm};
use fleetlog_events::inventory::{AttrValue, Attributes, InventoryEvent, Scalar, Tag};
use fleetlog_events::user::UserEvent;

use super::{InventoryProjection, InventoryQueries, ValueRange};
use crate::testing::{Given, START, T};

const SECOND: i64 = 1_000_000;

fn text(s: &str) -> Scalar {
    Scalar::Text(s.into())
}

fn attrs(pairs: &[(&str, AttrValue)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).into(), v.clone())).collect()
}

fn submit(id: &str) -> DeviceEvent {
    DeviceEvent::AuthSetSubmitted {
        auth_set_id: format!("as-{id}"),
        identity_data: format!(r#"{{"mac":"mac-{id}","sn":42}}"#),
        pubkey: "key".into(),
    }
}

/// Devices that asked to join, each reporting its own events; the operator acts next.
fn devices(ids: &[&str]) -> Given<InventoryProjection> {
    let mut g = Given::new(InventoryProjection);
    for id in ids {
        g = g.by(Actor::device(id)).event("device", id, submit(id));
    }
    g.by(Actor::user("u1", "alice@example.com"))
}

fn reported(id: &str, attributes: Attributes) -> Given<InventoryProjection> {
    devices(&[id]).by(Actor::device(id)).event(
        "inventory",
        id,
        InventoryEvent::InventoryReported { attributes },
    )
}

#[test]
fn a_submitted_device_has_its_identity_and_pending_status_indexed() {
    devices(&["d1", "d2"]).then(|m| {
        let q = InventoryQueries(m);
        let d = q.get(T, "d1").unwrap().expect("document");
        assert_eq!(d.identity["mac"], AttrValue::Text("mac-d1".into()));
        assert_eq!(d.identity["sn"], AttrValue::Number(42.0));
        assert_eq!(d.lookup("identity", "status"), Some(AttrValue::Text("pending".into())));
        assert_eq!((d.created_ts, d.check_in_ts), (START, Some(START)));
        assert_eq!(q.total(T).unwrap(), 2);
        assert_eq!(q.ids(T, 1, 10).unwrap(), ["d2"]);
        assert_eq!(q.matching(T, "identity", "mac", &ValueRange::Exact(text("mac-d2"))).unwrap(), ["d2"]);
        assert_eq!(
            q.matching(T, "identity", "status", &ValueRange::Exact(text("pending"))).unwrap(),
            ["d1", "d2"]
        );
        let counts = q.attribute_counts(T).unwrap();
        assert!(counts.contains(&("identity".into(), "mac".into(), 2)), "{counts:?}");
        assert!(counts.contains(&("system".into(), "created_ts".into(), 2)), "{counts:?}");
    });
}

#[test]
fn an_accepted_device_is_found_under_its_new_status_only() {
    devices(&["d1"]).when("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as-d1".into() }).then(
        |m| {
            let q = InventoryQueries(m);
            assert!(q.has(T, "identity", "status", &text("accepted"), "d1").unwrap());
            assert!(!q.has(T, "identity", "status", &text("pending"), "d1").unwrap());
            assert_eq!(q.get(T, "d1").unwrap().unwrap().updated_ts, START + SECOND);
        },
    );
}

#[test]
fn a_full_report_of_the_old_shape_replaces_every_attribute() {
    let first = attrs(&[("kernel", AttrValue::Text("5.10".into())), ("mem", AttrValue::Number(512.0))]);
    let second = attrs(&[("kernel", AttrValue::Text("6.1".into()))]);
    reported("d1", first)
        .when("inventory", "d1", InventoryEvent::InventoryReported { attributes: second })
        .then(|m| {
            let q = InventoryQueries(m);
            let d = q.get(T, "d1").unwrap().unwrap();
            assert_eq!(d.attributes.keys().collect::<Vec<_>>(), ["kernel"]);
            assert_eq!(
                q.matching(T, "inventory", "kernel", &ValueRange::Exact(text("6.1"))).unwrap(),
                ["d1"]
            );
            assert!(
                q.matching(T, "inventory", "kernel", &ValueRange::Exact(text("5.10"))).unwrap().is_empty()
            );
            assert!(q.matching(T, "inventory", "mem", &ValueRange::Any).unwrap().is_empty());
            let counts = q.attribute_counts(T).unwrap();
            assert!(!counts.iter().any(|(s, n, _)| s == "inventory" && n == "mem"), "{counts:?}");
        });
}

#[test]
fn a_change_sets_and_removes_only_the_named_attributes() {
    let first = attrs(&[("a", AttrValue::Number(1.0)), ("b", AttrValue::Text("x".into()))]);
    let change = InventoryEvent::InventoryChanged {
        set: attrs(&[("b", AttrValue::Text("y".into())), ("c", AttrValue::Number(3.0))]),
        removed: vec!["a".into()],
    };
    reported("d1", first).when("inventory", "d1", change).then(|m| {
        let q = InventoryQueries(m);
        let d = q.get(T, "d1").unwrap().unwrap();
        assert_eq!(d.attributes, attrs(&[("b", AttrValue::Text("y".into())), ("c", AttrValue::Number(3.0))]));
        assert!(q.has(T, "inventory", "b", &text("y"), "d1").unwrap());
        assert!(!q.has(T, "inventory", "b", &text("x"), "d1").unwrap());
        assert!(!q.has(T, "inventory", "a", &Scalar::Number(1.0), "d1").unwrap());
        let inventory: Vec<_> =
            q.attribute_counts(T).unwrap().into_iter().filter(|(s, _, _)| s == "inventory").collect();
        assert_eq!(inventory, [("inventory".into(), "b".into(), 1), ("inventory".into(), "c".into(), 1)]);
    });
}

#[test]
fn lists_are_indexed_per_element_and_numbers_by_range() {
    let mem = |n: f64| InventoryEvent::InventoryChanged {
        set: attrs(&[("mem", AttrValue::Number(n))]),
        removed: vec![],
    };
    let nics = AttrValue::List(vec![text("eth0"), text("wlan0")]);
    devices(&["d1", "d2", "d3"])
        .event(
            "inventory",
            "d1",
            InventoryEvent::InventoryChanged { set: attrs(&[("nic", nics)]), removed: vec![] },
        )
        .event("inventory", "d1", mem(512.0))
        .event("inventory", "d2", mem(1024.0))
        .when("inventory", "d3", mem(2048.0))
        .then(|m| {
            let q = InventoryQueries(m);
            assert_eq!(q.matching(T, "inventory", "nic", &ValueRange::Exact(text("wlan0"))).unwrap(), ["d1"]);
            let at_least_1024 =
                ValueRange::Between(Bound::Included(Scalar::Number(1024.0)), Bound::Unbounded);
            assert_eq!(q.matching(T, "inventory", "mem", &at_least_1024).unwrap(), ["d2", "d3"]);
            let below_2048 = ValueRange::Between(Bound::Unbounded, Bound::Excluded(Scalar::Number(2048.0)));
            assert_eq!(q.matching(T, "inventory", "mem", &below_2048).unwrap(), ["d1", "d2"]);
            assert_eq!(q.estimate(T, "inventory", "mem", &ValueRange::Any, 2).unwrap(), 2, "capped");
        });
}

#[test]
fn tags_are_shown_indexed_and_versioned() {
    let tags = [("owner".to_owned(), Tag { value: "ops".into(), description: "team".into() })].into();
    devices(&["d1"])
        .when("inventory", "d1", InventoryEvent::InventoryTagsSet { tags, etag: "e1".into() })
        .then(|m| {
            let q = InventoryQueries(m);
            let d = q.get(T, "d1").unwrap().unwrap();
            assert_eq!((d.tags["owner"].description.as_str(), d.tags_etag.as_str()), ("team", "e1"));
            assert_eq!(d.lookup("tags", "owner"), Some(AttrValue::Text("ops".into())));
            assert_eq!(q.matching(T, "tags", "owner", &ValueRange::Exact(text("ops"))).unwrap(), ["d1"]);
        });
}

#[test]
fn groups_are_distinct_values_and_a_device_leaves_its_group() {
    let assign = |g: &str| InventoryEvent::InventoryGroupAssigned { group: g.into() };
    let g = devices(&["d1", "d2", "d3"])
        .event("inventory", "d1", assign("lab"))
        .event("inventory", "d2", assign("field"))
        .event("inventory", "d3", assign("lab"));
    let m = g.model();
    assert_eq!(InventoryQueries(&m).distinct_texts(T, "system", "group").unwrap(), ["field", "lab"]);
    g.event("inventory", "d2", assign("lab"))
        .when("inventory", "d1", InventoryEvent::InventoryGroupUnassigned { group: "lab".into() })
        .then(|m| {
            let q = InventoryQueries(m);
            assert_eq!(q.distinct_texts(T, "system", "group").unwrap(), ["lab"]);
            assert_eq!(
                q.matching(T, "system", "group", &ValueRange::Exact(text("lab"))).unwrap(),
                ["d2", "d3"]
            );
            assert_eq!(q.get(T, "d1").unwrap().unwrap().group, None);
        });
}

#[test]
fn a_deleted_inventory_keeps_the_device_but_not_its_reports_tags_or_group() {
    reported("d1", attrs(&[("a", AttrValue::Number(1.0))]))
        .event("inventory", "d1", InventoryEvent::InventoryGroupAssigned { group: "lab".into() })
        .by(Actor::user("u1", "alice@example.com"))
        .when("inventory", "d1", InventoryEvent::InventoryDeleted)
        .then(|m| {
            let q = InventoryQueries(m);
            let d = q.get(T, "d1").unwrap().expect("the device stays");
            assert!(d.attributes.is_empty() && d.tags.is_empty() && d.group.is_none());
            assert!(!d.identity.is_empty());
            assert!(q.distinct_texts(T, "system", "group").unwrap().is_empty());
            assert!(q.matching(T, "inventory", "a", &ValueRange::Any).unwrap().is_empty());
        });
}

#[test]
fn a_decommissioned_device_leaves_no_document_index_entry_or_count() {
    reported("d1", attrs(&[("a", AttrValue::Number(1.0))]))
        .by(Actor::user("u1", "alice@example.com"))
        .when("device", "d1", DeviceEvent::DeviceDecommissioned)
        .then(|m| {
            let q = InventoryQueries(m);
            assert_eq!(q.get(T, "d1").unwrap(), None);
            assert_eq!(q.total(T).unwrap(), 0);
            assert!(q.attribute_counts(T).unwrap().is_empty());
            assert!(q.matching(T, "identity", "mac", &ValueRange::Any).unwrap().is_empty());
            assert!(q.ids(T, 0, 10).unwrap().is_empty());
        });
}

#[test]
fn saved_filters_are_listed_until_deleted() {
    let term = FilterTerm {
        scope: "inventory".into(),
        attribute: "mem".into(),
        op: "$gt".into(),
        value_json: "512".into(),
    };
    let created = |name: &str| FilterEvent::FilterCreated { name: name.into(), terms: vec![term.clone()] };
    devices(&["d1"])
        .event("filter", "f1", created("big"))
        .event("filter", "f2", created("other"))
        .when("filter", "f2", FilterEvent::FilterDeleted)
        .then(|m| {
            let q = InventoryQueries(m);
            let f = q.saved_filter(T, "f1").unwrap().expect("filter");
            assert_eq!((f.name.as_str(), f.terms.as_slice()), ("big", [term.clone()].as_slice()));
            assert_eq!(q.saved_filter(T, "f2").unwrap(), None);
            assert_eq!(q.saved_filters(T).unwrap(), [f]);
        });
}

#[test]
fn the_devices_own_events_of_any_aggregate_are_its_check_ins() {
    let status = DeviceDeploymentEvent::DeviceDeploymentStatusChanged {
        status: DeviceDeploymentStatus::Downloading,
        substate: String::new(),
    };
    devices(&["d1"])
        .event("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as-d1".into() })
        .by(Actor::device("d1"))
        .at(START + 60 * SECOND)
        .event("connection", "d1", ConnectEvent::DeviceConnected { connection_id: "c1".into() })
        .event("devdeployment", "dep1:d1", status)
        .by(Actor::user("u1", "alice@example.com"))
        .when("inventory", "d1", InventoryEvent::InventoryGroupAssigned { group: "lab".into() })
        .then(|m| {
            let d = InventoryQueries(m).get(T, "d1").unwrap().unwrap();
            assert_eq!(d.check_in_ts, Some(START + 61 * SECOND), "the operator's group is not a check-in");
            assert_eq!(d.connection, Some((true, START + 60 * SECOND)));
            assert_eq!(d.lookup("system", "connection_status"), Some(AttrValue::Text("connected".into())));
            assert_eq!(d.updated_ts, START + 62 * SECOND);
        });
}

fn history() -> Given<InventoryProjection> {
    reported("d1", attrs(&[("a", AttrValue::Number(1.0)), ("l", AttrValue::List(vec![text("x")]))]))
        .event("device", "d2", submit("d2"))
        .event(
            "inventory",
            "d1",
            InventoryEvent::InventoryChanged {
                set: attrs(&[("b", AttrValue::Number(2.0))]),
                removed: vec!["a".into()],
            },
        )
        .event("inventory", "d2", InventoryEvent::InventoryGroupAssigned { group: "g".into() })
        .event("connection", "d2", ConnectEvent::DeviceDisconnected { connection_id: "c".into() })
        .by(Actor::user("u1", "alice@example.com"))
        .event("device", "d1", DeviceEvent::AuthSetRejected { auth_set_id: "as-d1".into() })
        .event("filter", "f1", FilterEvent::FilterCreated { name: "n".into(), terms: vec![] })
        .event("device", "d2", DeviceEvent::DeviceDecommissioned)
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn events_of_other_aggregates_are_ignored() {
    history().assert_ignores("user", "u1", UserEvent::UserDeleted);
    // Of a device never seen, even its own.
    history().by(Actor::device("d9")).assert_ignores("inventory", "d9", InventoryEvent::InventoryDeleted);
}
