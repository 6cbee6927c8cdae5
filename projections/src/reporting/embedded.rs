//! The embedded reporting backend: answers from the sled inventory and deployments models by
//! reading the tenant's records and filtering, sorting and aggregating them in memory. It is
//! meant for the single-node installation; large fleets use OpenSearch.

use std::sync::Arc;

use super::query::{Aggregate, Search};
use super::record::{Record, compare_by};
use super::{AggregationResult, AttributeCount, Page, ReportingError, aggregate};
use crate::ReadModel;
use crate::deployments::DeploymentsQueries;
use crate::inventory::InventoryQueries;

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

    /// Every device of the tenant (or only those of `ids`) as records.
    fn devices(
        &self,
        tenant: &str,
        ids: Option<&std::collections::BTreeSet<String>>,
    ) -> Result<Vec<Record>, ReportingError> {
        let q = InventoryQueries(&self.inventory);
        let ids = match ids {
            Some(ids) => ids.iter().cloned().collect(),
            None => q.ids(tenant, 0, usize::MAX)?,
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
        Ok(page(self.devices(tenant, s.ids.as_ref())?, s))
    }

    /// `devices/aggregate`.
    pub fn aggregate_devices(
        &self,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        Ok(run_aggregate(&self.devices(tenant, None)?, a))
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
