//! Streaming parser and writer for Mender `.mender` artifact files (format versions 2 and 3).
//!
//! * [`ArtifactParser`] is a push parser for uploads: feed it the bytes as they arrive (in
//!   any chunking), then [`ArtifactParser::finish`] returns [`ArtifactMeta`], shaped like the
//!   artifact JSON of Mender's deployments service. Checksums of every file are verified
//!   against the manifest; payloads are hashed while streaming and never buffered.
//! * [`write_single_file_artifact`] (and its seekable variant) generates a version 3 artifact
//!   for the `single-file` update module, like Mender's "generate artifact" feature.
//! * [`write_configuration_artifact`] generates the `mender-configure` artifact that carries a
//!   device configuration deployment, like Mender's deployments service does on the fly.
//!
//! The tar, gzip-header and manifest handling is implemented here; compression codecs come
//! from `flate2`, `xz2` (feature `xz`) and `zstd` (feature `zstd`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod configure;
mod decompress;
mod error;
mod gzip;
mod header;
mod header_json;
mod manifest;
mod meta;
mod outer;
mod parser;
mod payload;
mod tar;
mod tar_header;
mod timefmt;
mod writer;
mod writer_plan;

pub use configure::{
    CONFIGURE_CLEARS_PROVIDES, CONFIGURE_PAYLOAD_TYPE, CONFIGURE_PROVIDES_KEY, ConfigurationArtifact,
    write_configuration_artifact,
};
pub use decompress::Compression;
pub use error::ArtifactError;
pub use meta::{ArtifactInfo, ArtifactMeta, Update, UpdateFile, UpdateTypeInfo};
pub use parser::{ArtifactParser, Limits, parse_reader};
pub use writer::{SingleFileArtifact, write_single_file_artifact, write_single_file_artifact_seekable};
