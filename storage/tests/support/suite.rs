//! Test cases every backend must pass, each taking a fresh, empty [`Store`].

use std::io;
use std::time::Duration;

use bytes::Bytes;
use fleetlog_storage::{ByteRange, RangeSpec, Store, StoreError};
use futures::StreamExt;

use super::{digest_of, generated_body, pattern, read_all};

const MIB: u64 = 1024 * 1024;
/// Odd-sized chunks, so parts never line up with them.
const CHUNK: usize = 64 * 1024 + 7;

/// 20 MiB (three S3 parts) streamed in and out, checked by SHA-256; a ranged read across the
/// first part boundary; and a body with no declared length.
pub async fn large_round_trip(store: &Store) {
    let len = 20 * MIB + 123;
    let (body, digest) = generated_body(1, len, CHUNK);
    assert_eq!(store.put_stream("big/one.mender", body, Some(len)).await.unwrap(), len);
    assert_eq!(store.head("big/one.mender").await.unwrap().unwrap().size, len);

    let object = store.get("big/one.mender", None).await.unwrap();
    assert_eq!((object.size, object.range, object.content_length()), (len, None, len));
    assert_eq!(digest_of(object.body).await, (len, digest));

    let (start, end) = (8 * MIB - 100, 8 * MIB + 99);
    let object = store.get("big/one.mender", Some(RangeSpec::FromTo(start, end))).await.unwrap();
    assert_eq!((object.size, object.range), (len, Some(ByteRange { start, end })));
    assert_eq!(read_all(object.body).await, generated_slice(1, len, start, end + 1));

    let (body, digest) = generated_body(2, 9 * MIB, CHUNK);
    assert_eq!(store.put_stream("big/two", body, None).await.unwrap(), 9 * MIB);
    assert_eq!(digest_of(store.get("big/two", None).await.unwrap().body).await, (9 * MIB, digest));
}

/// The bytes `start..end` of `generated_body(seed, len, CHUNK)`.
fn generated_slice(seed: u64, len: u64, start: u64, end: u64) -> Vec<u8> {
    let chunk = CHUNK as u64;
    let mut out = Vec::new();
    for i in start / chunk..end.div_ceil(chunk) {
        let n = (len - i * chunk).min(chunk) as usize;
        let piece = pattern(seed.wrapping_add(i.wrapping_mul(0x1_0000_0001)), n);
        let from = start.saturating_sub(i * chunk).min(n as u64) as usize;
        let to = (end - i * chunk).min(n as u64) as usize;
        out.extend_from_slice(&piece[from..to]);
    }
    out
}

/// Each form of range, clamping, and the unsatisfiable case.
pub async fn ranged_get(store: &Store) {
    let data = pattern(3, 1000);
    store.put("r", Bytes::from(data.clone())).await.unwrap();
    for (spec, start, end) in [
        (RangeSpec::FromTo(10, 19), 10, 19),
        (RangeSpec::FromTo(995, 5000), 995, 999),
        (RangeSpec::From(990), 990, 999),
        (RangeSpec::Suffix(5), 995, 999),
        (RangeSpec::Suffix(5000), 0, 999),
        (RangeSpec::FromTo(0, 0), 0, 0),
    ] {
        let object = store.get("r", Some(spec)).await.unwrap();
        assert_eq!((object.size, object.range), (1000, Some(ByteRange { start, end })), "{spec:?}");
        assert_eq!(object.content_length(), end - start + 1);
        assert_eq!(read_all(object.body).await, &data[start as usize..=end as usize], "{spec:?}");
    }
    for spec in [RangeSpec::From(1000), RangeSpec::FromTo(1000, 2000)] {
        let error = store.get("r", Some(spec)).await.unwrap_err();
        assert!(matches!(error, StoreError::RangeNotSatisfiable { size: 1000 }), "{spec:?}: {error}");
    }
}

/// Empty objects exist, read back empty, and satisfy no range.
pub async fn empty_object(store: &Store) {
    assert_eq!(store.put("empty", Bytes::new()).await.unwrap(), 0);
    assert_eq!(store.head("empty").await.unwrap().unwrap().size, 0);
    let object = store.get("empty", None).await.unwrap();
    assert_eq!(object.size, 0);
    assert!(read_all(object.body).await.is_empty());
    let error = store.get("empty", Some(RangeSpec::From(0))).await.unwrap_err();
    assert!(matches!(error, StoreError::RangeNotSatisfiable { size: 0 }), "{error}");
}

/// Missing keys: head is `None`, get is `NotFound`, delete succeeds; twice.
pub async fn missing_and_delete(store: &Store) {
    assert_eq!(store.head("never/written").await.unwrap(), None);
    assert!(matches!(store.get("never/written", None).await, Err(StoreError::NotFound(_))));
    store.delete("never/written").await.unwrap();

    store.put("doomed", Bytes::from_static(b"x")).await.unwrap();
    store.delete("doomed").await.unwrap();
    assert_eq!(store.head("doomed").await.unwrap(), None);
    assert!(matches!(store.get("doomed", None).await, Err(StoreError::NotFound(_))));
    store.delete("doomed").await.unwrap();
}

/// Uploads that fail midway — the body errors after 12 MiB (past the first S3 part), or is
/// shorter or longer than declared — store nothing and leave an older object as it was.
pub async fn failed_upload_leaves_nothing(store: &Store) {
    store.put("kept", Bytes::from_static(b"old contents")).await.unwrap();
    for key in ["fresh", "kept"] {
        let (body, _) = generated_body(4, 12 * MIB, CHUNK);
        let failing = body.chain(futures::stream::iter([Err(io::Error::other("client went away"))]));
        let error = store.put_stream(key, failing, None).await.unwrap_err();
        assert!(matches!(error, StoreError::Body(_)), "{error}");

        let (short, _) = generated_body(5, 10 * MIB, CHUNK);
        let error = store.put_stream(key, short, Some(10 * MIB + 1)).await.unwrap_err();
        assert!(matches!(error, StoreError::LengthMismatch { expected, actual } if actual == expected - 1));

        let (long, _) = generated_body(6, 10 * MIB, CHUNK);
        let error = store.put_stream(key, long, Some(MIB)).await.unwrap_err();
        assert!(matches!(error, StoreError::LengthMismatch { expected: MIB, .. }), "{error}");
    }
    assert_eq!(store.head("fresh").await.unwrap(), None);
    let kept = store.get("kept", None).await.unwrap();
    assert_eq!(read_all(kept.body).await, b"old contents");
}

/// An upload whose future is dropped midway (the HTTP client vanished) stores nothing.
/// Returns once the drop happened; backends check their own leftovers after.
pub async fn dropped_upload_leaves_nothing(store: &Store) {
    let (body, _) = generated_body(7, 12 * MIB, CHUNK);
    // After 12 MiB the body never ends, like a stalled client; the timeout drops the future.
    let stalled = body.chain(futures::stream::pending());
    let put = store.put_stream("dropped", stalled, None);
    assert!(tokio::time::timeout(Duration::from_secs(3), put).await.is_err());
    assert_eq!(store.head("dropped").await.unwrap(), None);
}

/// Concurrent uploads to different keys all land intact; concurrent uploads to one key leave
/// exactly one of them, whole.
pub async fn concurrent_puts(store: &Store) {
    let uploads = (0..6u64).map(|i| {
        let len = if i % 2 == 0 { 9 * MIB + i } else { 100_000 + i };
        let (body, digest) = generated_body(100 + i, len, CHUNK);
        async move {
            let key = format!("concurrent/{i}");
            assert_eq!(store.put_stream(&key, body, Some(len)).await.unwrap(), len);
            (key, len, digest)
        }
    });
    for (key, len, digest) in futures::future::join_all(uploads).await {
        assert_eq!(digest_of(store.get(&key, None).await.unwrap().body).await, (len, digest), "{key}");
    }

    let (bodies, digests): (Vec<_>, Vec<_>) =
        (0..4u64).map(|i| generated_body(200 + i, 6 * MIB, CHUNK)).unzip();
    let same_key = bodies.into_iter().map(|body| store.put_stream("contended", body, Some(6 * MIB)));
    for result in futures::future::join_all(same_key).await {
        result.unwrap();
    }
    let (len, digest) = digest_of(store.get("contended", None).await.unwrap().body).await;
    assert_eq!(len, 6 * MIB);
    assert!(digests.contains(&digest), "contended object is a mix of uploads");
}

/// Bad keys are refused by every operation before touching the backend.
pub async fn invalid_keys(store: &Store) {
    for key in ["../escape", "/abs", "a//b", ".partial/x", ""] {
        let invalid = |r: Result<(), StoreError>| matches!(r, Err(StoreError::InvalidKey { .. }));
        assert!(invalid(store.put(key, Bytes::from_static(b"x")).await.map(drop)), "{key:?}");
        assert!(invalid(store.get(key, None).await.map(drop)), "{key:?}");
        assert!(invalid(store.head(key).await.map(drop)), "{key:?}");
        assert!(invalid(store.delete(key).await), "{key:?}");
        assert!(invalid(store.download_link(key, Duration::from_secs(60), None).await.map(drop)), "{key:?}");
    }
}
