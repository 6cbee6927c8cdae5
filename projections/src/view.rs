//! The query side of a read model: the tree currently in service, its position and lag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use sled::Tree;
use tokio::sync::watch;

use crate::ProjectionError;

/// A read-your-writes wait gives up after this many quiet periods even while the model keeps
/// working (5 minutes with the default 5 s): beyond that an answer is worth more than waiting.
pub const MOST_QUIET_PERIODS: u32 = 60;

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
    /// True while the runner applies a batch.
    busy: AtomicBool,
}

impl ReadModel {
    pub(crate) fn new(name: &'static str, tree: Tree, shape: u32, position: u64) -> Self {
        ReadModel {
            name,
            served: ArcSwap::from_pointee((Arc::new(tree), shape)),
            position: watch::Sender::new(position),
            lag: AtomicU64::new(LAG_UNKNOWN),
            failed: AtomicBool::new(false),
            busy: AtomicBool::new(false),
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

    /// Waits until the model has applied position `seq`; false once it has made no progress
    /// for `quiet` (no new position and no batch being applied), or after
    /// [`MOST_QUIET_PERIODS`] × `quiet` in all. A write the model is still working through
    /// (a big one, or one queued behind a busy stretch) is waited out: the write has happened,
    /// and giving up on it would tell the client it failed.
    pub async fn wait_for(&self, seq: u64, quiet: Duration) -> bool {
        let mut rx = self.position.subscribe();
        let deadline = tokio::time::Instant::now() + quiet.saturating_mul(MOST_QUIET_PERIODS);
        loop {
            if *rx.borrow_and_update() >= seq {
                return true;
            }
            let next = (tokio::time::Instant::now() + quiet).min(deadline);
            match tokio::time::timeout_at(next, rx.changed()).await {
                Ok(Ok(())) => {}
                // The runner is gone (the host stopped): the position will not move any more.
                Ok(Err(_)) => return *rx.borrow() >= seq,
                Err(_) if self.busy.load(Ordering::Relaxed) && next < deadline => {}
                Err(_) => return *rx.borrow() >= seq,
            }
        }
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

    /// Says whether the runner is applying a batch now (what a read-your-writes wait looks at
    /// when the position has not moved for a while).
    pub(crate) fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::Relaxed);
    }

    pub(crate) fn set_failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn swap(&self, tree: Tree, shape: u32, position: u64) {
        self.served.store(Arc::new((Arc::new(tree), shape)));
        self.position.send_replace(position);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Arc<ReadModel> {
        let db = sled::Config::new().temporary(true).open().expect("temporary sled");
        Arc::new(ReadModel::new("test", db.open_tree("t").expect("tree"), 1, 0))
    }

    /// A big write (a deployment's device list in many parts) takes the model longer than the
    /// read-your-writes wait to apply, while it keeps advancing: the write happened and the
    /// model is getting there, so the wait must not give up (it answered 503 at 1M devices).
    #[tokio::test]
    async fn a_wait_outlasts_its_quiet_time_while_the_model_advances() {
        let m = model();
        let runner = m.clone();
        tokio::spawn(async move {
            for p in 1..=15 {
                runner.set_busy(true);
                tokio::time::sleep(Duration::from_millis(20)).await;
                runner.advance(p, 15 - p);
                runner.set_busy(false);
            }
        });
        assert!(m.wait_for(15, Duration::from_millis(200)).await, "the model advanced all along");
    }

    /// One batch that alone takes longer than the quiet time: the runner is busy with it.
    #[tokio::test]
    async fn a_wait_outlasts_its_quiet_time_while_the_model_applies_one_long_batch() {
        let m = model();
        let runner = m.clone();
        runner.set_busy(true);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(450)).await;
            runner.advance(3, 0);
            runner.set_busy(false);
        });
        assert!(m.wait_for(3, Duration::from_millis(150)).await, "the model was applying the write");
    }

    /// A model that neither advances nor applies anything is stalled: the wait ends after the
    /// quiet time, not never.
    #[tokio::test]
    async fn a_wait_on_a_stalled_model_ends_after_its_quiet_time() {
        let m = model();
        let started = std::time::Instant::now();
        assert!(!m.wait_for(1, Duration::from_millis(100)).await);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(5), "{took:?}");
    }
}
