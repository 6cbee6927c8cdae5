//! The embedded reporting backend: answers from the sled inventory and deployments models by
//! reading the tenant's records and filtering, sorting and aggregating them in memory. Device
//! queries with a positive equality filter (`$eq`, `$in`) read only the devices the inventory's
//! attribute index lists for its narrowest one; the filters are then checked on each record, so
//! the answer is the same as a full scan's. It is meant for the single-node installation;
//! large fleets use OpenSearch.

use std::sync::Arc;

use std::collections::BTreeSet;

use super::filter::{Filter, Op};
use super::query::{Aggregate, Search};
use super::record::{Field, Record, compare_by};
use super::{AggregationResult, AttributeCount, Page, ReportingError, aggregate};
use crate::ReadModel;
use crate::deployments::DeploymentsQueries;
use crate::inventory::{InventoryQueries, ValueRange};

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

    /// The devices of the tenant that may pass `filters` (and are among `ids` when given), as
    /// records: those the index lists for the narrowest positive equality filter, or all.
    fn devices(
        &self,
        tenant: &str,
        ids: Option<&BTreeSet<String>>,
        filters: &[Filter],
    ) -> Result<Vec<Record>, ReportingError> {
        let q = InventoryQueries(&self.inventory);
        let ids: Vec<String> = match (ids, candidates(&q, tenant, filters)?) {
            (Some(ids), Some(found)) => ids.intersection(&found).cloned().collect(),
            (Some(ids), None) => ids.iter().cloned().collect(),
            (None, Some(found)) => found.into_iter().collect(),
            (None, None) => q.ids(tenant, 0, usize::MAX)?,
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = q.get(tenant, &id)? {
                out.push(Record::device(&d));
            }
        }
        Ok(out)
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

    /// `devices/search`.
    pub fn search_devices(&self, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        Ok(page(self.devices(tenant, s.ids.as_ref(), &s.filters)?, s))
    }

    /// `devices/aggregate`.
    pub fn aggregate_devices(
        &self,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        Ok(run_aggregate(&self.devices(tenant, None, &a.filters)?, a))
    }

    /// `deployments/devices/search`.
    pub fn search_deployments(&self, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        Ok(page(self.device_deployments(tenant)?, s))
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

/// Filters, sorts (then by id) and pages records.
fn page(records: Vec<Record>, s: &Search) -> Page {
    let mut hits: Vec<Record> =
        records.into_iter().filter(|r| s.filters.iter().all(|f| f.matches(r))).collect();
    hits.sort_by(|a, b| {
        s.sort
            .iter()
            .map(|(f, desc)| compare_by(a, b, f, *desc))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.id.as_bytes().cmp(b.id.as_bytes()))
    });
    let total = hits.len() as u64;
    let items = hits.iter().skip(s.skip).take(s.take).map(|r| r.shown(s.attributes.as_deref())).collect();
    Page { total, items }
}

fn run_aggregate(records: &[Record], a: &Aggregate) -> Vec<AggregationResult> {
    let hits: Vec<&Record> = records.iter().filter(|r| a.filters.iter().all(|f| f.matches(r))).collect();
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
