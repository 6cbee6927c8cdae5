//! Mender's inventory filter language (v2 `filters/search`): a term `{scope, attribute, type,
//! value}` with `$eq $ne $in $nin $exists $gt $gte $lt $lte $ltne $regex` is checked once into
//! a [`Predicate`], then evaluated against a device's attributes or planned on the index. (A
//! *saved filter* is something else: the aggregate that stores a list of terms.)
//!
//! `$ltne` is mender-server main's "less than, or not there": a device matches when the
//! attribute is below the operand or the device does not have the attribute at all (the GUI
//! uses it on `check_in_time` for devices that are offline or never checked in; MEN-6880).
//!
//! A term has one type, [`FilterTerm`] (the stored one, whose operand is JSON text); [`super::wire`]
//! reads and writes it in the JSON shape clients send.

use serde_json::Value;

use fleetlog_events::inventory::Scalar;

pub use fleetlog_events::filter::FilterTerm;

use super::ValueRange;
use crate::QueryError;

/// A checked filter term.
#[derive(Debug)]
pub struct Predicate {
    scope: String,
    attribute: String,
    op: Op,
}

/// A term's parts while it is checked.
struct Parts<'a> {
    scope: &'a str,
    attribute: &'a str,
    op: &'a str,
    value: Value,
}

#[derive(Debug)]
enum Op {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Exists(bool),
    Cmp(std::cmp::Ordering, bool, Value),
    /// `$ltne`: below the operand, or absent.
    LtOrAbsent(Value),
    Regex(regex::Regex),
}

/// The scopes a filter or sort may name.
pub const SCOPES: &[&str] = &["identity", "inventory", "system", "tags", "monitor"];

impl Predicate {
    /// Checks a term: known scope and operator, operand of the right type.
    pub fn parse(t: &FilterTerm) -> Result<Predicate, QueryError> {
        let value: Value = serde_json::from_str(&t.value_json)
            .map_err(|e| QueryError::Invalid(format!("{}: value is not JSON: {e}", t.op)))?;
        Predicate::check(&t.scope, &t.attribute, &t.op, value)
    }

    /// Checks the parts of a term.
    fn check(scope: &str, attribute: &str, op: &str, value: Value) -> Result<Predicate, QueryError> {
        let t = Parts { scope, attribute, op, value };
        if !SCOPES.contains(&t.scope) {
            return Err(QueryError::Invalid(format!("unknown scope {:?}", t.scope)));
        }
        if t.attribute.is_empty() {
            return Err(QueryError::Invalid("filter attribute must not be empty".into()));
        }
        let scalar = |v: &Value| v.is_string() || v.is_number() || v.is_boolean();
        let bad = |what: &str| QueryError::Invalid(format!("{}: {what}", t.op));
        let op = match t.op {
            "$eq" | "$ne" if !scalar(&t.value) => {
                return Err(bad("value must be a string, number or boolean"));
            }
            "$eq" => Op::Eq(t.value.clone()),
            "$ne" => Op::Ne(t.value.clone()),
            "$in" | "$nin" => {
                let list = t
                    .value
                    .as_array()
                    .filter(|l| l.iter().all(scalar))
                    .ok_or_else(|| bad("value must be a list"))?;
                if t.op == "$in" { Op::In(list.clone()) } else { Op::Nin(list.clone()) }
            }
            "$exists" => Op::Exists(t.value.as_bool().ok_or_else(|| bad("value must be true or false"))?),
            "$gt" | "$gte" | "$lt" | "$lte" | "$ltne" => {
                if !(t.value.is_number() || t.value.is_string()) {
                    return Err(bad("value must be a number or a string"));
                }
                if t.op == "$ltne" {
                    return Ok(Predicate {
                        scope: t.scope.to_owned(),
                        attribute: t.attribute.to_owned(),
                        op: Op::LtOrAbsent(t.value.clone()),
                    });
                }
                let ord = if t.op.starts_with("$g") {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                };
                Op::Cmp(ord, t.op.ends_with('e'), t.value.clone())
            }
            "$regex" => {
                let pattern = t.value.as_str().ok_or_else(|| bad("value must be a string"))?;
                Op::Regex(
                    regex::Regex::new(pattern)
                        .map_err(|e| bad(&format!("invalid regular expression: {e}")))?,
                )
            }
            other => return Err(QueryError::Invalid(format!("unknown filter type {other:?}"))),
        };
        Ok(Predicate { scope: t.scope.to_owned(), attribute: t.attribute.to_owned(), op })
    }

    /// Whether a device whose attribute (in this filter's scope) is `value` matches. Lists match
    /// when any element does, as in Mender.
    pub fn matches(&self, lookup: impl Fn(&str, &str) -> Option<Value>) -> bool {
        let value = lookup(&self.scope, &self.attribute);
        let elements: Vec<Value> = match &value {
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
            None => vec![],
        };
        let any = |f: &dyn Fn(&Value) -> bool| elements.iter().any(f);
        match &self.op {
            Op::Eq(v) => any(&|e| loose_eq(e, v)),
            Op::Ne(v) => !any(&|e| loose_eq(e, v)),
            Op::In(list) => any(&|e| list.iter().any(|v| loose_eq(e, v))),
            Op::Nin(list) => !any(&|e| list.iter().any(|v| loose_eq(e, v))),
            Op::Exists(want) => value.is_some() == *want,
            Op::Cmp(ord, or_equal, v) => {
                any(&|e| compare(e, v).is_some_and(|o| o == *ord || (*or_equal && o.is_eq())))
            }
            Op::LtOrAbsent(v) => value.is_none() || any(&|e| compare(e, v).is_some_and(|o| o.is_lt())),
            Op::Regex(re) => any(&|e| e.as_str().is_some_and(|s| re.is_match(s))),
        }
    }
}

/// A JSON operand as an index scalar (booleans and objects match no attribute value).
fn scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Some(Scalar::Text(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Number),
        _ => None,
    }
}

impl Predicate {
    /// The filter's scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The filter's attribute.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    /// Whether an attribute the index does not hold is named (the device id is not an
    /// attribute, it is the key).
    fn indexed(&self) -> bool {
        !(self.scope == "identity" && self.attribute == "id")
    }

    /// The index ranges whose union is exactly the devices this filter matches, when it has
    /// them (the positive operators).
    pub fn ranges(&self) -> Option<Vec<ValueRange>> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        if !self.indexed() {
            return None;
        }
        match &self.op {
            Op::Eq(v) => Some(scalar(v).map(ValueRange::Exact).into_iter().collect()),
            Op::In(list) => Some(list.iter().filter_map(scalar).map(ValueRange::Exact).collect()),
            Op::Exists(true) => Some(vec![ValueRange::Any]),
            Op::Cmp(ord, or_equal, v) => {
                let v = scalar(v)?;
                let bound = if *or_equal { Included(v) } else { Excluded(v) };
                Some(vec![match ord {
                    std::cmp::Ordering::Greater => ValueRange::Between(bound, Unbounded),
                    _ => ValueRange::Between(Unbounded, bound),
                }])
            }
            _ => None,
        }
    }

    /// For `$eq $in $ne $nin`: the values to look up per device, and whether a hit means a
    /// match (`$eq $in`) or a miss (`$ne $nin`).
    pub fn point_values(&self) -> Option<(Vec<Scalar>, bool)> {
        if !self.indexed() {
            return None;
        }
        match &self.op {
            Op::Eq(v) => Some((scalar(v).into_iter().collect(), true)),
            Op::Ne(v) => Some((scalar(v).into_iter().collect(), false)),
            Op::In(list) => Some((list.iter().filter_map(scalar).collect(), true)),
            Op::Nin(list) => Some((list.iter().filter_map(scalar).collect(), false)),
            _ => None,
        }
    }

    /// An equality filter built by the server (v1 list parameters, group listings).
    pub fn equals(scope: &str, attribute: &str, values: Vec<Value>) -> Predicate {
        Predicate { scope: scope.to_owned(), attribute: attribute.to_owned(), op: Op::In(values) }
    }

    /// An existence filter built by the server (`has_group`).
    pub fn exists(scope: &str, attribute: &str, present: bool) -> Predicate {
        Predicate { scope: scope.to_owned(), attribute: attribute.to_owned(), op: Op::Exists(present) }
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(op: &str, value: Value) -> FilterTerm {
        FilterTerm {
            scope: "inventory".into(),
            attribute: "a".into(),
            op: op.into(),
            value_json: value.to_string(),
        }
    }

    fn check(op: &str, operand: Value, attribute: Option<Value>) -> bool {
        Predicate::parse(&term(op, operand)).unwrap().matches(|_, _| attribute.clone())
    }

    #[test]
    fn operators_match_as_in_mender() {
        let s = |v: &str| Some(Value::from(v));
        assert!(check("$eq", "x".into(), s("x")));
        assert!(check("$eq", "b".into(), Some(serde_json::json!(["a", "b"]))));
        assert!(check("$ne", "x".into(), s("y")));
        assert!(check("$ne", "x".into(), None));
        assert!(check("$in", serde_json::json!(["x", "y"]), s("y")));
        assert!(check("$nin", serde_json::json!(["x"]), s("y")));
        assert!(check("$exists", true.into(), s("y")));
        assert!(check("$exists", false.into(), None));
        assert!(check("$gt", 5.into(), Some(Value::from(6.0))));
        assert!(check("$gte", 6.into(), Some(Value::from(6))));
        assert!(!check("$lt", 6.into(), Some(Value::from(6))));
        assert!(check("$lte", "b".into(), s("a")));
        assert!(check("$regex", "^deb".into(), s("debian")));
    }

    #[test]
    fn ltne_is_less_than_or_absent() {
        let t = |v: &str| Some(Value::from(v));
        let cutoff = Value::from("2026-12-01T12:00:00Z");
        assert!(check("$ltne", cutoff.clone(), t("2026-12-01T11:59:59Z")), "older");
        assert!(check("$ltne", cutoff.clone(), None), "never checked in");
        assert!(!check("$ltne", cutoff.clone(), t("2026-12-01T12:00:00Z")), "equal is not less");
        assert!(!check("$ltne", cutoff, t("2026-12-02T00:00:00Z")), "newer");
        assert!(check("$ltne", 5.into(), Some(Value::from(4))));
        assert!(!check("$ltne", 5.into(), Some(Value::from("text"))), "another type is present");
        assert!(Predicate::parse(&term("$ltne", serde_json::json!([1]))).is_err());
    }

    #[test]
    fn bad_terms_are_refused() {
        for (op, value) in [
            ("$like", Value::from("x")),
            ("$in", Value::from("x")),
            ("$exists", Value::from("yes")),
            ("$regex", Value::from("(")),
            ("$eq", serde_json::json!({"a": 1})),
            ("$gt", serde_json::json!([1])),
        ] {
            assert!(Predicate::parse(&term(op, value)).is_err(), "{op}");
        }
        let scope = FilterTerm { scope: "nope".into(), ..term("$eq", "x".into()) };
        assert!(Predicate::parse(&scope).is_err());
    }
}
