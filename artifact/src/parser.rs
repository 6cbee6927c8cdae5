//! The public push parser: feed an upload chunk by chunk, get [`ArtifactMeta`] at the end.

use std::io::Read;

use crate::error::ArtifactError;
use crate::meta::ArtifactMeta;
use crate::outer::Outer;
use crate::tar::TarReader;

/// Resource limits applied while parsing; every buffer the parser keeps is bounded by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest `header.tar*` / `header-augment.tar*` member, and largest total of the files
    /// inside it once decompressed. The compressed header is buffered up to this size.
    /// Default 16 MiB.
    pub max_header_size: u64,
    /// Largest `version`, `manifest`, `manifest.sig` or `manifest-augment`. Default 1 MiB.
    pub max_small_file_size: u64,
    /// Most payload files in the whole artifact. Default 10 000.
    pub max_payload_files: usize,
    /// Most decompressed payload bytes in the whole artifact; guards against decompression
    /// bombs costing unbounded CPU time. Default 256 GiB.
    pub max_unpacked_payload_size: u64,
    /// Memory liblzma may use for one `.xz` stream. Default 128 MiB (enough for `xz -9`).
    pub xz_memory_limit: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_size: 16 << 20,
            max_small_file_size: 1 << 20,
            max_payload_files: 10_000,
            max_unpacked_payload_size: 256 << 30,
            xz_memory_limit: 128 << 20,
        }
    }
}

/// Streaming parser for `.mender` artifacts (format versions 2 and 3).
///
/// Call [`feed`](Self::feed) with the artifact's bytes in any chunking, then
/// [`finish`](Self::finish). Payload data is decompressed and hashed as it arrives and never
/// stored, so an upload of many GiB can be stored elsewhere while it is checked here.
///
/// ```
/// # fn main() -> Result<(), fleetlog_artifact::ArtifactError> {
/// # let bytes = std::fs::read("tests/fixtures/rootfs-gzip.mender").unwrap();
/// use fleetlog_artifact::{ArtifactParser, Limits};
/// let mut parser = ArtifactParser::new(Limits::default());
/// for chunk in bytes.chunks(64 * 1024) {
///     parser.feed(chunk)?;
/// }
/// let meta = parser.finish()?;
/// assert_eq!(meta.name, "rootfs-gzip");
/// # Ok(()) }
/// ```
pub struct ArtifactParser {
    tar: TarReader,
    outer: Outer,
    size: u64,
    failed: Option<ArtifactError>,
}

impl ArtifactParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        ArtifactParser {
            tar: TarReader::new("artifact", true),
            outer: Outer::new(limits),
            size: 0,
            failed: None,
        }
    }

    /// Consumes the next chunk of the artifact.
    ///
    /// Errors are final: once one is returned, later calls (and `finish`) return it again.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ArtifactError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.size += chunk.len() as u64;
        let result = self.tar.feed(chunk, &mut self.outer);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Checks that the artifact is complete and valid and returns its metadata.
    pub fn finish(self) -> Result<ArtifactMeta, ArtifactError> {
        if let Some(err) = self.failed {
            return Err(err);
        }
        if self.size == 0 {
            return Err(ArtifactError::eof("the upload is empty"));
        }
        self.tar.finish()?;
        self.outer.finish(self.size)
    }

    /// Bytes fed so far.
    pub fn bytes_fed(&self) -> u64 {
        self.size
    }

    /// The artifact name, available as soon as the header has been parsed (before the
    /// payload arrives), e.g. to reject a duplicate upload early.
    pub fn artifact_name(&self) -> Option<&str> {
        self.outer.header().map(|h| h.info.name.as_str())
    }

    /// The compatible device types, available as soon as the header has been parsed.
    pub fn device_types(&self) -> Option<&[String]> {
        self.outer.header().map(|h| h.info.device_types.as_slice())
    }
}

/// Parses a whole artifact from a reader, 64 KiB at a time.
pub fn parse_reader(mut reader: impl Read, limits: Limits) -> Result<ArtifactMeta, ArtifactError> {
    let mut parser = ArtifactParser::new(limits);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        parser.feed(&buf[..n])?;
    }
    parser.finish()
}
