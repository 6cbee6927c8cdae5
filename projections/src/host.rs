//! The projection host: one live runner per read model, read-your-writes waits, readiness, and
//! rebuilds into fresh trees that are swapped in once they have caught up.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_nats::jetstream::stream::Stream;
use sled::{Db, Tree};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::feed::{Batch, Feed, nats};
use crate::view::ReadModel;
use crate::writer::{Writer, checkpoint, incomplete};
use crate::{Projection, ProjectionError};

/// Settings of the host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The JetStream stream holding the log.
    pub stream: String,
    /// Most events applied in one sled batch.
    pub batch_size: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig { stream: "FLEETLOG".into(), batch_size: 1000 }
    }
}

/// How to stop a live runner and learn where it stopped.
struct LiveControl {
    cancel: CancellationToken,
    stopped: oneshot::Receiver<u64>,
}

/// One read model with its rules, its view and its runner.
pub(crate) struct Slot {
    pub projection: Arc<dyn Projection>,
    pub view: Arc<ReadModel>,
    live: std::sync::Mutex<Option<LiveControl>>,
    /// Name of the sled tree in service.
    pub tree_name: std::sync::Mutex<String>,
    pub rebuilding: AtomicBool,
}

/// Runs the read models of one process.
pub struct ProjectionHost {
    pub(crate) db: Db,
    pub(crate) meta: Tree,
    pub(crate) stream: Stream,
    pub(crate) client: async_nats::Client,
    pub(crate) cfg: HostConfig,
    pub(crate) slots: Vec<Arc<Slot>>,
    /// Trees replaced by rebuilds, each dropped by a task after a grace period (or at stop).
    pub(crate) retired: std::sync::Mutex<Vec<(String, tokio::task::JoinHandle<()>)>>,
}

impl ProjectionHost {
    /// Opens every read model at its checkpoint and starts its live runner. A model whose stored
    /// shape version differs from its code is rebuilt in the background (the old tree serves
    /// until the new one has caught up).
    pub async fn start(
        db: Db,
        client: async_nats::Client,
        cfg: HostConfig,
        projections: Vec<Arc<dyn Projection>>,
    ) -> Result<Arc<Self>, ProjectionError> {
        let js = async_nats::jetstream::new(client.clone());
        let mut stream = js.get_stream(&cfg.stream).await.map_err(nats)?;
        let last = stream.info().await.map_err(nats)?.state.last_sequence;
        let meta = db.open_tree("fleetlog.meta")?;
        let mut slots = Vec::new();
        let mut live = Vec::new();
        let mut stale = Vec::new();
        for projection in projections {
            let name = projection.name();
            let tree_name = match meta.get(active_key(name))? {
                Some(v) => String::from_utf8_lossy(&v).into_owned(),
                None => format!("rm/{name}/1"),
            };
            let tree = db.open_tree(&tree_name)?;
            let position = checkpoint(&tree)?;
            let stored_version =
                meta.get(version_key(&tree_name))?.map(|v| String::from_utf8_lossy(&v).into_owned());
            let current = projection.version().to_string();
            let fresh = stored_version.is_none() && position == 0;
            if fresh {
                meta.insert(version_key(&tree_name), current.as_bytes())?;
                meta.insert(active_key(name), tree_name.as_bytes())?;
            }
            // The shape the tree in service was written in (an older one until its rebuild).
            let shape =
                stored_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(projection.version());
            let view = Arc::new(ReadModel::new(name, tree.clone(), shape, position));
            let slot = Arc::new(Slot {
                projection,
                view,
                live: std::sync::Mutex::new(None),
                tree_name: std::sync::Mutex::new(tree_name),
                rebuilding: AtomicBool::new(false),
            });
            // A model whose last batch was cut short by a crash is as unusable as one of an
            // older shape: both are rebuilt.
            let whole = !incomplete(&tree)?;
            if whole && (fresh || stored_version.as_deref() == Some(current.as_str())) {
                // A stale model's lag stays unknown until its rebuild is swapped in.
                slot.view.set_lag(last.saturating_sub(position));
                live.push((slot.clone(), tree, position));
            } else {
                stale.push(name);
            }
            slots.push(slot);
        }
        meta.flush_async().await?;
        // One reader for every live model, from the earliest checkpoint: models further on skip
        // what they already hold.
        if let Some(from) = live.iter().map(|(_, _, p)| *p).min() {
            let feeds = Feed::open_shared(&stream, &client, from, cfg.batch_size, live.len()).await?;
            for ((slot, tree, position), feed) in live.into_iter().zip(feeds) {
                start_live(&slot, tree, feed, position);
            }
        }
        let host =
            Arc::new(ProjectionHost { db, meta, stream, client, cfg, slots, retired: Default::default() });
        if !stale.is_empty() {
            tracing::info!(
                models = ?stale,
                "read models of an older shape or cut short by a crash; rebuilding from the log"
            );
            let host = host.clone();
            tokio::spawn(async move {
                if let Err(e) = host.rebuild_many(&stale, &|_, _| {}).await {
                    tracing::error!(models = ?stale, error = %e, "rebuild failed");
                }
            });
        }
        Ok(host)
    }

    /// The read model with this name.
    pub fn model(&self, name: &str) -> Option<Arc<ReadModel>> {
        self.slots.iter().find(|s| s.view.name() == name).map(|s| s.view.clone())
    }

    /// Every read model.
    pub fn models(&self) -> impl Iterator<Item = &Arc<ReadModel>> {
        self.slots.iter().map(|s| &s.view)
    }

    /// Waits until every read model has applied position `seq` (read-your-writes); false when
    /// one of them stalls (see [`ReadModel::wait_for`]).
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let waits = self.slots.iter().map(|s| s.view.wait_for(seq, timeout));
        futures::future::join_all(waits).await.into_iter().all(|ok| ok)
    }

    /// True when every read model runs and has no known backlog.
    pub fn caught_up(&self) -> bool {
        self.slots.iter().all(|s| !s.view.failed() && s.view.lag() == Some(0))
    }

    /// The sled database (for tools that inspect it).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Stops every live runner and waits until each has finished its current batch.
    pub async fn stop(&self) {
        for slot in &self.slots {
            stop_live(slot).await;
        }
        // Nobody reads any more: drop replaced trees now, and end the tasks that would have,
        // since each holds the database open.
        let retired = std::mem::take(&mut *self.retired.lock().expect("retired lock"));
        for (name, task) in retired {
            task.abort();
            let _ = task.await;
            if let Err(e) = self.db.drop_tree(&name) {
                tracing::warn!(tree = %name, error = %e, "dropping a replaced tree");
            }
        }
        if let Err(e) = self.db.flush_async().await {
            tracing::warn!(error = %e, "flushing read models on stop");
        }
    }

    pub(crate) fn slot(&self, name: &str) -> Result<&Arc<Slot>, ProjectionError> {
        self.slots
            .iter()
            .find(|s| s.view.name() == name)
            .ok_or_else(|| ProjectionError::UnknownModel(name.into()))
    }
}

/// Stops a slot's live runner, if any, and returns the position it reached.
pub(crate) async fn stop_live(slot: &Slot) -> Option<u64> {
    let control = slot.live.lock().expect("live lock").take()?;
    control.cancel.cancel();
    control.stopped.await.ok()
}

/// Spawns the live runner of a slot on `tree`, reading from `feed`.
pub(crate) fn start_live(slot: &Arc<Slot>, tree: Tree, feed: Feed, position: u64) {
    let cancel = CancellationToken::new();
    let (tx, stopped) = oneshot::channel();
    *slot.live.lock().expect("live lock") = Some(LiveControl { cancel: cancel.clone(), stopped });
    tokio::spawn(run_live(slot.clone(), tree, feed, position, cancel, tx));
}

async fn run_live(
    slot: Arc<Slot>,
    tree: Tree,
    mut feed: Feed,
    mut position: u64,
    cancel: CancellationToken,
    stopped: oneshot::Sender<u64>,
) {
    let name = slot.view.name();
    loop {
        let batch = tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            b = feed.next_batch() => b,
        };
        // A stop is only looked at between batches, so it never lands in the middle of one.
        let result = match batch {
            Ok(b) => {
                slot.view.set_busy(true);
                let applied = apply_blocking(&tree, &slot.projection, b.clone(), position).await;
                slot.view.set_busy(false);
                // The stream's end as the batch saw it; a model past the batch has less to do.
                let end = b.end(position);
                applied.map(|p| (p, end.saturating_sub(p)))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok((p, lag)) => {
                position = p;
                slot.view.advance(position, lag);
            }
            Err(e) => {
                tracing::error!(model = name, position, error = %e, "read model stopped");
                slot.view.set_failed();
                break;
            }
        }
    }
    // Release the tree and the consumer before reporting: whoever waits on the stop may close
    // the database next, and sled refuses to reopen one that is still referenced.
    drop(tree);
    drop(feed);
    let _ = stopped.send(position);
}

/// [`apply_batch`] of the events of `batch` after position `after` (a shared feed may start
/// before this model's checkpoint), on a blocking thread: sled calls must not stall the async
/// workers that serve HTTP. Returns the new checkpoint (`after` when nothing was new).
pub(crate) async fn apply_blocking(
    tree: &Tree,
    projection: &Arc<dyn Projection>,
    batch: Arc<Batch>,
    after: u64,
) -> Result<u64, ProjectionError> {
    let new = batch.events.partition_point(|e| e.seq <= after);
    if new == batch.events.len() {
        return Ok(after);
    }
    let (tree, projection) = (tree.clone(), projection.clone());
    tokio::task::spawn_blocking(move || apply_batch(&tree, projection.as_ref(), &batch.events[new..]))
        .await
        .map_err(|e| ProjectionError::Codec(format!("apply task failed: {e}")))?
}

/// Applies events in order and commits them with the new checkpoint; returns that checkpoint.
pub(crate) fn apply_batch(
    tree: &Tree,
    projection: &dyn Projection,
    events: &[fleetlog_events::RecordedEvent],
) -> Result<u64, ProjectionError> {
    let Some(last) = events.last() else { return checkpoint(tree) };
    let mut w = Writer::new(tree);
    for e in events {
        projection.apply(&mut w, e)?;
        w.spill_if_large()?;
    }
    w.commit(last.seq)?;
    Ok(last.seq)
}

pub(crate) fn active_key(name: &str) -> Vec<u8> {
    format!("active/{name}").into_bytes()
}

pub(crate) fn version_key(tree_name: &str) -> Vec<u8> {
    format!("version/{tree_name}").into_bytes()
}
