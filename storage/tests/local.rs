//! The local backend: the shared suite, partial-file hygiene, and signed links served by an
//! axum handler built the way the gateway's download route is meant to be.

mod support;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use fleetlog_storage::range::unsatisfied_content_range;
use fleetlog_storage::{LinkSigner, LocalStore, RangeSpec, Store, StoreError, content_disposition};
use support::suite;

macro_rules! suite_tests {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let (_dir, store) = support::local_store().await;
            suite::$case(&store).await;
        }
    )*};
}

suite_tests!(
    large_round_trip,
    ranged_get,
    empty_object,
    missing_and_delete,
    failed_upload_leaves_nothing,
    concurrent_puts,
    invalid_keys
);

fn partial_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join(".partial")).unwrap().count()
}

#[tokio::test]
async fn failed_and_dropped_uploads_leave_no_partial_files() {
    let (dir, store) = support::local_store().await;
    suite::failed_upload_leaves_nothing(&store).await;
    suite::dropped_upload_leaves_nothing(&store).await;
    assert_eq!(partial_files(dir.path()), 0);
}

#[tokio::test]
async fn open_removes_the_partial_files_of_dead_uploads_and_keeps_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join(".partial");
    std::fs::create_dir_all(&partial).unwrap();
    // A dead upload (its process was killed a moment ago: the file is fresh, and nobody holds it).
    std::fs::write(partial.join("dead"), b"half an upload").unwrap();
    // A live upload of another replica sharing the directory holds its file locked.
    let live = std::fs::File::create(partial.join("live")).unwrap();
    live.lock().unwrap();
    LocalStore::open(dir.path(), LinkSigner::random(support::LINK_PREFIX)).await.unwrap();
    assert!(!partial.join("dead").exists(), "a dead upload's partial file is removed at start");
    assert!(partial.join("live").exists(), "a live upload's partial file stays");
    drop(live);
    LocalStore::open(dir.path(), LinkSigner::random(support::LINK_PREFIX)).await.unwrap();
    assert!(!partial.join("live").exists(), "removed once its upload is gone");
}

#[tokio::test]
async fn an_upload_in_progress_survives_another_store_opening_the_directory() {
    let (dir, store) = support::local_store().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
    let body = tokio_stream_from(rx);
    let upload = tokio::spawn({
        let store = store.clone();
        async move { store.put_stream("obj", body, Some(6)).await }
    });
    tx.send(Ok(Bytes::from_static(b"abc"))).await.unwrap();
    while partial_files(dir.path()) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another replica starts on the same directory mid-upload.
    LocalStore::open(dir.path(), LinkSigner::random(support::LINK_PREFIX)).await.unwrap();
    tx.send(Ok(Bytes::from_static(b"def"))).await.unwrap();
    drop(tx);
    assert_eq!(upload.await.unwrap().unwrap(), 6);
    assert!(store.head("obj").await.unwrap().is_some());
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn key_prefix_directories_are_not_objects() {
    let (_dir, store) = support::local_store().await;
    store.put("a/b", Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(store.head("a").await.unwrap(), None);
    assert!(matches!(store.get("a", None).await, Err(StoreError::NotFound(_))));
    store.delete("a").await.unwrap();
    assert!(store.head("a/b").await.unwrap().is_some());
}

const ROUTE: &str = "/api/devices/v1/deployments/download";

/// The download handler, as the gateway would write it: verify the link, honour `Range`.
async fn download(
    State(store): State<Store>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let signer = store.link_signer().expect("local store");
    let Ok(link) = signer.verify(&key, query.as_deref().unwrap_or("")) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(RangeSpec::parse);
    match store.get(&key, range).await {
        Ok(object) => {
            let mut response = Response::builder()
                .status(if object.range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK })
                .header(header::ACCEPT_RANGES, "bytes")
                .header(header::CONTENT_LENGTH, object.content_length());
            if let Some(range) = object.range {
                response = response.header(header::CONTENT_RANGE, range.content_range(object.size));
            }
            if let Some(name) = &link.file_name {
                response = response.header(header::CONTENT_DISPOSITION, content_disposition(name));
            }
            response.body(Body::from_stream(object.body)).unwrap()
        }
        Err(StoreError::NotFound(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(StoreError::RangeNotSatisfiable { size }) => {
            let content_range = [(header::CONTENT_RANGE, unsatisfied_content_range(size))];
            (StatusCode::RANGE_NOT_SATISFIABLE, content_range).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::test]
async fn signed_links_are_served_and_checked() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let prefix = format!("http://{}{ROUTE}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let signer = LinkSigner::new(b"a test secret of 32 bytes.......", &prefix).unwrap();
    let store = Store::Local(LocalStore::open(dir.path(), signer).await.unwrap());
    let app = Router::new().route(&format!("{ROUTE}/{{*key}}"), get(download)).with_state(store.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let data = support::pattern(9, 3 * 1024 * 1024 + 5);
    store.put("t1/artifact.mender", Bytes::from(data.clone())).await.unwrap();
    let hour = Duration::from_secs(3600);
    let link = store.download_link("t1/artifact.mender", hour, Some("rootfs v2.mender")).await.unwrap();
    assert!(link.starts_with(&format!("{prefix}/t1/artifact.mender?expires=")), "{link}");

    let response = http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    assert!(disposition.contains("filename=\"rootfs v2.mender\""), "{disposition}");
    assert_eq!(response.bytes().await.unwrap(), data);

    // A device resuming an interrupted download.
    let response = http.get(&link).header(header::RANGE, "bytes=1000-").send().await.unwrap();
    assert_eq!(response.status(), 206);
    let total = data.len();
    let expected_range = format!("bytes 1000-{}/{total}", total - 1);
    assert_eq!(response.headers()[header::CONTENT_RANGE], expected_range.as_str());
    assert_eq!(response.bytes().await.unwrap(), &data[1000..]);

    let response = http.get(&link).header(header::RANGE, format!("bytes={total}-")).send().await.unwrap();
    assert_eq!(response.status(), 416);
    assert_eq!(response.headers()[header::CONTENT_RANGE], format!("bytes */{total}").as_str());

    // Forged: another key under the same signature, a changed signature, a later expiry.
    let forged_key = link.replace("t1/artifact.mender", "t1/other.mender");
    let digit = if link.ends_with('0') { "1" } else { "0" };
    let forged_signature = format!("{}{digit}", &link[..link.len() - 1]);
    let query = link.split_once('?').unwrap().1;
    let expires: u64 = query.split('&').find_map(|p| p.strip_prefix("expires=")).unwrap().parse().unwrap();
    let extended = link.replace(&format!("expires={expires}"), &format!("expires={}", expires + 3600));
    let unsigned = link.split_once('?').unwrap().0.to_owned();
    for bad in [forged_key, forged_signature, extended, unsigned] {
        assert_eq!(http.get(&bad).send().await.unwrap().status(), 403, "{bad}");
    }

    // Expired: signed for a moment already past.
    let signer = store.link_signer().unwrap();
    let past = signer.sign("t1/artifact.mender", 1_000_000, None);
    let expired = format!("{prefix}/t1/artifact.mender?{past}");
    assert_eq!(http.get(&expired).send().await.unwrap().status(), 403);

    // Genuine link to a deleted object.
    store.delete("t1/artifact.mender").await.unwrap();
    assert_eq!(http.get(&link).send().await.unwrap().status(), 404);
    server.abort();
}
