//! What may be one token of a NATS subject: ids and names that reach a subject are checked here
//! first, so that no client can make a subject that nats-server refuses (a control line over
//! its limit drops the whole connection) or that matches more than one aggregate.

/// Longest token: ids are UUIDs (36), a device's part in a deployment is two of them (73),
/// claims are a kind plus 32 hex digits.
pub const MAX_TOKEN_LEN: usize = 128;

/// A subject token: 1..=[`MAX_TOKEN_LEN`] characters of `A-Z a-z 0-9 - _ :`. Wildcards
/// (`*`, `>`), the separator (`.`), whitespace and control characters are never part of one.
pub fn is_subject_token(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
}

/// A session id as the server makes them: a hyphenated UUID, nothing else.
pub fn is_session_id(sid: &str) -> bool {
    sid.len() == 36 && uuid_shape(sid)
}

fn uuid_shape(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_claims_are_tokens() {
        for t in ["default", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "a:b", "email-0123abcd", "user_1"] {
            assert!(is_subject_token(t), "{t}");
        }
    }

    #[test]
    fn separators_wildcards_spaces_controls_and_long_values_are_not() {
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for t in ["", "a.b", "*", ">", "a b", "a\tb", "a\0b", "../../x", "é", long.as_str()] {
            assert!(!is_subject_token(t), "{t:?}");
        }
    }

    #[test]
    fn a_session_id_is_exactly_a_hyphenated_uuid() {
        assert!(is_session_id("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        for s in ["", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", "{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}", "x.y"] {
            assert!(!is_session_id(s), "{s}");
        }
        assert!(!is_session_id(&"a".repeat(8192)));
    }
}
