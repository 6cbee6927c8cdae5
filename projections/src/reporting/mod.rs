//! Mender's reporting API on the read side: device and device-deployment searches and
//! aggregations, answered by one of two backends that must give the same answers:
//! [`Embedded`] (the sled inventory and deployments models) or OpenSearch.
//!
//! Requests are parsed into the checked query model of [`query`] first, so both backends see
//! only valid queries. Both backends reduce a device or a device deployment to a [`Record`]:
//! named fields holding scalars (texts and numbers), and the JSON the API shows for it; the
//! semantics of filters, sorting and aggregation keys are defined on records once
//! ([`filter`], [`record`]) and the OpenSearch backend translates them faithfully.

mod aggregate;
mod embedded;
pub mod filter;
pub mod opensearch;
pub mod query;
pub mod record;
#[cfg(test)]
mod tests;

pub use aggregate::{AggregationItem, AggregationResult, aggregate};
pub use embedded::Embedded;
pub use record::Record;

/// Most items of one page.
pub const MAX_PER_PAGE: usize = 500;
/// Items of a page when the request does not say.
pub const DEFAULT_PER_PAGE: usize = 20;
/// How many device attributes are filterable (`devices/attributes`' `limit`).
pub const ATTRIBUTE_LIMIT: usize = 100;

/// Why a reporting request failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportingError {
    /// The request is invalid (400): the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The backend cannot be reached or refused to answer (503): the client may retry.
    #[error("reporting backend unavailable: {0}")]
    Unavailable(String),
    /// The local read models failed (500).
    #[error(transparent)]
    ReadModel(#[from] crate::ProjectionError),
    /// An answer could not be understood (500).
    #[error("unexpected reporting backend answer: {0}")]
    Unexpected(String),
}

/// A page of results and the number of all matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Matches over all pages (`X-Total-Count`).
    pub total: u64,
    /// This page's items as the API shows them.
    pub items: Vec<serde_json::Value>,
}

/// An attribute and the number of devices that have it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttributeCount {
    /// Attribute name.
    pub name: String,
    /// Its scope.
    pub scope: String,
    /// Devices having it.
    pub count: u64,
}

/// Sorts attribute counts as the API lists them: most common first, then by scope and name.
pub fn sort_attribute_counts(counts: &mut [AttributeCount]) {
    counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.scope, &a.name).cmp(&(&b.scope, &b.name))));
}

/// The body of `GET devices/attributes`: the filterable attributes (at most
/// [`ATTRIBUTE_LIMIT`], by scope and name), their number and the limit.
pub fn attributes_usage(mut counts: Vec<AttributeCount>) -> serde_json::Value {
    counts.sort_by(|a, b| (&a.scope, &a.name).cmp(&(&b.scope, &b.name)));
    counts.truncate(ATTRIBUTE_LIMIT);
    let attributes: Vec<serde_json::Value> =
        counts.iter().map(|c| serde_json::json!({"name": c.name, "scope": c.scope})).collect();
    serde_json::json!({"attributes": attributes, "count": counts.len(), "limit": ATTRIBUTE_LIMIT})
}

/// The backend a request is answered by.
#[derive(Clone)]
pub enum Backend {
    /// The local sled models.
    Embedded(Embedded),
    /// OpenSearch.
    OpenSearch(Box<opensearch::OpenSearchBackend>),
}

impl Backend {
    /// `devices/search`.
    pub async fn search_devices(&self, tenant: &str, s: &query::Search) -> Result<Page, ReportingError> {
        match self {
            Backend::Embedded(e) => e.search_devices(tenant, s),
            Backend::OpenSearch(o) => o.search_devices(tenant, s).await,
        }
    }

    /// `devices/aggregate`.
    pub async fn aggregate_devices(
        &self,
        tenant: &str,
        a: &query::Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        match self {
            Backend::Embedded(e) => e.aggregate_devices(tenant, a),
            Backend::OpenSearch(o) => o.aggregate_devices(tenant, a).await,
        }
    }

    /// `deployments/devices/search`.
    pub async fn search_deployments(&self, tenant: &str, s: &query::Search) -> Result<Page, ReportingError> {
        match self {
            Backend::Embedded(e) => e.search_deployments(tenant, s),
            Backend::OpenSearch(o) => o.search_deployments(tenant, s).await,
        }
    }

    /// `deployments/devices/aggregate`.
    pub async fn aggregate_deployments(
        &self,
        tenant: &str,
        a: &query::Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        match self {
            Backend::Embedded(e) => e.aggregate_deployments(tenant, a),
            Backend::OpenSearch(o) => o.aggregate_deployments(tenant, a).await,
        }
    }

    /// Every device attribute with the number of devices having it.
    pub async fn attribute_counts(&self, tenant: &str) -> Result<Vec<AttributeCount>, ReportingError> {
        match self {
            Backend::Embedded(e) => e.attribute_counts(tenant),
            Backend::OpenSearch(o) => o.attribute_counts(tenant).await,
        }
    }
}
