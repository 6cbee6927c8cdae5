//! Records as OpenSearch documents, and checked queries as OpenSearch queries with the same
//! meaning as [`crate::reporting::filter`] and [`crate::reporting::record`] give them.

use fleetlog_events::inventory::Scalar;
use serde_json::{Map, Value, json};

use crate::reporting::filter::{Filter, Op, lucene_regex};
use crate::reporting::query::Aggregation;
use crate::reporting::record::{Field, Record};

/// A field's key in a document: `<scope>:<name>`, with every byte of the name outside
/// `[A-Za-z0-9_-]` percent-encoded (a `.` would otherwise make an object path).
pub fn key(f: &Field) -> String {
    let mut out = String::with_capacity(f.scope.len() + f.name.len() + 1);
    out.push_str(&f.scope);
    out.push(':');
    for b in f.name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn text_field(f: &Field) -> String {
    format!("s.{}", key(f))
}

fn number_field(f: &Field) -> String {
    format!("n.{}", key(f))
}

/// The document of a record.
pub fn document(tenant: &str, r: &Record) -> Value {
    let (mut s, mut n) = (Map::new(), Map::new());
    let mut attrs = Vec::new();
    for (f, values) in &r.fields {
        attrs.push(Value::String(format!("{}/{}", f.scope, f.name)));
        let texts: Vec<Value> = values
            .iter()
            .filter_map(|v| if let Scalar::Text(t) = v { Some(json!(t)) } else { None })
            .collect();
        let numbers: Vec<Value> = values
            .iter()
            .filter_map(|v| if let Scalar::Number(x) = v { Some(json!(x)) } else { None })
            .collect();
        if !texts.is_empty() {
            s.insert(key(f), Value::Array(texts));
        }
        if !numbers.is_empty() {
            n.insert(key(f), Value::Array(numbers));
        }
    }
    json!({"id": r.id, "tenant": tenant, "attrs": attrs, "out": r.out, "s": s, "n": n})
}

fn either(text: Value, number: Value) -> Value {
    json!({"bool": {"should": [text, number], "minimum_should_match": 1}})
}

fn not(q: Value) -> Value {
    json!({"bool": {"must_not": [q]}})
}

fn equals(f: &Field, v: &Scalar) -> Value {
    match v {
        Scalar::Text(t) => json!({"term": {text_field(f): t}}),
        Scalar::Number(x) => json!({"term": {number_field(f): x}}),
    }
}

fn one_of(f: &Field, list: &[Scalar]) -> Value {
    let texts: Vec<&String> =
        list.iter().filter_map(|v| if let Scalar::Text(t) = v { Some(t) } else { None }).collect();
    let numbers: Vec<f64> =
        list.iter().filter_map(|v| if let Scalar::Number(x) = v { Some(*x) } else { None }).collect();
    either(json!({"terms": {text_field(f): texts}}), json!({"terms": {number_field(f): numbers}}))
}

fn exists(f: &Field) -> Value {
    either(json!({"exists": {"field": text_field(f)}}), json!({"exists": {"field": number_field(f)}}))
}

fn range(f: &Field, op: &str, v: &Scalar) -> Value {
    match v {
        Scalar::Text(t) => json!({"range": {text_field(f): {op: t}}}),
        Scalar::Number(x) => json!({"range": {number_field(f): {op: x}}}),
    }
}

/// A filter as a query clause.
pub fn clause(filter: &Filter) -> Value {
    let f = &filter.field;
    match &filter.op {
        Op::Eq(v) => equals(f, v),
        Op::Ne(v) => not(equals(f, v)),
        Op::In(list) => one_of(f, list),
        Op::Nin(list) => not(one_of(f, list)),
        Op::Exists(true) => exists(f),
        Op::Exists(false) => not(exists(f)),
        Op::Cmp(ord, or_equal, v) => {
            let op = match (ord.is_gt(), or_equal) {
                (true, false) => "gt",
                (true, true) => "gte",
                (false, false) => "lt",
                (false, true) => "lte",
            };
            range(f, op, v)
        }
        Op::LtOrAbsent(v) => {
            json!({"bool": {"should": [not(exists(f)), range(f, "lt", v)], "minimum_should_match": 1}})
        }
        Op::Regex(re) => json!({"regexp": {text_field(f): {"value": lucene_regex(&re.pattern)}}}),
    }
}

/// The query of a tenant's records passing `filters` (and with one of `ids`, when given).
pub fn query<'i>(tenant: &str, filters: &[Filter], ids: Option<impl Iterator<Item = &'i String>>) -> Value {
    let mut must: Vec<Value> = vec![json!({"term": {"tenant": tenant}})];
    if let Some(ids) = ids {
        must.push(json!({"terms": {"id": ids.collect::<Vec<_>>()}}));
    }
    must.extend(filters.iter().map(clause));
    json!({"bool": {"filter": must}})
}

/// Sort clauses: per key its numbers then its texts (missing last), then the id.
pub fn sort(keys: &[(Field, bool)]) -> Value {
    let mut out = Vec::new();
    for (f, desc) in keys {
        let (order, mode) = if *desc { ("desc", "max") } else { ("asc", "min") };
        out.push(json!({number_field(f): {"order": order, "mode": mode, "missing": "_last", "unmapped_type": "double"}}));
        out.push(json!({text_field(f): {"order": order, "mode": mode, "missing": "_last", "unmapped_type": "keyword"}}));
    }
    out.push(json!({"id": {"order": "asc"}}));
    Value::Array(out)
}

/// Terms aggregations: each term twice, over its texts (`a<i>s`) and its numbers (`a<i>n`),
/// merged again by [`crate::reporting::opensearch::backend`].
pub fn aggregations(aggs: &[Aggregation]) -> Value {
    let mut out = Map::new();
    for (i, a) in aggs.iter().enumerate() {
        for (suffix, field) in [("s", text_field(&a.field)), ("n", number_field(&a.field))] {
            let mut agg = json!({"terms": {
                "field": field,
                "size": a.limit,
                "order": [{"_count": "desc"}, {"_key": "asc"}],
            }});
            if !a.sub.is_empty() {
                agg["aggs"] = aggregations(&a.sub);
            }
            out.insert(format!("a{i}{suffix}"), agg);
        }
    }
    Value::Object(out)
}
