//! The single error type of this crate, with messages meant to be shown to API users.

/// Everything that can go wrong while parsing or writing a Mender artifact.
///
/// Messages are phrased so that the person who uploaded the file can act on them (they end
/// up in `{"error": ...}` bodies); variants carry the offending file name where there is
/// one. The type is `Clone` so a failed parser can report the same error again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The input stopped before the artifact was complete.
    #[error("unexpected end of artifact: {context}")]
    UnexpectedEof {
        /// What ended early, e.g. `the upload is truncated`.
        context: String,
    },
    /// The input is not a tar archive at all.
    #[error("not a tar archive: a .mender artifact must be an uncompressed tar file")]
    NotATar,
    /// A tar header (outer or embedded) is malformed.
    #[error("corrupt tar data in {archive}: {reason}")]
    CorruptTar {
        /// `artifact` for the outer tar, else the embedded archive's name.
        archive: String,
        /// What is wrong.
        reason: String,
    },
    /// A tar entry of a kind artifacts never contain (link, device, fifo ...).
    #[error("unsupported tar entry '{name}' in {archive}: only regular files are allowed")]
    UnsupportedEntry {
        /// Archive holding the entry.
        archive: String,
        /// Entry name.
        name: String,
    },
    /// A file appeared where the format does not allow it.
    #[error("invalid artifact structure: found '{found}' where {expected} was expected")]
    WrongOrder {
        /// The file that was found.
        found: String,
        /// Human description of what may come at that point.
        expected: String,
    },
    /// A required file is absent.
    #[error("invalid artifact: missing '{file}'")]
    MissingFile {
        /// The missing file.
        file: String,
    },
    /// The `version` file names a format version this crate cannot read.
    #[error("unsupported version {version}; supported versions are: 2, 3")]
    UnsupportedVersion {
        /// The version found (as written, it may not even be a number).
        version: String,
    },
    /// The `version` file does not say `"format": "mender"`.
    #[error("unsupported artifact format '{format}': expected 'mender'")]
    UnsupportedFormat {
        /// The format found.
        format: String,
    },
    /// A file's SHA-256 does not match the manifest.
    #[error("invalid checksum for '{file}': manifest says {expected}, content is {actual}")]
    ChecksumMismatch {
        /// File whose content did not match.
        file: String,
        /// Hex digest from the manifest.
        expected: String,
        /// Hex digest of the bytes received.
        actual: String,
    },
    /// A file that must be covered by the manifest is not listed in it.
    #[error("invalid artifact: '{file}' has no checksum in the manifest")]
    MissingChecksum {
        /// The unlisted file.
        file: String,
    },
    /// The manifest lists files that never appeared in the artifact.
    #[error("invalid artifact: files listed in the manifest are missing: {files}")]
    ManifestFilesMissing {
        /// Comma-separated names.
        files: String,
    },
    /// A manifest line is not `<sha256 hex>  <name>`.
    #[error("invalid {file} line {line}: {reason}")]
    InvalidManifest {
        /// `manifest` or `manifest-augment`.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A JSON header file does not parse.
    #[error("invalid JSON in {file}: {reason}")]
    InvalidJson {
        /// The file, e.g. `header-info` or `headers/0000/type-info`.
        file: String,
        /// Parser message.
        reason: String,
    },
    /// A header file parses but its content is not acceptable.
    #[error("invalid {file}: {reason}")]
    InvalidHeader {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// Payload data does not match what the header declares.
    #[error("invalid payload: {reason}")]
    InvalidPayload {
        /// What is wrong.
        reason: String,
    },
    /// A `.tar.<ext>` file uses a compression this build cannot decode.
    #[error("unsupported compression for '{file}': supported are none, .gz, .xz and .zst")]
    UnsupportedCompression {
        /// The file name.
        file: String,
    },
    /// Compressed data is corrupt.
    #[error("corrupt compressed data in '{file}': {reason}")]
    Decompress {
        /// The compressed file.
        file: String,
        /// Decoder message.
        reason: String,
    },
    /// A configured limit was exceeded (header size, payload count, ...).
    #[error("{what} is too large: more than {limit} {unit}")]
    TooLarge {
        /// What grew too large, e.g. `header.tar.gz`.
        what: String,
        /// The limit that was exceeded.
        limit: u64,
        /// `bytes` or `files`.
        unit: &'static str,
    },
    /// The writer was given unusable input.
    #[error("cannot generate artifact: {0}")]
    InvalidInput(String),
    /// Reading the payload or writing the output failed.
    #[error("I/O error while generating artifact: {0}")]
    Io(String),
}

impl ArtifactError {
    /// Shorthand for [`ArtifactError::UnexpectedEof`].
    pub(crate) fn eof(context: impl Into<String>) -> Self {
        ArtifactError::UnexpectedEof { context: context.into() }
    }

    /// Shorthand for [`ArtifactError::CorruptTar`].
    pub(crate) fn tar(archive: &str, reason: impl Into<String>) -> Self {
        ArtifactError::CorruptTar { archive: archive.to_owned(), reason: reason.into() }
    }

    /// Shorthand for [`ArtifactError::InvalidHeader`].
    pub(crate) fn header(file: impl Into<String>, reason: impl Into<String>) -> Self {
        ArtifactError::InvalidHeader { file: file.into(), reason: reason.into() }
    }

    /// Shorthand for [`ArtifactError::InvalidPayload`].
    pub(crate) fn payload(reason: impl Into<String>) -> Self {
        ArtifactError::InvalidPayload { reason: reason.into() }
    }

    /// Shorthand for a byte-sized [`ArtifactError::TooLarge`].
    pub(crate) fn too_large(what: impl Into<String>, limit: u64) -> Self {
        ArtifactError::TooLarge { what: what.into(), limit, unit: "bytes" }
    }
}

impl From<std::io::Error> for ArtifactError {
    fn from(err: std::io::Error) -> Self {
        ArtifactError::Io(err.to_string())
    }
}
