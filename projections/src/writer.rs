//! A write batch over a sled tree that projections can also read through, committed together
//! with the checkpoint so a crash never applies an event twice or skips one.

use std::collections::BTreeMap;

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

/// Pending writes of one batch; reads see them before the tree.
pub struct Writer<'a> {
    tree: &'a Tree,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(tree: &'a Tree) -> Self {
        Writer { tree, pending: BTreeMap::new() }
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

    /// Writes everything and the new checkpoint: in one atomic sled batch, or, beyond
    /// [`MAX_BATCH_WRITES`], in parts under [`INCOMPLETE_KEY`] (removed by the last part, which
    /// carries the checkpoint), so a crash between parts is detected rather than applied twice.
    pub(crate) fn commit(self, checkpoint: u64) -> Result<(), ProjectionError> {
        let mut writes = self.pending.into_iter();
        let split = writes.len() > MAX_BATCH_WRITES;
        if split {
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
mod tests {
    use super::*;

    #[test]
    fn a_batch_beyond_one_sled_batch_is_written_in_parts_and_ends_whole() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let n = MAX_BATCH_WRITES * 3 + 7;
        let mut w = Writer::new(&tree);
        for i in 0..n {
            w.insert(format!("k{i:06}"), vec![1]);
        }
        w.commit(42).unwrap();
        assert_eq!(tree.len(), n + 1, "every write and the checkpoint");
        assert_eq!(checkpoint(&tree).unwrap(), 42);
        assert!(!incomplete(&tree).unwrap(), "the last part clears the mark");
        // A crash between parts leaves the mark: the host rebuilds such a tree.
        tree.insert(INCOMPLETE_KEY, &43u64.to_be_bytes()).unwrap();
        assert!(incomplete(&tree).unwrap());
    }
}
