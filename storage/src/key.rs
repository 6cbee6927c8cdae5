//! Object keys: the one syntax both backends accept, so a key is safe as a relative file path,
//! as an S3 key and as a URL path without escaping.

use crate::StoreError;

/// Longest key accepted, in bytes (S3 allows 1024; file systems need room for the root).
pub const MAX_KEY_LEN: usize = 512;

/// Check that `key` is a valid object key.
///
/// A key is one or more `/`-separated segments; each segment is non-empty, made of ASCII
/// letters, digits and `-_.~`, and does not start with `.`. That rules out `..`, absolute
/// paths, backslashes and hidden files (the local store keeps its partial uploads in a
/// dot-directory, which no key can name).
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    let invalid = |reason| Err(StoreError::InvalidKey { key: key.to_owned(), reason });
    if key.is_empty() {
        return invalid("empty");
    }
    if key.len() > MAX_KEY_LEN {
        return invalid("longer than 512 bytes");
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return invalid("empty path segment (leading, trailing or doubled '/')");
        }
        if segment.starts_with('.') {
            return invalid("a path segment starts with '.'");
        }
        if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)) {
            return invalid("only ASCII letters, digits, '-', '_', '.', '~' and '/' are allowed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_keys() {
        for key in ["a", "artifacts/0190-abc.mender", "t1/x/y/z_~-.v2", "a.b"] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn rejects_escapes_and_oddities() {
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for key in [
            "",
            "/abs",
            "a/",
            "a//b",
            "..",
            "a/../b",
            "./a",
            ".hidden",
            "a/.partial/x",
            "a\\b",
            "a b",
            "é",
            "a\0b",
            "a?b",
            "a%2e",
            &long,
        ] {
            assert!(matches!(validate_key(key), Err(StoreError::InvalidKey { .. })), "{key:?}");
        }
    }
}
