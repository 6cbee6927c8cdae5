//! The `manifest` / `manifest-augment` checksum lists and their bookkeeping.

use std::collections::BTreeMap;

use crate::error::ArtifactError;

/// Lower-case hex of a byte string.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[derive(Debug)]
struct Line {
    sum: String,
    seen: bool,
}

/// Expected SHA-256 of every file the manifests cover, and which of them were seen.
///
/// `manifest` and `manifest-augment` share one store (as in mender-artifact): a file may be
/// listed in either, but only once.
#[derive(Debug, Default)]
pub(crate) struct ChecksumStore {
    lines: BTreeMap<String, Line>,
}

impl ChecksumStore {
    /// Adds the lines of a manifest file (`file` names it in errors).
    ///
    /// Format, as written by `sha256sum`: `<64 lower-case hex>  <name>`, one per line.
    pub(crate) fn add(&mut self, file: &str, text: &[u8]) -> Result<(), ArtifactError> {
        let bad = |line: usize, reason: &str| ArtifactError::InvalidManifest {
            file: file.to_owned(),
            line,
            reason: reason.to_owned(),
        };
        let text = std::str::from_utf8(text).map_err(|_| bad(0, "not UTF-8 text"))?;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.is_empty() {
                continue;
            }
            let (sum, name) = line.split_once("  ").ok_or_else(|| bad(n, "expected '<sha256>  <file>'"))?;
            let sum = sum.to_ascii_lowercase();
            if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(n, "checksum is not 64 hex digits"));
            }
            if name.is_empty() {
                return Err(bad(n, "missing file name"));
            }
            if self.lines.insert(name.to_owned(), Line { sum, seen: false }).is_some() {
                return Err(bad(n, &format!("'{name}' is listed more than once")));
            }
        }
        Ok(())
    }

    /// Looks up the expected checksum of `name` and marks it seen; a file appearing twice
    /// in the artifact is an error.
    pub(crate) fn take(&mut self, name: &str) -> Result<String, ArtifactError> {
        match self.lines.get_mut(name) {
            None => Err(ArtifactError::MissingChecksum { file: name.to_owned() }),
            Some(line) if line.seen => {
                Err(ArtifactError::payload(format!("'{name}' appears more than once in the artifact")))
            }
            Some(line) => {
                line.seen = true;
                Ok(line.sum.clone())
            }
        }
    }

    /// Checks every listed file was seen (catches artifacts cut at an entry boundary and
    /// payloads declared but not shipped).
    pub(crate) fn check_all_seen(&self) -> Result<(), ArtifactError> {
        let missing: Vec<&str> =
            self.lines.iter().filter(|(_, l)| !l.seen).map(|(name, _)| name.as_str()).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ArtifactError::ManifestFilesMissing { files: missing.join(", ") })
        }
    }
}

/// Compares a digest against the manifest's expectation.
pub(crate) fn verify(file: &str, expected: &str, digest: &[u8]) -> Result<(), ArtifactError> {
    let actual = hex(digest);
    if actual == expected {
        Ok(())
    } else {
        Err(ArtifactError::ChecksumMismatch { file: file.to_owned(), expected: expected.to_owned(), actual })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "96bcd965947569404798bcbdb614f103db5a004eb6e364cfc162c146890ea35b";

    #[test]
    fn parses_and_marks() {
        let mut store = ChecksumStore::default();
        store.add("manifest", format!("{SUM}  version\n{SUM}  data/0000/a\n").as_bytes()).unwrap();
        assert_eq!(store.take("version").unwrap(), SUM);
        assert!(store.take("version").is_err());
        assert!(matches!(store.take("nope"), Err(ArtifactError::MissingChecksum { .. })));
        let err = store.check_all_seen().unwrap_err();
        assert!(err.to_string().contains("data/0000/a"), "{err}");
    }

    #[test]
    fn rejects_garbage() {
        for text in
            ["abc  version\n", "no separator\n", &format!("{SUM}  \n"), &format!("{SUM}  a\n{SUM}  a\n")]
        {
            let mut store = ChecksumStore::default();
            assert!(store.add("manifest", text.as_bytes()).is_err(), "{text:?}");
        }
    }

    #[test]
    fn hex_encodes() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
