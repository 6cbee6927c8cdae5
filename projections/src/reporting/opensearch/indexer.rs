//! The projection of the log into OpenSearch: for each batch of events, the devices and device
//! deployments they touch are read from the local read models (once those have applied the
//! batch) and written in bounded `_bulk` requests, each document with external version = the
//! stream sequence of the last event that touched it, so that an older write never replaces a
//! newer one and a replayed event is a no-op. The checkpoint is a document in OpenSearch (also
//! externally versioned), so a restart, or another replica, resumes where the index is. When
//! OpenSearch is down the batch is retried with backoff; nothing else waits for it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fleetlog_events::deployment::DeploymentEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::{ActorKind, DomainEvent, RecordedEvent};
use opensearch::http::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::client::{Index, SearchClient, short};
use super::translate::document;
use crate::deployments::DeploymentsQueries;
use crate::feed::Feed;
use crate::inventory::InventoryQueries;
use crate::reporting::{Record, ReportingError};
use crate::{Model, ProjectionHost, ReadModel};

/// The name of this projection in metrics, `/readyz` and `fleetlog replay --model`.
pub const SEARCH_MODEL: &str = "search";
/// Most events per batch.
const BATCH_EVENTS: usize = 500;
/// Most operations per `_bulk` request.
const BULK_OPS: usize = 500;
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where the indexer is, for `/readyz` and `/metrics`.
#[derive(Debug, Default)]
pub struct IndexerStatus {
    position: AtomicU64,
    failing: AtomicBool,
}

impl IndexerStatus {
    /// The last stream sequence whose effects are in the index.
    pub fn position(&self) -> u64 {
        self.position.load(Ordering::Relaxed)
    }

    /// True while OpenSearch refuses or cannot be reached.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    fn advance(&self, position: u64, lag: u64) {
        self.position.store(position, Ordering::Relaxed);
        self.failing.store(false, Ordering::Relaxed);
        metrics::gauge!("fleetlog_projection_position", "model" => SEARCH_MODEL).set(position as f64);
        metrics::gauge!("fleetlog_projection_lag", "model" => SEARCH_MODEL).set(lag as f64);
    }
}

/// A running indexer; dropping it does not stop it, [`SearchIndexer::stop`] does.
pub struct SearchIndexer {
    status: Arc<IndexerStatus>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl SearchIndexer {
    /// Starts indexing the log of `host` into the indices of `client`.
    pub fn start(host: Arc<ProjectionHost>, client: SearchClient) -> Result<SearchIndexer, ReportingError> {
        let model = |m: Model| {
            host.model(m.name()).ok_or_else(|| ReportingError::Unexpected(format!("no {} model", m.name())))
        };
        let (inventory, deployments) = (model(Model::Inventory)?, model(Model::Deployments)?);
        let status = Arc::new(IndexerStatus::default());
        let cancel = CancellationToken::new();
        let worker = Worker { host, client, inventory, deployments, status: status.clone() };
        let task = tokio::spawn(worker.run(cancel.clone()));
        Ok(SearchIndexer { status, cancel, task })
    }

    /// Its progress.
    pub fn status(&self) -> Arc<IndexerStatus> {
        self.status.clone()
    }

    /// Stops after the batch in hand.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

struct Worker {
    host: Arc<ProjectionHost>,
    client: SearchClient,
    inventory: Arc<ReadModel>,
    deployments: Arc<ReadModel>,
    status: Arc<IndexerStatus>,
}

/// What a batch touched, each with the sequence of the last event that did.
#[derive(Default)]
struct Touched {
    devices: BTreeMap<(String, String), u64>,
    parts: BTreeMap<(String, String, String), u64>,
    /// Deployments all of whose parts changed (aborted).
    deployments: BTreeMap<(String, String), u64>,
    /// Devices all of whose parts changed (decommissioned).
    device_parts: BTreeMap<(String, String), u64>,
}

impl Touched {
    fn add(&mut self, e: &RecordedEvent) {
        let env = &e.envelope;
        let (t, id) = (env.aggregate.tenant.clone(), env.aggregate.id.clone());
        match &env.event {
            DomainEvent::Device(DeviceEvent::DeviceDecommissioned) => {
                self.device_parts.insert((t.clone(), id.clone()), e.seq);
                self.devices.insert((t.clone(), id), e.seq);
            }
            DomainEvent::Device(_) | DomainEvent::Inventory(_) | DomainEvent::Connect(_) => {
                self.devices.insert((t.clone(), id), e.seq);
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentCreated { spec }) => {
                for device in &spec.devices {
                    self.parts.insert((t.clone(), id.clone(), device.clone()), e.seq);
                }
            }
            DomainEvent::Deployment(DeploymentEvent::DeploymentAborted) => {
                self.deployments.insert((t.clone(), id), e.seq);
            }
            DomainEvent::DeviceDeployment(_) => {
                if let Some((dep, device)) = id.split_once(':') {
                    self.parts.insert((t.clone(), dep.to_owned(), device.to_owned()), e.seq);
                }
            }
            _ => {}
        }
        // A device's own events are its check-ins, whatever their aggregate.
        if env.actor.kind == ActorKind::Device && !env.actor.id.is_empty() {
            self.devices.insert((env.aggregate.tenant.clone(), env.actor.id.clone()), e.seq);
        }
    }
}

fn backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

impl Worker {
    async fn run(self, cancel: CancellationToken) {
        let mut pause = Duration::from_millis(100);
        'connect: while !cancel.is_cancelled() {
            let start = async {
                self.client.ensure_indices().await?;
                let position = self.checkpoint().await?;
                let feed = Feed::open(&self.host.stream, &self.host.client, position, BATCH_EVENTS)
                    .await
                    .map_err(|e| ReportingError::Unexpected(e.to_string()))?;
                Ok::<_, ReportingError>((position, feed))
            };
            let (mut position, mut feed) = match start.await {
                Ok(started) => started,
                Err(e) => {
                    self.failing(&e, pause);
                    tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(pause) => {} }
                    pause = backoff(pause);
                    continue;
                }
            };
            self.status.position.store(position, Ordering::Relaxed);
            loop {
                let batch = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return,
                    b = feed.next_batch() => b,
                };
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "search indexer: reading the log; reopening");
                        continue 'connect;
                    }
                };
                let Some(last) = batch.events.last().map(|e| e.seq) else { continue };
                loop {
                    match self.apply(&batch.events, last).await {
                        Ok(()) => break,
                        Err(e) => {
                            self.failing(&e, pause);
                            tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(pause) => {} }
                            pause = backoff(pause);
                        }
                    }
                }
                pause = Duration::from_millis(100);
                position = last;
                self.status.advance(position, batch.pending);
            }
        }
    }

    fn failing(&self, e: &ReportingError, retry_in: Duration) {
        if !self.status.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "search indexer: OpenSearch failed; retrying with backoff");
        } else {
            tracing::debug!(error = %e, ?retry_in, "search indexer: still failing");
        }
    }

    /// The position the index has, from its checkpoint document (0 without one).
    async fn checkpoint(&self) -> Result<u64, ReportingError> {
        let path = format!("/{}/_doc/checkpoint", self.client.index(Index::Meta));
        let (status, body) = self.client.call(Method::Get, &path, None).await?;
        match status {
            200 => Ok(body["_version"].as_u64().unwrap_or(0)),
            404 => Ok(0),
            _ => Err(ReportingError::Unexpected(format!("reading the checkpoint: {}", short(&body)))),
        }
    }

    /// Writes what `events` touched as the read models show it at `last` or later.
    async fn apply(&self, events: &[RecordedEvent], last: u64) -> Result<(), ReportingError> {
        let wait = Duration::from_secs(30);
        if !(self.inventory.wait_for(last, wait).await && self.deployments.wait_for(last, wait).await) {
            return Err(ReportingError::Unexpected(format!("the read models did not reach {last}")));
        }
        let mut touched = Touched::default();
        for e in events {
            touched.add(e);
        }
        let (inventory, deployments) = (self.inventory.clone(), self.deployments.clone());
        let client = self.client.clone();
        let ops = tokio::task::spawn_blocking(move || operations(&client, &inventory, &deployments, touched))
            .await
            .map_err(|e| ReportingError::Unexpected(e.to_string()))??;
        for chunk in ops.chunks(BULK_OPS) {
            self.bulk(chunk).await?;
        }
        let checkpoint = json!({"index": {"_index": self.client.index(Index::Meta), "_id": "checkpoint", "version": last, "version_type": "external"}});
        self.bulk(&[(checkpoint, Some(json!({})))]).await
    }

    async fn bulk(&self, ops: &[(Value, Option<Value>)]) -> Result<(), ReportingError> {
        let mut body = String::new();
        for (action, doc) in ops {
            body.push_str(&action.to_string());
            body.push('\n');
            if let Some(doc) = doc {
                body.push_str(&doc.to_string());
                body.push('\n');
            }
        }
        let (status, answer) = self.client.bulk(body).await?;
        if status != 200 {
            return Err(ReportingError::Unexpected(format!("_bulk answered {status}: {}", short(&answer))));
        }
        for item in answer["items"].as_array().into_iter().flatten() {
            let result = item.as_object().and_then(|o| o.values().next()).cloned().unwrap_or_default();
            match result["status"].as_u64().unwrap_or(0) {
                // 409: the index already has this version or a newer one; 404: deleting a
                // document that is not there.
                200..=299 | 409 | 404 => {}
                s => {
                    return Err(ReportingError::Unexpected(format!(
                        "_bulk item answered {s}: {}",
                        short(&result)
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The bulk operations for what a batch touched: action and document (none for a delete).
fn operations(
    client: &SearchClient,
    inventory: &ReadModel,
    deployments: &ReadModel,
    mut touched: Touched,
) -> Result<Vec<(Value, Option<Value>)>, ReportingError> {
    let (inv, dep) = (InventoryQueries(inventory), DeploymentsQueries(deployments));
    for ((t, id), seq) in std::mem::take(&mut touched.deployments) {
        for part in dep.parts(&t, &id)? {
            let key = (t.clone(), id.clone(), part.device_id.clone());
            touched.parts.entry(key).and_modify(|s| *s = (*s).max(seq)).or_insert(seq);
        }
    }
    for ((t, device), seq) in std::mem::take(&mut touched.device_parts) {
        for part in dep.history(&t, &device)? {
            let key = (t.clone(), part.deployment_id.clone(), device.clone());
            touched.parts.entry(key).and_modify(|s| *s = (*s).max(seq)).or_insert(seq);
        }
    }
    let op = |index: Index, tenant: &str, id: &str, seq: u64, record: Option<Record>| {
        let meta = json!({"_index": client.index(index), "_id": format!("{tenant}/{id}"), "version": seq, "version_type": "external"});
        match record {
            Some(r) => (json!({ "index": meta }), Some(document(tenant, &r))),
            None => (json!({ "delete": meta }), None),
        }
    };
    let mut ops = Vec::with_capacity(touched.devices.len() + touched.parts.len());
    for ((t, id), seq) in &touched.devices {
        ops.push(op(Index::Devices, t, id, *seq, inv.get(t, id)?.as_ref().map(Record::device)));
    }
    for ((t, dep_id, device), seq) in &touched.parts {
        let record = match (dep.deployment(t, dep_id)?, dep.part(t, dep_id, device)?) {
            (Some(d), Some(p)) => Some(Record::device_deployment(&d, &p)),
            _ => None,
        };
        ops.push(op(Index::Deployments, t, &format!("{dep_id}:{device}"), *seq, record));
    }
    Ok(ops)
}
