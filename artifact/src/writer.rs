//! Generates version 3 artifacts for the `single-file` update module.
//!
//! The output matches what mender-client's `single-file-artifact-gen` produces through
//! `mender-artifact write module-image -T single-file`: payload files `dest_dir`, `filename`,
//! `permissions` (one line of text each) and the file itself; type-info providing
//! `rootfs-image.single-file.version` and clearing `rootfs-image.single-file.*`. The header is
//! gzip-compressed; the data archive is an uncompressed `data/0000.tar` so its size is known
//! before the payload is read and the payload can be streamed straight through.
//!
//! The manifest (which precedes the data) must hold the payload's SHA-256. Either the caller
//! knows it already ([`write_single_file_artifact`], e.g. computed while the upload was
//! stored) or the output is seekable and the line is patched afterwards
//! ([`write_single_file_artifact_seekable`]).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::ArtifactError;
use crate::manifest::hex;
use crate::payload::valid_name;
use crate::writer_plan::{CONTROL_FILES, Plan};

/// What to put into a generated single-file artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleFileArtifact {
    /// Artifact name (also the provided `rootfs-image.single-file.version`).
    pub artifact_name: String,
    /// Compatible device types; at least one.
    pub device_types: Vec<String>,
    /// Absolute directory the file is installed into on the device.
    pub dest_dir: String,
    /// Name of the installed file (letters, digits and `.,_-` only).
    pub file_name: String,
    /// Exact size of the file contents in bytes.
    pub file_size: u64,
    /// Mode the update module applies to the installed file. Default `0o644`.
    pub permissions: u32,
    /// Modification time (Unix seconds) stamped on all tar entries. Default: now.
    pub mtime: u64,
}

impl SingleFileArtifact {
    /// A description with default permissions (`0o644`) and the current time.
    pub fn new(
        artifact_name: impl Into<String>,
        device_types: Vec<String>,
        dest_dir: impl Into<String>,
        file_name: impl Into<String>,
        file_size: u64,
    ) -> Self {
        SingleFileArtifact {
            artifact_name: artifact_name.into(),
            device_types,
            dest_dir: dest_dir.into(),
            file_name: file_name.into(),
            file_size,
            permissions: 0o644,
            mtime: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }

    /// Rejects descriptions the update module or mender-artifact could not handle.
    pub(crate) fn validate(&self) -> Result<(), ArtifactError> {
        let bad = |msg: &str| Err(ArtifactError::InvalidInput(msg.to_owned()));
        let has_control = |s: &str| s.chars().any(char::is_control);
        if self.artifact_name.trim().is_empty() || has_control(&self.artifact_name) {
            return bad("the artifact name must be non-empty and free of control characters");
        }
        if self.device_types.is_empty()
            || self.device_types.iter().any(|d| d.trim().is_empty() || has_control(d))
        {
            return bad("at least one non-empty device type is required");
        }
        if !self.dest_dir.starts_with('/') || has_control(&self.dest_dir) {
            return bad("dest_dir must be an absolute path");
        }
        if !valid_name(&self.file_name) {
            return bad("the file name may only contain letters, digits and '.,_-'");
        }
        if CONTROL_FILES.contains(&self.file_name.as_str()) {
            return bad("the file name collides with a control file of the single-file module");
        }
        if self.permissions > 0o7777 {
            return bad("permissions must be at most 0o7777");
        }
        Ok(())
    }
}

/// Writes a single-file artifact in one pass to any writer. `file_sha256` must be the
/// SHA-256 of `contents`; it goes into the manifest before the payload is read, and the
/// payload is checked against it (and against `file_size`) as it streams through. On error
/// the output is incomplete and must be discarded. Returns the number of bytes written.
pub fn write_single_file_artifact<R: Read, W: Write>(
    spec: &SingleFileArtifact,
    file_sha256: &[u8; 32],
    contents: R,
    out: W,
) -> Result<u64, ArtifactError> {
    let plan = Plan::new(spec, &hex(file_sha256))?;
    let mut out = Counting { inner: out, pos: 0 };
    let digest = plan.write(spec, contents, &mut out)?;
    if &digest != file_sha256 {
        return Err(ArtifactError::ChecksumMismatch {
            file: format!("data/0000/{}", spec.file_name),
            expected: hex(file_sha256),
            actual: hex(&digest),
        });
    }
    out.inner.flush()?;
    Ok(out.pos)
}

/// Writes a single-file artifact when the payload's checksum is not known in advance: the
/// manifest line is written with a placeholder and patched once the payload has been
/// hashed, so the payload is still read only once. Writing starts at the current position
/// of `out`, which is left at the end of the artifact. Returns the number of bytes written.
pub fn write_single_file_artifact_seekable<R: Read, W: Write + Seek>(
    spec: &SingleFileArtifact,
    contents: R,
    mut out: W,
) -> Result<u64, ArtifactError> {
    let plan = Plan::new(spec, &"0".repeat(64))?;
    let start = out.stream_position()?;
    let mut counting = Counting { inner: out, pos: 0 };
    let digest = plan.write(spec, contents, &mut counting)?;
    let (mut out, len) = (counting.inner, counting.pos);
    out.seek(SeekFrom::Start(start + plan.checksum_offset))?;
    out.write_all(hex(&digest).as_bytes())?;
    out.seek(SeekFrom::Start(start + len))?;
    out.flush()?;
    Ok(len)
}

/// Counts bytes written so the seekable writer knows where it ended.
struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
