//! Inventory searches planned over the attribute index: the positive filter with the fewest
//! index entries picks the candidates, equality-like filters are checked by point lookups,
//! and only what the index cannot answer (regex, `$exists: false`, ranges as second
//! filters, sorting) reads the candidates' documents.

use std::cmp::Ordering;

use serde_json::Value;

use super::predicate::Predicate;
use super::{InventoryDoc, InventoryQueries};
use crate::QueryError;

/// One sort key.
#[derive(Debug, Clone)]
pub struct SortKey {
    /// Scope of the attribute.
    pub scope: String,
    /// Attribute name.
    pub attribute: String,
    /// Descending rather than ascending.
    pub desc: bool,
}

/// A page of results and the number of all matches.
pub struct Found {
    /// Devices matching, over all pages.
    pub total: usize,
    /// This page's documents, in order.
    pub page: Vec<InventoryDoc>,
}

/// An attribute of a document as JSON, for filters and sorting.
pub fn lookup(doc: &InventoryDoc, scope: &str, name: &str) -> Option<Value> {
    if scope == "identity" && name == "id" {
        return Some(Value::String(doc.id.clone()));
    }
    doc.lookup(scope, name).and_then(|v| serde_json::to_value(v).ok())
}

fn compare(a: Option<Value>, b: Option<Value>) -> Ordering {
    match (a.as_ref().and_then(Value::as_f64), b.as_ref().and_then(Value::as_f64)) {
        (Some(p), Some(q)) => p.total_cmp(&q),
        _ => a.map(|v| v.to_string()).cmp(&b.map(|v| v.to_string())),
    }
}

/// Runs a search for one tenant: the matching devices in id order (or `sort`'s), paged.
pub fn search(
    q: &InventoryQueries<'_>,
    tenant: &str,
    filters: &[Predicate],
    sort: &[SortKey],
    skip: usize,
    take: usize,
) -> Result<Found, QueryError> {
    let ids = candidates(q, tenant, filters)?;
    let (mut ids, rest) = ids;
    let needs_docs = !rest.is_empty() || !sort.is_empty();
    if !needs_docs {
        let total = ids.len();
        let page = ids.drain(..).skip(skip).take(take).collect::<Vec<_>>();
        return Ok(Found { total, page: load(q, tenant, &page)? });
    }
    let mut docs = load(q, tenant, &ids)?;
    docs.retain(|d| rest.iter().all(|f| f.matches(|scope, name| lookup(d, scope, name))));
    if !sort.is_empty() {
        docs.sort_by(|a, b| {
            for k in sort {
                let o = compare(lookup(a, &k.scope, &k.attribute), lookup(b, &k.scope, &k.attribute));
                let o = if k.desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            a.id.cmp(&b.id)
        });
    }
    let total = docs.len();
    Ok(Found { total, page: docs.into_iter().skip(skip).take(take).collect() })
}

/// The ids of every device of a tenant matching `filters`, in id order, without keeping
/// documents: they are read one at a time, and only for filters the index cannot answer. A
/// deployment's target at 1M devices is ids, not a million documents held at once.
pub fn matching_ids(
    q: &InventoryQueries<'_>,
    tenant: &str,
    filters: &[Predicate],
) -> Result<Vec<String>, QueryError> {
    let (ids, rest) = candidates(q, tenant, filters)?;
    if rest.is_empty() {
        return Ok(ids);
    }
    let mut out = Vec::new();
    for id in ids {
        // A device removed between the index read and this one is not a match.
        if let Some(d) = q.get(tenant, &id)?
            && rest.iter().all(|f| f.matches(|scope, name| lookup(&d, scope, name)))
        {
            out.push(id);
        }
    }
    Ok(out)
}

fn load(q: &InventoryQueries<'_>, tenant: &str, ids: &[String]) -> Result<Vec<InventoryDoc>, QueryError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        // A device removed between the index read and this one is simply not shown.
        if let Some(d) = q.get(tenant, id)? {
            out.push(d);
        }
    }
    Ok(out)
}

/// The ids that pass every filter the index can answer, and the filters left for documents.
fn candidates<'f>(
    q: &InventoryQueries<'_>,
    tenant: &str,
    filters: &'f [Predicate],
) -> Result<(Vec<String>, Vec<&'f Predicate>), QueryError> {
    // The driver: the positive filter with the fewest index entries, counted with a cap so
    // that a broad filter costs no more than the narrowest one found so far.
    let mut best: Option<(usize, usize)> = None;
    for (i, f) in filters.iter().enumerate() {
        let Some(ranges) = f.ranges() else { continue };
        let cap = best.map_or(usize::MAX, |(n, _)| n);
        let mut n = 0;
        for r in &ranges {
            n += q.estimate(tenant, f.scope(), f.attribute(), r, cap.saturating_sub(n))?;
        }
        if best.is_none_or(|(m, _)| n < m) {
            best = Some((n, i));
        }
    }
    let mut ids = match best {
        Some((_, i)) => {
            let f = &filters[i];
            let mut ids = Vec::new();
            for r in f.ranges().unwrap_or_default() {
                ids.extend(q.matching(tenant, f.scope(), f.attribute(), &r)?);
            }
            ids.sort_unstable();
            ids.dedup();
            ids
        }
        // Only negative filters: every device is a candidate.
        None => q.ids(tenant, 0, usize::MAX)?,
    };
    let mut rest = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        if best.is_some_and(|(_, d)| d == i) {
            continue;
        }
        match f.point_values() {
            Some((values, hit_matches)) => {
                let mut keep = Vec::with_capacity(ids.len());
                for id in ids {
                    let mut hit = false;
                    for v in &values {
                        if q.has(tenant, f.scope(), f.attribute(), v, &id)? {
                            hit = true;
                            break;
                        }
                    }
                    if hit == hit_matches {
                        keep.push(id);
                    }
                }
                ids = keep;
            }
            None => rest.push(f),
        }
    }
    Ok((ids, rest))
}

#[cfg(test)]
mod tests {
    use fleetlog_events::Actor;
    use fleetlog_events::device::DeviceEvent;
    use fleetlog_events::inventory::{AttrValue, Attributes, InventoryEvent};
    use serde_json::json;

    use super::*;
    use crate::inventory::InventoryProjection;
    use crate::testing::Given;

    fn text(s: &str) -> AttrValue {
        AttrValue::Text(s.to_owned())
    }

    /// `matching_ids` (a deployment's target) gives the ids `search` would page through, with
    /// filters the index answers alone and with one that needs the documents.
    #[test]
    fn matching_ids_are_the_ids_a_search_finds() {
        let mut given = Given::new(InventoryProjection);
        for i in 0..6 {
            let id = format!("d{i}");
            let mut set = Attributes::new();
            set.insert("device_type".into(), text(if i % 2 == 0 { "a" } else { "b" }));
            if i % 3 == 0 {
                set.insert("tag".into(), text("x"));
            }
            let submitted = DeviceEvent::AuthSetSubmitted {
                auth_set_id: format!("as{i}"),
                identity_data: format!(r#"{{"mac":"m{i}"}}"#),
                pubkey: "k".into(),
            };
            let report = InventoryEvent::InventoryChanged { set, removed: vec![] };
            given =
                given.by(Actor::device(&id)).event("device", &id, submitted).event("inventory", &id, report);
        }
        let model = given.model();
        let q = InventoryQueries(&model);
        let even = || Predicate::equals("inventory", "device_type", vec![json!("a")]);
        let untagged = || Predicate::exists("inventory", "tag", false);
        for filters in [vec![even()], vec![even(), untagged()], vec![]] {
            assert!(!filters.is_empty() || q.ids("default", 0, 10).unwrap().len() == 6, "six devices");
            let found = search(&q, "default", &filters, &[], 0, usize::MAX).unwrap();
            let ids: Vec<String> = found.page.into_iter().map(|d| d.id).collect();
            assert_eq!(matching_ids(&q, "default", &filters).unwrap(), ids, "{filters:?}");
        }
        assert_eq!(matching_ids(&q, "default", &[even(), untagged()]).unwrap(), ["d2", "d4"]);
    }
}
