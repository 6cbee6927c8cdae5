//! The errors a store operation can end with.

use std::io;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The key is not one this crate accepts (see [`crate::validate_key`]).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No object has this key.
    #[error("no object with key {0:?}")]
    NotFound(String),
    /// The requested byte range starts at or past the end of the object (HTTP 416).
    #[error("range not satisfiable: the object has {size} bytes")]
    RangeNotSatisfiable {
        /// The object's size, for `Content-Range: bytes */{size}`.
        size: u64,
    },
    /// The upload body ended at another length than the caller declared; nothing was stored.
    #[error("upload body has {actual} bytes, {expected} were declared")]
    LengthMismatch {
        /// The declared length.
        expected: u64,
        /// The length the body had (so far, when it ran past `expected`).
        actual: u64,
    },
    /// The upload body stream yielded an error; nothing was stored.
    #[error("upload body failed: {0}")]
    Body(#[source] io::Error),
    /// The object is larger than the backend can take with the configured part size.
    #[error("object too large: {0}")]
    TooLarge(String),
    /// The settings are unusable.
    #[error("storage configuration: {0}")]
    Config(String),
    /// A file system operation of the local store failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An S3 request failed.
    #[error("s3 {op}: {message}")]
    S3 {
        /// The S3 operation (`PutObject`, `UploadPart`, ...).
        op: &'static str,
        /// The SDK's description of the failure, with its causes.
        message: String,
    },
}

impl StoreError {
    /// An I/O error of the local store, labelled with what was being done.
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> StoreError {
        move |source| StoreError::Io { op, source }
    }

    /// True when the error is the caller's fault or a missing object rather than a backend
    /// failure: maps to a 4xx status instead of a 5xx.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::InvalidKey { .. }
                | StoreError::NotFound(_)
                | StoreError::RangeNotSatisfiable { .. }
                | StoreError::LengthMismatch { .. }
                | StoreError::Body(_)
                | StoreError::TooLarge(_)
        )
    }
}
