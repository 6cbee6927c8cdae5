//! A worker of the OpenSearch projection: for each batch of events, the devices and device
//! deployments they touch are read from the local read models (once those have applied the
//! batch) and written in bounded `_bulk` requests, each document with external version = the
//! stream sequence of the last event that touched it, so that an older write never replaces a
//! newer one and a replayed event is a no-op. The checkpoint is a document in OpenSearch (also
//! externally versioned), so a restart, or another replica, resumes where the index is; it is
//! written once a second and whenever the indexer has caught up, since re-applying the events
//! after a stale checkpoint is a no-op. When OpenSearch is down the batch is retried with
//! backoff; nothing else waits for it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fleetlog_events::RecordedEvent;
use futures::{StreamExt, TryStreamExt};
use opensearch::http::Method;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::client::{Index, SearchClient, ndjson, short};
use super::indexer::{IndexerStatus, Target};
use super::touched::{Doc, Touched, operations};
use crate::feed::{Batch, Feed};
use crate::reporting::ReportingError;
use crate::{ProjectionError, ProjectionHost, ReadModel};

/// Most events per batch: a device has a few events per batch when catching up, and a bigger
/// batch makes full `_bulk` requests of the documents they touch.
const BATCH_EVENTS: usize = 16_000;
/// Most operations per `_bulk` request.
const BULK_OPS: usize = 500;
/// `_bulk` requests of one batch in flight at once: the next request's documents are read
/// and written out while OpenSearch indexes the previous one.
const BULKS_IN_FLIGHT: usize = 2;
/// Longest time between checkpoint writes while events keep coming.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Indexes the log into one target until cancelled or a position is reached.
pub(super) struct Worker {
    pub(super) host: Arc<ProjectionHost>,
    pub(super) client: SearchClient,
    pub(super) inventory: Arc<ReadModel>,
    pub(super) deployments: Arc<ReadModel>,
    pub(super) status: Arc<IndexerStatus>,
    pub(super) target: Target,
}

fn backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

impl Worker {
    /// Indexes until cancelled, or until it has reached `until`; returns where it is.
    pub(super) async fn run(self, cancel: CancellationToken, until: Option<u64>) -> u64 {
        let mut pause = Duration::from_millis(100);
        let mut position = 0;
        'connect: while !cancel.is_cancelled() {
            let start = async {
                let g = match self.target {
                    Target::Live => self.client.ensure_indices().await?,
                    Target::Generation(g) => g,
                };
                let position = self.checkpoint(g).await?;
                let feed = Feed::open(&self.host.stream, &self.host.client, position, BATCH_EVENTS)
                    .await
                    .map_err(|e| ReportingError::Unexpected(e.to_string()))?;
                Ok::<_, ReportingError>((g, position, feed))
            };
            let (g, mut feed) = match start.await {
                Ok((g, at, feed)) => {
                    position = at;
                    (g, feed)
                }
                Err(e) => {
                    self.failing(&e, pause);
                    tokio::select! { _ = cancel.cancelled() => break, _ = tokio::time::sleep(pause) => {} }
                    pause = backoff(pause);
                    continue;
                }
            };
            self.status.position.store(position, Ordering::Relaxed);
            let mut checkpointed = std::time::Instant::now();
            loop {
                if until.is_some_and(|u| position >= u) {
                    return position;
                }
                let batch = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break 'connect,
                    b = next_full(&mut feed) => b,
                };
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "search indexer: reading the log; reopening");
                        continue 'connect;
                    }
                };
                let Some(last) = batch.events.last().map(|e| e.seq) else { continue };
                let checkpoint = batch.pending == 0 || checkpointed.elapsed() >= CHECKPOINT_EVERY;
                loop {
                    match self.apply(&batch.events, g, last, checkpoint).await {
                        Ok(()) => break,
                        Err(e) => {
                            self.failing(&e, pause);
                            tokio::select! { _ = cancel.cancelled() => break 'connect, _ = tokio::time::sleep(pause) => {} }
                            pause = backoff(pause);
                        }
                    }
                }
                pause = Duration::from_millis(100);
                if checkpoint {
                    checkpointed = std::time::Instant::now();
                }
                position = last;
                self.status.advance(position, batch.pending);
            }
        }
        position
    }

    fn failing(&self, e: &ReportingError, retry_in: Duration) {
        if !self.status.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %e, "search indexer: OpenSearch failed; retrying with backoff");
        } else {
            tracing::debug!(error = %e, ?retry_in, "search indexer: still failing");
        }
    }

    /// The position generation `g` has, from its checkpoint document (0 without one).
    async fn checkpoint(&self, g: u64) -> Result<u64, ReportingError> {
        let path = format!("/{}/_doc/checkpoint-{g}", self.client.index(Index::Meta));
        let (status, body) = self.client.call(Method::Get, &path, None).await?;
        match status {
            200 => Ok(body["_version"].as_u64().unwrap_or(0)),
            404 => Ok(0),
            _ => Err(ReportingError::Unexpected(format!("reading the checkpoint: {}", short(&body)))),
        }
    }

    /// Writes what `events` touched as the read models show it at `last` or later, then (when
    /// `checkpoint`) that generation `g` is at `last`.
    async fn apply(
        &self,
        events: &[RecordedEvent],
        g: u64,
        last: u64,
        checkpoint: bool,
    ) -> Result<(), ReportingError> {
        let wait = Duration::from_secs(30);
        if !(self.inventory.wait_for(last, wait).await && self.deployments.wait_for(last, wait).await) {
            return Err(ReportingError::Unexpected(format!("the read models did not reach {last}")));
        }
        let mut touched = Touched::default();
        for e in events {
            touched.add(e);
        }
        let deployments = self.deployments.clone();
        let docs = blocking(move || touched.docs(&deployments)).await?;
        // Each request's documents are read and written out on a blocking thread while the
        // previous request is in flight, so building and indexing overlap.
        let requests = docs.chunks(BULK_OPS).map(<[Doc]>::to_vec).map(|chunk| {
            let (inventory, deployments) = (self.inventory.clone(), self.deployments.clone());
            let (client, target) = (self.client.clone(), self.target);
            async move {
                let body = blocking(move || {
                    operations(&client, target, &inventory, &deployments, &chunk).map(|ops| ndjson(&ops))
                })
                .await?;
                self.client.bulk_checked(body).await
            }
        });
        futures::stream::iter(requests).buffered(BULKS_IN_FLIGHT).try_collect::<()>().await?;
        if !checkpoint {
            return Ok(());
        }
        let checkpoint = json!({"index": {"_index": self.client.index(Index::Meta), "_id": format!("checkpoint-{g}"), "version": last, "version_type": "external"}});
        self.client.bulk_checked(ndjson(&[(checkpoint, Some(json!({})))])).await
    }
}

/// The next batch from `feed`, gathering up to [`BATCH_EVENTS`] while the log has more: behind
/// the log, the feed hands over what has arrived (often a few hundred events), and bigger
/// batches make full `_bulk` requests instead of many small ones.
async fn next_full(feed: &mut Feed) -> Result<Batch, ProjectionError> {
    let mut batch = feed.next_owned().await?;
    while batch.pending > 0 && batch.events.len() < BATCH_EVENTS {
        let more = feed.next_owned().await?;
        batch.events.extend(more.events);
        batch.pending = more.pending;
    }
    Ok(batch)
}

/// Runs `work` on a blocking thread (sled reads, building JSON).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ReportingError> + Send + 'static,
) -> Result<T, ReportingError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ReportingError::Unexpected(e.to_string()))?
}
