//! The local backend: one file per object under a root directory, written to a partial file
//! first and renamed into place, so a reader never sees half an upload.

use std::io::{self, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::fs::{self, File};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use crate::{GetObject, LinkSigner, ObjectMeta, RangeSpec, StoreError, validate_key};

/// Directory under the root holding uploads in progress. Keys cannot name it (no segment may
/// start with '.'), and it is on the same file system as the objects, so rename is atomic.
///
/// An upload holds an exclusive lock (`flock`) on its partial file until it is renamed into
/// place; the kernel drops the lock when the process dies, even by `kill -9`. So a partial file
/// nobody holds locked belongs to a dead upload, and `open` removes it at once; one that is
/// locked is a live upload of another process sharing the directory, and stays. (This needs a
/// file system where `flock` works across the sharers: local disks, NFSv4.)
const PARTIAL_DIR: &str = ".partial";

/// Read and write buffer size: large enough that a multi-GiB file is not a million syscalls.
const IO_BUFFER: usize = 256 * 1024;

/// Objects as files under a directory; download links are signed with a [`LinkSigner`].
///
/// An object's path is its key under the root, so no key may be a prefix directory of another
/// (`a` and `a/b` cannot both exist); the gateway's flat artifact ids never are.
#[derive(Debug, Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    signer: LinkSigner,
}

impl LocalStore {
    /// Use `root` (created if missing), removing the partial files of uploads that died.
    pub async fn open(root: impl AsRef<Path>, signer: LinkSigner) -> Result<LocalStore, StoreError> {
        let root = root.as_ref().to_path_buf();
        let partial = root.join(PARTIAL_DIR);
        fs::create_dir_all(&partial).await.map_err(StoreError::io("create storage directory"))?;
        remove_stale_partials(&partial).await;
        Ok(LocalStore { inner: Arc::new(Inner { root, signer }) })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The signer of this store's download links.
    pub fn signer(&self) -> &LinkSigner {
        &self.inner.signer
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        Ok(self.inner.root.join(key))
    }

    /// See [`crate::Store::put_stream`].
    pub async fn put_stream<S>(
        &self,
        key: &str,
        body: S,
        expected_len: Option<u64>,
    ) -> Result<u64, StoreError>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
    {
        let path = self.path_of(key)?;
        let name: [u8; 12] = rand::random();
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        // The guard removes the partial file on every way out but success, including the
        // future being dropped mid-upload (client gone, request timeout).
        let partial = PartialFile(Some(self.inner.root.join(PARTIAL_DIR).join(name)));
        let file = create_locked(partial.path()).await.map_err(StoreError::io("create partial file"))?;
        let mut out = BufWriter::with_capacity(IO_BUFFER, file);
        let mut body = std::pin::pin!(body);
        let mut total: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(StoreError::Body)?;
            total += chunk.len() as u64;
            if let Some(expected) = expected_len.filter(|&e| total > e) {
                return Err(StoreError::LengthMismatch { expected, actual: total });
            }
            out.write_all(&chunk).await.map_err(StoreError::io("write partial file"))?;
        }
        if let Some(expected) = expected_len.filter(|&e| total != e) {
            return Err(StoreError::LengthMismatch { expected, actual: total });
        }
        out.flush().await.map_err(StoreError::io("write partial file"))?;
        // Data must be on disk before the rename makes it visible, or a crash could leave a
        // complete-looking name over incomplete contents.
        out.into_inner().sync_all().await.map_err(StoreError::io("sync partial file"))?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).await.map_err(StoreError::io("create object directory"))?;
        }
        fs::rename(partial.path(), &path).await.map_err(StoreError::io("move upload into place"))?;
        partial.keep();
        Ok(total)
    }

    /// See [`crate::Store::get`].
    pub async fn get(&self, key: &str, range: Option<RangeSpec>) -> Result<GetObject, StoreError> {
        let path = self.path_of(key)?;
        let not_found = || StoreError::NotFound(key.to_owned());
        let mut file = match File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(StoreError::io("open object")(e)),
        };
        let meta = file.metadata().await.map_err(StoreError::io("stat object"))?;
        // A directory opens fine on Unix; it is a key prefix, not an object.
        if !meta.is_file() {
            return Err(not_found());
        }
        let size = meta.len();
        let range = match range {
            None => None,
            Some(spec) => Some(spec.resolve(size).ok_or(StoreError::RangeNotSatisfiable { size })?),
        };
        let (start, len) = range.map_or((0, size), |r| (r.start, r.len()));
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await.map_err(StoreError::io("seek object"))?;
        }
        let body = ReaderStream::with_capacity(file.take(len), IO_BUFFER);
        Ok(GetObject { size, range, body: Box::pin(body) })
    }

    /// See [`crate::Store::head`].
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => {
                Ok(Some(ObjectMeta { size: meta.len(), last_modified: meta.modified().ok() }))
            }
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("stat object")(e)),
        }
    }

    /// See [`crate::Store::delete`].
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            // A key prefix directory is no object: nothing to delete.
            Err(_) if fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) => Ok(()),
            Err(e) => Err(StoreError::io("delete object")(e)),
        }
    }

    /// See [`crate::Store::download_link`].
    pub fn download_link(
        &self,
        key: &str,
        expires_in: Duration,
        file_name: Option<&str>,
    ) -> Result<String, StoreError> {
        self.inner.signer.link(key, expires_in, file_name)
    }
}

/// A partial upload file, removed on drop unless kept.
struct PartialFile(Option<PathBuf>);

impl PartialFile {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("path is taken only by keep")
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            // Blocking, but one unlink; Drop cannot await and the file must not outlive us.
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "could not remove partial upload");
            }
        }
    }
}

/// Creates a partial file and takes its upload lock. A starting process may remove the file
/// between the two steps (it was not locked yet); the file at `path` is then not ours, and a
/// fresh one is made.
async fn create_locked(path: &Path) -> io::Result<File> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        loop {
            let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
            file.lock()?;
            match std::fs::metadata(&path) {
                Ok(m) if m.ino() == file.metadata()?.ino() => return Ok(File::from_std(file)),
                Ok(_) | Err(_) => continue,
            }
        }
    })
    .await
    .map_err(io::Error::other)?
}

/// Removes the partial files of dead uploads: those no live upload holds locked.
async fn remove_stale_partials(dir: &Path) {
    let dir = dir.to_owned();
    let removed = tokio::task::spawn_blocking(move || {
        let Ok(entries) = std::fs::read_dir(&dir) else { return 0 };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(file) = std::fs::OpenOptions::new().read(true).open(&path) else { continue };
            // Locked by a live upload: leave it. Our lock is held while we unlink, so an upload
            // cannot take the file over in between.
            if file.try_lock().is_err() {
                continue;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not remove a dead upload")
                }
            }
        }
        removed
    })
    .await
    .unwrap_or(0);
    if removed > 0 {
        tracing::info!(removed, "removed partial files of uploads that died");
    }
}
