//! A write batch over a sled tree that projections can also read through, committed together
//! with the checkpoint so a crash never applies an event twice or skips one.

use std::collections::BTreeMap;
use std::ops::Bound;

use sled::{IVec, Tree};

use crate::ProjectionError;

/// Where the runner keeps the last applied stream sequence, inside the model's own tree.
pub(crate) const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";

/// Present while a batch too large for one sled batch is written in parts; a tree that still
/// has it after a crash holds part of a batch and is rebuilt from the log at the next start.
pub(crate) const INCOMPLETE_KEY: &[u8] = b"\x00incomplete";

/// Most writes in one sled batch. sled keeps every tree node a batch replaces until the batch
/// ends, so one batch of tens of thousands of writes (one deployment to 20k devices writes
/// 60k keys) costs hundreds of MB at once, which the allocator then keeps: issue 12 measured
/// 300 MB of RSS per such deployment that never went back.
pub(crate) const MAX_BATCH_WRITES: usize = 1024;

/// Most pending writes held in memory: beyond it [`Writer::spill_if_large`] writes them out
/// early, under [`INCOMPLETE_KEY`]. Without a bound, one batch of events (a deployment to 1M
/// devices lists 3M keys; its abort rewrites 2M) held every write at once: ~1 GB of RSS.
pub(crate) const MAX_PENDING_WRITES: usize = 64 * 1024;

/// Pending writes of one batch; reads see them before the tree.
pub struct Writer<'a> {
    tree: &'a Tree,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Part of this batch is already in the tree (and [`INCOMPLETE_KEY`] with it).
    spilled: bool,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(tree: &'a Tree) -> Self {
        Writer { tree, pending: BTreeMap::new(), spilled: false }
    }

    /// Writes the pending writes to the tree now when they number [`MAX_PENDING_WRITES`] or
    /// more, so a long batch (or one event touching a whole fleet) holds a bounded number in
    /// memory. The tree is marked incomplete until [`Writer::commit`]: a crash in between is
    /// detected and the model rebuilt, as for a batch committed in parts.
    pub fn spill_if_large(&mut self) -> Result<(), ProjectionError> {
        if self.pending.len() < MAX_PENDING_WRITES {
            return Ok(());
        }
        if !self.spilled {
            self.tree.insert(INCOMPLETE_KEY, &[])?;
            self.spilled = true;
        }
        let mut writes = std::mem::take(&mut self.pending).into_iter();
        while writes.len() > 0 {
            let mut batch = sled::Batch::default();
            for (k, v) in writes.by_ref().take(MAX_BATCH_WRITES) {
                match v {
                    Some(v) => batch.insert(k, v),
                    None => batch.remove(k),
                }
            }
            self.tree.apply_batch(batch)?;
        }
        Ok(())
    }

    /// The value under `key`, including this batch's writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<IVec>, ProjectionError> {
        match self.pending.get(key) {
            Some(v) => Ok(v.as_deref().map(IVec::from)),
            None => Ok(self.tree.get(key)?),
        }
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.pending.insert(key.into(), Some(value.into()));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: impl Into<Vec<u8>>) -> Result<(), ProjectionError> {
        let key = key.into();
        // A key written earlier in this batch and absent from the tree needs no write at all:
        // a lookup is several times cheaper than a sled write (index keys that churn within
        // one batch, such as a device going pending → accepted, are the common case).
        if matches!(self.pending.get(&key), Some(Some(_))) && !self.tree.contains_key(&key)? {
            self.pending.remove(&key);
        } else {
            self.pending.insert(key, None);
        }
        Ok(())
    }

    /// The keys this batch writes so far, each with whether it is set (or removed): what a
    /// test counts to check that an event writes only what it changes.
    #[cfg(test)]
    pub(crate) fn written(&self) -> Vec<(&[u8], bool)> {
        self.pending.iter().map(|(k, v)| (k.as_slice(), v.is_some())).collect()
    }

    /// Keys and values under `prefix`, including this batch's writes, in key order (for the
    /// few events that touch a whole family of keys, such as aborting a deployment).
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, IVec)>, ProjectionError> {
        let mut found: BTreeMap<Vec<u8>, IVec> = BTreeMap::new();
        for kv in self.tree.scan_prefix(prefix) {
            let (k, v) = kv?;
            found.insert(k.to_vec(), v);
        }
        for (k, v) in self.pending.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix)) {
            match v {
                Some(v) => found.insert(k.clone(), IVec::from(v.as_slice())),
                None => found.remove(k),
            };
        }
        Ok(found.into_iter().collect())
    }

    /// Up to `limit` keys and values under `prefix` that sort after `after` (from the start
    /// for `None`), including this batch's writes, in key order: a family of keys too large to
    /// hold at once (a whole-fleet deployment's parts) is walked page by page.
    pub fn scan_page(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, IVec)>, ProjectionError> {
        let mut after = after.map(<[u8]>::to_vec);
        loop {
            let start = match after.take() {
                Some(k) => Bound::Excluded(k),
                None => Bound::Included(prefix.to_vec()),
            };
            let mut found: BTreeMap<Vec<u8>, IVec> = BTreeMap::new();
            for kv in self.tree.range::<Vec<u8>, _>((start.clone(), Bound::Unbounded)).take(limit) {
                let (k, v) = kv?;
                if !k.starts_with(prefix) {
                    break;
                }
                found.insert(k.to_vec(), v);
            }
            // A full page from the tree ends at its last key; pending writes beyond it belong
            // to later pages.
            let end = if found.len() == limit { found.keys().next_back().cloned() } else { None };
            let in_page = |k: &Vec<u8>| k.starts_with(prefix) && end.as_ref().is_none_or(|e| k <= e);
            for (k, v) in
                self.pending.range::<Vec<u8>, _>((start, Bound::Unbounded)).take_while(|(k, _)| in_page(k))
            {
                match v {
                    Some(v) => found.insert(k.clone(), IVec::from(v.as_slice())),
                    None => found.remove(k),
                };
            }
            // Every key of a full page may be removed in this batch: the next page may still
            // hold some, so an empty page only ever means the end.
            if found.is_empty() && end.is_some() {
                after = end;
                continue;
            }
            return Ok(found.into_iter().take(limit).collect());
        }
    }

    /// Writes everything and the new checkpoint: in one atomic sled batch, or, beyond
    /// [`MAX_BATCH_WRITES`] (or after a spill), in parts under [`INCOMPLETE_KEY`] (removed by
    /// the last part, which carries the checkpoint), so a crash between parts is detected
    /// rather than applied twice.
    pub(crate) fn commit(self, checkpoint: u64) -> Result<(), ProjectionError> {
        let mut writes = self.pending.into_iter();
        let split = self.spilled || writes.len() > MAX_BATCH_WRITES;
        if split && !self.spilled {
            self.tree.insert(INCOMPLETE_KEY, &checkpoint.to_be_bytes())?;
        }
        loop {
            let mut batch = sled::Batch::default();
            for (k, v) in writes.by_ref().take(MAX_BATCH_WRITES) {
                match v {
                    Some(v) => batch.insert(k, v),
                    None => batch.remove(k),
                }
            }
            if writes.len() > 0 {
                self.tree.apply_batch(batch)?;
                continue;
            }
            batch.insert(CHECKPOINT_KEY, &checkpoint.to_be_bytes());
            if split {
                batch.remove(INCOMPLETE_KEY);
            }
            self.tree.apply_batch(batch)?;
            return Ok(());
        }
    }
}

/// True when a crash interrupted a batch written in parts: the tree must be rebuilt.
pub(crate) fn incomplete(tree: &Tree) -> Result<bool, ProjectionError> {
    Ok(tree.contains_key(INCOMPLETE_KEY)?)
}

/// The checkpoint stored in a tree (0 for a fresh one).
pub(crate) fn checkpoint(tree: &Tree) -> Result<u64, ProjectionError> {
    Ok(tree
        .get(CHECKPOINT_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}

#[cfg(test)]
mod tests;
