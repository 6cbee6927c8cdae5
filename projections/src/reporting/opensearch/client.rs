//! The connection to OpenSearch and the indices fleetlog keeps there: one for devices, one for
//! device deployments, one for the indexer's checkpoint, all named after a prefix so that
//! several installations (or tests) share a node.

use std::time::Duration;

use opensearch::OpenSearch;
use opensearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderValue};
use opensearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use opensearch::http::{Method, Url};
use serde_json::{Value, json};

use crate::reporting::ReportingError;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one installation's indices.
#[derive(Clone)]
pub struct SearchClient {
    os: OpenSearch,
    prefix: String,
    url: String,
}

/// The indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// One document per device.
    Devices,
    /// One document per device deployment.
    Deployments,
    /// The indexer's checkpoint.
    Meta,
}

impl SearchClient {
    /// A client for `url` whose indices are named `<prefix>devices` and so on.
    pub fn new(url: &str, prefix: &str) -> Result<SearchClient, ReportingError> {
        let parsed =
            Url::parse(url).map_err(|e| ReportingError::Invalid(format!("--opensearch-url {url:?}: {e}")))?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(parsed))
            .disable_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ReportingError::Invalid(format!("--opensearch-url {url:?}: {e}")))?;
        Ok(SearchClient { os: OpenSearch::new(transport), prefix: prefix.to_owned(), url: url.to_owned() })
    }

    /// The node's URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The name of an index.
    pub fn index(&self, index: Index) -> String {
        let name = match index {
            Index::Devices => "devices",
            Index::Deployments => "deployments",
            Index::Meta => "meta",
        };
        format!("{}{name}", self.prefix)
    }

    /// Sends a request; a node that cannot be reached, or answers 5xx, is `Unavailable`;
    /// other answers come back with their status.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, Value), ReportingError> {
        self.call_typed(method, path, body, "application/json").await
    }

    /// A `_bulk` request (newline-delimited JSON).
    pub async fn bulk(&self, body: String) -> Result<(u16, Value), ReportingError> {
        self.call_typed(Method::Post, "/_bulk", Some(body), "application/x-ndjson").await
    }

    async fn call_typed(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        content_type: &'static str,
    ) -> Result<(u16, Value), ReportingError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let unavailable = |e: String| ReportingError::Unavailable(format!("OpenSearch at {}: {e}", self.url));
        let res = self
            .os
            .send(method, path, headers, None::<&()>, body, None)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = res.status_code().as_u16();
        let text = res.text().await.map_err(|e| unavailable(e.to_string()))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 500 {
            return Err(unavailable(format!("status {status}: {}", short(&value))));
        }
        Ok((status, value))
    }

    /// Creates the indices that are missing, and waits until their shards can serve.
    pub async fn ensure_indices(&self) -> Result<(), ReportingError> {
        for index in [Index::Devices, Index::Deployments, Index::Meta] {
            let name = self.index(index);
            let (status, _) = self.call(Method::Head, &format!("/{name}"), None).await?;
            if status == 200 {
                continue;
            }
            let (status, body) =
                self.call(Method::Put, &format!("/{name}"), Some(index_body(index).to_string())).await?;
            let exists = body["error"]["type"] == "resource_already_exists_exception";
            if !(200..300).contains(&status) && !exists {
                return Err(ReportingError::Unexpected(format!("creating index {name}: {}", short(&body))));
            }
        }
        // A single node: replicas are never assigned, so yellow is as good as it gets.
        let path = format!(
            "/_cluster/health/{},{},{}?wait_for_status=yellow&timeout=30s",
            self.index(Index::Devices),
            self.index(Index::Deployments),
            self.index(Index::Meta)
        );
        self.call(Method::Get, &path, None).await?;
        Ok(())
    }
}

/// An error body cut short for messages.
pub fn short(v: &Value) -> String {
    let text = v.get("error").map_or_else(|| v.to_string(), Value::to_string);
    text.chars().take(300).collect()
}

/// Settings and mappings of an index. Record fields go under `s.<key>` (texts, keyword) and
/// `n.<key>` (numbers, double); `out` (the JSON shown) is stored, not indexed.
fn index_body(index: Index) -> Value {
    let settings = json!({
        "number_of_shards": 1,
        "number_of_replicas": 0,
        // Paging reaches as deep as the embedded backend does.
        "max_result_window": 1_000_000,
        "mapping": {"total_fields": {"limit": 20_000}},
    });
    if index == Index::Meta {
        return json!({"settings": settings, "mappings": {"dynamic": false, "properties": {}}});
    }
    json!({
        "settings": settings,
        "mappings": {
            "dynamic_templates": [
                {"texts": {"path_match": "s.*", "mapping": {"type": "keyword"}}},
                {"numbers": {"path_match": "n.*", "mapping": {"type": "double"}}},
            ],
            "properties": {
                "id": {"type": "keyword"},
                "tenant": {"type": "keyword"},
                "attrs": {"type": "keyword"},
                "out": {"type": "object", "enabled": false},
                "s": {"type": "object"},
                "n": {"type": "object"},
            },
        },
    })
}
