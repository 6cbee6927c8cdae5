//! The S3 backend against a real SeaweedFS: the shared suite, multipart hygiene, presigned
//! links fetched over plain HTTP, and bucket handling.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use fleetlog_storage::testing::SeaweedFs;
use fleetlog_storage::{S3Store, Store, StoreError};
use support::suite;

macro_rules! suite_tests {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let Some((_server, store)) = support::s3_store(stringify!($case)).await else { return };
            suite::$case(&store).await;
        }
    )*};
}

suite_tests!(large_round_trip, ranged_get, empty_object, missing_and_delete, concurrent_puts, invalid_keys);

fn s3(store: &Store) -> &S3Store {
    match store {
        Store::S3(s3) => s3,
        Store::Local(_) => unreachable!("an S3 test store"),
    }
}

/// Multipart uploads still open in the bucket, waiting up to 5 s for background aborts.
async fn open_multipart_uploads(store: &S3Store) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed = store.client().list_multipart_uploads().bucket(store.bucket()).send().await.unwrap();
        let open = listed.uploads().len();
        if open == 0 || Instant::now() > deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn failed_and_dropped_uploads_leave_no_multipart_upload() {
    let Some((_server, store)) = support::s3_store("failed_and_dropped_uploads").await else { return };
    // Sanity check that listing sees an open upload at all, or the zeros below prove nothing.
    let started = s3(&store).client().create_multipart_upload().bucket("artifacts").key("probe").send().await;
    let upload_id = started.unwrap().upload_id.unwrap();
    assert_eq!(open_multipart_uploads(s3(&store)).await, 1);
    let abort = s3(&store).client().abort_multipart_upload().bucket("artifacts").key("probe");
    abort.upload_id(upload_id).send().await.unwrap();

    suite::failed_upload_leaves_nothing(&store).await;
    assert_eq!(open_multipart_uploads(s3(&store)).await, 0, "after failed uploads");
    suite::dropped_upload_leaves_nothing(&store).await;
    assert_eq!(open_multipart_uploads(s3(&store)).await, 0, "after a dropped upload");
    assert_eq!(store.head("dropped").await.unwrap(), None);
}

#[tokio::test]
async fn presigned_links_work_over_plain_http() {
    let Some((server, store)) = support::s3_store("presigned_links").await else { return };
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let data = support::pattern(11, 2 * 1024 * 1024 + 3);
    store.put("t1/a.mender", Bytes::from(data.clone())).await.unwrap();

    let link =
        store.download_link("t1/a.mender", Duration::from_secs(600), Some("rootfs v2.mender")).await.unwrap();
    assert!(link.starts_with(&format!("{}/artifacts/t1/a.mender?", server.endpoint())), "{link}");
    let response = http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 200, "{link}");
    let disposition = response.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        disposition.as_deref(),
        Some(fleetlog_storage::content_disposition("rootfs v2.mender").as_str())
    );
    assert_eq!(response.bytes().await.unwrap(), data);

    let response = http.get(&link).header("range", "bytes=-10").send().await.unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.bytes().await.unwrap(), &data[data.len() - 10..]);

    // Tampering with the signed query, or the key, is refused.
    let tampered = link.replace("X-Amz-Expires=600", "X-Amz-Expires=601");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403, "{tampered}");
    let other_key = link.replace("t1/a.mender", "t1/b.mender");
    assert_eq!(http.get(&other_key).send().await.unwrap().status(), 403);

    let short = store.download_link("t1/a.mender", Duration::from_secs(1), None).await.unwrap();
    assert_eq!(http.get(&short).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(http.get(&short).send().await.unwrap().status(), 403, "expired link");

    let too_long = store.download_link("t1/a.mender", Duration::from_secs(8 * 24 * 3600), None).await;
    assert!(matches!(too_long, Err(StoreError::Config(_))));
}

#[tokio::test]
async fn public_endpoint_goes_into_links() {
    let Some(server) = SeaweedFs::start_or_skip("public_endpoint") else { return };
    let mut config = server.storage_config("artifacts");
    config.s3_public_endpoint = Some("https://cdn.invalid:8443".into());
    let store = Store::open(&config, "").await.unwrap();
    let link = store.download_link("k", Duration::from_secs(60), None).await.unwrap();
    assert!(link.starts_with("https://cdn.invalid:8443/artifacts/k?"), "{link}");
}

#[tokio::test]
async fn bucket_is_created_once_and_credentials_are_checked() {
    let Some(server) = SeaweedFs::start_or_skip("bucket_handling") else { return };
    let config = server.storage_config("fresh-bucket");
    let first = Store::open(&config, "").await.unwrap();
    first.put("k", Bytes::from_static(b"v")).await.unwrap();
    // A second replica starting against the existing bucket keeps its contents.
    let second = Store::open(&config, "").await.unwrap();
    assert_eq!(second.head("k").await.unwrap().unwrap().size, 1);

    let mut no_create = server.storage_config("missing-bucket");
    no_create.s3_create_bucket = false;
    let store = Store::open(&no_create, "").await.unwrap();
    assert!(matches!(store.put("k", Bytes::from_static(b"v")).await, Err(StoreError::S3 { .. })));

    let mut wrong = server.storage_config("fresh-bucket");
    wrong.s3_secret_key = Some("not the secret".into());
    let error = Store::open(&wrong, "").await.unwrap_err();
    assert!(matches!(error, StoreError::S3 { op: "HeadBucket", .. }), "{error}");

    let mut missing = server.storage_config("b");
    missing.s3_access_key = None;
    assert!(matches!(Store::open(&missing, "").await, Err(StoreError::Config(_))));
}

#[tokio::test]
async fn startup_time() {
    let Some(server) = SeaweedFs::start_or_skip("startup_time") else { return };
    // Generous bound: it is about one second on two cores; this catches a hang-until-timeout.
    assert!(server.startup < Duration::from_secs(15), "{:?}", server.startup);
    std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("weed startup: {:?}\n", server.startup).as_bytes(),
    )
    .unwrap();
}
