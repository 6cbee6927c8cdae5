//! What both backends search: a [`Record`] per device (its inventory attributes by scope) or
//! per device deployment (flat fields, scope `""`), with the JSON the API shows for it. Also
//! the one definition of sort order and of aggregation keys.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use fleetlog_events::inventory::Scalar;
use serde_json::{Value, json};

use crate::deployments::{DeploymentView, DeviceDeploymentView};
use crate::inventory::{InventoryDoc, index::scalars};
use crate::rfc3339;

/// A field: scope (`""` for device deployments) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Field {
    /// `identity`, `inventory`, `system`, `tags`, or `""`.
    pub scope: String,
    /// The attribute or field name.
    pub name: String,
}

impl Field {
    /// A field.
    pub fn new(scope: &str, name: &str) -> Field {
        Field { scope: scope.to_owned(), name: name.to_owned() }
    }
}

/// One searchable thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Device id, or `<deployment>:<device>` for a device deployment.
    pub id: String,
    /// Its fields' values (a list attribute holds its elements).
    pub fields: BTreeMap<Field, Vec<Scalar>>,
    /// How the API shows it.
    pub out: Value,
}

impl Record {
    /// The values of a field (none when absent).
    pub fn values(&self, f: &Field) -> &[Scalar] {
        self.fields.get(f).map_or(&[], Vec::as_slice)
    }

    /// A device as reporting shows it: `{id, attributes: [{name, value, scope}], updated_ts}`.
    pub fn device(d: &InventoryDoc) -> Record {
        let mut fields = BTreeMap::new();
        let mut attributes = Vec::new();
        for (scope, name, value) in d.entries() {
            attributes.push(json!({"name": name, "value": value, "scope": scope}));
            fields.insert(Field::new(scope, &name), scalars(&value));
        }
        let mut out = json!({"id": d.id, "attributes": attributes, "updated_ts": rfc3339(d.updated_ts)});
        if let Some(at) = d.check_in_ts {
            out["check_in_time"] = Value::String(rfc3339(at));
        }
        Record { id: d.id.clone(), fields, out }
    }

    /// A device with only the `needed` fields and no JSON: what filters, sorting and
    /// aggregations read, without the cost of showing every attribute of every candidate.
    pub fn device_fields(d: &InventoryDoc, needed: &[Field]) -> Record {
        let fields = needed
            .iter()
            .filter_map(|f| d.lookup(&f.scope, &f.name).map(|v| (f.clone(), scalars(&v))))
            .collect();
        Record { id: d.id.clone(), fields, out: Value::Null }
    }

    /// A device's part in a deployment, with the deployment's fields.
    pub fn device_deployment(dep: &DeploymentView, part: &DeviceDeploymentView) -> Record {
        let id = format!("{}:{}", part.deployment_id, part.device_id);
        let kind = if dep.configuration.is_some() { "configuration" } else { "software" };
        let mut out = json!({
            "id": id,
            "device_id": part.device_id,
            "deployment_id": part.deployment_id,
            "deployment_name": dep.name,
            "deployment_artifact_name": dep.artifact_name,
            "deployment_type": kind,
            "deployment_created": rfc3339(dep.created_ts),
            "deployment_force_installation": dep.force_installation,
            "deployment_retries": dep.retries,
            "deployment_max_devices": dep.device_count,
            "device_created": rfc3339(part.created_ts),
            "device_status": part.status.as_str(),
            "device_is_log_available": part.has_log,
            "device_attempts": part.attempts,
        });
        if let Some(group) = dep.target.strip_prefix("group:") {
            out["deployment_group"] = Value::String(group.to_owned());
        }
        if let Some(artifact) = &part.artifact_id {
            out["image_id"] = Value::String(artifact.clone());
        }
        if let Some(done) = part.finished_ts {
            out["device_finished"] = Value::String(rfc3339(done));
            let began = part.started_ts.unwrap_or(part.created_ts);
            out["device_elapsed_seconds"] = json!((done - began).max(0) / 1_000_000);
        }
        let mut fields = BTreeMap::new();
        if let Value::Object(map) = &out {
            for (name, v) in map {
                let values = match v {
                    Value::String(s) => vec![Scalar::Text(s.clone())],
                    Value::Number(n) => n.as_f64().map(Scalar::Number).into_iter().collect(),
                    Value::Bool(b) => vec![Scalar::Text(b.to_string())],
                    _ => continue,
                };
                fields.insert(Field::new("", name), values);
            }
        }
        Record { id, fields, out }
    }

    /// The record as shown, keeping only `selected` fields when the request names some.
    pub fn shown(&self, selected: Option<&[Field]>) -> Value {
        show(&self.out, selected)
    }
}

/// A record's JSON as shown, keeping only `selected` fields (device attributes, or the
/// deployment fields and `id`) when the request names some.
pub fn show(out: &Value, selected: Option<&[Field]>) -> Value {
    let Some(selected) = selected else { return out.clone() };
    let mut out = out.clone();
    if let Some(Value::Array(attributes)) = out.get_mut("attributes") {
        attributes.retain(|a| {
            let scope = a["scope"].as_str().unwrap_or_default();
            let name = a["name"].as_str().unwrap_or_default();
            selected.iter().any(|f| f.scope == scope && f.name == name)
        });
    } else if let Value::Object(map) = &mut out {
        map.retain(|k, _| k == "id" || selected.iter().any(|f| f.name == *k));
    }
    out
}

/// Device deployment fields a query may name.
pub const DEPLOYMENT_FIELDS: &[&str] = &[
    "id",
    "device_id",
    "deployment_id",
    "deployment_name",
    "deployment_artifact_name",
    "deployment_type",
    "deployment_created",
    "deployment_force_installation",
    "deployment_retries",
    "deployment_max_devices",
    "deployment_group",
    "device_created",
    "device_finished",
    "device_elapsed_seconds",
    "device_status",
    "device_is_log_available",
    "device_attempts",
    "image_id",
];

/// The sort key of a field: its smallest (ascending) or largest (descending) number, then its
/// smallest or largest text. OpenSearch's `min`/`max` sort modes give the same.
pub fn sort_key(values: &[Scalar], desc: bool) -> (Option<f64>, Option<&str>) {
    let numbers = values.iter().filter_map(|v| if let Scalar::Number(n) = v { Some(*n) } else { None });
    let texts = values.iter().filter_map(|v| if let Scalar::Text(t) = v { Some(t.as_str()) } else { None });
    if desc {
        (numbers.max_by(f64::total_cmp), texts.max())
    } else {
        (numbers.min_by(f64::total_cmp), texts.min())
    }
}

/// Orders two records by one sort field: numbers first, then texts; a record without a
/// number (or text) comes after those with one, in either direction.
pub fn compare_by(a: &Record, b: &Record, f: &Field, desc: bool) -> Ordering {
    let (an, at) = sort_key(a.values(f), desc);
    let (bn, bt) = sort_key(b.values(f), desc);
    let flip = |o: Ordering| if desc { o.reverse() } else { o };
    let missing_last = |x: bool, y: bool| y.cmp(&x);
    let numbers = match (an, bn) {
        (Some(x), Some(y)) => flip(x.total_cmp(&y)),
        (x, y) => missing_last(x.is_some(), y.is_some()),
    };
    numbers.then_with(|| match (at, bt) {
        (Some(x), Some(y)) => flip(x.as_bytes().cmp(y.as_bytes())),
        (x, y) => missing_last(x.is_some(), y.is_some()),
    })
}

/// An aggregation key: a text as is, a number in its shortest form (`4`, `4.5`).
pub fn key_text(v: &Scalar) -> String {
    match v {
        Scalar::Text(t) => t.clone(),
        Scalar::Number(n) => number_text(*n),
    }
}

/// A number as an aggregation key.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{n}") }
}

/// The order of aggregation buckets: larger counts first; on equal counts numbers (ascending)
/// before texts (by bytes), as OpenSearch orders its buckets.
pub fn bucket_order(a: (&Scalar, u64), b: (&Scalar, u64)) -> Ordering {
    b.1.cmp(&a.1).then_with(|| match (a.0, b.0) {
        (Scalar::Number(x), Scalar::Number(y)) => x.total_cmp(y),
        (Scalar::Number(_), Scalar::Text(_)) => Ordering::Less,
        (Scalar::Text(_), Scalar::Number(_)) => Ordering::Greater,
        (Scalar::Text(x), Scalar::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
    })
}
