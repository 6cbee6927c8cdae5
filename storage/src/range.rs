//! HTTP byte ranges (RFC 9110 §14): parsing a `Range: bytes=...` header, resolving it against
//! an object's size, and the `Content-Range` values of the 206 and 416 answers.
//!
//! How a download handler uses them:
//! - no header, or [`RangeSpec::parse`] gives `None` → `200 OK`, the whole object;
//! - `Some(spec)` and [`RangeSpec::resolve`] gives a [`ByteRange`] → `206 Partial Content`
//!   with `Content-Range: ` [`ByteRange::content_range`] and only those bytes;
//! - `Some(spec)` that resolves to `None` (the store's get says
//!   [`crate::StoreError::RangeNotSatisfiable`]) → `416 Range Not Satisfiable` with
//!   `Content-Range: ` [`unsatisfied_content_range`].

/// One requested byte range, before the object's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=first-last`: `first` to `last` inclusive (`last` is clamped to the end).
    FromTo(u64, u64),
    /// `bytes=first-`: from `first` to the end.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// A resolved, non-empty byte range: offsets `start..=end` of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive, as in `Content-Range`).
    pub end: u64,
}

impl RangeSpec {
    /// Parse a `Range` header value. `None` means "ignore the header and send the whole
    /// object", which RFC 9110 allows for anything not understood: another unit, bad syntax,
    /// `last < first`, and several ranges (devices resume with a single range; multipart
    /// byteranges answers are not worth their complexity here).
    pub fn parse(header: &str) -> Option<RangeSpec> {
        let (unit, set) = header.trim().split_once('=')?;
        if !unit.trim().eq_ignore_ascii_case("bytes") {
            return None;
        }
        let set = set.trim();
        if set.contains(',') {
            return None;
        }
        let (first, last) = set.split_once('-')?;
        let (first, last) = (first.trim(), last.trim());
        let number = |s: &str| -> Option<u64> {
            // u64::from_str takes a leading '+', which the grammar (1*DIGIT) does not.
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        match (first.is_empty(), last.is_empty()) {
            (true, true) => None,
            (true, false) => Some(RangeSpec::Suffix(number(last)?)),
            (false, true) => Some(RangeSpec::From(number(first)?)),
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                (first <= last).then_some(RangeSpec::FromTo(first, last))
            }
        }
    }

    /// The bytes of an object of `size` bytes this range selects, or `None` when it is
    /// unsatisfiable (416): it starts at or past the end, it is `-0`, or the object is empty.
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        let last = size.checked_sub(1)?;
        match self {
            RangeSpec::FromTo(start, end) if start <= last => Some(ByteRange { start, end: end.min(last) }),
            RangeSpec::From(start) if start <= last => Some(ByteRange { start, end: last }),
            RangeSpec::Suffix(n) if n > 0 => Some(ByteRange { start: size.saturating_sub(n), end: last }),
            _ => None,
        }
    }

    /// The header value that asks for this range (`bytes=...`), e.g. for an S3 GET.
    pub fn to_header(self) -> String {
        match self {
            RangeSpec::FromTo(first, last) => format!("bytes={first}-{last}"),
            RangeSpec::From(first) => format!("bytes={first}-"),
            RangeSpec::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

impl ByteRange {
    /// Number of bytes in the range (never 0).
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// Always false: a resolved range holds at least one byte (here for clippy's sake).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `Content-Range` of a 206 answer for an object of `size` bytes: `bytes start-end/size`.
    pub fn content_range(&self, size: u64) -> String {
        format!("bytes {}-{}/{size}", self.start, self.end)
    }

    /// Parse a 206 answer's `Content-Range: bytes start-end/size` into the range and the
    /// object's full size (`None` for a malformed value or an unknown size `*`).
    pub fn parse_content_range(value: &str) -> Option<(ByteRange, u64)> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (range, size) = rest.split_once('/')?;
        let (start, end) = range.split_once('-')?;
        let (start, end, size) = (start.parse().ok()?, end.parse().ok()?, size.parse().ok()?);
        (start <= end && end < size).then_some((ByteRange { start, end }, size))
    }
}

/// `Content-Range` of a 416 answer for an object of `size` bytes: `bytes */size`.
pub fn unsatisfied_content_range(size: u64) -> String {
    format!("bytes */{size}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(RangeSpec::parse("bytes=0-499"), Some(RangeSpec::FromTo(0, 499)));
        assert_eq!(RangeSpec::parse("bytes=500-"), Some(RangeSpec::From(500)));
        assert_eq!(RangeSpec::parse("bytes=-500"), Some(RangeSpec::Suffix(500)));
        assert_eq!(RangeSpec::parse(" Bytes = 1 - 2 "), Some(RangeSpec::FromTo(1, 2)));
        assert_eq!(RangeSpec::parse("bytes=7-7"), Some(RangeSpec::FromTo(7, 7)));
    }

    #[test]
    fn ignores_what_it_does_not_understand() {
        for header in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "items=0-1",
            "bytes=5-4",
            "bytes=0-1,3-4",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=99999999999999999999-",
            "bytes 0-1",
        ] {
            assert_eq!(RangeSpec::parse(header), None, "{header:?}");
        }
    }

    #[test]
    fn resolves_against_the_size() {
        let r = |start, end| Some(ByteRange { start, end });
        assert_eq!(RangeSpec::FromTo(0, 9).resolve(100), r(0, 9));
        assert_eq!(RangeSpec::FromTo(90, 1000).resolve(100), r(90, 99));
        assert_eq!(RangeSpec::From(99).resolve(100), r(99, 99));
        assert_eq!(RangeSpec::Suffix(10).resolve(100), r(90, 99));
        assert_eq!(RangeSpec::Suffix(1000).resolve(100), r(0, 99));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(RangeSpec::FromTo(100, 200).resolve(100), None);
        assert_eq!(RangeSpec::From(100).resolve(100), None);
        assert_eq!(RangeSpec::Suffix(0).resolve(100), None);
        assert_eq!(RangeSpec::Suffix(5).resolve(0), None);
        assert_eq!(RangeSpec::From(0).resolve(0), None);
    }

    #[test]
    fn header_values() {
        let range = ByteRange { start: 10, end: 19 };
        assert_eq!(range.len(), 10);
        assert_eq!(range.content_range(100), "bytes 10-19/100");
        assert_eq!(unsatisfied_content_range(100), "bytes */100");
        assert_eq!(ByteRange::parse_content_range("bytes 10-19/100"), Some((range, 100)));
        assert_eq!(ByteRange::parse_content_range("bytes 10-19/*"), None);
        assert_eq!(ByteRange::parse_content_range("bytes 10-100/100"), None);
        for spec in [RangeSpec::FromTo(1, 2), RangeSpec::From(3), RangeSpec::Suffix(4)] {
            assert_eq!(RangeSpec::parse(&spec.to_header()), Some(spec));
        }
    }
}
