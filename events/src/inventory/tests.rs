//! The inventory rules, given/when/then.

use super::*;
use crate::testing::Given;

fn attrs(pairs: &[(&str, &str)]) -> Attributes {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), AttrValue::Text((*v).to_owned()))).collect()
}

fn report(pairs: &[(&str, &str)], replace: bool) -> InventoryCommand {
    InventoryCommand::Report { attributes: attrs(pairs), replace }
}

#[test]
fn a_report_that_changes_nothing_records_nothing() {
    let history = [InventoryEvent::InventoryReported { attributes: attrs(&[("a", "1"), ("b", "2")]) }];
    Given::<Inventory>::events(history.clone()).when(report(&[("b", "2"), ("a", "1")], true)).then_nothing();
    Given::<Inventory>::events(history).when(report(&[("a", "1")], false)).then_nothing();
}

#[test]
fn put_replaces_and_patch_merges() {
    let history = [InventoryEvent::InventoryReported { attributes: attrs(&[("a", "1"), ("b", "2")]) }];
    let removed = vec!["a".to_owned(), "b".to_owned()];
    Given::<Inventory>::events(history.clone())
        .when(report(&[("c", "3")], true))
        .then([InventoryEvent::InventoryChanged { set: attrs(&[("c", "3")]), removed }]);
    Given::<Inventory>::events(history.clone())
        .when(report(&[("b", "9")], false))
        .then([InventoryEvent::InventoryChanged { set: attrs(&[("b", "9")]), removed: vec![] }]);
    // Only what changed is stored: a PUT repeating `a` and changing `b` records `b` alone.
    Given::<Inventory>::events(history)
        .when(report(&[("a", "1"), ("b", "9")], true))
        .then([InventoryEvent::InventoryChanged { set: attrs(&[("b", "9")]), removed: vec![] }]);
}

#[test]
fn old_whole_reports_and_changes_fold_to_the_same_state() {
    let old = [
        InventoryEvent::InventoryReported { attributes: attrs(&[("a", "1"), ("b", "2")]) },
        InventoryEvent::InventoryReported { attributes: attrs(&[("b", "3"), ("c", "4")]) },
    ];
    let new = [
        InventoryEvent::InventoryChanged { set: attrs(&[("a", "1"), ("b", "2")]), removed: vec![] },
        InventoryEvent::InventoryChanged { set: attrs(&[("b", "3"), ("c", "4")]), removed: vec!["a".into()] },
    ];
    let mixed = [old[0].clone(), new[1].clone()];
    let want = Given::<Inventory>::events(old).state().clone();
    assert_eq!(Given::<Inventory>::events(new).state(), &want);
    assert_eq!(Given::<Inventory>::events(mixed).state(), &want);
}

#[test]
fn too_many_attributes_are_refused() {
    let many: Vec<(String, String)> =
        (0..=MAX_ATTRIBUTES).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Given::<Inventory>::nothing().when(report(&pairs, true)).then_err(InventoryError::TooManyAttributes);
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Tag { value: (*v).to_owned(), description: String::new() }))
        .collect()
}

fn set_tags(pairs: &[(&str, &str)], replace: bool, if_match: Option<&str>) -> InventoryCommand {
    InventoryCommand::SetTags {
        tags: tags(pairs),
        replace,
        if_match: if_match.map(str::to_owned),
        new_etag: "e2".into(),
    }
}

#[test]
fn tags_merge_or_replace_under_the_etag() {
    let history = [InventoryEvent::InventoryTagsSet { tags: tags(&[("loc", "de")]), etag: "e1".into() }];
    Given::<Inventory>::events(history.clone()).when(set_tags(&[("env", "test")], false, Some("e1"))).then([
        InventoryEvent::InventoryTagsSet { tags: tags(&[("loc", "de"), ("env", "test")]), etag: "e2".into() },
    ]);
    Given::<Inventory>::events(history.clone())
        .when(set_tags(&[("env", "test")], true, None))
        .then([InventoryEvent::InventoryTagsSet { tags: tags(&[("env", "test")]), etag: "e2".into() }]);
    Given::<Inventory>::events(history.clone())
        .when(set_tags(&[("env", "test")], true, Some("stale")))
        .then_err(InventoryError::EtagMismatch);
    Given::<Inventory>::events(history).when(set_tags(&[("loc", "de")], false, None)).then_nothing();
}

#[test]
fn tag_limits_hold() {
    let many: Vec<(String, String)> = (0..=MAX_TAGS).map(|i| (format!("t{i}"), "v".to_owned())).collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Given::<Inventory>::nothing().when(set_tags(&pairs, true, None)).then_err(InventoryError::TooManyTags);
    Given::<Inventory>::nothing()
        .when(set_tags(&[("", "v")], true, None))
        .then_err(InventoryError::InvalidTagName);
}

#[test]
fn a_device_has_at_most_one_group() {
    let assign = |g: &str| InventoryCommand::AssignGroup { group: g.into() };
    let joined = |g: &str| InventoryEvent::InventoryGroupAssigned { group: g.into() };
    Given::<Inventory>::nothing().when(assign("prod")).then([joined("prod")]);
    Given::<Inventory>::events([joined("prod")]).when(assign("prod")).then_nothing();
    Given::<Inventory>::events([joined("prod")]).when(assign("test")).then([joined("test")]);
    for bad in ["", "with space", "slash/y", &"g".repeat(300)] {
        Given::<Inventory>::nothing().when(assign(bad)).then_err(InventoryError::InvalidGroupName);
    }
}

#[test]
fn leaving_a_group_names_it() {
    let leave = |g: Option<&str>| InventoryCommand::UnassignGroup { group: g.map(str::to_owned) };
    let history = [InventoryEvent::InventoryGroupAssigned { group: "prod".into() }];
    Given::<Inventory>::events(history.clone())
        .when(leave(Some("prod")))
        .then([InventoryEvent::InventoryGroupUnassigned { group: "prod".into() }]);
    Given::<Inventory>::events(history)
        .when(leave(Some("test")))
        .then_err(InventoryError::NotInGroup("test".into()));
    Given::<Inventory>::nothing().when(leave(None)).then_nothing();
}

#[test]
fn delete_forgets_everything_once() {
    let history = [
        InventoryEvent::InventoryReported { attributes: attrs(&[("a", "1")]) },
        InventoryEvent::InventoryGroupAssigned { group: "prod".into() },
    ];
    Given::<Inventory>::events(history.clone())
        .when(InventoryCommand::Delete)
        .then([InventoryEvent::InventoryDeleted]);
    let mut deleted = history.to_vec();
    deleted.push(InventoryEvent::InventoryDeleted);
    Given::<Inventory>::events(deleted).when(InventoryCommand::Delete).then_nothing();
}
