//! Predicate terms in the JSON shape clients send and read (`{scope, attribute, type, value}`,
//! the operand any JSON value), converted to and from the one [`FilterTerm`] type.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::predicate::FilterTerm;

/// A term as it travels; private so that the rest of the code knows one term type.
#[derive(Deserialize)]
struct Term {
    scope: String,
    attribute: String,
    #[serde(rename = "type")]
    op: String,
    #[serde(default)]
    value: Value,
}

impl From<Term> for FilterTerm {
    fn from(t: Term) -> FilterTerm {
        FilterTerm { scope: t.scope, attribute: t.attribute, op: t.op, value_json: t.value.to_string() }
    }
}

/// For `#[serde(deserialize_with = "…")]` on a `Vec<FilterTerm>` field of a request body.
pub fn terms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<FilterTerm>, D::Error> {
    Ok(Vec::<Term>::deserialize(d)?.into_iter().map(FilterTerm::from).collect())
}

/// A term built by the server (e.g. a prefix search), in the stored form.
pub fn term(scope: &str, attribute: &str, op: &str, value: &Value) -> FilterTerm {
    FilterTerm {
        scope: scope.into(),
        attribute: attribute.into(),
        op: op.into(),
        value_json: value.to_string(),
    }
}

/// A term as clients read it back (a saved filter's terms).
pub fn to_json(t: &FilterTerm) -> Value {
    // The operand was checked as JSON before it was saved; `null` only for a corrupt store.
    let value: Value = serde_json::from_str(&t.value_json).unwrap_or(Value::Null);
    serde_json::json!({"scope": t.scope, "attribute": t.attribute, "type": t.op, "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(deserialize_with = "terms")]
        filters: Vec<FilterTerm>,
    }

    #[test]
    fn a_client_term_round_trips_through_the_stored_form() {
        let body = r#"{"filters":[{"scope":"inventory","attribute":"n","type":"$in","value":[1,"a"]}]}"#;
        let b: Body = serde_json::from_str(body).unwrap();
        assert_eq!(b.filters[0].value_json, r#"[1,"a"]"#);
        let back = to_json(&b.filters[0]);
        assert_eq!(back["type"], "$in");
        assert_eq!(back["value"], serde_json::json!([1, "a"]));
    }
}
