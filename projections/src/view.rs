//! The query side of a read model: the tree currently in service, its position and lag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use sled::Tree;
use tokio::sync::watch;

use crate::ProjectionError;

/// Lag value meaning "not measured yet".
pub(crate) const LAG_UNKNOWN: u64 = u64::MAX;

/// A read model as queries see it. Rebuilds swap the tree underneath without readers noticing.
pub struct ReadModel {
    name: &'static str,
    /// The tree in service and the shape version its bytes are in.
    served: ArcSwap<(Arc<Tree>, u32)>,
    position: watch::Sender<u64>,
    lag: AtomicU64,
    failed: AtomicBool,
}

impl ReadModel {
    pub(crate) fn new(name: &'static str, tree: Tree, shape: u32, position: u64) -> Self {
        ReadModel {
            name,
            served: ArcSwap::from_pointee((Arc::new(tree), shape)),
            position: watch::Sender::new(position),
            lag: AtomicU64::new(LAG_UNKNOWN),
            failed: AtomicBool::new(false),
        }
    }

    /// The model's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The tree to read from now. Hold it for one query only: a rebuild may swap it.
    pub fn tree(&self) -> Arc<Tree> {
        self.served.load().0.clone()
    }

    /// The tree to read from now and the shape version (`Projection::version`) it was written
    /// in: while a rebuild to a new shape runs, the old tree serves, so a query that builds keys
    /// asks which form they take.
    pub fn served(&self) -> (Arc<Tree>, u32) {
        let served = self.served.load();
        (served.0.clone(), served.1)
    }

    /// The last stream sequence applied to the tree in service.
    pub fn position(&self) -> u64 {
        *self.position.borrow()
    }

    /// Events known to be in the log but not applied yet (`None` before the first measure).
    pub fn lag(&self) -> Option<u64> {
        let lag = self.lag.load(Ordering::Relaxed);
        (lag != LAG_UNKNOWN).then_some(lag)
    }

    /// True when the runner stopped on an error it cannot pass (see the logs).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits until the model has applied position `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.position.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= seq)).await.is_ok_and(|r| r.is_ok())
    }

    /// SHA-256 over every key and value of the tree in service: equal hashes, equal models.
    pub fn content_hash(&self) -> Result<String, ProjectionError> {
        let mut h = Sha256::new();
        for kv in self.tree().iter() {
            let (k, v) = kv?;
            h.update((k.len() as u64).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u64).to_be_bytes());
            h.update(&v);
        }
        Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
    }

    pub(crate) fn advance(&self, position: u64, lag: u64) {
        self.lag.store(lag, Ordering::Relaxed);
        self.position.send_replace(position);
        metrics::gauge!("fleetlog_projection_position", "model" => self.name).set(position as f64);
        metrics::gauge!("fleetlog_projection_lag", "model" => self.name).set(lag as f64);
    }

    pub(crate) fn set_lag(&self, lag: u64) {
        self.lag.store(lag, Ordering::Relaxed);
        metrics::gauge!("fleetlog_projection_lag", "model" => self.name).set(lag as f64);
    }

    pub(crate) fn set_failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn swap(&self, tree: Tree, shape: u32, position: u64) {
        self.served.store(Arc::new((Arc::new(tree), shape)));
        self.position.send_replace(position);
    }
}
