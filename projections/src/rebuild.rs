//! Rebuilding a read model from position 1 into a fresh tree while the old one keeps serving,
//! then swapping: the path for shape changes and for `fleetlog replay`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::ProjectionError;
use crate::feed::{Feed, nats};
use crate::host::{ProjectionHost, Slot, active_key, apply_blocking, start_live, stop_live, version_key};
use crate::writer::checkpoint;

/// Clears the `rebuilding` flag however the rebuild ends.
struct RebuildGuard<'a>(&'a Slot);

impl Drop for RebuildGuard<'_> {
    fn drop(&mut self) {
        self.0.rebuilding.store(false, Ordering::SeqCst);
    }
}

impl ProjectionHost {
    /// Rebuilds read model `name` from the whole log into a fresh tree, then swaps it in and
    /// keeps it live. Queries are served by the old tree until the swap; `progress` is called
    /// after each batch with (position, target).
    pub async fn rebuild(
        &self,
        name: &str,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(), ProjectionError> {
        self.rebuild_many(&[name], progress).await
    }

    /// [`rebuild`](Self::rebuild) of several models in one pass over the log: one reader
    /// decodes each event once for all of them. `progress` gets the slowest model's position.
    /// Every model is taken to its end (a failed one keeps its old tree in service); the first
    /// error is returned.
    pub async fn rebuild_many(
        &self,
        names: &[&str],
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(), ProjectionError> {
        let slots = names.iter().map(|n| self.slot(n)).collect::<Result<Vec<_>, _>>()?;
        if slots.is_empty() {
            return Ok(());
        }
        let mut guards = Vec::with_capacity(slots.len());
        for slot in &slots {
            if slot.rebuilding.swap(true, Ordering::SeqCst) {
                return Err(ProjectionError::AlreadyRebuilding(slot.view.name().into()));
            }
            guards.push(RebuildGuard(slot));
        }
        let mut stream = self.stream.clone();
        let target = stream.info().await.map_err(nats)?.state.last_sequence;
        let feeds =
            Feed::open_shared(&self.stream, &self.client, 0, self.cfg.batch_size, slots.len()).await?;
        let positions: Vec<AtomicU64> = slots.iter().map(|_| AtomicU64::new(0)).collect();
        let report = |i: usize, position: u64, target: u64| {
            positions[i].store(position, Ordering::Relaxed);
            let slowest = positions.iter().map(|p| p.load(Ordering::Relaxed)).min().unwrap_or(position);
            progress(slowest, target);
        };
        let runs = slots
            .iter()
            .zip(feeds)
            .enumerate()
            .map(|(i, (slot, feed))| self.rebuild_one(slot, feed, target, move |p, t| report(i, p, t)));
        let results = futures::future::join_all(runs).await;
        drop(guards);
        results.into_iter().collect()
    }

    /// Builds one model into a fresh tree from `feed` (which starts at position 1), then hands
    /// over from the live runner and swaps the tree in.
    async fn rebuild_one(
        &self,
        slot: &Arc<Slot>,
        mut feed: Feed,
        target: u64,
        progress: impl Fn(u64, u64),
    ) -> Result<(), ProjectionError> {
        let name = slot.view.name();
        let old_name = slot.tree_name.lock().expect("tree name lock").clone();
        let generation = old_name.rsplit('/').next().and_then(|g| g.parse::<u64>().ok()).unwrap_or(0) + 1;
        let new_name = format!("rm/{name}/{generation}");
        // A crashed earlier rebuild may have left this tree behind.
        self.db.drop_tree(&new_name)?;
        let tree = self.db.open_tree(&new_name)?;

        let (mut position, mut end) = (0, 0);
        while position < target {
            let batch = feed.next_batch().await?;
            end = batch.end(position);
            position = apply_blocking(&tree, &slot.projection, batch, position).await?;
            progress(position, target);
        }

        // Hand over: stop the old runner, then catch up to where it stopped so that readers never
        // see the model go back in time.
        let live_position = stop_live(slot).await.unwrap_or_else(|| slot.view.position());
        while position < live_position {
            let batch = feed.next_batch().await?;
            end = batch.end(position);
            position = apply_blocking(&tree, &slot.projection, batch, position).await?;
            progress(position, target.max(live_position));
        }
        debug_assert_eq!(checkpoint(&tree)?, position);

        self.meta.insert(version_key(&new_name), slot.projection.version().to_string().as_bytes())?;
        self.meta.insert(active_key(name), new_name.as_bytes())?;
        self.meta.flush_async().await?;
        slot.view.swap(tree.clone(), slot.projection.version(), position);
        slot.view.set_lag(end.saturating_sub(position));
        *slot.tree_name.lock().expect("tree name lock") = new_name;
        start_live(slot, tree, feed, position);
        tracing::info!(model = name, position, "read model rebuilt and swapped in");

        // Readers hold a tree for one query only; give them a moment before dropping the old one.
        let (db, name) = (self.db.clone(), old_name.clone());
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if let Err(e) = db.drop_tree(&name) {
                tracing::warn!(tree = %name, error = %e, "dropping the replaced tree");
            }
        });
        self.retired.lock().expect("retired lock").push((old_name, task));
        Ok(())
    }
}
