//! Byte layout of a generated single-file artifact: everything but the payload is built in
//! memory up front (a few KiB), then the payload is streamed between prefix and trailer.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use flate2::write::GzEncoder;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::ArtifactError;
use crate::manifest::hex;
use crate::tar::BLOCK;
use crate::tar_header::encode_file_header;
use crate::writer::SingleFileArtifact;

/// Names of the single-file module's control files inside the payload.
pub(crate) const CONTROL_FILES: [&str; 3] = ["dest_dir", "filename", "permissions"];

// Field order in these structs is the JSON key order, chosen to match mender-artifact's output.

/// `header-info` of a single-payload v3 artifact.
#[derive(Serialize)]
pub(crate) struct HeaderInfo<'a> {
    pub payloads: [PayloadType<'a>; 1],
    pub artifact_provides: BTreeMap<&'a str, &'a str>,
    pub artifact_depends: BTreeMap<&'a str, &'a [String]>,
}

/// One `payloads` entry.
#[derive(Serialize)]
pub(crate) struct PayloadType<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
}

/// `headers/0000/type-info`.
#[derive(Serialize)]
pub(crate) struct TypeInfo<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub artifact_provides: BTreeMap<&'a str, &'a str>,
    pub clears_artifact_provides: [&'a str; 1],
}

/// Everything except the payload, prepared before writing starts.
pub(crate) struct Plan {
    version: Vec<u8>,
    manifest: Vec<u8>,
    header: Vec<u8>,
    /// Tar headers and contents of the control files, then the payload's tar header.
    data_prefix: Vec<u8>,
    data_size: u64,
    /// Offset in the output of the payload's checksum in the manifest.
    pub checksum_offset: u64,
}

impl Plan {
    /// Validates `spec` and lays out the artifact with `payload_hex` as the payload checksum.
    pub(crate) fn new(spec: &SingleFileArtifact, payload_hex: &str) -> Result<Plan, ArtifactError> {
        spec.validate()?;
        let version = br#"{"format":"mender","version":3}"#.to_vec();
        let header = gzip(&header_tar(spec)?)?;
        let controls = [
            format!("{}\n", spec.dest_dir),
            format!("{}\n", spec.file_name),
            format!("{:o}\n", spec.permissions),
        ];
        let mut data_prefix = Vec::new();
        let mut sums = BTreeMap::new();
        for (name, content) in CONTROL_FILES.iter().zip(&controls) {
            push_entry(&mut data_prefix, name, content.as_bytes(), spec.mtime);
            sums.insert(format!("data/0000/{name}"), hex(&Sha256::digest(content)));
        }
        encode_file_header(&spec.file_name, spec.file_size, spec.mtime, 0o644, &mut data_prefix);
        let data_size = data_prefix.len() as u64 + padded(spec.file_size) + 2 * BLOCK as u64;
        let payload_name = format!("data/0000/{}", spec.file_name);
        sums.insert(payload_name.clone(), payload_hex.to_owned());
        sums.insert("header.tar.gz".to_owned(), hex(&Sha256::digest(&header)));
        sums.insert("version".to_owned(), hex(&Sha256::digest(&version)));
        let mut manifest = String::new();
        let mut line_offset = 0;
        for (name, sum) in &sums {
            if *name == payload_name {
                line_offset = manifest.len() as u64;
            }
            manifest.push_str(&format!("{sum}  {name}\n"));
        }
        // The manifest content starts after the version entry and the manifest's header.
        let mut prefix = Vec::new();
        push_entry(&mut prefix, "version", &version, spec.mtime);
        encode_file_header("manifest", manifest.len() as u64, spec.mtime, 0o600, &mut prefix);
        let checksum_offset = prefix.len() as u64 + line_offset;
        Ok(Plan { version, manifest: manifest.into_bytes(), header, data_prefix, data_size, checksum_offset })
    }

    /// Writes the artifact, streaming the payload; returns the payload's SHA-256.
    pub(crate) fn write<R: Read, W: Write>(
        &self,
        spec: &SingleFileArtifact,
        mut contents: R,
        out: &mut W,
    ) -> Result<[u8; 32], ArtifactError> {
        let mut head = Vec::new();
        push_entry(&mut head, "version", &self.version, spec.mtime);
        push_entry(&mut head, "manifest", &self.manifest, spec.mtime);
        push_entry(&mut head, "header.tar.gz", &self.header, spec.mtime);
        encode_file_header("data/0000.tar", self.data_size, spec.mtime, 0o600, &mut head);
        head.extend_from_slice(&self.data_prefix);
        out.write_all(&head)?;

        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = spec.file_size;
        while left > 0 {
            let want = usize::try_from(left).map_or(buf.len(), |l| l.min(buf.len()));
            let n = match contents.read(&mut buf[..want]) {
                Ok(0) => {
                    let got = spec.file_size - left;
                    let msg = format!("the file ended after {got} of {} bytes", spec.file_size);
                    return Err(ArtifactError::InvalidInput(msg));
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            left -= n as u64;
        }
        if read_one(&mut contents)? {
            return Err(ArtifactError::InvalidInput(format!(
                "the file is longer than {} bytes",
                spec.file_size
            )));
        }
        // Payload padding, end of the data tar, then end of the outer tar.
        let tail = (padded(spec.file_size) - spec.file_size) as usize + 4 * BLOCK;
        out.write_all(&vec![0u8; tail])?;
        Ok(hasher.finalize().into())
    }
}

/// Whether the reader still has at least one byte.
fn read_one(r: &mut impl Read) -> Result<bool, ArtifactError> {
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// `len` rounded up to whole tar blocks.
fn padded(len: u64) -> u64 {
    len.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Appends a complete small tar entry (header, content, padding).
pub(crate) fn push_entry(out: &mut Vec<u8>, name: &str, content: &[u8], mtime: u64) {
    encode_file_header(name, content.len() as u64, mtime, 0o600, out);
    out.extend_from_slice(content);
    out.resize(out.len().next_multiple_of(BLOCK), 0);
}

/// The uncompressed `header.tar`: `header-info`, then `headers/0000/type-info`.
fn header_tar(spec: &SingleFileArtifact) -> Result<Vec<u8>, ArtifactError> {
    let info = HeaderInfo {
        payloads: [PayloadType { kind: "single-file" }],
        artifact_provides: BTreeMap::from([("artifact_name", spec.artifact_name.as_str())]),
        artifact_depends: BTreeMap::from([("device_type", spec.device_types.as_slice())]),
    };
    let type_info = TypeInfo {
        kind: "single-file",
        artifact_provides: BTreeMap::from([(
            "rootfs-image.single-file.version",
            spec.artifact_name.as_str(),
        )]),
        clears_artifact_provides: ["rootfs-image.single-file.*"],
    };
    let mut tar = Vec::new();
    push_entry(&mut tar, "header-info", &to_json(&info)?, 0);
    push_entry(&mut tar, "headers/0000/type-info", &to_json(&type_info)?, 0);
    tar.extend_from_slice(&[0u8; 2 * BLOCK]);
    Ok(tar)
}

/// gzip-compresses a small in-memory buffer.
fn gzip(data: &[u8]) -> Result<Vec<u8>, ArtifactError> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

/// Serializes a header struct (cannot fail for these plain string maps).
pub(crate) fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ArtifactError> {
    serde_json::to_vec(value).map_err(|e| ArtifactError::InvalidInput(e.to_string()))
}
