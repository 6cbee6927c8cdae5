//! Reads over the inventory model: documents, index scans (exact value, range, any value),
//! point lookups, distinct groups and attribute counts. The gateway plans searches with these.

use std::ops::Bound;

use fleetlog_events::inventory::Scalar;

use super::index::{self, attribute_prefix, device_of, prefix_end, value_prefix};
use super::{InventoryDoc, SavedFilterView, doc_key, filter_key, total_key};
use crate::{ProjectionError, ReadModel, from_bytes};

/// Which values of an attribute an index scan covers.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueRange {
    /// Exactly this value (or a list containing it).
    Exact(Scalar),
    /// Any value.
    Any,
    /// Numbers (or texts) between the bounds; the bounds' type picks the block.
    Between(Bound<Scalar>, Bound<Scalar>),
}

/// Queries over the inventory read model.
pub struct InventoryQueries<'a>(pub &'a ReadModel);

impl InventoryQueries<'_> {
    /// One device's document.
    pub fn get(&self, tenant: &str, device: &str) -> Result<Option<InventoryDoc>, ProjectionError> {
        self.0.tree().get(doc_key(tenant, device))?.map(|v| InventoryDoc::decode(&v)).transpose()
    }

    /// How many devices the tenant's inventory holds.
    pub fn total(&self, tenant: &str) -> Result<u64, ProjectionError> {
        let v = self.0.tree().get(total_key(tenant))?;
        Ok(v.and_then(|v| v.as_ref().try_into().ok()).map_or(0, u64::from_be_bytes))
    }

    /// Device ids in id order, `skip` then at most `take`.
    pub fn ids(&self, tenant: &str, skip: usize, take: usize) -> Result<Vec<String>, ProjectionError> {
        let prefix = doc_key(tenant, "");
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(&prefix).keys().skip(skip).take(take) {
            let k = kv?;
            out.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    fn bounds(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        range: &ValueRange,
    ) -> (Vec<u8>, Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let attr = attribute_prefix(tenant, scope, name);
        let end_of = |p: &[u8]| match prefix_end(p) {
            e if e.is_empty() => Bound::Unbounded,
            e => Bound::Excluded(e),
        };
        let (lo, hi) = match range {
            ValueRange::Exact(v) => {
                let p = value_prefix(tenant, scope, name, v);
                (Bound::Included(p.clone()), end_of(&p))
            }
            ValueRange::Any => (Bound::Included(attr.clone()), end_of(&attr)),
            ValueRange::Between(lo, hi) => {
                let number =
                    matches!(lo, Bound::Included(Scalar::Number(_)) | Bound::Excluded(Scalar::Number(_)))
                        || matches!(
                            hi,
                            Bound::Included(Scalar::Number(_)) | Bound::Excluded(Scalar::Number(_))
                        );
                let value = |v: &Scalar| value_prefix(tenant, scope, name, v);
                let lo = match lo {
                    Bound::Included(v) => Bound::Included(value(v)),
                    Bound::Excluded(v) => end_of(&value(v)),
                    Bound::Unbounded => Bound::Included(index::type_start(&attr, number)),
                };
                let lo = match lo {
                    Bound::Excluded(e) => Bound::Included(e),
                    other => other,
                };
                let hi = match hi {
                    Bound::Included(v) => end_of(&value(v)),
                    Bound::Excluded(v) => Bound::Excluded(value(v)),
                    Bound::Unbounded => Bound::Excluded(index::type_end(&attr, number)),
                };
                (lo, hi)
            }
        };
        (attr, lo, hi)
    }

    /// Counts index entries in a range, stopping at `cap` (a cheap size estimate for
    /// choosing which filter drives a search).
    pub fn estimate(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        range: &ValueRange,
        cap: usize,
    ) -> Result<usize, ProjectionError> {
        let (_, lo, hi) = self.bounds(tenant, scope, name, range);
        let mut n = 0;
        for k in self.0.tree().range::<Vec<u8>, _>((lo, hi)).keys() {
            k?;
            n += 1;
            if n >= cap {
                break;
            }
        }
        Ok(n)
    }

    /// The devices with a value in `range`, sorted by id, without duplicates.
    pub fn matching(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        range: &ValueRange,
    ) -> Result<Vec<String>, ProjectionError> {
        let (attr, lo, hi) = self.bounds(tenant, scope, name, range);
        let mut out = Vec::new();
        for k in self.0.tree().range::<Vec<u8>, _>((lo, hi)).keys() {
            let k = k?;
            if let Some((_, id)) = device_of(&k, attr.len()) {
                out.push(id.into_owned());
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Whether `device`'s attribute has the value `v` (or a list containing it).
    pub fn has(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
        v: &Scalar,
        device: &str,
    ) -> Result<bool, ProjectionError> {
        let (tree, shape) = self.0.served();
        let key = if shape >= super::COMPACT_IDS_SINCE {
            index::entry_key(tenant, scope, name, v, device)
        } else {
            index::text_id_entry_key(tenant, scope, name, v, device)
        };
        Ok(tree.contains_key(key)?)
    }

    /// The distinct values of a text attribute (e.g. `system/group`), in order. It jumps over
    /// each value's devices, so it costs one seek per distinct value.
    pub fn distinct_texts(
        &self,
        tenant: &str,
        scope: &str,
        name: &str,
    ) -> Result<Vec<String>, ProjectionError> {
        let attr = attribute_prefix(tenant, scope, name);
        let tree = self.0.tree();
        let mut out = Vec::new();
        let mut from = index::type_start(&attr, false);
        let end = index::type_end(&attr, false);
        while let Some(kv) = tree.range(from.clone()..end.clone()).keys().next() {
            let k = kv?;
            let Some((value_end, _)) = device_of(&k, attr.len()) else { break };
            // Strip the type byte and the `00 01` terminator, then undo the NUL escaping.
            let encoded = &k[attr.len() + 1..value_end - 2];
            let mut text = Vec::with_capacity(encoded.len());
            let mut i = 0;
            while i < encoded.len() {
                text.push(encoded[i]);
                i += if encoded[i] == 0 { 2 } else { 1 };
            }
            out.push(String::from_utf8_lossy(&text).into_owned());
            from = prefix_end(&k[..value_end]);
            if from.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// `(scope, name, number of devices that have it)` for every attribute.
    pub fn attribute_counts(&self, tenant: &str) -> Result<Vec<(String, String, u64)>, ProjectionError> {
        let prefix = format!("c/{tenant}/").into_bytes();
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(&prefix) {
            let (k, v) = kv?;
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            let Some((scope, name)) = rest.split_once('/') else { continue };
            let n = v.as_ref().try_into().map_or(0, u64::from_be_bytes);
            out.push((scope.to_owned(), name.to_owned(), n));
        }
        Ok(out)
    }

    /// A saved filter.
    pub fn saved_filter(&self, tenant: &str, id: &str) -> Result<Option<SavedFilterView>, ProjectionError> {
        self.0.tree().get(filter_key(tenant, id))?.map(|v| from_bytes(&v)).transpose()
    }

    /// Every saved filter of the tenant, by id.
    pub fn saved_filters(&self, tenant: &str) -> Result<Vec<SavedFilterView>, ProjectionError> {
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(filter_key(tenant, "")) {
            out.push(from_bytes(&kv?.1)?);
        }
        Ok(out)
    }
}
