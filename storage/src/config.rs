//! Storage settings: one struct that is both a clap argument group (flatten it into the
//! `serve` flags) and a serde record (for config files and tests).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which backend holds the blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Files under a local directory; downloads go through the gateway with signed links.
    #[default]
    Local,
    /// An S3-compatible object store; devices download with presigned URLs.
    S3,
}

/// Storage settings. Secrets are left out of `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct StorageConfig {
    /// Where artifacts are stored: `local` (files under --storage-dir) or `s3`.
    #[arg(long = "storage-backend", env = "FLEETLOG_STORAGE_BACKEND", value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Directory of the local backend (default: `<data-dir>/artifacts` in the gateway,
    /// `./data/artifacts` otherwise).
    #[arg(long = "storage-dir", env = "FLEETLOG_STORAGE_DIR")]
    pub dir: Option<PathBuf>,
    /// Secret (at least 16 bytes) signing the local backend's download links. Give replicas the
    /// same one. Without it a random one is made at start and links die with the process.
    #[arg(long = "storage-link-secret", env = "FLEETLOG_STORAGE_LINK_SECRET", hide_env_values = true)]
    pub link_secret: Option<String>,
    /// How long a download link stays valid, in seconds (S3 allows at most 7 days).
    #[arg(
        long = "storage-link-expiry-secs",
        env = "FLEETLOG_STORAGE_LINK_EXPIRY_SECS",
        default_value_t = 3600
    )]
    pub link_expiry_secs: u64,
    /// S3 endpoint URL, e.g. `http://127.0.0.1:8333`; required for the s3 backend.
    #[arg(long = "s3-endpoint", env = "FLEETLOG_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Endpoint put into presigned links when devices reach S3 under another address than the
    /// gateway does (defaults to --s3-endpoint).
    #[arg(long = "s3-public-endpoint", env = "FLEETLOG_S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<String>,
    /// S3 region (signing scope; any value for most S3-compatible servers).
    #[arg(long = "s3-region", env = "FLEETLOG_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Bucket holding the artifacts.
    #[arg(long = "s3-bucket", env = "FLEETLOG_S3_BUCKET", default_value = "fleetlog-artifacts")]
    pub s3_bucket: String,
    /// S3 access key id.
    #[arg(long = "s3-access-key", env = "FLEETLOG_S3_ACCESS_KEY")]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[arg(long = "s3-secret-key", env = "FLEETLOG_S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which S3-compatible servers need;
    /// `false` for virtual-host style (`bucket.endpoint/key`).
    #[arg(long = "s3-path-style", env = "FLEETLOG_S3_PATH_STYLE", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub s3_path_style: bool,
    /// Create the bucket at start when it does not exist.
    #[arg(long = "s3-create-bucket", env = "FLEETLOG_S3_CREATE_BUCKET", default_value_t = true,
          action = clap::ArgAction::Set)]
    pub s3_create_bucket: bool,
    /// Multipart upload part size in MiB (at least 5); one part is buffered in memory per
    /// upload, plus one in flight.
    #[arg(long = "s3-part-size-mib", env = "FLEETLOG_S3_PART_SIZE_MIB", default_value_t = 8)]
    pub s3_part_size_mib: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: Backend::Local,
            dir: None,
            link_secret: None,
            link_expiry_secs: 3600,
            s3_endpoint: None,
            s3_public_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_bucket: "fleetlog-artifacts".into(),
            s3_access_key: None,
            s3_secret_key: None,
            s3_path_style: true,
            s3_create_bucket: true,
            s3_part_size_mib: 8,
        }
    }
}

impl StorageConfig {
    /// The default lifetime of download links.
    pub fn link_expiry(&self) -> Duration {
        Duration::from_secs(self.link_expiry_secs)
    }
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("StorageConfig")
            .field("backend", &self.backend)
            .field("dir", &self.dir)
            .field("link_secret", &redacted(&self.link_secret))
            .field("link_expiry_secs", &self.link_expiry_secs)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_public_endpoint", &self.s3_public_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_access_key", &self.s3_access_key)
            .field("s3_secret_key", &redacted(&self.s3_secret_key))
            .field("s3_path_style", &self.s3_path_style)
            .field("s3_create_bucket", &self.s3_create_bucket)
            .field("s3_part_size_mib", &self.s3_part_size_mib)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        storage: StorageConfig,
    }

    #[test]
    fn clap_defaults_match_default() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.storage, StorageConfig::default());
    }

    #[test]
    fn clap_flags() {
        let cli = Cli::try_parse_from([
            "x",
            "--storage-backend",
            "s3",
            "--s3-endpoint",
            "http://127.0.0.1:1",
            "--s3-path-style",
            "false",
            "--s3-secret-key",
            "hush",
        ])
        .unwrap();
        assert_eq!(cli.storage.backend, Backend::S3);
        assert!(!cli.storage.s3_path_style);
        assert!(!format!("{:?}", cli.storage).contains("hush"));
    }

    #[test]
    fn serde_fills_defaults() {
        let config: StorageConfig = serde_json::from_str(r#"{"backend": "s3", "s3_bucket": "b"}"#).unwrap();
        assert_eq!(config.backend, Backend::S3);
        assert_eq!(config.s3_bucket, "b");
        assert_eq!(config.s3_region, "us-east-1");
    }
}
