//! The OpenSearch reporting backend: checked queries translated, sent, and the answers
//! reshaped into exactly what the embedded backend gives.

use fleetlog_events::inventory::Scalar;
use opensearch::http::Method;
use serde_json::{Value, json};

use super::client::{Index, SearchClient, short};
use super::translate;
use crate::reporting::query::{Aggregate, Aggregation, Search};
use crate::reporting::record::{bucket_order, key_text, show};
use crate::reporting::{AggregationItem, AggregationResult, AttributeCount, Page, ReportingError};

/// Most distinct attributes `attribute_counts` reads.
const MAX_ATTRIBUTES: usize = 10_000;

/// Reporting answered by OpenSearch.
#[derive(Clone)]
pub struct OpenSearchBackend {
    client: SearchClient,
}

impl OpenSearchBackend {
    /// Over the indices of `client`.
    pub fn new(client: SearchClient) -> OpenSearchBackend {
        OpenSearchBackend { client }
    }

    async fn search(&self, index: Index, body: Value) -> Result<Value, ReportingError> {
        let path = format!("/{}/_search", self.client.index(index));
        let (status, answer) = self.client.call(Method::Post, &path, Some(body.to_string())).await?;
        match status {
            200 => Ok(answer),
            404 => Err(ReportingError::Unavailable(format!(
                "index {} does not exist yet (the indexer creates it once OpenSearch answers)",
                self.client.index(index)
            ))),
            // A pattern OpenSearch finds too complex is the client's to simplify.
            400 if answer.to_string().contains("too_complex") => {
                Err(ReportingError::Invalid(format!("regular expression too complex: {}", short(&answer))))
            }
            _ => Err(ReportingError::Unexpected(format!("search answered {status}: {}", short(&answer)))),
        }
    }

    async fn page(&self, index: Index, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        let body = json!({
            "query": translate::query(tenant, &s.filters, s.ids.as_ref().map(|ids| ids.iter())),
            "sort": translate::sort(&s.sort),
            "from": s.skip,
            "size": s.take,
            "track_total_hits": true,
            "_source": ["out"],
        });
        let answer = self.search(index, body).await?;
        let total = answer["hits"]["total"]["value"].as_u64().unwrap_or(0);
        let hits = answer["hits"]["hits"].as_array().cloned().unwrap_or_default();
        let items = hits.iter().map(|h| show(&h["_source"]["out"], s.attributes.as_deref())).collect();
        Ok(Page { total, items })
    }

    async fn aggregate(
        &self,
        index: Index,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        let body = json!({
            "query": translate::query(tenant, &a.filters, None::<std::iter::Empty<&String>>),
            "size": 0,
            "aggs": translate::aggregations(&a.aggregations),
        });
        let answer = self.search(index, body).await?;
        reshape(&answer["aggregations"], &a.aggregations)
    }

    /// `devices/search`.
    pub async fn search_devices(&self, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        self.page(Index::Devices, tenant, s).await
    }

    /// `devices/aggregate`.
    pub async fn aggregate_devices(
        &self,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        self.aggregate(Index::Devices, tenant, a).await
    }

    /// `deployments/devices/search`.
    pub async fn search_deployments(&self, tenant: &str, s: &Search) -> Result<Page, ReportingError> {
        self.page(Index::Deployments, tenant, s).await
    }

    /// `deployments/devices/aggregate`.
    pub async fn aggregate_deployments(
        &self,
        tenant: &str,
        a: &Aggregate,
    ) -> Result<Vec<AggregationResult>, ReportingError> {
        self.aggregate(Index::Deployments, tenant, a).await
    }

    /// Every device attribute with the number of devices that have it.
    pub async fn attribute_counts(&self, tenant: &str) -> Result<Vec<AttributeCount>, ReportingError> {
        let body = json!({
            "query": {"term": {"tenant": tenant}},
            "size": 0,
            "aggs": {"attrs": {"terms": {"field": "attrs", "size": MAX_ATTRIBUTES}}},
        });
        let answer = self.search(Index::Devices, body).await?;
        let buckets = answer["aggregations"]["attrs"]["buckets"].as_array().cloned().unwrap_or_default();
        Ok(buckets
            .iter()
            .filter_map(|b| {
                let (scope, name) = b["key"].as_str()?.split_once('/')?;
                let count = b["doc_count"].as_u64()?;
                Some(AttributeCount { name: name.to_owned(), scope: scope.to_owned(), count })
            })
            .collect())
    }
}

fn unexpected(what: &str) -> ReportingError {
    ReportingError::Unexpected(format!("aggregation answer without {what}"))
}

/// Merges each term's text and number aggregations into one bucket list, as
/// [`crate::reporting::aggregate`] orders and cuts it.
fn reshape(aggs: &Value, terms: &[Aggregation]) -> Result<Vec<AggregationResult>, ReportingError> {
    let mut out = Vec::with_capacity(terms.len());
    for (i, term) in terms.iter().enumerate() {
        let mut buckets: Vec<(Scalar, u64, &Value)> = Vec::new();
        let mut all = 0u64;
        for suffix in ["s", "n"] {
            let agg = &aggs[format!("a{i}{suffix}")];
            let list = agg["buckets"].as_array().ok_or_else(|| unexpected("buckets"))?;
            all += agg["sum_other_doc_count"].as_u64().ok_or_else(|| unexpected("sum_other_doc_count"))?;
            for b in list {
                let count = b["doc_count"].as_u64().ok_or_else(|| unexpected("doc_count"))?;
                let key = match suffix {
                    "s" => {
                        Scalar::Text(b["key"].as_str().ok_or_else(|| unexpected("a text key"))?.to_owned())
                    }
                    _ => Scalar::Number(b["key"].as_f64().ok_or_else(|| unexpected("a number key"))?),
                };
                all += count;
                buckets.push((key, count, b));
            }
        }
        buckets.sort_by(|x, y| bucket_order((&x.0, x.1), (&y.0, y.1)));
        buckets.truncate(term.limit);
        let kept: u64 = buckets.iter().map(|b| b.1).sum();
        let items = buckets
            .into_iter()
            .map(|(key, count, b)| {
                Ok(AggregationItem { key: key_text(&key), count, aggregations: reshape(b, &term.sub)? })
            })
            .collect::<Result<_, ReportingError>>()?;
        out.push(AggregationResult { name: term.name.clone(), items, other_count: all - kept });
    }
    Ok(out)
}
