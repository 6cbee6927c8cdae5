//! Reporting requests as the client sends them, and the checked queries both backends run.
//! Everything a backend could refuse is refused here, with a message for the client.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use super::filter::{Filter, Op, operand};
use super::record::{DEPLOYMENT_FIELDS, Field};
use super::{DEFAULT_PER_PAGE, MAX_PER_PAGE, ReportingError};

/// The scopes of device attributes.
pub const SCOPES: &[&str] = &["identity", "inventory", "system", "tags"];
/// Most terms in one `filters`, `sort` or `attributes` list, or ids in one id list.
pub const MAX_TERMS: usize = 100;
/// Most ids in `device_ids` or `deployment_ids`.
pub const MAX_IDS: usize = 10_000;
/// Most levels of aggregations, the top one included.
pub const MAX_AGGREGATION_DEPTH: usize = 5;
/// Most terms at one level of aggregations.
pub const MAX_AGGREGATION_TERMS: usize = 100;
/// Largest `limit` of one aggregation term.
pub const MAX_AGGREGATION_LIMIT: usize = 500;
/// Most buckets an aggregation may ask for (the sum over its terms of their limits multiplied
/// down each path), so that one request stays cheap on either backend.
pub const MAX_AGGREGATION_BUCKETS: usize = 10_000;

/// What is searched: devices, or device deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Devices, fields by scope.
    Devices,
    /// Device deployments, flat fields.
    Deployments,
}

/// A filter term as the reporting API takes it (scope optional, `inventory` by default; the
/// operand optional for `$exists`). Inventory's saved terms are `fleetlog_events::filter::
/// FilterTerm`; reporting's semantics are OpenSearch's (see `reporting::filter`).
#[derive(Debug, Clone, Deserialize)]
pub struct ReportingTerm {
    /// Field name.
    pub attribute: String,
    /// Scope (devices; default `inventory`).
    #[serde(default)]
    pub scope: Option<String>,
    /// Operator.
    #[serde(rename = "type")]
    pub op: String,
    /// Operand.
    #[serde(default)]
    pub value: Option<Value>,
}

/// A sort term.
#[derive(Debug, Clone, Deserialize)]
pub struct SortTerm {
    /// Field name.
    pub attribute: String,
    /// Scope (devices).
    #[serde(default)]
    pub scope: Option<String>,
    /// `asc` or `desc`.
    pub order: String,
}

/// A field to show.
#[derive(Debug, Clone, Deserialize)]
pub struct AttributeTerm {
    /// Field name.
    pub attribute: String,
    /// Scope (devices).
    #[serde(default)]
    pub scope: Option<String>,
}

/// An aggregation term.
#[derive(Debug, Clone, Deserialize)]
pub struct AggregationTerm {
    /// Its name in the answer.
    pub name: String,
    /// The field whose values are the buckets.
    pub attribute: String,
    /// Scope (devices).
    #[serde(default)]
    pub scope: Option<String>,
    /// Most buckets (default 10); `size` is read too, as the spec's example has it.
    #[serde(default, alias = "size")]
    pub limit: Option<i64>,
    /// Sub-aggregations within each bucket.
    #[serde(default)]
    pub aggregations: Vec<AggregationTerm>,
}

/// The body of `devices/search` and `deployments/devices/search`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchBody {
    /// Page, from 1.
    #[serde(default)]
    pub page: Option<i64>,
    /// Items per page.
    #[serde(default)]
    pub per_page: Option<i64>,
    /// Filters, all of which must pass.
    #[serde(default)]
    pub filters: Vec<ReportingTerm>,
    /// Sort keys.
    #[serde(default)]
    pub sort: Vec<SortTerm>,
    /// Fields to show.
    #[serde(default)]
    pub attributes: Vec<AttributeTerm>,
    /// Only these devices.
    #[serde(default)]
    pub device_ids: Vec<String>,
    /// Only these deployments (device deployments).
    #[serde(default)]
    pub deployment_ids: Vec<String>,
}

/// The body of `devices/aggregate` and `deployments/devices/aggregate`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AggregateBody {
    /// The aggregations.
    #[serde(default)]
    pub aggregations: Vec<AggregationTerm>,
    /// Filters, all of which must pass.
    #[serde(default)]
    pub filters: Vec<ReportingTerm>,
}

/// A checked search.
#[derive(Debug, Clone)]
pub struct Search {
    /// Filters.
    pub filters: Vec<Filter>,
    /// Only records with these ids (devices), when given.
    pub ids: Option<BTreeSet<String>>,
    /// Sort keys: field and descending.
    pub sort: Vec<(Field, bool)>,
    /// Fields to show, when restricted.
    pub attributes: Option<Vec<Field>>,
    /// Records skipped.
    pub skip: usize,
    /// Records in the page.
    pub take: usize,
}

/// A checked aggregation term.
#[derive(Debug, Clone)]
pub struct Aggregation {
    /// Its name.
    pub name: String,
    /// Its field.
    pub field: Field,
    /// Most buckets.
    pub limit: usize,
    /// Sub-aggregations.
    pub sub: Vec<Aggregation>,
}

/// A checked aggregation request.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// Filters.
    pub filters: Vec<Filter>,
    /// Terms.
    pub aggregations: Vec<Aggregation>,
}

fn invalid(msg: impl Into<String>) -> ReportingError {
    ReportingError::Invalid(msg.into())
}

/// A field named by a request.
pub fn field(kind: Kind, scope: Option<&str>, name: &str) -> Result<Field, ReportingError> {
    if name.is_empty() || name.len() > 1024 {
        return Err(invalid("attribute must be 1 to 1024 characters long"));
    }
    match kind {
        Kind::Devices => {
            let scope = scope.unwrap_or("inventory");
            if !SCOPES.contains(&scope) {
                return Err(invalid(format!("unknown scope {scope:?}: use one of {}", SCOPES.join(", "))));
            }
            Ok(Field::new(scope, name))
        }
        Kind::Deployments => {
            if !DEPLOYMENT_FIELDS.contains(&name) {
                return Err(invalid(format!("unknown attribute {name:?}")));
            }
            Ok(Field::new("", name))
        }
    }
}

fn filters(kind: Kind, terms: &[ReportingTerm]) -> Result<Vec<Filter>, ReportingError> {
    if terms.len() > MAX_TERMS {
        return Err(invalid(format!("at most {MAX_TERMS} filters")));
    }
    terms
        .iter()
        .map(|t| Filter::parse(field(kind, t.scope.as_deref(), &t.attribute)?, &t.op, t.value.as_ref()))
        .collect()
}

fn id_filter(name: &str, ids: &[String]) -> Result<Option<Filter>, ReportingError> {
    if ids.is_empty() {
        return Ok(None);
    }
    if ids.len() > MAX_IDS {
        return Err(invalid(format!("at most {MAX_IDS} ids in {name}s")));
    }
    let values = ids.iter().map(|id| operand(&Value::String(id.clone())).expect("text")).collect();
    Ok(Some(Filter { field: Field::new("", name), op: Op::In(values) }))
}

impl SearchBody {
    /// Checks the search for `kind`.
    pub fn check(&self, kind: Kind) -> Result<Search, ReportingError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE as i64);
        if page < 1 {
            return Err(invalid("page must be 1 or more"));
        }
        if per_page < 1 || per_page > MAX_PER_PAGE as i64 {
            return Err(invalid(format!("per_page must be between 1 and {MAX_PER_PAGE}")));
        }
        let (page, per_page) = (usize::try_from(page).unwrap_or(usize::MAX), per_page as usize);
        let mut checked = filters(kind, &self.filters)?;
        let mut ids = None;
        match kind {
            Kind::Devices if !self.device_ids.is_empty() => {
                if self.device_ids.len() > MAX_IDS {
                    return Err(invalid(format!("at most {MAX_IDS} device_ids")));
                }
                ids = Some(self.device_ids.iter().cloned().collect());
            }
            Kind::Devices => {}
            Kind::Deployments => {
                checked.extend(id_filter("device_id", &self.device_ids)?);
                checked.extend(id_filter("deployment_id", &self.deployment_ids)?);
            }
        }
        if self.sort.len() > MAX_TERMS || self.attributes.len() > MAX_TERMS {
            return Err(invalid(format!("at most {MAX_TERMS} sort and attributes terms")));
        }
        let sort = self
            .sort
            .iter()
            .map(|s| {
                let desc = match s.order.as_str() {
                    "asc" => false,
                    "desc" => true,
                    other => return Err(invalid(format!("sort order must be asc or desc, not {other:?}"))),
                };
                Ok((field(kind, s.scope.as_deref(), &s.attribute)?, desc))
            })
            .collect::<Result<_, ReportingError>>()?;
        let attributes = if self.attributes.is_empty() {
            None
        } else {
            let fields = self.attributes.iter().map(|a| field(kind, a.scope.as_deref(), &a.attribute));
            Some(fields.collect::<Result<_, _>>()?)
        };
        let skip = (page - 1).checked_mul(per_page).ok_or_else(|| invalid("page is too large"))?;
        Ok(Search { filters: checked, ids, sort, attributes, skip, take: per_page })
    }
}

fn aggregations(
    kind: Kind,
    terms: &[AggregationTerm],
    depth: usize,
) -> Result<Vec<Aggregation>, ReportingError> {
    if depth > MAX_AGGREGATION_DEPTH {
        return Err(invalid(format!("aggregations nest at most {MAX_AGGREGATION_DEPTH} levels deep")));
    }
    if terms.len() > MAX_AGGREGATION_TERMS {
        return Err(invalid(format!("at most {MAX_AGGREGATION_TERMS} aggregations per level")));
    }
    let mut names = BTreeSet::new();
    terms
        .iter()
        .map(|t| {
            if t.name.is_empty() || !names.insert(t.name.as_str()) {
                return Err(invalid(format!("aggregation names must be given and distinct: {:?}", t.name)));
            }
            let limit = t.limit.unwrap_or(10);
            if limit < 1 || limit > MAX_AGGREGATION_LIMIT as i64 {
                return Err(invalid(format!(
                    "aggregation limit must be between 1 and {MAX_AGGREGATION_LIMIT}"
                )));
            }
            Ok(Aggregation {
                name: t.name.clone(),
                field: field(kind, t.scope.as_deref(), &t.attribute)?,
                limit: limit as usize,
                sub: aggregations(kind, &t.aggregations, depth + 1)?,
            })
        })
        .collect()
}

/// Buckets an aggregation tree may produce at most.
fn buckets(aggs: &[Aggregation]) -> usize {
    aggs.iter().map(|a| a.limit.saturating_mul(1 + buckets(&a.sub))).fold(0, usize::saturating_add)
}

impl AggregateBody {
    /// Checks the aggregation for `kind`.
    pub fn check(&self, kind: Kind) -> Result<Aggregate, ReportingError> {
        if self.aggregations.is_empty() {
            return Err(invalid("aggregations must not be empty"));
        }
        let aggregations = aggregations(kind, &self.aggregations, 1)?;
        if buckets(&aggregations) > MAX_AGGREGATION_BUCKETS {
            return Err(invalid(format!(
                "the aggregation could produce over {MAX_AGGREGATION_BUCKETS} buckets: lower the limits"
            )));
        }
        Ok(Aggregate { filters: filters(kind, &self.filters)?, aggregations })
    }
}
