//! Letting `fleetlog replay` and `fleetlog admin` reach a running `serve` on the same data dir:
//! the server listens on core-NATS subjects named after its own id (written to
//! `<data-dir>/serve.id`); it rebuilds the asked read models in the background and streams
//! progress back to the asker's inbox, or says when its read models show a position.
//! The subject is outside the stream's prefix, so requests never enter the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fleetlog_projections::ProjectionHost;
use fleetlog_projections::reporting::opensearch::{SEARCH_MODEL, SearchIndexer};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

/// File in the data dir holding the running server's id.
pub const SERVE_ID_FILE: &str = "serve.id";

/// The request subject of server `id` on stream `stream`.
pub fn rebuild_subject(stream: &str, id: &str) -> String {
    format!("_FLEETLOG.{stream}.{id}.rebuild")
}

/// A progress report (one JSON message per report on the reply subject).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The model being rebuilt.
    #[serde(default)]
    pub model: String,
    /// Position reached.
    #[serde(default)]
    pub position: u64,
    /// Position aimed at.
    #[serde(default)]
    pub target: u64,
    /// True in the last report of a successful run.
    #[serde(default)]
    pub done: bool,
    /// Set in the last report of a failed run.
    #[serde(default)]
    pub error: Option<String>,
}

/// Serves rebuild requests until the connection closes.
///
/// Model `search` (only when asked by name) is the OpenSearch index, rebuilt into a new
/// generation that is swapped in once it has caught up.
pub async fn serve_rebuilds(
    client: async_nats::Client,
    subject: String,
    host: Arc<ProjectionHost>,
    search: Option<Arc<SearchIndexer>>,
) {
    let mut requests = match client.subscribe(subject.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, %subject, "remote rebuilds unavailable");
            return;
        }
    };
    while let Some(request) = requests.next().await {
        let Some(reply) = request.reply.clone() else { continue };
        let (client, host, search) = (client.clone(), host.clone(), search.clone());
        let wanted = String::from_utf8_lossy(&request.payload).trim().to_owned();
        tokio::spawn(async move {
            let names: Vec<String> = if wanted.is_empty() {
                host.models().map(|m| m.name().to_owned()).collect()
            } else {
                vec![wanted]
            };
            let mut last = Report { model: String::new(), position: 0, target: 0, done: true, error: None };
            for name in names {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u64)>();
                let forward = {
                    let (client, reply, name) = (client.clone(), reply.clone(), name.clone());
                    tokio::spawn(async move {
                        let mut sent = Instant::now() - Duration::from_secs(1);
                        while let Some((position, target)) = rx.recv().await {
                            // At most ten reports a second, and always the last one.
                            if sent.elapsed() >= Duration::from_millis(100) || position >= target {
                                let report = Report {
                                    model: name.clone(),
                                    position,
                                    target,
                                    done: false,
                                    error: None,
                                };
                                let _ = client
                                    .publish(
                                        reply.clone(),
                                        serde_json::to_vec(&report).unwrap_or_default().into(),
                                    )
                                    .await;
                                sent = Instant::now();
                            }
                        }
                    })
                };
                let report = |p, t| {
                    let _ = tx.send((p, t));
                };
                let result = match (name.as_str(), &search) {
                    (SEARCH_MODEL, Some(search)) => search.rebuild(&report).await.map_err(|e| e.to_string()),
                    (SEARCH_MODEL, None) => Err("this server has no --opensearch-url".to_owned()),
                    _ => host.rebuild(&name, &report).await.map_err(|e| e.to_string()),
                };
                drop(tx);
                let _ = forward.await;
                if let Err(e) = result {
                    last = Report { model: name, position: 0, target: 0, done: false, error: Some(e) };
                    break;
                }
            }
            let _ = client.publish(reply, serde_json::to_vec(&last).unwrap_or_default().into()).await;
            let _ = client.flush().await;
        });
    }
}

/// The subject on which server `id` of stream `stream` answers "have you applied position N?".
pub fn wait_subject(stream: &str, id: &str) -> String {
    format!("_FLEETLOG.{stream}.{id}.wait")
}

/// How long the server waits for its read models before answering that it has not caught up.
const WAIT_LIMIT: Duration = Duration::from_secs(8);

/// Answers wait requests (a decimal log position) with `ok` once the local read models show that
/// position, or `behind` after [`WAIT_LIMIT`]. Lets `fleetlog admin` return only once the
/// running server can use what it wrote (read-your-writes, as the HTTP API does).
pub async fn serve_waits(client: async_nats::Client, subject: String, host: Arc<ProjectionHost>) {
    let mut requests = match client.subscribe(subject.clone()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, %subject, "remote waits unavailable");
            return;
        }
    };
    while let Some(request) = requests.next().await {
        let Some(reply) = request.reply.clone() else { continue };
        let (client, host) = (client.clone(), host.clone());
        tokio::spawn(async move {
            let position =
                std::str::from_utf8(&request.payload).ok().and_then(|p| p.trim().parse::<u64>().ok());
            let answer = match position {
                Some(p) if host.wait_for(p, WAIT_LIMIT).await => "ok",
                Some(_) => "behind",
                None => "bad request",
            };
            let _ = client.publish(reply, answer.into()).await;
        });
    }
}

/// Waits until the `serve` running on `data_dir` (if any) shows log position `position`. No
/// server on the data dir (no id file, or nobody answers) is not an error: nothing to wait for.
pub async fn wait_until_served(
    client: &async_nats::Client,
    data_dir: &std::path::Path,
    stream: &str,
    position: u64,
) -> anyhow::Result<()> {
    let Ok(id) = std::fs::read_to_string(data_dir.join(SERVE_ID_FILE)) else { return Ok(()) };
    let id = id.trim();
    // Our own file, but it becomes a subject: only what `serve` writes (hex) is used.
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("{} is not a server id", data_dir.join(SERVE_ID_FILE).display());
    }
    let request = client.request(wait_subject(stream, id), position.to_string().into());
    match tokio::time::timeout(WAIT_LIMIT + Duration::from_secs(5), request).await {
        Ok(Ok(reply)) if &reply.payload[..] == b"ok" => Ok(()),
        Ok(Ok(reply)) => anyhow::bail!(
            "written at position {position}, but the running server did not show it in time ({})",
            String::from_utf8_lossy(&reply.payload)
        ),
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Ok(Err(e)) => anyhow::bail!("written at position {position}; asking the running server failed: {e}"),
        Err(_) => {
            anyhow::bail!("written at position {position}, but the running server did not answer in time")
        }
    }
}
