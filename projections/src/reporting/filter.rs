//! Reporting filters: `{attribute, scope, type, value}` with `$eq $ne $in $nin $exists $gt $gte
//! $lt $lte $ltne $regex`, checked once and evaluated against a [`Record`].
//!
//! The semantics, which the OpenSearch translation keeps exactly:
//! - a field holds zero or more scalars (a list attribute holds its elements); a field with
//!   none is absent;
//! - a scalar operand matches a value of its own type only (texts by bytes, numbers as
//!   numbers); a boolean operand is the text `"true"`/`"false"`;
//! - `$eq $in $gt…` match when any value does, `$ne $nin` when none does (so an absent field
//!   matches them), `$ltne` is "less than, or absent" (mender-server's MEN-6880);
//! - `$regex` searches the texts (unanchored, like Mongo's) with a pattern in the subset both
//!   Rust's regex crate and Lucene read alike (see [`check_regex`]).

use serde_json::Value;

use fleetlog_events::inventory::Scalar;

use super::ReportingError;
use super::record::{Field, Record};

/// A checked filter.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The field it looks at.
    pub field: Field,
    /// What it asks of the field.
    pub op: Op,
}

/// A checked operator with its operand.
#[derive(Debug, Clone)]
pub enum Op {
    /// Some value equals.
    Eq(Scalar),
    /// No value equals.
    Ne(Scalar),
    /// Some value is one of.
    In(Vec<Scalar>),
    /// No value is one of.
    Nin(Vec<Scalar>),
    /// The field is there (or not).
    Exists(bool),
    /// Some value compares: `Greater`/`Less`, and whether equal passes too.
    Cmp(std::cmp::Ordering, bool, Scalar),
    /// Some value is less, or the field is absent.
    LtOrAbsent(Scalar),
    /// Some text matches the pattern.
    Regex(Regex),
}

/// A pattern checked by [`check_regex`], compiled for local evaluation.
#[derive(Debug, Clone)]
pub struct Regex {
    /// The pattern as given.
    pub pattern: String,
    compiled: regex::Regex,
}

fn invalid(msg: String) -> ReportingError {
    ReportingError::Invalid(msg)
}

/// A JSON operand as a scalar: texts, numbers, and booleans as their text.
pub fn operand(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Some(Scalar::Text(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Number),
        Value::Bool(b) => Some(Scalar::Text(b.to_string())),
        _ => None,
    }
}

impl Filter {
    /// Checks an operator and its operand for `field`.
    pub fn parse(field: Field, op: &str, value: Option<&Value>) -> Result<Filter, ReportingError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Err(invalid(format!("filter on {}: value is required", field.name)));
        };
        let bad = |what: &str| invalid(format!("filter {op} on {}: {what}", field.name));
        let op = match op {
            "$eq" | "$ne" => {
                let v = operand(value).ok_or_else(|| bad("value must be a string, number or boolean"))?;
                if op == "$eq" { Op::Eq(v) } else { Op::Ne(v) }
            }
            "$in" | "$nin" => {
                let list = value
                    .as_array()
                    .and_then(|l| l.iter().map(operand).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| bad("value must be a list of strings, numbers or booleans"))?;
                if op == "$in" { Op::In(list) } else { Op::Nin(list) }
            }
            "$exists" => Op::Exists(value.as_bool().ok_or_else(|| bad("value must be true or false"))?),
            "$gt" | "$gte" | "$lt" | "$lte" | "$ltne" => {
                let v = match value {
                    Value::String(_) | Value::Number(_) => operand(value),
                    _ => None,
                }
                .ok_or_else(|| bad("value must be a number or a string"))?;
                if op == "$ltne" {
                    Op::LtOrAbsent(v)
                } else {
                    let ord = if op.starts_with("$g") {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Less
                    };
                    Op::Cmp(ord, op.ends_with('e'), v)
                }
            }
            "$regex" => {
                let pattern = value.as_str().ok_or_else(|| bad("value must be a string"))?;
                check_regex(pattern).map_err(|e| bad(&e))?;
                let compiled = regex::Regex::new(pattern)
                    .map_err(|e| bad(&format!("invalid regular expression: {e}")))?;
                Op::Regex(Regex { pattern: pattern.to_owned(), compiled })
            }
            other => return Err(invalid(format!("unknown filter type {other:?}"))),
        };
        Ok(Filter { field, op })
    }

    /// Whether the record passes.
    pub fn matches(&self, r: &Record) -> bool {
        let values = r.values(&self.field);
        let any = |f: &dyn Fn(&Scalar) -> bool| values.iter().any(f);
        match &self.op {
            Op::Eq(v) => any(&|e| same(e, v)),
            Op::Ne(v) => !any(&|e| same(e, v)),
            Op::In(list) => any(&|e| list.iter().any(|v| same(e, v))),
            Op::Nin(list) => !any(&|e| list.iter().any(|v| same(e, v))),
            Op::Exists(want) => values.is_empty() != *want,
            Op::Cmp(ord, or_equal, v) => {
                any(&|e| compare(e, v).is_some_and(|o| o == *ord || (*or_equal && o.is_eq())))
            }
            Op::LtOrAbsent(v) => values.is_empty() || any(&|e| compare(e, v).is_some_and(|o| o.is_lt())),
            Op::Regex(re) => any(&|e| matches!(e, Scalar::Text(t) if re.compiled.is_match(t))),
        }
    }
}

/// Equal values of the same type.
pub fn same(a: &Scalar, b: &Scalar) -> bool {
    compare(a, b).is_some_and(|o| o.is_eq())
}

/// Values of the same type in order (texts by bytes); `None` across types.
pub fn compare(a: &Scalar, b: &Scalar) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Scalar::Text(x), Scalar::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Scalar::Number(x), Scalar::Number(y)) => x.partial_cmp(y),
        _ => None,
    }
}

/// Checks that a pattern stays in the subset read alike by Rust's regex crate and Lucene:
/// literals, `\` before punctuation, `. ? + * |`, groups `( )`, repetitions `{m}` `{m,}`
/// `{m,n}`, classes `[…]` with ranges and `^` negation, `^` first and `$` last (not with a
/// top-level `|`: group the alternatives). Shorthands like `\d`, flags, `(?…)` and nested
/// class syntax are refused.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let (mut i, mut depth, mut in_class, mut top_level_or) = (0, 0usize, false, false);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => match chars.get(i + 1) {
                Some(n) if !n.is_alphanumeric() => i += 1,
                Some(n) => return Err(format!("\\{n} is not supported; use a class like [0-9]")),
                None => return Err("a trailing \\".into()),
            },
            ']' if in_class => in_class = false,
            '[' if in_class => return Err("nested classes are not supported".into()),
            '&' | '-' | '~' if in_class && chars.get(i + 1) == Some(&c) => {
                return Err(format!("class operator {c}{c} is not supported"));
            }
            _ if in_class => {}
            '[' => {
                in_class = true;
                if chars.get(i + 1) == Some(&'^') {
                    i += 1;
                }
                // A `]` right after the opening is a literal in Rust, an empty class in Lucene.
                if chars.get(i + 1) == Some(&']') {
                    return Err("a class cannot start with ]; escape it as \\]".into());
                }
            }
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    return Err("(?…) groups and flags are not supported".into());
                }
                depth += 1;
            }
            ')' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => top_level_or = true,
            '^' if i != 0 => return Err("^ is only supported at the start".into()),
            '$' if i + 1 != chars.len() => return Err("$ is only supported at the end".into()),
            _ => {}
        }
        i += 1;
    }
    let anchored = pattern.starts_with('^') || (pattern.ends_with('$') && !pattern.ends_with("\\$"));
    if top_level_or && anchored {
        return Err("^ and $ with a top-level | are not supported: group the alternatives".into());
    }
    Ok(())
}

/// A pattern accepted by [`check_regex`] as a Lucene `regexp` over a whole keyword: unanchored
/// ends become `.*`, and characters special to Lucene only are escaped.
pub fn lucene_regex(pattern: &str) -> String {
    let mut body = pattern;
    let start = body.strip_prefix('^').inspect(|rest| body = rest).is_some();
    let end = body.ends_with('$') && !body.ends_with("\\$");
    if end {
        body = &body[..body.len() - 1];
    }
    let mut out = String::with_capacity(pattern.len() + 8);
    if !start {
        out.push_str(".*");
    }
    out.push('(');
    let mut chars = body.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '"' | '#' | '@' | '&' | '<' | '>' | '~' if !in_class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push(')');
    if !end {
        out.push_str(".*");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_subset_is_checked_and_translated() {
        for ok in ["^deb", "ian$", "a.b+c*", "^(a|b)$", "[a-z]{2,3}", "x\\.y", "a|b", "[^0-9]"] {
            assert!(check_regex(ok).is_ok(), "{ok}");
        }
        for bad in ["\\d+", "(?i)abc", "a^b", "^a|b", "a$b", "[[:alpha:]]", "[a&&b]", "[]a]"] {
            assert!(check_regex(bad).is_err(), "{bad}");
        }
        assert_eq!(lucene_regex("^deb"), "(deb).*");
        assert_eq!(lucene_regex("ian$"), ".*(ian)");
        assert_eq!(lucene_regex("a<b"), ".*(a\\<b).*");
        assert_eq!(lucene_regex("^x\\$"), "(x\\$).*");
    }
}
