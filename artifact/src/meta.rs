//! The metadata extracted from an artifact, shaped like the deployments service's artifact JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::header::Header;

/// Everything the server needs to know about an uploaded artifact.
///
/// Serializes to the fields Mender's deployments service returns for an artifact
/// (`GET /api/management/v1/deployments/artifacts/{id}`) minus the server-assigned ones
/// (`id`, `description`, `modified`), plus `scripts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// Artifact name (`artifact_provides.artifact_name`, v2: `artifact_name`).
    pub name: String,
    /// Device types the artifact installs on (`artifact_depends.device_type`).
    pub device_types_compatible: Vec<String>,
    /// Format name and version from the `version` file.
    pub info: ArtifactInfo,
    /// Whether a `manifest.sig` is present (the signature is not verified).
    pub signed: bool,
    /// One entry per payload, in order.
    pub updates: Vec<Update>,
    /// Header-info provides merged with every payload's type-info provides.
    pub artifact_provides: BTreeMap<String, String>,
    /// Header-info depends (lists of strings) merged with every payload's type-info depends
    /// (a string or a list of strings, as written).
    pub artifact_depends: BTreeMap<String, Value>,
    /// Union of the payloads' `clears_artifact_provides`, in order of appearance.
    pub clears_artifact_provides: Vec<String>,
    /// Names of the state scripts under `scripts/` in the header.
    pub scripts: Vec<String>,
    /// Size of the whole `.mender` file in bytes.
    pub size: u64,
}

/// The `version` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// Always `mender`.
    pub format: String,
    /// 2 or 3.
    pub version: u32,
}

/// One payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// The payload type.
    pub type_info: UpdateTypeInfo,
    /// Files of `data/NNNN.tar*`, in archive order.
    pub files: Vec<UpdateFile>,
    /// `headers/NNNN/meta-data` (merged with the augmented one), if present and non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<Map<String, Value>>,
}

/// Payload type; `None` (JSON `null`) for an empty payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateTypeInfo {
    /// Update module name, e.g. `rootfs-image` or `single-file`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// One payload file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateFile {
    /// File name inside the data archive.
    pub name: String,
    /// Lower-case hex SHA-256 of the content (verified against the manifest).
    pub checksum: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time from the tar header, RFC 3339 UTC.
    pub date: String,
}

impl ArtifactMeta {
    /// Sum of the sizes of all payload files (uncompressed).
    pub fn payload_size(&self) -> u64 {
        self.updates.iter().flat_map(|u| &u.files).map(|f| f.size).sum()
    }
}

/// Applies `header-augment` to the main header: payload type overrides, type-info keys and
/// meta-data keys from the augment win, clears lists are appended.
pub(crate) fn apply_augment(main: &mut Header, augment: Header) {
    for (i, kind) in augment.augment_types.into_iter().enumerate() {
        if let (Some(kind), Some(slot)) = (kind, main.info.payload_types.get_mut(i)) {
            *slot = Some(kind);
        }
    }
    for (main, aug) in main.payloads.iter_mut().zip(augment.payloads) {
        if let Some(aug_ti) = aug.type_info {
            let ti = main.type_info.get_or_insert_with(Default::default);
            if let Some(p) = aug_ti.artifact_provides {
                ti.artifact_provides.get_or_insert_with(Default::default).extend(p);
            }
            if let Some(d) = aug_ti.artifact_depends {
                ti.artifact_depends.get_or_insert_with(Default::default).extend(d);
            }
            if let Some(c) = aug_ti.clears_artifact_provides {
                ti.clears_artifact_provides.get_or_insert_with(Default::default).extend(c);
            }
        }
        if let Some(aug_md) = aug.meta_data {
            main.meta_data.get_or_insert_with(Default::default).extend(aug_md);
        }
    }
}

/// Builds the final metadata from the header and the verified payload files.
pub(crate) fn assemble(
    header: Header,
    version: u32,
    files: Vec<Vec<UpdateFile>>,
    signed: bool,
    size: u64,
) -> ArtifactMeta {
    let mut provides = header.info.provides;
    let mut depends = header.info.depends;
    let mut clears: Vec<String> = Vec::new();
    let mut files = files.into_iter();
    let mut updates = Vec::with_capacity(header.payloads.len());
    for (kind, payload) in header.info.payload_types.into_iter().zip(header.payloads) {
        if let Some(ti) = payload.type_info {
            provides.extend(ti.artifact_provides.unwrap_or_default());
            depends.extend(ti.artifact_depends.unwrap_or_default());
            for c in ti.clears_artifact_provides.unwrap_or_default() {
                if !clears.contains(&c) {
                    clears.push(c);
                }
            }
        }
        updates.push(Update {
            type_info: UpdateTypeInfo { kind },
            files: files.next().unwrap_or_default(),
            meta_data: payload.meta_data,
        });
    }
    ArtifactMeta {
        name: header.info.name,
        device_types_compatible: header.info.device_types,
        info: ArtifactInfo { format: "mender".to_owned(), version },
        signed,
        updates,
        artifact_provides: provides,
        artifact_depends: depends,
        clears_artifact_provides: clears,
        scripts: header.scripts,
        size,
    }
}
