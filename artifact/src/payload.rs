//! Streams the files of one `data/NNNN.tar*` through SHA-256 and checks them against the
//! manifest; payload bytes are hashed and dropped, never stored.

use sha2::{Digest, Sha256};

use crate::decompress::Decoder;
use crate::error::ArtifactError;
use crate::manifest::{ChecksumStore, verify};
use crate::meta::UpdateFile;
use crate::parser::Limits;
use crate::tar::{Entry, EntrySink, TarReader};
use crate::timefmt::rfc3339;

/// State of one data archive, kept between chunks.
pub(crate) struct DataState {
    archive: String,
    /// Payload number (`NNNN`).
    pub index: usize,
    payload_type: Option<String>,
    /// Version 2: the names `headers/NNNN/files` declares.
    declared: Option<Vec<String>>,
    current: Option<Current>,
    /// Files completed so far.
    pub files: Vec<UpdateFile>,
}

struct Current {
    manifest_name: String,
    expected: String,
    hasher: Sha256,
    file: UpdateFile,
}

impl DataState {
    /// State for `archive` (e.g. `data/0000.tar.gz`) holding payload `index`.
    pub(crate) fn new(
        archive: &str,
        index: usize,
        payload_type: Option<String>,
        declared: Option<Vec<String>>,
    ) -> Self {
        DataState {
            archive: archive.to_owned(),
            index,
            payload_type,
            declared,
            current: None,
            files: Vec::new(),
        }
    }

    /// Checks, once the archive is complete, that every file the header declared arrived.
    pub(crate) fn finish(&self) -> Result<(), ArtifactError> {
        for name in self.declared.iter().flatten() {
            if !self.files.iter().any(|f| &f.name == name) {
                return Err(ArtifactError::payload(format!(
                    "'{name}' is declared in headers/{:04}/files but missing from {}",
                    self.index, self.archive
                )));
            }
        }
        Ok(())
    }
}

/// Payload file names must be plain names of these characters (mender-artifact's rule,
/// which also keeps names safe to use as paths on the device).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b','))
}

/// Counters over all data archives of an artifact, checked against [`Limits`].
#[derive(Debug, Default)]
pub(crate) struct Totals {
    /// Payload files seen so far.
    pub files: usize,
    /// Decompressed payload bytes seen so far.
    pub unpacked: u64,
}

/// [`EntrySink`] for one data archive, borrowing the artifact-wide bookkeeping.
pub(crate) struct DataSink<'a> {
    /// The archive's own state.
    pub state: &'a mut DataState,
    /// Combined manifest, where files are marked as seen.
    pub manifest: &'a mut ChecksumStore,
    /// Artifact-wide counters.
    pub totals: &'a mut Totals,
    /// Caps for the counters.
    pub limits: &'a Limits,
}

impl EntrySink for DataSink<'_> {
    fn start(&mut self, entry: &Entry) -> Result<(), ArtifactError> {
        let st = &mut *self.state;
        if !valid_name(&entry.name) {
            return Err(ArtifactError::payload(format!(
                "file name '{}' in {} is not allowed: only letters, digits and '.,_-' may be used",
                entry.name, st.archive
            )));
        }
        if st.payload_type.is_none() {
            return Err(ArtifactError::payload(format!(
                "payload {} is an empty payload (type null) but {} contains '{}'",
                st.index, st.archive, entry.name
            )));
        }
        if st.payload_type.as_deref() == Some("rootfs-image") && !st.files.is_empty() {
            return Err(ArtifactError::payload(format!(
                "{}: a rootfs-image payload holds exactly one file",
                st.archive
            )));
        }
        if let Some(declared) = &st.declared
            && !declared.contains(&entry.name)
        {
            return Err(ArtifactError::payload(format!(
                "'{}' in {} is not declared in headers/{:04}/files",
                entry.name, st.archive, st.index
            )));
        }
        self.totals.files += 1;
        if self.totals.files > self.limits.max_payload_files {
            return Err(ArtifactError::TooLarge {
                what: "the number of payload files".into(),
                limit: self.limits.max_payload_files as u64,
                unit: "files",
            });
        }
        let manifest_name = format!("data/{:04}/{}", st.index, entry.name);
        let expected = self.manifest.take(&manifest_name)?;
        let file = UpdateFile {
            name: entry.name.clone(),
            checksum: String::new(),
            size: entry.size,
            date: rfc3339(entry.mtime),
        };
        st.current = Some(Current { manifest_name, expected, hasher: Sha256::new(), file });
        Ok(())
    }

    fn data(&mut self, chunk: &[u8]) -> Result<(), ArtifactError> {
        self.totals.unpacked = self.totals.unpacked.saturating_add(chunk.len() as u64);
        let limit = self.limits.max_unpacked_payload_size;
        if self.totals.unpacked > limit {
            return Err(ArtifactError::too_large("the unpacked payload", limit));
        }
        if let Some(cur) = &mut self.state.current {
            cur.hasher.update(chunk);
        }
        Ok(())
    }

    fn end(&mut self) -> Result<(), ArtifactError> {
        let Some(cur) = self.state.current.take() else { return Ok(()) };
        let digest = cur.hasher.finalize();
        verify(&cur.manifest_name, &cur.expected, &digest)?;
        let mut file = cur.file;
        file.checksum = cur.expected;
        self.state.files.push(file);
        Ok(())
    }
}

/// A data archive being streamed: decompressor, then tar reader, then the hashing sink.
pub(crate) struct DataPipe {
    pub decoder: Decoder,
    pub tar: TarReader,
    pub state: DataState,
}

impl DataPipe {
    /// Pushes `chunk` through the pipe, or with `None` flushes it and checks completeness.
    pub(crate) fn run(
        &mut self,
        chunk: Option<&[u8]>,
        manifest: &mut ChecksumStore,
        totals: &mut Totals,
        limits: &Limits,
    ) -> Result<(), ArtifactError> {
        let DataPipe { decoder, tar, state } = self;
        let mut sink = DataSink { state, manifest, totals, limits };
        match chunk {
            Some(chunk) => decoder.push(chunk, &mut |out| tar.feed(out, &mut sink)),
            None => {
                decoder.finish(&mut |out| tar.feed(out, &mut sink))?;
                tar.finish()?;
                state.finish()
            }
        }
    }
}
