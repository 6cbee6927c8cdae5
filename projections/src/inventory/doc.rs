//! One device as Mender's inventory shows it: identity (from deviceauth's events), system
//! attributes, what the device reported, the operator's tags and its group.

use std::borrow::Cow;

use fleetlog_events::device::{AuthSetStatus, DeviceStatus};
use fleetlog_events::inventory::{AttrValue, Attributes, Tags};
use serde::{Deserialize, Serialize};

use crate::{ProjectionError, rfc3339};

/// A device's inventory document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InventoryDoc {
    /// Device id.
    pub id: String,
    /// Identity attributes (the device's `id_data`).
    pub identity: Attributes,
    /// Its authentication sets' statuses, from which Mender derives the device status.
    pub sets: Vec<(String, AuthSetStatus)>,
    /// Creation time, microseconds since the epoch.
    pub created_ts: i64,
    /// Time of the last change, microseconds since the epoch.
    pub updated_ts: i64,
    /// Device-reported attributes.
    pub attributes: Attributes,
    /// Operator tags.
    pub tags: Tags,
    /// The tags' ETag (empty until first set).
    pub tags_etag: String,
    /// Static group.
    pub group: Option<String>,
    /// Remote-access connection: connected or not, and since when (microseconds).
    #[serde(default)]
    pub connection: Option<(bool, i64)>,
    /// When the device last changed something (microseconds), see the projection.
    #[serde(default)]
    pub check_in_ts: Option<i64>,
    /// devicemonitor: each check's latest alert is CRITICAL (true) or OK (false).
    #[serde(default)]
    pub monitor_checks: std::collections::BTreeMap<String, bool>,
    /// devicemonitor: alerts raised so far.
    #[serde(default)]
    pub monitor_alerts: u64,
}

impl InventoryDoc {
    /// The stored form: MessagePack with fields by position rather than by name, about a
    /// fifth smaller for a twenty-attribute device (the names were repeated in every document).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, ProjectionError> {
        rmp_serde::to_vec(self).map_err(|e| ProjectionError::Codec(e.to_string()))
    }

    /// Reads the stored form. Documents of the named form (model version 4 and before) decode
    /// too, so the tree still in service while a rebuild runs is read right.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, ProjectionError> {
        crate::from_bytes(bytes)
    }

    /// Mender's device status.
    pub fn status(&self) -> DeviceStatus {
        DeviceStatus::derive(self.sets.iter().map(|(_, s)| *s))
    }

    /// Every attribute as `(scope, name, value)`, in the order the API lists them.
    pub fn entries(&self) -> Vec<(&'static str, Cow<'_, str>, AttrValue)> {
        let mut out = Vec::with_capacity(self.identity.len() + self.attributes.len() + self.tags.len() + 4);
        for (name, value) in &self.identity {
            out.push(("identity", Cow::Borrowed(name.as_str()), value.clone()));
        }
        out.push(("identity", Cow::Borrowed("status"), AttrValue::Text(self.status().as_str().to_owned())));
        for (name, value) in &self.attributes {
            out.push(("inventory", Cow::Borrowed(name.as_str()), value.clone()));
        }
        out.push(("system", Cow::Borrowed("created_ts"), AttrValue::Text(rfc3339(self.created_ts))));
        out.push(("system", Cow::Borrowed("updated_ts"), AttrValue::Text(rfc3339(self.updated_ts))));
        if let Some(group) = &self.group {
            out.push(("system", Cow::Borrowed("group"), AttrValue::Text(group.clone())));
        }
        if let Some(at) = self.check_in_ts {
            out.push(("system", Cow::Borrowed("check_in_time"), AttrValue::Text(rfc3339(at))));
        }
        if let Some((connected, at)) = self.connection {
            let status = if connected { "connected" } else { "disconnected" };
            out.push(("system", Cow::Borrowed("connection_status"), AttrValue::Text(status.into())));
            out.push(("system", Cow::Borrowed("connection_updated_ts"), AttrValue::Text(rfc3339(at))));
        }
        for (name, tag) in &self.tags {
            out.push(("tags", Cow::Borrowed(name.as_str()), AttrValue::Text(tag.value.clone())));
        }
        for name in ["alerts", "alert_count"] {
            if let Some(value) = self.lookup("monitor", name) {
                out.push(("monitor", Cow::Borrowed(name), value));
            }
        }
        out
    }

    /// Checks whose latest alert is CRITICAL.
    pub fn open_critical(&self) -> usize {
        self.monitor_checks.values().filter(|c| **c).count()
    }

    /// One attribute's value.
    pub fn lookup(&self, scope: &str, name: &str) -> Option<AttrValue> {
        match (scope, name) {
            ("identity", "status") => Some(AttrValue::Text(self.status().as_str().to_owned())),
            ("identity", _) => self.identity.get(name).cloned(),
            ("inventory", _) => self.attributes.get(name).cloned(),
            ("system", "created_ts") => Some(AttrValue::Text(rfc3339(self.created_ts))),
            ("system", "updated_ts") => Some(AttrValue::Text(rfc3339(self.updated_ts))),
            ("system", "group") => self.group.clone().map(AttrValue::Text),
            ("system", "check_in_time") => self.check_in_ts.map(|at| AttrValue::Text(rfc3339(at))),
            ("system", "connection_status") => self
                .connection
                .map(|(c, _)| AttrValue::Text(if c { "connected" } else { "disconnected" }.into())),
            ("system", "connection_updated_ts") => {
                self.connection.map(|(_, at)| AttrValue::Text(rfc3339(at)))
            }
            ("tags", _) => self.tags.get(name).map(|t| AttrValue::Text(t.value.clone())),
            // Only for devices with a monitor: `alerts` counts open CRITICAL checks.
            ("monitor", "alerts") if self.monitor_alerts > 0 => {
                Some(AttrValue::Number(self.open_critical() as f64))
            }
            ("monitor", "alert_count") if self.monitor_alerts > 0 => {
                Some(AttrValue::Number(self.monitor_alerts as f64))
            }
            _ => None,
        }
    }
}

/// `id_data` (a JSON object as text) as identity attributes; values that are neither text,
/// numbers nor lists of them are kept as their JSON text.
pub fn identity_attributes(identity_data: &str) -> Attributes {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(identity_data).unwrap_or_default();
    object
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                serde_json::Value::String(s) => AttrValue::Text(s),
                other => serde_json::from_value(other.clone())
                    .unwrap_or_else(|_| AttrValue::Text(other.to_string())),
            };
            (k, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use fleetlog_events::device::AuthSetStatus;
    use fleetlog_events::inventory::{AttrValue, Scalar, Tag};

    use super::InventoryDoc;

    fn twenty_attribute_device() -> InventoryDoc {
        let mut d = InventoryDoc {
            id: "0190a5e0-0000-7000-8000-000000000001".into(),
            identity: [("mac".to_owned(), AttrValue::Text("02:00:00:00:00:01".into()))].into(),
            sets: vec![("as-1".into(), AuthSetStatus::Accepted)],
            created_ts: 1_700_000_000_000_000,
            updated_ts: 1_700_000_001_000_000,
            group: Some("g1".into()),
            check_in_ts: Some(1_700_000_001_000_000),
            connection: Some((true, 1_700_000_000_500_000)),
            monitor_checks: [("sshd".to_owned(), true)].into(),
            monitor_alerts: 2,
            ..Default::default()
        };
        for i in 0..18 {
            d.attributes.insert(format!("attribute_{i}"), AttrValue::Text(format!("value {i}")));
        }
        d.attributes.insert("mem".into(), AttrValue::Number(1024.0));
        d.attributes.insert("ifs".into(), AttrValue::List(vec![Scalar::Text("eth0".into())]));
        d.tags.insert("owner".into(), Tag { value: "ops".into(), description: String::new() });
        d
    }

    #[test]
    fn a_document_round_trips_and_the_older_named_form_still_reads() {
        let d = twenty_attribute_device();
        let stored = d.encode().unwrap();
        assert_eq!(InventoryDoc::decode(&stored).unwrap(), d);
        // What model version 4 stored: the tree in service while the rebuild to 5 runs.
        let named = crate::to_bytes(&d).unwrap();
        assert_eq!(InventoryDoc::decode(&named).unwrap(), d);
        // 543 bytes against 685 when written.
        assert!(stored.len() * 6 <= named.len() * 5, "{} vs {}", stored.len(), named.len());
    }
}
