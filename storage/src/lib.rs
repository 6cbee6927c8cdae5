//! Blob storage for `.mender` artifacts (up to several GiB): streamed in, streamed out, never
//! held whole in memory, on local disk or on an S3-compatible object store.
//!
//! [`Store`] is the handle the gateway keeps; [`Store::open`] picks the backend from a
//! [`StorageConfig`]. Uploads take any `Stream` of `io::Result<Bytes>`, so an axum multipart
//! field can be mapped straight in while the handler inspects each chunk on its way; a
//! stream that yields an error (say, because the inspection rejected the artifact) aborts the
//! upload and leaves nothing behind. Downloads are handed to devices as links: the local
//! backend signs links to the gateway's own download route ([`LinkSigner`], served with
//! [`Store::get`] and the helpers in [`range`]), the S3 backend presigns links to S3.
#![forbid(unsafe_code)]

mod config;
mod error;
mod key;
mod link;
mod local;
pub mod range;
mod s3;
#[cfg(feature = "test-support")]
pub mod testing;

use std::fmt;
use std::io;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::Stream;

pub use config::{Backend, StorageConfig};
pub use error::StoreError;
pub use key::{MAX_KEY_LEN, validate_key};
pub use link::{LinkError, LinkSigner, MIN_SECRET_LEN, VerifiedLink, content_disposition};
pub use local::LocalStore;
pub use range::{ByteRange, RangeSpec};
pub use s3::S3Store;

/// A stream of an object's bytes, as [`Store::get`] returns it. It is `'static` and `Send`,
/// so it can become a response body directly (`axum::body::Body::from_stream`).
pub type BlobStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// The file name signed into local upload links ([`Store::upload_link`]); the download route
/// refuses links that carry it and the upload route accepts only those.
pub const UPLOAD_LINK_MARK: &str = "fleetlog-direct-upload";

/// What [`Store::head`] tells about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// When it was last written, if the backend says.
    pub last_modified: Option<SystemTime>,
}

/// An object being read: its full size, the part being sent, and the bytes.
pub struct GetObject {
    /// The whole object's size (for `Content-Range`).
    pub size: u64,
    /// `Some` when only this range is sent (answer 206), `None` for the whole object (200).
    pub range: Option<ByteRange>,
    /// The bytes: the range, or the whole object.
    pub body: BlobStream,
}

impl GetObject {
    /// Number of bytes `body` yields (for `Content-Length`).
    pub fn content_length(&self) -> u64 {
        self.range.map_or(self.size, |r| r.len())
    }
}

impl fmt::Debug for GetObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetObject").field("size", &self.size).field("range", &self.range).finish()
    }
}

/// The artifact store: one of the backends. Cheap to clone (the backends share their state).
#[derive(Debug, Clone)]
pub enum Store {
    /// Files under a directory.
    Local(LocalStore),
    /// An S3-compatible object store.
    S3(S3Store),
}

impl Store {
    /// Open the backend `config` selects. `link_url_prefix` is where the gateway serves local
    /// downloads, e.g. `{public url}/api/devices/v1/deployments/download`; links are
    /// `{link_url_prefix}/{key}?...` (the S3 backend ignores it and presigns S3 URLs).
    pub async fn open(config: &StorageConfig, link_url_prefix: &str) -> Result<Store, StoreError> {
        match config.backend {
            Backend::Local => {
                let signer = match &config.link_secret {
                    Some(secret) => LinkSigner::new(secret.as_bytes(), link_url_prefix)?,
                    None => {
                        tracing::warn!(
                            "no download link secret configured: using a random one, so links \
                             stop working on restart and on other replicas"
                        );
                        LinkSigner::random(link_url_prefix)
                    }
                };
                let dir = config.dir.clone().unwrap_or_else(|| "./data/artifacts".into());
                Ok(Store::Local(LocalStore::open(&dir, signer).await?))
            }
            Backend::S3 => Ok(Store::S3(S3Store::connect(config).await?)),
        }
    }

    /// Store the bytes of `body` under `key`, replacing any object there, and return how many
    /// there were. The object appears whole or not at all: if `body` yields an error, ends at
    /// another length than `expected_len`, or the future is dropped, nothing is stored.
    ///
    /// The body can be inspected on its way in, and rejected by yielding an error; with an
    /// axum multipart field, map its error with `io::Error::other` first. (A
    /// `tokio::sync::mpsc::Receiver<io::Result<Bytes>>` fits through
    /// `tokio_stream::wrappers::ReceiverStream`.)
    ///
    /// ```
    /// # async fn example(store: fleetlog_storage::Store) -> Result<(), fleetlog_storage::StoreError> {
    /// use bytes::Bytes;
    /// use futures::StreamExt;
    /// use std::io;
    ///
    /// let upload = futures::stream::iter([Ok(Bytes::from_static(b"MAGIC...")), Ok(Bytes::from_static(b"rest"))]);
    /// let mut seen = 0usize;
    /// let inspected = upload.map(move |chunk: io::Result<Bytes>| {
    ///     let chunk = chunk?;
    ///     if seen == 0 && !chunk.starts_with(b"MAGIC") {
    ///         return Err(io::Error::new(io::ErrorKind::InvalidData, "not an artifact"));
    ///     }
    ///     seen += chunk.len();
    ///     Ok(chunk)
    /// });
    /// let size = store.put_stream("artifacts/a1", inspected, None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_stream<S>(
        &self,
        key: &str,
        body: S,
        expected_len: Option<u64>,
    ) -> Result<u64, StoreError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        match self {
            Store::Local(store) => store.put_stream(key, body, expected_len).await,
            Store::S3(store) => store.put_stream(key, body, expected_len).await,
        }
    }

    /// Store `data` under `key` (for small objects; see [`Store::put_stream`]).
    pub async fn put(&self, key: &str, data: Bytes) -> Result<u64, StoreError> {
        let len = data.len() as u64;
        self.put_stream(key, futures::stream::iter([Ok(data)]), Some(len)).await
    }

    /// Read the object at `key`, or only `range` of it. Errors: [`StoreError::NotFound`],
    /// and [`StoreError::RangeNotSatisfiable`] (answer 416) for a range past the end.
    pub async fn get(&self, key: &str, range: Option<RangeSpec>) -> Result<GetObject, StoreError> {
        match self {
            Store::Local(store) => store.get(key, range).await,
            Store::S3(store) => store.get(key, range).await,
        }
    }

    /// Size and time of the object at `key`, or `None` when there is none.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        match self {
            Store::Local(store) => store.head(key).await,
            Store::S3(store) => store.head(key).await,
        }
    }

    /// Remove the object at `key`; removing a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self {
            Store::Local(store) => store.delete(key).await,
            Store::S3(store) => store.delete(key).await,
        }
    }

    /// A URL a device can download `key` from for `expires_in`, offering `file_name` as the
    /// name to save it under. The object's existence is not checked.
    pub async fn download_link(
        &self,
        key: &str,
        expires_in: Duration,
        file_name: Option<&str>,
    ) -> Result<String, StoreError> {
        match self {
            Store::Local(store) => store.download_link(key, expires_in, file_name),
            Store::S3(store) => store.download_link(key, expires_in, file_name).await,
        }
    }

    /// A URL a client can `PUT` the object `key` to for `expires_in` (direct uploads): a
    /// presigned PUT on S3; on local storage a link to the gateway's download route signed
    /// with [`UPLOAD_LINK_MARK`] as its file name, so that no download link can upload.
    pub async fn upload_link(&self, key: &str, expires_in: Duration) -> Result<String, StoreError> {
        match self {
            Store::Local(store) => store.signer().link(key, expires_in, Some(UPLOAD_LINK_MARK)),
            Store::S3(store) => store.upload_link(key, expires_in).await,
        }
    }

    /// The signer that checks this store's download links, for the gateway's download route;
    /// `None` for S3, whose links go to S3 itself.
    pub fn link_signer(&self) -> Option<&LinkSigner> {
        match self {
            Store::Local(store) => Some(store.signer()),
            Store::S3(_) => None,
        }
    }
}
