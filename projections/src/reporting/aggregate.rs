//! Terms aggregations over records, as the embedded backend runs them and as the OpenSearch
//! backend's answers are reshaped into: buckets by value (a record counts once per distinct
//! value it has), ordered by [`bucket_order`], the first `limit` kept, and `other_count` the
//! sum of the counts left out. Sub-aggregations run within each bucket.

use std::collections::BTreeMap;

use fleetlog_events::inventory::Scalar;
use serde::Serialize;

use super::filter::same;
use super::query::Aggregation;
use super::record::{Record, bucket_order, key_text};

/// One aggregation's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregationResult {
    /// The aggregation's name.
    pub name: String,
    /// The buckets kept.
    pub items: Vec<AggregationItem>,
    /// Sum of the counts of the buckets left out.
    pub other_count: u64,
}

/// One bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregationItem {
    /// The value.
    pub key: String,
    /// Records having it.
    pub count: u64,
    /// Sub-aggregations within the bucket.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aggregations: Vec<AggregationResult>,
}

/// A scalar as an ordered map key (numbers first, then texts; `-0` is `0`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(u64),
    Text(String),
}

fn key(v: &Scalar) -> Key {
    match v {
        Scalar::Number(n) => Key::Number((if *n == 0.0 { 0.0 } else { *n }).to_bits()),
        Scalar::Text(t) => Key::Text(t.clone()),
    }
}

/// Runs `aggs` over `records`.
pub fn aggregate(records: &[&Record], aggs: &[Aggregation]) -> Vec<AggregationResult> {
    aggs.iter().map(|a| one(records, a)).collect()
}

fn one<'r>(records: &[&'r Record], a: &Aggregation) -> AggregationResult {
    let mut buckets: BTreeMap<Key, (Scalar, Vec<&'r Record>)> = BTreeMap::new();
    for r in records {
        let mut seen: Vec<&Scalar> = Vec::new();
        for v in r.values(&a.field) {
            if seen.iter().any(|s| same(s, v)) {
                continue;
            }
            seen.push(v);
            buckets.entry(key(v)).or_insert_with(|| (v.clone(), Vec::new())).1.push(*r);
        }
    }
    let mut all: Vec<(Scalar, Vec<&Record>)> = buckets.into_values().collect();
    all.sort_by(|x, y| bucket_order((&x.0, x.1.len() as u64), (&y.0, y.1.len() as u64)));
    let other_count = all.iter().skip(a.limit).map(|(_, rs)| rs.len() as u64).sum();
    let items = all
        .into_iter()
        .take(a.limit)
        .map(|(v, rs)| AggregationItem {
            key: key_text(&v),
            count: rs.len() as u64,
            aggregations: aggregate(&rs, &a.sub),
        })
        .collect();
    AggregationResult { name: a.name.clone(), items, other_count }
}
