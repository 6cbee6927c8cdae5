//! The projection of the log into OpenSearch, as a server runs it: the live indexer, its
//! status for `/readyz` and `/metrics`, and the rebuild behind `fleetlog replay --model search`
//! (a new index generation filled from position 1, then swapped in). The work itself is the
//! worker's (`worker.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opensearch::http::Method;
use tokio_util::sync::CancellationToken;

use super::client::{Index, SearchClient};
use super::worker::Worker;
use crate::reporting::ReportingError;
use crate::{Model, ProjectionHost, ReadModel};

/// The name of this projection in metrics, `/readyz` and `fleetlog replay --model`.
pub const SEARCH_MODEL: &str = "search";
/// Where the indexer is, for `/readyz` and `/metrics`.
#[derive(Debug, Default)]
pub struct IndexerStatus {
    pub(super) position: AtomicU64,
    pub(super) failing: AtomicBool,
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

    pub(super) fn advance(&self, position: u64, lag: u64) {
        self.position.store(position, Ordering::Relaxed);
        self.failing.store(false, Ordering::Relaxed);
        metrics::gauge!("fleetlog_projection_position", "model" => SEARCH_MODEL).set(position as f64);
        metrics::gauge!("fleetlog_projection_lag", "model" => SEARCH_MODEL).set(lag as f64);
    }
}

/// Which indices a worker writes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// Through the aliases, into whatever generation they point at (the live indexer).
    Live,
    /// Generation `n` directly (a rebuild filling it before it is swapped in).
    Generation(u64),
}

/// The live indexer of a server, which `fleetlog replay --model search` can rebuild.
pub struct SearchIndexer {
    host: Arc<ProjectionHost>,
    client: SearchClient,
    inventory: Arc<ReadModel>,
    deployments: Arc<ReadModel>,
    status: Arc<IndexerStatus>,
    live: tokio::sync::Mutex<Option<(CancellationToken, tokio::task::JoinHandle<u64>)>>,
}

impl SearchIndexer {
    /// Starts indexing the log of `host` into the indices of `client`.
    pub fn start(
        host: Arc<ProjectionHost>,
        client: SearchClient,
    ) -> Result<Arc<SearchIndexer>, ReportingError> {
        let model = |m: Model| {
            host.model(m.name()).ok_or_else(|| ReportingError::Unexpected(format!("no {} model", m.name())))
        };
        let (inventory, deployments) = (model(Model::Inventory)?, model(Model::Deployments)?);
        let indexer = Arc::new(SearchIndexer {
            host,
            client,
            inventory,
            deployments,
            status: Arc::default(),
            live: tokio::sync::Mutex::new(None),
        });
        let live = indexer.spawn(Target::Live, indexer.status.clone(), None);
        *indexer.live.try_lock().expect("new indexer") = Some(live);
        Ok(indexer)
    }

    fn spawn(
        &self,
        target: Target,
        status: Arc<IndexerStatus>,
        until: Option<u64>,
    ) -> (CancellationToken, tokio::task::JoinHandle<u64>) {
        let worker = Worker {
            host: self.host.clone(),
            client: self.client.clone(),
            inventory: self.inventory.clone(),
            deployments: self.deployments.clone(),
            status,
            target,
        };
        let cancel = CancellationToken::new();
        (cancel.clone(), tokio::spawn(worker.run(cancel, until)))
    }

    /// Its progress.
    pub fn status(&self) -> Arc<IndexerStatus> {
        self.status.clone()
    }

    /// Stops the live indexer after the batch in hand.
    pub async fn stop(&self) {
        if let Some((cancel, task)) = self.live.lock().await.take() {
            cancel.cancel();
            let _ = task.await;
        }
    }

    /// Rebuilds the index from position 1 into a new generation while the live indexer goes
    /// on, then stops the live one, lets the new generation catch up with the last events,
    /// swaps the aliases (queries see the new index from then on) and resumes live indexing
    /// on it. `progress` gets (position, target).
    pub async fn rebuild(&self, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<(), ReportingError> {
        let old = self.client.ensure_indices().await?;
        let new = old + 1;
        self.client.create_generation(new).await?;
        let stale = format!("/{}/_doc/checkpoint-{new}", self.client.index(Index::Meta));
        self.client.call(Method::Delete, &stale, None).await?;
        let status = Arc::new(IndexerStatus::default());
        let target = self.last_seq().await?;
        self.catch_up(new, status.clone(), target, progress).await?;
        self.stop().await;
        let result = async {
            let target = self.last_seq().await?;
            self.catch_up(new, status, target, progress).await?;
            self.client.swap(old, new).await
        }
        .await;
        let live = self.spawn(Target::Live, self.status.clone(), None);
        *self.live.lock().await = Some(live);
        result
    }

    async fn catch_up(
        &self,
        g: u64,
        status: Arc<IndexerStatus>,
        target: u64,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(), ReportingError> {
        let (_cancel, task) = self.spawn(Target::Generation(g), status.clone(), Some(target));
        while !task.is_finished() {
            progress(status.position(), target);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reached = task.await.map_err(|e| ReportingError::Unexpected(e.to_string()))?;
        progress(reached, target);
        Ok(())
    }

    async fn last_seq(&self) -> Result<u64, ReportingError> {
        let mut stream = self.host.stream.clone();
        let info = stream.info().await.map_err(|e| ReportingError::Unexpected(format!("the log: {e}")))?;
        Ok(info.state.last_sequence)
    }
}
