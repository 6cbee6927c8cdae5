//! The reporting conformance cases (see `reporting.rs` for the fleet they run against): valid
//! requests over every operator, sort, paging, selection and aggregation shape, and invalid
//! ones that must be 400s. A case may carry a check of the embedded answer.

use reqwest::Method;
use serde_json::{Value, json};

/// A check of an answer: `X-Total-Count` and body.
pub type Check = fn(&Option<String>, &Value) -> Result<(), String>;

/// One request.
pub struct Case {
    pub name: &'static str,
    pub method: Method,
    pub path: &'static str,
    pub body: Value,
    /// A body sent as is (for malformed JSON).
    pub raw: Option<&'static str>,
    pub check: Option<Check>,
}

fn post(name: &'static str, path: &'static str, body: Value) -> Case {
    Case { name, method: Method::POST, path, body, raw: None, check: None }
}

fn search(name: &'static str, body: Value) -> Case {
    post(name, "/devices/search", body)
}

fn checked(mut case: Case, check: Check) -> Case {
    case.check = Some(check);
    case
}

fn filter(scope: &str, attribute: &str, op: &str, value: Value) -> Value {
    json!({"scope": scope, "attribute": attribute, "type": op, "value": value})
}

fn inv(attribute: &str, op: &str, value: Value) -> Value {
    filter("inventory", attribute, op, value)
}

fn total_is(total: &Option<String>, want: u64) -> Result<(), String> {
    match total.as_deref().map(str::parse::<u64>) {
        Some(Ok(n)) if n == want => Ok(()),
        other => Err(format!("X-Total-Count {other:?}, want {want}")),
    }
}

fn ids(body: &Value) -> Vec<&str> {
    body.as_array().map(|a| a.iter().filter_map(|d| d["id"].as_str()).collect()).unwrap_or_default()
}

/// Requests that must be answered 200, the same by both backends.
pub fn good() -> Vec<Case> {
    let d = "/deployments/devices/search";
    let da = "/deployments/devices/aggregate";
    let a = "/devices/aggregate";
    vec![
        checked(search("default page", json!({})), |t, b| {
            total_is(t, 30)?;
            (ids(b).len() == 20 && ids(b)[0] == "dev-00").then_some(()).ok_or("20 devices by id".into())
        }),
        search("second page of 7", json!({"page": 2, "per_page": 7})),
        search("page past the end", json!({"page": 9, "per_page": 10})),
        checked(
            search("$eq text", json!({"filters": [inv("device_type", "$eq", json!("raspberrypi4"))]})),
            |t, _| total_is(t, 10),
        ),
        search("$eq number", json!({"filters": [inv("mem_kb", "$eq", json!(2048))]})),
        search(
            "$eq number as text matches nothing",
            json!({"filters": [inv("mem_kb", "$eq", json!("2048"))]}),
        ),
        search("$eq boolean", json!({"filters": [inv("device_type", "$eq", json!(true))]})),
        search("$ne", json!({"filters": [inv("device_type", "$ne", json!("qemu"))]})),
        search(
            "$ne on an absent attribute matches all",
            json!({"filters": [inv("nothing", "$ne", json!("x"))]}),
        ),
        search("$in mixed", json!({"filters": [inv("mem_kb", "$in", json!([1024, 4096, "1024"]))]})),
        search("$in empty", json!({"filters": [inv("mem_kb", "$in", json!([]))]})),
        search("$nin", json!({"filters": [inv("device_type", "$nin", json!(["qemu", "beaglebone"]))]})),
        search("$exists true", json!({"filters": [inv("mem_kb", "$exists", json!(true))]})),
        checked(
            search("$exists false", json!({"filters": [inv("mem_kb", "$exists", json!(false))]})),
            |t, _| total_is(t, 5),
        ),
        search("$gt", json!({"filters": [inv("mem_kb", "$gt", json!(2048))]})),
        search("$gte", json!({"filters": [inv("mem_kb", "$gte", json!(2048))]})),
        search("$lt", json!({"filters": [inv("mem_kb", "$lt", json!(2048))]})),
        search("$lte", json!({"filters": [inv("mem_kb", "$lte", json!(2048))]})),
        search("$lt on texts", json!({"filters": [inv("version", "$lt", json!("1.4"))]})),
        search("$gte text against numbers", json!({"filters": [inv("mem_kb", "$gte", json!("1"))]})),
        checked(search("$ltne", json!({"filters": [inv("mem_kb", "$ltne", json!(2048))]})), |t, _| {
            total_is(t, 11)
        }),
        checked(
            search("$regex start", json!({"filters": [inv("device_type", "$regex", json!("^rasp"))]})),
            |t, _| total_is(t, 10),
        ),
        search("$regex end", json!({"filters": [inv("device_type", "$regex", json!("bone$"))]})),
        search(
            "$regex middle with classes",
            json!({"filters": [inv("version", "$regex", json!("[.][0-3]"))]}),
        ),
        search(
            "$regex alternatives",
            json!({"filters": [inv("device_type", "$regex", json!("^(qemu|beagle.*)$"))]}),
        ),
        checked(
            search("$regex Lucene-special", json!({"filters": [inv("weird.name", "$regex", json!("<y>&"))]})),
            |t, _| total_is(t, 15),
        ),
        checked(
            search("list element", json!({"filters": [inv("ips", "$eq", json!("10.0.0.3"))]})),
            |t, _| total_is(t, 1),
        ),
        search("list range", json!({"filters": [inv("ips", "$gte", json!("192.168.1.25"))]})),
        checked(
            search("dotted name", json!({"filters": [inv("weird.name", "$eq", json!("x<y>&z"))]})),
            |t, _| total_is(t, 15),
        ),
        checked(
            search("system group", json!({"filters": [filter("system", "group", "$eq", json!("group-a"))]})),
            |t, _| total_is(t, 10),
        ),
        search("no group", json!({"filters": [filter("system", "group", "$exists", json!(false))]})),
        search("tags", json!({"filters": [filter("tags", "location", "$eq", json!("north"))]})),
        search(
            "identity",
            json!({"filters": [filter("identity", "status", "$eq", json!("accepted")), filter("identity", "mac", "$regex", json!("0[12]$"))]}),
        ),
        search(
            "default scope is inventory",
            json!({"filters": [{"attribute": "device_type", "type": "$eq", "value": "qemu"}]}),
        ),
        search(
            "several filters",
            json!({"filters": [inv("device_type", "$ne", json!("qemu")), inv("mem_kb", "$gt", json!(1024)), filter("system", "group", "$exists", json!(true))]}),
        ),
        search(
            "sort number asc",
            json!({"sort": [{"scope": "inventory", "attribute": "mem_kb", "order": "asc"}], "per_page": 30}),
        ),
        search(
            "sort number desc",
            json!({"sort": [{"scope": "inventory", "attribute": "mem_kb", "order": "desc"}], "per_page": 30}),
        ),
        search(
            "sort mixed asc",
            json!({"sort": [{"scope": "inventory", "attribute": "mixed", "order": "asc"}], "per_page": 30}),
        ),
        search(
            "sort mixed desc",
            json!({"sort": [{"scope": "inventory", "attribute": "mixed", "order": "desc"}], "per_page": 30}),
        ),
        search(
            "sort list desc",
            json!({"sort": [{"scope": "inventory", "attribute": "ips", "order": "desc"}], "per_page": 30}),
        ),
        search(
            "sort two keys",
            json!({"sort": [{"scope": "inventory", "attribute": "device_type", "order": "desc"}, {"scope": "inventory", "attribute": "mem_kb", "order": "asc"}], "per_page": 30}),
        ),
        search(
            "sort absent attribute",
            json!({"sort": [{"scope": "inventory", "attribute": "nothing", "order": "asc"}], "per_page": 5}),
        ),
        search(
            "sort dotted, paged",
            json!({"sort": [{"scope": "inventory", "attribute": "weird.name", "order": "asc"}], "page": 3, "per_page": 4}),
        ),
        checked(
            search(
                "attributes selected",
                json!({"attributes": [{"scope": "inventory", "attribute": "device_type"}, {"scope": "system", "attribute": "group"}], "per_page": 30}),
            ),
            |_, b| {
                let ok = b.as_array().is_some_and(|all| {
                    all.iter()
                        .all(|d| d["attributes"].as_array().is_some_and(|a| !a.is_empty() && a.len() <= 2))
                });
                ok.then_some(()).ok_or("at most the two selected attributes".into())
            },
        ),
        checked(
            search(
                "device_ids",
                json!({"device_ids": ["dev-03", "dev-01", "nope"], "filters": [inv("mem_kb", "$exists", json!(true))]}),
            ),
            |t, b| {
                total_is(t, 2)?;
                (ids(b) == ["dev-01", "dev-03"]).then_some(()).ok_or("by id".into())
            },
        ),
        checked(
            post(
                "aggregate with limit",
                a,
                json!({"aggregations": [{"name": "types", "scope": "inventory", "attribute": "device_type", "limit": 2}]}),
            ),
            |_, b| {
                let want = json!([{"name": "types", "items": [{"key": "beaglebone", "count": 10}, {"key": "qemu", "count": 10}], "other_count": 10}]);
                (b == &want).then_some(()).ok_or(format!("want {want}"))
            },
        ),
        post("aggregate numbers", a, json!({"aggregations": [{"name": "mem", "attribute": "mem_kb"}]})),
        post(
            "aggregate mixed types",
            a,
            json!({"aggregations": [{"name": "mixed", "attribute": "mixed", "limit": 4}]}),
        ),
        post("aggregate list", a, json!({"aggregations": [{"name": "ips", "attribute": "ips", "limit": 3}]})),
        post("aggregate absent", a, json!({"aggregations": [{"name": "none", "attribute": "nothing"}]})),
        post(
            "aggregate size alias",
            a,
            json!({"aggregations": [{"name": "group", "scope": "system", "attribute": "group", "size": 1}]}),
        ),
        post(
            "aggregate nested",
            a,
            json!({"aggregations": [{"name": "group", "scope": "system", "attribute": "group", "aggregations": [{"name": "type", "attribute": "device_type", "aggregations": [{"name": "mem", "attribute": "mem_kb", "limit": 2}]}]}]}),
        ),
        post(
            "aggregate siblings with filters",
            a,
            json!({"filters": [filter("tags", "location", "$exists", json!(true))], "aggregations": [{"name": "loc", "scope": "tags", "attribute": "location"}, {"name": "ver", "attribute": "version", "limit": 3}]}),
        ),
        checked(search("all devices on one page", json!({"per_page": 50})), |t, _| total_is(t, 30)),
        checked(post("deployments: default", d, json!({})), |t, b| {
            total_is(t, 21)?;
            (b[0]["id"] == "dep-1:dev-00" && b[0]["device_status"] == "success")
                .then_some(())
                .ok_or("first part".into())
        }),
        post(
            "deployments: status",
            d,
            json!({"filters": [{"attribute": "device_status", "type": "$eq", "value": "aborted"}]}),
        ),
        post(
            "deployments: finished",
            d,
            json!({"filters": [{"attribute": "device_finished", "type": "$exists", "value": true}], "sort": [{"attribute": "device_status", "order": "desc"}]}),
        ),
        post(
            "deployments: booleans",
            d,
            json!({"filters": [{"attribute": "deployment_force_installation", "type": "$eq", "value": true}]}),
        ),
        post("deployments: ids", d, json!({"device_ids": ["dev-05", "dev-06"], "deployment_ids": ["dep-2"]})),
        post(
            "deployments: sort and select",
            d,
            json!({"sort": [{"attribute": "deployment_name", "order": "desc"}, {"attribute": "device_id", "order": "asc"}], "attributes": [{"attribute": "device_status"}], "per_page": 8, "page": 2}),
        ),
        post(
            "deployments: numbers",
            d,
            json!({"filters": [{"attribute": "deployment_retries", "type": "$gte", "value": 1}]}),
        ),
        post(
            "deployments: aggregate",
            da,
            json!({"aggregations": [{"name": "status", "attribute": "device_status"}]}),
        ),
        post(
            "deployments: aggregate nested",
            da,
            json!({"aggregations": [{"name": "dep", "attribute": "deployment_name", "aggregations": [{"name": "status", "attribute": "device_status", "limit": 2}]}], "filters": [{"attribute": "device_id", "type": "$ne", "value": "dev-05"}]}),
        ),
        Case {
            name: "attributes and limit",
            method: Method::GET,
            path: "/devices/attributes",
            body: Value::Null,
            raw: None,
            check: None,
        },
        Case {
            name: "filterable attributes",
            method: Method::GET,
            path: "/devices/search/attributes",
            body: Value::Null,
            raw: None,
            check: None,
        },
    ]
}

/// Requests that must be answered 400 by both.
pub fn bad() -> Vec<Case> {
    let a = "/devices/aggregate";
    let nest = |depth: usize| {
        let mut term = json!({"name": "x", "attribute": "device_type"});
        for _ in 1..depth {
            term = json!({"name": "x", "attribute": "device_type", "aggregations": [term]});
        }
        json!({"aggregations": [term]})
    };
    vec![
        search("unknown scope", json!({"filters": [filter("nowhere", "a", "$eq", json!("x"))]})),
        search("unknown operator", json!({"filters": [inv("a", "$like", json!("x"))]})),
        search("$in with a text", json!({"filters": [inv("a", "$in", json!("x"))]})),
        search("$gt with a boolean", json!({"filters": [inv("a", "$gt", json!(true))]})),
        search("$eq with an object", json!({"filters": [inv("a", "$eq", json!({"a": 1}))]})),
        search("$exists with a text", json!({"filters": [inv("a", "$exists", json!("yes"))]})),
        search("$regex not a pattern", json!({"filters": [inv("a", "$regex", json!("("))]})),
        search("$regex unsupported", json!({"filters": [inv("a", "$regex", json!("\\d+"))]})),
        search(
            "missing value",
            json!({"filters": [{"scope": "inventory", "attribute": "a", "type": "$eq"}]}),
        ),
        search("empty attribute", json!({"filters": [inv("", "$eq", json!("x"))]})),
        search("per_page over 500", json!({"per_page": 501})),
        search("page 0", json!({"page": 0})),
        search("page not a number", json!({"page": "one"})),
        search("sort order", json!({"sort": [{"scope": "inventory", "attribute": "a", "order": "up"}]})),
        search("sort unknown scope", json!({"sort": [{"scope": "x", "attribute": "a", "order": "asc"}]})),
        post(
            "aggregation limit over 500",
            a,
            json!({"aggregations": [{"name": "x", "attribute": "a", "limit": 501}]}),
        ),
        post(
            "aggregation limit 0",
            a,
            json!({"aggregations": [{"name": "x", "attribute": "a", "limit": 0}]}),
        ),
        post("aggregations too deep", a, nest(6)),
        post(
            "aggregation buckets over the limit",
            a,
            json!({"aggregations": [{"name": "x", "attribute": "a", "limit": 200, "aggregations": [{"name": "y", "attribute": "b", "limit": 200}]}]}),
        ),
        post("no aggregations", a, json!({"aggregations": []})),
        post(
            "aggregation names repeat",
            a,
            json!({"aggregations": [{"name": "x", "attribute": "a"}, {"name": "x", "attribute": "b"}]}),
        ),
        post(
            "deployments: unknown attribute",
            "/deployments/devices/search",
            json!({"filters": [{"attribute": "nope", "type": "$eq", "value": 1}]}),
        ),
        Case {
            name: "malformed body",
            method: Method::POST,
            path: "/devices/search",
            body: Value::Null,
            raw: Some("{\"filters\": ["),
            check: None,
        },
        Case {
            name: "not an object",
            method: Method::POST,
            path: "/devices/aggregate",
            body: Value::Null,
            raw: Some("[1, 2]"),
            check: None,
        },
    ]
}
