//! Unit tests of the reporting semantics on records (the conformance suite in the e2e tests
//! checks that OpenSearch answers the same).

use fleetlog_events::inventory::Scalar;
use serde_json::{Value, json};

use super::filter::Filter;
use super::query::{AggregateBody, Kind, SearchBody};
use super::record::{Field, Record, compare_by};
use super::{ReportingError, aggregate};

fn record(id: &str, values: Vec<Scalar>) -> Record {
    let mut r = Record { id: id.into(), fields: Default::default(), out: json!({"id": id}) };
    if !values.is_empty() {
        r.fields.insert(Field::new("inventory", "a"), values);
    }
    r
}

fn passes(op: &str, operand: Value, values: Vec<Scalar>) -> bool {
    Filter::parse(Field::new("inventory", "a"), op, Some(&operand)).unwrap().matches(&record("d", values))
}

fn t(s: &str) -> Scalar {
    Scalar::Text(s.into())
}

#[test]
fn operators_match_by_type_and_over_lists() {
    let n = Scalar::Number;
    assert!(passes("$eq", json!(2), vec![n(2.0)]));
    assert!(!passes("$eq", json!("2"), vec![n(2.0)]), "a text does not equal a number");
    assert!(passes("$eq", json!(true), vec![t("true")]), "a boolean is its text");
    assert!(passes("$eq", json!("b"), vec![t("a"), t("b")]), "any element of a list");
    assert!(passes("$ne", json!("x"), vec![]), "absent is not equal");
    assert!(!passes("$nin", json!(["a"]), vec![t("a"), t("b")]));
    assert!(passes("$exists", json!(false), vec![]));
    assert!(passes("$ltne", json!(5), vec![]), "absent");
    assert!(passes("$ltne", json!(5), vec![n(4.0)]));
    assert!(!passes("$ltne", json!(5), vec![t("4")]), "present, of another type");
    assert!(passes("$lt", json!("b"), vec![t("a")]));
    assert!(!passes("$gte", json!("1"), vec![n(5.0)]), "no comparison across types");
    assert!(passes("$regex", json!("^de"), vec![t("debian")]));
    assert!(!passes("$regex", json!("^de"), vec![n(1.0)]));
}

#[test]
fn sorting_puts_numbers_then_texts_and_missing_values_last_both_ways() {
    let n = Scalar::Number;
    let rs = [
        record("a", vec![t("x")]),
        record("b", vec![n(2.0), n(9.0)]),
        record("c", vec![]),
        record("d", vec![n(5.0)]),
    ];
    let f = Field::new("inventory", "a");
    let order = |desc| {
        let mut v: Vec<&Record> = rs.iter().collect();
        v.sort_by(|x, y| compare_by(x, y, &f, desc).then_with(|| x.id.cmp(&y.id)));
        v.iter().map(|r| r.id.as_str()).collect::<String>()
    };
    assert_eq!(order(false), "bdac", "min 2, 5, then the text, then none");
    assert_eq!(order(true), "bdac", "max 9, 5, then the text, then none");
}

#[test]
fn aggregation_orders_buckets_and_counts_the_rest() {
    let rs =
        [record("1", vec![t("b"), t("b")]), record("2", vec![t("a")]), record("3", vec![t("b"), t("c")])];
    let body: AggregateBody =
        serde_json::from_value(json!({"aggregations": [{"name": "x", "attribute": "a", "limit": 2}]}))
            .unwrap();
    let q = body.check(Kind::Devices).unwrap();
    let refs: Vec<&Record> = rs.iter().collect();
    let out = serde_json::to_value(aggregate(&refs, &q.aggregations)).unwrap();
    assert_eq!(
        out,
        json!([{"name": "x", "items": [{"key": "b", "count": 2}, {"key": "a", "count": 1}], "other_count": 1}])
    );
}

#[test]
fn invalid_requests_are_refused_with_a_reason() {
    let search = |v: Value| serde_json::from_value::<SearchBody>(v).unwrap().check(Kind::Devices);
    let invalid = |r: Result<_, ReportingError>| matches!(r, Err(ReportingError::Invalid(_)));
    assert!(invalid(search(json!({"per_page": 501}))));
    assert!(invalid(search(json!({"page": 0}))));
    assert!(invalid(search(
        json!({"filters": [{"scope": "x", "attribute": "a", "type": "$eq", "value": 1}]})
    )));
    assert!(invalid(search(json!({"sort": [{"attribute": "a", "order": "sideways"}]}))));
    let deployments = serde_json::from_value::<SearchBody>(
        json!({"filters": [{"attribute": "nope", "type": "$eq", "value": 1}]}),
    );
    assert!(invalid(deployments.unwrap().check(Kind::Deployments)));
    let ok = search(json!({"page": 3, "per_page": 500})).unwrap();
    assert_eq!((ok.skip, ok.take), (1000, 500));
}
