//! A device's inventory (Mender's inventory service): the attributes the device reports
//! (`inventory` scope, replaced by PUT or merged by PATCH), the tags operators set (`tags`
//! scope, guarded by an ETag) and its static group. A report that changes nothing records
//! nothing, so the periodic reports of a quiet fleet do not grow the log.

mod types;

pub use types::*;

use crate::Aggregate;

/// The inventory aggregate (its id is the device id).
pub struct Inventory;

crate::domain_event!(InventoryEvent => Inventory);

/// `merged` replaces `current` (PUT) or is laid over it (PATCH).
fn merge<V: Clone>(
    current: &std::collections::BTreeMap<String, V>,
    given: &std::collections::BTreeMap<String, V>,
    replace: bool,
) -> std::collections::BTreeMap<String, V> {
    if replace {
        return given.clone();
    }
    let mut m = current.clone();
    m.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    m
}

/// Folds an [`InventoryEvent::InventoryChanged`] into attributes (the read models share it).
pub fn apply_change(attributes: &mut Attributes, set: &Attributes, removed: &[String]) {
    for name in removed {
        attributes.remove(name);
    }
    attributes.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
}

impl Aggregate for Inventory {
    const TYPE: &'static str = "inventory";
    type State = InventoryState;
    type Command = InventoryCommand;
    type Event = InventoryEvent;
    type Error = InventoryError;

    fn decide(
        state: &InventoryState,
        command: &InventoryCommand,
    ) -> Result<Vec<InventoryEvent>, InventoryError> {
        use InventoryCommand as C;
        use InventoryEvent as E;
        match command {
            C::Report { attributes, replace } => {
                let merged = merge(&state.attributes, attributes, *replace);
                if merged.len() > MAX_ATTRIBUTES {
                    return Err(InventoryError::TooManyAttributes);
                }
                let set: Attributes = merged
                    .iter()
                    .filter(|(name, value)| state.attributes.get(*name) != Some(*value))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect();
                let removed: Vec<String> =
                    state.attributes.keys().filter(|name| !merged.contains_key(*name)).cloned().collect();
                if set.is_empty() && removed.is_empty() {
                    return Ok(vec![]);
                }
                Ok(vec![E::InventoryChanged { set, removed }])
            }
            C::SetTags { tags, replace, if_match, new_etag } => {
                // Mender compares the ETag first: a stale writer learns that before anything else.
                if if_match.as_ref().is_some_and(|m| *m != state.tags_etag) {
                    return Err(InventoryError::EtagMismatch);
                }
                if tags.keys().any(|n| n.is_empty() || n.chars().count() > 1024) {
                    return Err(InventoryError::InvalidTagName);
                }
                let merged = merge(&state.tags, tags, *replace);
                if merged.len() > MAX_TAGS {
                    return Err(InventoryError::TooManyTags);
                }
                if merged == state.tags {
                    return Ok(vec![]);
                }
                Ok(vec![E::InventoryTagsSet { tags: merged, etag: new_etag.clone() }])
            }
            C::AssignGroup { group } => {
                if !valid_group_name(group) {
                    return Err(InventoryError::InvalidGroupName);
                }
                if state.group.as_ref() == Some(group) {
                    return Ok(vec![]);
                }
                Ok(vec![E::InventoryGroupAssigned { group: group.clone() }])
            }
            C::UnassignGroup { group } => match (&state.group, group) {
                (Some(current), Some(wanted)) if current != wanted => {
                    Err(InventoryError::NotInGroup(wanted.clone()))
                }
                (Some(current), _) => Ok(vec![E::InventoryGroupUnassigned { group: current.clone() }]),
                (None, Some(wanted)) => Err(InventoryError::NotInGroup(wanted.clone())),
                (None, None) => Ok(vec![]),
            },
            C::Delete => {
                let empty = InventoryState { tags_etag: state.tags_etag.clone(), ..Default::default() };
                if *state == empty {
                    return Ok(vec![]);
                }
                Ok(vec![E::InventoryDeleted])
            }
        }
    }

    fn evolve(mut state: InventoryState, event: &InventoryEvent) -> InventoryState {
        match event {
            InventoryEvent::InventoryReported { attributes } => state.attributes.clone_from(attributes),
            InventoryEvent::InventoryChanged { set, removed } => {
                apply_change(&mut state.attributes, set, removed)
            }
            InventoryEvent::InventoryTagsSet { tags, etag } => {
                state.tags.clone_from(tags);
                state.tags_etag.clone_from(etag);
            }
            InventoryEvent::InventoryGroupAssigned { group } => state.group = Some(group.clone()),
            InventoryEvent::InventoryGroupUnassigned { .. } => state.group = None,
            // The ETag survives: a client holding it may still PUT tags afterwards.
            InventoryEvent::InventoryDeleted => {
                state = InventoryState { tags_etag: state.tags_etag, ..Default::default() }
            }
        }
        state
    }
}

#[cfg(test)]
mod tests;
