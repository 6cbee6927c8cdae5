//! The connection to OpenSearch and the indices fleetlog keeps there: one for devices, one for
//! device deployments (each an alias over the index of the current generation, so that a
//! rebuild can fill a new one and swap it in), one for the indexer's checkpoints, all named
//! after a prefix so that several installations (or tests) share a node.

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

    /// A `_bulk` request whose every item must succeed, or be a write the index already has
    /// (409: this version or a newer one) or a delete of a document that is not there (404).
    pub async fn bulk_checked(&self, body: String) -> Result<(), ReportingError> {
        let (status, answer) = self.bulk(body).await?;
        if status != 200 {
            return Err(ReportingError::Unexpected(format!("_bulk answered {status}: {}", short(&answer))));
        }
        for item in answer["items"].as_array().into_iter().flatten() {
            let result = item.as_object().and_then(|o| o.values().next()).cloned().unwrap_or_default();
            match result["status"].as_u64().unwrap_or(0) {
                200..=299 | 409 | 404 => {}
                s => {
                    let detail = short(&result);
                    return Err(ReportingError::Unexpected(format!("_bulk item answered {s}: {detail}")));
                }
            }
        }
        Ok(())
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

    /// The concrete index of generation `g` behind the alias [`SearchClient::index`] names
    /// (a rebuild fills the next generation, then moves the alias).
    pub fn generation(&self, index: Index, g: u64) -> String {
        format!("{}-{g}", self.index(index))
    }

    async fn create(&self, name: &str, index: Index) -> Result<(), ReportingError> {
        let (status, body) =
            self.call(Method::Put, &format!("/{name}"), Some(index_body(index).to_string())).await?;
        let exists = body["error"]["type"] == "resource_already_exists_exception";
        if !(200..300).contains(&status) && !exists {
            return Err(ReportingError::Unexpected(format!("creating index {name}: {}", short(&body))));
        }
        // A single node: replicas are never assigned, so yellow is as good as it gets.
        self.call(Method::Get, &format!("/_cluster/health/{name}?wait_for_status=yellow&timeout=30s"), None)
            .await?;
        Ok(())
    }

    /// The generation the aliases point at, after creating the meta index and generation 1
    /// with its aliases when there are none yet.
    pub async fn ensure_indices(&self) -> Result<u64, ReportingError> {
        let meta = self.index(Index::Meta);
        if self.call(Method::Head, &format!("/{meta}"), None).await?.0 != 200 {
            self.create(&meta, Index::Meta).await?;
        }
        if let Some(g) = self.current_generation().await? {
            return Ok(g);
        }
        self.create_generation(1).await?;
        let actions: Vec<Value> = [Index::Devices, Index::Deployments]
            .iter()
            .map(|i| json!({"add": {"index": self.generation(*i, 1), "alias": self.index(*i)}}))
            .collect();
        self.aliases(actions).await?;
        Ok(1)
    }

    /// The generation the devices alias points at, if it exists.
    pub async fn current_generation(&self) -> Result<Option<u64>, ReportingError> {
        let alias = self.index(Index::Devices);
        let (status, body) = self.call(Method::Get, &format!("/_alias/{alias}"), None).await?;
        if status == 404 {
            return Ok(None);
        }
        let g = body
            .as_object()
            .and_then(|o| o.keys().find_map(|k| k.strip_prefix(&format!("{alias}-"))?.parse().ok()));
        g.map(Some).ok_or_else(|| ReportingError::Unexpected(format!("alias {alias}: {}", short(&body))))
    }

    /// Creates (afresh) the indices of generation `g`.
    pub async fn create_generation(&self, g: u64) -> Result<(), ReportingError> {
        for index in [Index::Devices, Index::Deployments] {
            let name = self.generation(index, g);
            self.call(Method::Delete, &format!("/{name}"), None).await?;
            self.create(&name, index).await?;
        }
        Ok(())
    }

    /// Points both aliases from generation `old` to `new` in one step, then drops `old`.
    pub async fn swap(&self, old: u64, new: u64) -> Result<(), ReportingError> {
        let mut actions = Vec::new();
        for index in [Index::Devices, Index::Deployments] {
            actions
                .push(json!({"remove": {"index": self.generation(index, old), "alias": self.index(index)}}));
            actions.push(json!({"add": {"index": self.generation(index, new), "alias": self.index(index)}}));
        }
        self.aliases(actions).await?;
        for index in [Index::Devices, Index::Deployments] {
            self.call(Method::Delete, &format!("/{}", self.generation(index, old)), None).await?;
        }
        let checkpoint = format!("/{}/_doc/checkpoint-{old}", self.index(Index::Meta));
        self.call(Method::Delete, &checkpoint, None).await?;
        Ok(())
    }

    async fn aliases(&self, actions: Vec<Value>) -> Result<(), ReportingError> {
        let body = json!({ "actions": actions }).to_string();
        let (status, answer) = self.call(Method::Post, "/_aliases", Some(body)).await?;
        if status != 200 {
            return Err(ReportingError::Unexpected(format!("moving aliases: {}", short(&answer))));
        }
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

/// The `_bulk` body of `ops`: each action, then its document if it has one, a line each.
pub fn ndjson(ops: &[(Value, Option<Value>)]) -> String {
    let mut body = String::new();
    for (action, doc) in ops {
        body.push_str(&action.to_string());
        body.push('\n');
        if let Some(doc) = doc {
            body.push_str(&doc.to_string());
            body.push('\n');
        }
    }
    body
}
