//! The inventory aggregate's values, commands, events and errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Most attributes a device may report (Mender's default limit).
pub const MAX_ATTRIBUTES: usize = 100;
/// Most tags an operator may set on one device.
pub const MAX_TAGS: usize = 20;
/// Longest group name. Mender's documentation is silent; 255 keeps names usable in URLs and
/// in deployment names.
pub const MAX_GROUP_NAME: usize = 255;

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

/// One operator-set tag (Mender's `tags` scope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The value.
    pub value: String,
    /// Free text, may be empty.
    #[serde(default)]
    pub description: String,
}

/// Tags by name.
pub type Tags = BTreeMap<String, Tag>;

/// The folded inventory of one device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryState {
    /// Current device-reported attributes.
    pub attributes: Attributes,
    /// Current tags.
    pub tags: Tags,
    /// The tags' version (Mender's device ETag); empty until tags are first set.
    pub tags_etag: String,
    /// The static group, if any.
    pub group: Option<String>,
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
    /// An operator sets tags: `replace` for PUT, else PATCH (merge).
    SetTags {
        /// The tags given.
        tags: Tags,
        /// Replace rather than merge.
        replace: bool,
        /// The ETag the operator last saw (`If-Match`), if they sent one.
        if_match: Option<String>,
        /// The new ETag, made by the caller.
        new_etag: String,
    },
    /// Puts the device in a group (moving it out of any other).
    AssignGroup {
        /// The group.
        group: String,
    },
    /// Takes the device out of `group` (or out of whichever group, when `None`).
    UnassignGroup {
        /// The group it must be in.
        group: Option<String>,
    },
    /// Forgets the device's inventory: reported attributes, tags and group.
    Delete,
}

/// The facts recorded about an inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InventoryEvent {
    /// The device's attributes are now exactly these. Written before fleetlog stored only
    /// changes; still decoded and folded (the log is forever), no longer decided.
    InventoryReported {
        /// All current attributes.
        attributes: Attributes,
    },
    /// The device's tags are now exactly these.
    InventoryTagsSet {
        /// All current tags.
        tags: Tags,
        /// Their new version.
        etag: String,
    },
    /// The device joined a group (and left any other).
    InventoryGroupAssigned {
        /// The group.
        group: String,
    },
    /// The device left its group.
    InventoryGroupUnassigned {
        /// The group it left.
        group: String,
    },
    /// The device's inventory was deleted by an operator.
    InventoryDeleted,
    /// A report changed the device's attributes: these were added or got a new value, and
    /// these were removed (a PUT names what it leaves out). Only what changed is stored, so a
    /// large attribute is not stored again by every later report.
    InventoryChanged {
        /// Added or changed attributes, with their new values.
        set: Attributes,
        /// Names of removed attributes.
        removed: Vec<String>,
    },
}

crate::event_names!(InventoryEvent {
    InventoryReported,
    InventoryTagsSet,
    InventoryGroupAssigned,
    InventoryGroupUnassigned,
    InventoryDeleted,
    InventoryChanged,
});

/// Why an inventory command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// More attributes than allowed.
    #[error("too many attributes: at most {MAX_ATTRIBUTES}")]
    TooManyAttributes,
    /// More tags than allowed.
    #[error("too many tags: at most {MAX_TAGS}")]
    TooManyTags,
    /// A tag name is empty or too long.
    #[error("tag names must be 1 to 1024 characters")]
    InvalidTagName,
    /// The `If-Match` ETag is not the current one.
    #[error("ETag does not match")]
    EtagMismatch,
    /// A group name breaks the rules.
    #[error("group name must be 1 to {MAX_GROUP_NAME} characters of A-Z, a-z, 0-9, '_' and '-'")]
    InvalidGroupName,
    /// The device is not in the group named.
    #[error("device is not in group {0:?}")]
    NotInGroup(String),
}

/// Mender's group name rule: `^[A-Za-z0-9_-]+$`, here with a length limit.
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_GROUP_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
