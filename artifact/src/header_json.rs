//! Decoding and validation of the JSON files inside `header.tar*` / `header-augment.tar*`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ArtifactError;

/// `{"type": ...}` in header-info payload lists; `null` marks an empty payload.
#[derive(Debug, Deserialize)]
struct PayloadType {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HeaderInfoV3 {
    payloads: Vec<PayloadType>,
    artifact_provides: Option<ProvidesV3>,
    artifact_depends: Option<DependsV3>,
}

#[derive(Debug, Deserialize)]
struct ProvidesV3 {
    #[serde(default)]
    artifact_name: String,
    #[serde(default)]
    artifact_group: String,
}

#[derive(Debug, Deserialize)]
struct DependsV3 {
    #[serde(default)]
    artifact_name: Vec<String>,
    #[serde(default)]
    device_type: Vec<String>,
    #[serde(default)]
    artifact_group: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct HeaderInfoV2 {
    updates: Vec<PayloadType>,
    #[serde(default)]
    device_types_compatible: Vec<String>,
    #[serde(default)]
    artifact_name: String,
}

#[derive(Debug, Deserialize)]
struct AugmentHeaderInfo {
    #[serde(default)]
    payloads: Vec<PayloadType>,
}

/// `headers/NNNN/type-info`. Provides must be strings (mender-artifact decodes them into a
/// string map and rejects anything else, so a device would too).
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct TypeInfo {
    #[serde(default)]
    pub artifact_provides: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub artifact_depends: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub clears_artifact_provides: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct FilesV2 {
    files: Vec<String>,
}

/// What `header-info` says, normalized over format versions 2 and 3.
#[derive(Debug, Clone)]
pub(crate) struct HeaderInfo {
    /// Artifact name.
    pub name: String,
    /// Compatible device types.
    pub device_types: Vec<String>,
    /// Payload types in order; `None` is an empty (`null`) payload.
    pub payload_types: Vec<Option<String>>,
    /// Artifact-level provides (`artifact_name`, `artifact_group`).
    pub provides: BTreeMap<String, String>,
    /// Artifact-level depends, each a JSON list of strings.
    pub depends: BTreeMap<String, Value>,
}

/// Parses JSON, reporting failures against `file`.
fn json<T: DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, ArtifactError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ArtifactError::InvalidJson { file: file.to_owned(), reason: e.to_string() })
}

/// Parses and validates `header-info` of the given format version.
pub(crate) fn header_info(version: u32, bytes: &[u8]) -> Result<HeaderInfo, ArtifactError> {
    const FILE: &str = "header-info";
    let info = if version == 2 {
        let v2: HeaderInfoV2 = json(FILE, bytes)?;
        HeaderInfo {
            provides: BTreeMap::from([("artifact_name".to_owned(), v2.artifact_name.clone())]),
            depends: BTreeMap::from([("device_type".to_owned(), strings(&v2.device_types_compatible))]),
            name: v2.artifact_name,
            device_types: v2.device_types_compatible,
            payload_types: v2.updates.into_iter().map(|p| p.kind).collect(),
        }
    } else {
        let v3: HeaderInfoV3 = json(FILE, bytes)?;
        let provides =
            v3.artifact_provides.ok_or_else(|| ArtifactError::header(FILE, "missing artifact_provides"))?;
        let depends =
            v3.artifact_depends.ok_or_else(|| ArtifactError::header(FILE, "missing artifact_depends"))?;
        let mut info = HeaderInfo {
            name: provides.artifact_name.clone(),
            device_types: depends.device_type.clone(),
            payload_types: v3.payloads.into_iter().map(|p| p.kind).collect(),
            provides: BTreeMap::from([("artifact_name".to_owned(), provides.artifact_name)]),
            depends: BTreeMap::from([("device_type".to_owned(), strings(&depends.device_type))]),
        };
        if !provides.artifact_group.is_empty() {
            info.provides.insert("artifact_group".to_owned(), provides.artifact_group);
        }
        // Optional lists are only recorded when non-empty, as the deployments service does.
        for (key, list) in
            [("artifact_name", depends.artifact_name), ("artifact_group", depends.artifact_group)]
        {
            if !list.is_empty() {
                info.depends.insert(key.to_owned(), strings(&list));
            }
        }
        info
    };
    if info.name.trim().is_empty() {
        return Err(ArtifactError::header(FILE, "the artifact name is empty"));
    }
    if info.device_types.is_empty() || info.device_types.iter().any(|d| d.is_empty()) {
        return Err(ArtifactError::header(FILE, "no compatible device type is given"));
    }
    if info.payload_types.is_empty() {
        return Err(ArtifactError::header(FILE, "no payloads are listed"));
    }
    if info.payload_types.iter().any(|t| t.as_deref() == Some("")) {
        return Err(ArtifactError::header(FILE, "a payload has an empty type"));
    }
    Ok(info)
}

/// Payload types from `header-augment`'s `header-info` (`None`/empty = no override).
pub(crate) fn augment_payload_types(bytes: &[u8]) -> Result<Vec<Option<String>>, ArtifactError> {
    let info: AugmentHeaderInfo = json("header-augment header-info", bytes)?;
    Ok(info.payloads.into_iter().map(|p| p.kind.filter(|k| !k.is_empty())).collect())
}

/// Parses `headers/NNNN/type-info`.
pub(crate) fn type_info(file: &str, bytes: &[u8]) -> Result<TypeInfo, ArtifactError> {
    let info: TypeInfo = json(file, bytes)?;
    for (key, value) in info.artifact_depends.iter().flatten() {
        let ok = match value {
            Value::String(_) => true,
            Value::Array(items) => items.iter().all(Value::is_string),
            _ => false,
        };
        if !ok {
            return Err(ArtifactError::header(
                file,
                format!("artifact_depends.{key} must be a string or a list of strings"),
            ));
        }
    }
    Ok(info)
}

/// Parses `headers/NNNN/meta-data`; an empty file means no metadata.
pub(crate) fn meta_data(file: &str, bytes: &[u8]) -> Result<Option<Map<String, Value>>, ArtifactError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match json(file, bytes)? {
        Value::Object(map) => Ok(Some(map)),
        _ => Err(ArtifactError::header(file, "the top-level value must be a JSON object")),
    }
}

/// Parses a version 2 `headers/NNNN/files` list.
pub(crate) fn files_v2(file: &str, bytes: &[u8]) -> Result<Vec<String>, ArtifactError> {
    Ok(json::<FilesV2>(file, bytes)?.files)
}

fn strings(list: &[String]) -> Value {
    Value::Array(list.iter().cloned().map(Value::String).collect())
}

/// Parses the `version` file: `{"format": "mender", "version": 3}`.
pub(crate) fn version(buf: &[u8]) -> Result<u32, ArtifactError> {
    let value: Value = serde_json::from_slice(buf)
        .map_err(|e| ArtifactError::InvalidJson { file: "version".into(), reason: e.to_string() })?;
    let format =
        value.get("format").map_or_else(|| "(none)".to_owned(), |f| f.as_str().unwrap_or("?").to_owned());
    if format != "mender" {
        return Err(ArtifactError::UnsupportedFormat { format });
    }
    match value.get("version").and_then(Value::as_u64) {
        Some(v @ (2 | 3)) => Ok(v as u32),
        _ => Err(ArtifactError::UnsupportedVersion {
            version: value.get("version").map_or_else(|| "(none)".to_owned(), Value::to_string),
        }),
    }
}
