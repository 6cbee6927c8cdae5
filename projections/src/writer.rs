//! A write batch over a sled tree that projections can also read through, committed together
//! with the checkpoint so a crash never applies an event twice or skips one.

use std::collections::BTreeMap;

use sled::{IVec, Tree};

use crate::ProjectionError;

/// Where the runner keeps the last applied stream sequence, inside the model's own tree.
pub(crate) const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";

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

    /// Writes everything and the new checkpoint in one atomic sled batch.
    pub(crate) fn commit(self, checkpoint: u64) -> Result<(), ProjectionError> {
        let mut batch = sled::Batch::default();
        for (k, v) in self.pending {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch.insert(CHECKPOINT_KEY, &checkpoint.to_be_bytes());
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

/// The checkpoint stored in a tree (0 for a fresh one).
pub(crate) fn checkpoint(tree: &Tree) -> Result<u64, ProjectionError> {
    Ok(tree
        .get(CHECKPOINT_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0))
}
