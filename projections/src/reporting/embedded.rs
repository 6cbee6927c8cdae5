//! The embedded reporting backend: answers from the sled inventory and deployments models by
//! reading the tenant's records and filtering, sorting and aggregating them in memory. Device
//! queries with a positive equality filter (`$eq`, `$in`) read only the devices the inventory's
//! attribute index lists for its narrowest one; the filters are then checked on each record, so
//! the answer is the same as a full scan's. Each device is turned into a record of only the
//! fields the query reads, and only the page's devices are shown whole. It is meant for the
//! single-node installation; large fleets use OpenSearch.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::filter::{Filter, Op};
use super::query::{Aggregate, Aggregation, Search};
use super::record::{Field, Record, compare_by};
use super::{AggregationResult, AttributeCount, Page, ReportingError, aggregate};
use crate::ReadModel;
use crate::deployments::DeploymentsQueries;
use crate::inventory::{InventoryDoc, InventoryQueries, ValueRange};

/// Reporting over the local read models.
#[derive(Clone)]
pub struct Embedded {
    inventory: Arc<ReadModel>,
    deployments: Arc<ReadModel>,
}

impl Embedded {
    /// Over the inventory and deployments models.
    pub fn new(inventory: Arc<ReadModel>, deployments: Arc<ReadModel>) -> Embedded {
        Embedded { inventory, deployments }
    }

    /// Calls `each` with every device of the tenant that may pass `filters` (and is among `ids`
    /// when given): those the index lists for the narrowest positive equality filter, or all.
    fn devices(
        &self,
        tenant: &str,
        ids: Option<&BTreeSet<String>>,
        filters: &[Filter],
        mut each: impl FnMut(InventoryDoc),
    ) -> Result<(), ReportingError> {
        let q = InventoryQueries(&self.inventory);
        let ids: Vec<String> = match (ids, candidates(&q, tenant, filters)?) {
            (Some(ids), Some(found)) => ids.intersection(&found).cloned().collect(),
            (Some(ids), None) => ids.iter().cloned().collect(),
            (None, Some(found)) => found.into_iter().collect(),
            (None, None) => q.ids(tenant, 0, usize::MAX)?,
        };
        for id in ids {
            if let Some(d) = q.get(tenant, &id)? {
                each(d);
            }
        }
        Ok(())
    }

    /// Every device deployment of the tenant as records.
    fn device_deployments(&self, tenant: &str) -> Result<Vec<Record>, ReportingError> {
        let q = DeploymentsQueries(&self.deployments);
        let mut out = Vec::new();
        for dep in q.deployments(tenant)? {
            for part in q.parts(tenant, &dep.id)? {
                out.push(Record::device_deployment(&dep, &part));
            }
        }
        Ok(out)
    }

    /// `devices/search`: filters and sorting read only their own fields of each candidate;
    /// only the page's devices are shown whole.
    pub fn search_devices(&self, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        let needed: Vec<Field> =
            s.filters.iter().map(|f| f.field.clone()).chain(s.sort.iter().map(|(f, _)| f.clone())).collect();
        let mut found = Vec::new();
        self.devices(tenant, s.ids.as_ref(), &s.filters, |d| {
            let r = Record::device_fields(&d, &needed);
            if passes(&s.filters, &r) {
                found.push((r, d));
            }
        })?;
        Ok(page(found, s, |(r, _)| r, |(_, d)| Record::device(d).shown(s.attributes.as_deref())))
    }

    /// `devices/aggregate`, reading only the filtered and aggregated fields of each device.
    pub fn aggregate_devices(
        &self,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        let mut needed: Vec<Field> = a.filters.iter().map(|f| f.field.clone()).collect();
        let mut terms: Vec<&Aggregation> = a.aggregations.iter().collect();
        while let Some(t) = terms.pop() {
            needed.push(t.field.clone());
            terms.extend(&t.sub);
        }
        let mut records = Vec::new();
        self.devices(tenant, None, &a.filters, |d| records.push(Record::device_fields(&d, &needed)))?;
        Ok(run_aggregate(&records, a))
    }

    /// `deployments/devices/search`.
    pub fn search_deployments(&self, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        let mut found = self.device_deployments(tenant)?;
        found.retain(|r| passes(&s.filters, r));
        Ok(page(found, s, |r| r, |r| r.shown(s.attributes.as_deref())))
    }

    /// `deployments/devices/aggregate`.
    pub fn aggregate_deployments(
        &self,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        Ok(run_aggregate(&self.device_deployments(tenant)?, a))
    }

    /// Every device attribute with the number of devices that have it.
    pub fn attribute_counts(&self, tenant: &str) -> Result<Vec<AttributeCount>, ReportingError> {
        let counts = InventoryQueries(&self.inventory).attribute_counts(tenant)?;
        Ok(counts.into_iter().map(|(scope, name, count)| AttributeCount { name, scope, count }).collect())
    }
}

/// Sorts (then by id) and pages the items that passed the filters, by their records; `show`
/// gives the JSON of each item of the page.
fn page<T>(mut hits: Vec<T>, s: &Search, record: impl Fn(&T) -> &Record, show: impl Fn(&T) -> Value) -> Page {
    hits.sort_by(|a, b| {
        let (a, b) = (record(a), record(b));
        s.sort
            .iter()
            .map(|(f, desc)| compare_by(a, b, f, *desc))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.id.as_bytes().cmp(b.id.as_bytes()))
    });
    let total = hits.len() as u64;
    let items = hits.iter().skip(s.skip).take(s.take).map(show).collect();
    Page { total, items }
}

/// Whether `r` passes every filter.
fn passes(filters: &[Filter], r: &Record) -> bool {
    filters.iter().all(|f| f.matches(r))
}

fn run_aggregate(records: &[Record], a: &Aggregate) -> Vec<AggregationResult> {
    let hits: Vec<&Record> = records.iter().filter(|r| passes(&a.filters, r)).collect();
    aggregate(&hits, &a.aggregations)
}

/// Whether the inventory's attribute index holds `field` (every device attribute but the id).
fn indexed(field: &Field) -> bool {
    let is_id = field.scope == "identity" && field.name == "id";
    !field.scope.is_empty() && !is_id
}

/// The ids the index lists for the positive equality filter with the fewest entries, if any
/// filter is one. Each filter is still checked on every record afterwards.
fn candidates(
    q: &InventoryQueries<'_>,
    tenant: &str,
    filters: &[Filter],
) -> Result<Option<BTreeSet<String>>, ReportingError> {
    let mut best: Option<(usize, Vec<ValueRange>, &Field)> = None;
    for f in filters.iter().filter(|f| indexed(&f.field)) {
        let ranges: Vec<ValueRange> = match &f.op {
            Op::Eq(v) => vec![ValueRange::Exact(v.clone())],
            Op::In(list) => list.iter().cloned().map(ValueRange::Exact).collect(),
            _ => continue,
        };
        // Counted with a cap, so a broad filter costs no more than the narrowest one so far.
        let cap = best.as_ref().map_or(usize::MAX, |b| b.0);
        let mut n = 0;
        for r in &ranges {
            n += q.estimate(tenant, &f.field.scope, &f.field.name, r, cap.saturating_sub(n))?;
        }
        if best.as_ref().is_none_or(|b| n < b.0) {
            best = Some((n, ranges, &f.field));
        }
    }
    let Some((_, ranges, field)) = best else { return Ok(None) };
    let mut ids = BTreeSet::new();
    for r in &ranges {
        ids.extend(q.matching(tenant, &field.scope, &field.name, r)?);
    }
    Ok(Some(ids))
}
