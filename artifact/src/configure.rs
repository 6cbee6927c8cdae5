//! Generates the configuration artifacts of Mender's "configure" add-on.
//!
//! When a device configuration is deployed, Mender's deployments service builds a version 3
//! artifact on the fly (`GenerateConfigurationImage`) with one payload of the update module
//! type `mender-configure` and no payload files: the configuration JSON object itself is the
//! payload's `headers/0000/meta-data`, which the Mender client hands to the module as
//! `header/meta-data` and the module copies to the device's configuration file. The details
//! this writer reproduces:
//!
//! * the artifact is named `configuration-<deployment id>` (the name the
//!   `deploy_device_configuration` workflow gives the deployment, which becomes the
//!   artifact name), see [`ConfigurationArtifact::for_deployment`];
//! * it depends on exactly one device type, the requesting device's;
//! * type-info provides `data-partition.mender-configure.version` = the artifact name and
//!   clears `data-partition.mender-configure.*`, so each configuration replaces the last;
//! * nothing is compressed (`header.tar`, `data/0000.tar`), and `data/0000.tar` is present
//!   but empty (just the end-of-archive marker), as mender-artifact writes a payload without
//!   files.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::error::ArtifactError;
use crate::manifest::hex;
use crate::tar::BLOCK;
use crate::writer_plan::{HeaderInfo, PayloadType, TypeInfo, push_entry, to_json};

/// Update module (payload) type of configuration artifacts.
pub const CONFIGURE_PAYLOAD_TYPE: &str = "mender-configure";
/// Provide set by a configuration artifact; its value is the artifact name.
pub const CONFIGURE_PROVIDES_KEY: &str = "data-partition.mender-configure.version";
/// Provides cleared by a configuration artifact (those of the previous configuration).
pub const CONFIGURE_CLEARS_PROVIDES: &str = "data-partition.mender-configure.*";

/// What to put into a generated configuration artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigurationArtifact {
    /// Artifact name; Mender uses `configuration-<deployment id>`.
    pub artifact_name: String,
    /// The one device type the artifact installs on (the requesting device's).
    pub device_type: String,
    /// The configuration, written as the compact JSON object `headers/0000/meta-data` with
    /// sorted keys, like Go's encoder (which also escapes `<`, `>` and `&` as `\u003c` etc.;
    /// the JSON value is the same). May be empty: the module then installs `{}`.
    pub configuration: BTreeMap<String, String>,
    /// Modification time (Unix seconds) stamped on the outer tar entries.
    pub mtime: u64,
}

impl ConfigurationArtifact {
    /// The artifact of a configuration deployment, named `configuration-<deployment_id>` as
    /// Mender names it, stamped with the current time.
    pub fn for_deployment(
        deployment_id: &str,
        device_type: impl Into<String>,
        configuration: BTreeMap<String, String>,
    ) -> Self {
        ConfigurationArtifact {
            artifact_name: format!("configuration-{deployment_id}"),
            device_type: device_type.into(),
            configuration,
            mtime: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        }
    }

    /// Rejects names and device types that the client could not match or store.
    fn validate(&self) -> Result<(), ArtifactError> {
        let bad = |msg: &str| Err(ArtifactError::InvalidInput(msg.to_owned()));
        let unusable = |s: &str| s.trim().is_empty() || s.chars().any(char::is_control);
        if unusable(&self.artifact_name) {
            return bad("the artifact name must be non-empty and free of control characters");
        }
        if unusable(&self.device_type) {
            return bad("the device type must be non-empty and free of control characters");
        }
        Ok(())
    }
}

/// Writes a configuration artifact to `out` and flushes it. The artifact is a few KiB and is
/// built in memory first, so nothing is written when `spec` is invalid. Returns the number
/// of bytes written.
pub fn write_configuration_artifact<W: Write>(
    spec: &ConfigurationArtifact,
    mut out: W,
) -> Result<u64, ArtifactError> {
    let bytes = configuration_artifact_bytes(spec)?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(bytes.len() as u64)
}

/// The complete artifact.
fn configuration_artifact_bytes(spec: &ConfigurationArtifact) -> Result<Vec<u8>, ArtifactError> {
    spec.validate()?;
    let version = br#"{"format":"mender","version":3}"#.to_vec();
    let header = header_tar(spec)?;
    // An empty payload archive: only the end-of-archive marker.
    let data = vec![0u8; 2 * BLOCK];
    // The manifest lists every file but itself; there are no payload files to list.
    let mut sums = BTreeMap::new();
    sums.insert("header.tar", hex(&Sha256::digest(&header)));
    sums.insert("version", hex(&Sha256::digest(&version)));
    let manifest: String = sums.iter().map(|(name, sum)| format!("{sum}  {name}\n")).collect();

    let mut out = Vec::new();
    push_entry(&mut out, "version", &version, spec.mtime);
    push_entry(&mut out, "manifest", manifest.as_bytes(), spec.mtime);
    push_entry(&mut out, "header.tar", &header, spec.mtime);
    push_entry(&mut out, "data/0000.tar", &data, spec.mtime);
    out.extend_from_slice(&[0u8; 2 * BLOCK]);
    Ok(out)
}

/// The uncompressed `header.tar`: `header-info`, `headers/0000/type-info` and
/// `headers/0000/meta-data`.
fn header_tar(spec: &ConfigurationArtifact) -> Result<Vec<u8>, ArtifactError> {
    let device_types = [spec.device_type.clone()];
    let info = HeaderInfo {
        payloads: [PayloadType { kind: CONFIGURE_PAYLOAD_TYPE }],
        artifact_provides: BTreeMap::from([("artifact_name", spec.artifact_name.as_str())]),
        artifact_depends: BTreeMap::from([("device_type", device_types.as_slice())]),
    };
    let type_info = TypeInfo {
        kind: CONFIGURE_PAYLOAD_TYPE,
        artifact_provides: BTreeMap::from([(CONFIGURE_PROVIDES_KEY, spec.artifact_name.as_str())]),
        clears_artifact_provides: [CONFIGURE_CLEARS_PROVIDES],
    };
    let mut tar = Vec::new();
    // Inner entries carry mtime 0, as mender-artifact writes them.
    push_entry(&mut tar, "header-info", &to_json(&info)?, 0);
    push_entry(&mut tar, "headers/0000/type-info", &to_json(&type_info)?, 0);
    push_entry(&mut tar, "headers/0000/meta-data", &to_json(&spec.configuration)?, 0);
    tar.extend_from_slice(&[0u8; 2 * BLOCK]);
    Ok(tar)
}
