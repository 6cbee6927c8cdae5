//! What a document change does to the attribute index and the per-attribute counts: only the
//! entries whose value changed are removed or added, so a report that changes one attribute of
//! twenty touches that attribute's entry (and the times the event moves), not every key.

use std::borrow::Cow;
use std::collections::BTreeMap;

use fleetlog_events::inventory::{AttrValue, Scalar};

use super::InventoryDoc;
use super::index::{entry_key, scalars};

/// An attribute: its scope and name.
type Name<'a> = (&'static str, Cow<'a, str>);

/// The index keys and attribute names to remove and to add.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Change {
    /// Index keys no longer true.
    pub removed_keys: Vec<Vec<u8>>,
    /// Index keys newly true.
    pub added_keys: Vec<Vec<u8>>,
    /// Attributes the device no longer has (their counts go down).
    pub gone: Vec<(&'static str, String)>,
    /// Attributes the device did not have before (their counts go up).
    pub appeared: Vec<(&'static str, String)>,
}

fn by_name(d: Option<&InventoryDoc>) -> BTreeMap<Name<'_>, AttrValue> {
    d.map(|d| d.entries().into_iter().map(|(scope, name, value)| ((scope, name), value)).collect())
        .unwrap_or_default()
}

/// Elements of `a` that are not in `b` (a list value's elements are indexed one by one).
fn missing_from(a: &[Scalar], b: &[Scalar]) -> Vec<Scalar> {
    a.iter().filter(|s| !b.contains(s)).cloned().collect()
}

/// The index work of replacing document `old` by `new` (either may be absent) of device `id`.
pub(super) fn change(
    tenant: &str,
    id: &str,
    old: Option<&InventoryDoc>,
    new: Option<&InventoryDoc>,
) -> Change {
    let (before, after) = (by_name(old), by_name(new));
    let mut out = Change::default();
    let key = |(scope, name): &Name<'_>, s: &Scalar| entry_key(tenant, scope, name, s, id);
    // The same walk both ways: what `before` has that `after` lacks is removed, and the reverse
    // is added.
    for (from, to, names, keys) in [
        (&before, &after, &mut out.gone, &mut out.removed_keys),
        (&after, &before, &mut out.appeared, &mut out.added_keys),
    ] {
        for (name, value) in from {
            let other = to.get(name);
            if other == Some(value) {
                continue;
            }
            if other.is_none() {
                names.push((name.0, name.1.clone().into_owned()));
            }
            let (these, those) = (scalars(value), other.map(scalars).unwrap_or_default());
            keys.extend(missing_from(&these, &those).iter().map(|s| key(name, s)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use fleetlog_events::inventory::{AttrValue, Scalar};

    use super::change;
    use crate::inventory::InventoryDoc;
    use crate::inventory::index::entry_key;

    fn doc(pairs: &[(&str, AttrValue)]) -> InventoryDoc {
        let attributes = pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        InventoryDoc { id: "d1".into(), attributes, ..Default::default() }
    }

    fn text(s: &str) -> Scalar {
        Scalar::Text(s.into())
    }

    #[test]
    fn one_changed_value_of_twenty_is_one_key_out_and_one_in() {
        let mut pairs: Vec<(String, AttrValue)> =
            (0..20).map(|i| (format!("a{i}"), AttrValue::Number(f64::from(i)))).collect();
        let old = doc(&pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
        pairs[7].1 = AttrValue::Number(70.0);
        let new = doc(&pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
        let c = change("t", "d1", Some(&old), Some(&new));
        let key = |n: f64| entry_key("t", "inventory", "a7", &Scalar::Number(n), "d1");
        assert_eq!(c.removed_keys, [key(7.0)]);
        assert_eq!(c.added_keys, [key(70.0)]);
        assert!(c.gone.is_empty() && c.appeared.is_empty(), "{c:?}");
    }

    #[test]
    fn a_list_changes_by_its_elements_and_counts_move_with_presence() {
        let old = doc(&[
            ("ifs", AttrValue::List(vec![text("eth0"), text("wlan0")])),
            ("x", AttrValue::Number(1.0)),
        ]);
        let new =
            doc(&[("ifs", AttrValue::List(vec![text("eth0"), text("usb0")])), ("y", AttrValue::Number(1.0))]);
        let c = change("t", "d1", Some(&old), Some(&new));
        let key = |n: &str, s: Scalar| entry_key("t", "inventory", n, &s, "d1");
        assert_eq!(c.removed_keys, [key("ifs", text("wlan0")), key("x", Scalar::Number(1.0))]);
        assert_eq!(c.added_keys, [key("ifs", text("usb0")), key("y", Scalar::Number(1.0))]);
        assert_eq!(c.gone, [("inventory", "x".to_owned())]);
        assert_eq!(c.appeared, [("inventory", "y".to_owned())]);
    }

    #[test]
    fn a_new_document_adds_every_entry_and_a_removed_one_takes_them_all() {
        let d = doc(&[("a", AttrValue::Text("1".into()))]);
        let added = change("t", "d1", None, Some(&d));
        // identity status, created_ts, updated_ts and the attribute.
        assert_eq!(added.added_keys.len(), 4, "{added:?}");
        assert_eq!(added.appeared.len(), 4);
        let removed = change("t", "d1", Some(&d), None);
        let (mut a, mut r) = (added.added_keys, removed.removed_keys);
        a.sort();
        r.sort();
        assert_eq!(a, r);
        assert_eq!(removed.gone.len(), 4);
        assert_eq!(change("t", "d1", Some(&d), Some(&d)), Default::default());
    }

    /// The attribute an index key is about: (scope, name) after `x/<tenant>/`.
    fn attribute_of(key: &[u8]) -> (String, String) {
        let rest = &key[b"x/default/".len()..];
        let slash = rest.iter().position(|b| *b == b'/').expect("scope");
        let len = usize::from(u16::from_be_bytes([rest[slash + 1], rest[slash + 2]]));
        let name = &rest[slash + 3..slash + 3 + len];
        (String::from_utf8_lossy(&rest[..slash]).into(), String::from_utf8_lossy(name).into())
    }

    #[test]
    fn a_report_that_changes_one_attribute_of_twenty_writes_that_entry_the_times_and_the_document() {
        use fleetlog_events::Actor;
        use fleetlog_events::device::DeviceEvent;
        use fleetlog_events::inventory::InventoryEvent;

        use crate::Projection;
        use crate::inventory::InventoryProjection;
        use crate::testing::Given;

        let twenty = |a7: f64| {
            let mut a: fleetlog_events::inventory::Attributes =
                (0..20).map(|i| (format!("a{i}"), AttrValue::Number(f64::from(i)))).collect();
            a.insert("a7".into(), AttrValue::Number(a7));
            a
        };
        let submitted = DeviceEvent::AuthSetSubmitted {
            auth_set_id: "as1".into(),
            identity_data: r#"{"mac":"m1"}"#.into(),
            pubkey: "k".into(),
        };
        let given = Given::new(InventoryProjection)
            .by(Actor::device("d1"))
            .event("device", "d1", submitted)
            .by(Actor::user("u1", "alice@example.com"))
            .event("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as1".into() })
            .by(Actor::device("d1"))
            .event("inventory", "d1", InventoryEvent::InventoryChanged { set: twenty(7.0), removed: vec![] })
            // What the command side appends for a full report in which one value changed.
            .when("inventory", "d1", InventoryEvent::InventoryChanged { set: twenty(70.0), removed: vec![] });
        let (history, report) = given.events().split_at(3);
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        crate::host::apply_batch(&tree, &InventoryProjection, history).unwrap();

        let mut w = crate::Writer::new(&tree);
        InventoryProjection.apply(&mut w, &report[0]).unwrap();
        let written = w.written();
        let mut index: Vec<(String, String, bool)> = written
            .iter()
            .filter(|(k, _)| k.starts_with(b"x/"))
            .map(|(k, set)| {
                let (scope, name) = attribute_of(k);
                (scope, name, *set)
            })
            .collect();
        index.sort();
        let entry = |scope: &str, name: &str, set| (scope.to_owned(), name.to_owned(), set);
        assert_eq!(
            index,
            [
                entry("inventory", "a7", false),
                entry("inventory", "a7", true),
                entry("system", "check_in_time", false),
                entry("system", "check_in_time", true),
                entry("system", "updated_ts", false),
                entry("system", "updated_ts", true),
            ],
            "the changed attribute and the two times the report moves, each one out and one in"
        );
        let others: Vec<&[u8]> = written.iter().map(|(k, _)| *k).filter(|k| !k.starts_with(b"x/")).collect();
        assert_eq!(others, [b"v/default/d1".as_slice()], "the document, and no count");
    }
}
