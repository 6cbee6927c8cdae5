//! A device's reported inventory (Mender's inventory service, `inventory` scope): attributes
//! the device sends, replaced (PUT) or merged (PATCH). A report that changes nothing records
//! nothing, so the periodic reports of a quiet fleet do not grow the log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Aggregate, DomainEvent};

/// The inventory aggregate (its id is the device id).
pub struct Inventory;

/// Most attributes a device may report (Mender's default limit).
pub const MAX_ATTRIBUTES: usize = 100;

/// One element of a list value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
}

/// An attribute value: text, a number, or a list of either (not mixed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// A list.
    List(Vec<Scalar>),
}

/// The attributes a device reported, by name.
pub type Attributes = BTreeMap<String, AttrValue>;

/// The folded inventory of one device.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InventoryState {
    /// Current attributes.
    pub attributes: Attributes,
}

/// What may be asked of an inventory.
#[derive(Debug, Clone, PartialEq)]
pub enum InventoryCommand {
    /// A device report: `replace` for PUT (the report is the whole scope), else PATCH (merge).
    Report {
        /// The reported attributes.
        attributes: Attributes,
        /// Replace rather than merge.
        replace: bool,
    },
}

/// The facts recorded about an inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InventoryEvent {
    /// The device's attributes are now exactly these.
    InventoryReported {
        /// All current attributes.
        attributes: Attributes,
    },
}

impl InventoryEvent {
    /// The event's type name.
    pub fn event_type(&self) -> &'static str {
        "InventoryReported"
    }
}

impl From<InventoryEvent> for DomainEvent {
    fn from(e: InventoryEvent) -> Self {
        DomainEvent::Inventory(e)
    }
}

impl TryFrom<DomainEvent> for InventoryEvent {
    type Error = DomainEvent;
    fn try_from(e: DomainEvent) -> Result<Self, DomainEvent> {
        match e {
            DomainEvent::Inventory(i) => Ok(i),
            other => Err(other),
        }
    }
}

/// Why a report is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// More attributes than allowed.
    #[error("too many attributes: at most {MAX_ATTRIBUTES}")]
    TooManyAttributes,
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
        let InventoryCommand::Report { attributes, replace } = command;
        let merged = if *replace {
            attributes.clone()
        } else {
            let mut m = state.attributes.clone();
            m.extend(attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
            m
        };
        if merged.len() > MAX_ATTRIBUTES {
            return Err(InventoryError::TooManyAttributes);
        }
        if merged == state.attributes {
            return Ok(vec![]);
        }
        Ok(vec![InventoryEvent::InventoryReported { attributes: merged }])
    }

    fn evolve(mut state: InventoryState, event: &InventoryEvent) -> InventoryState {
        let InventoryEvent::InventoryReported { attributes } = event;
        state.attributes.clone_from(attributes);
        state
    }
}

#[cfg(test)]
mod tests {
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
        Given::<Inventory>::events(history.clone())
            .when(report(&[("b", "2"), ("a", "1")], true))
            .then_nothing();
        Given::<Inventory>::events(history).when(report(&[("a", "1")], false)).then_nothing();
    }

    #[test]
    fn put_replaces_and_patch_merges() {
        let history = [InventoryEvent::InventoryReported { attributes: attrs(&[("a", "1"), ("b", "2")]) }];
        Given::<Inventory>::events(history.clone())
            .when(report(&[("c", "3")], true))
            .then([InventoryEvent::InventoryReported { attributes: attrs(&[("c", "3")]) }]);
        Given::<Inventory>::events(history)
            .when(report(&[("b", "9")], false))
            .then([InventoryEvent::InventoryReported { attributes: attrs(&[("a", "1"), ("b", "9")]) }]);
    }

    #[test]
    fn too_many_attributes_are_refused() {
        let many: Vec<(String, String)> =
            (0..=MAX_ATTRIBUTES).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Given::<Inventory>::nothing().when(report(&pairs, true)).then_err(InventoryError::TooManyAttributes);
    }
}
