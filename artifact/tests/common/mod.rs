//! Helpers shared by the integration tests: fixture loading, chunked parsing, a tiny ustar
//! packer/unpacker used to build malformed variants of real artifacts, and the cross-check
//! against the real `mender-artifact`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use fleetlog_artifact::{ArtifactError, ArtifactMeta, ArtifactParser, Limits};
use sha2::{Digest, Sha256};

/// Path of a file under `tests/fixtures`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Bytes of a fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// All `.mender` fixtures.
pub const FIXTURES: &[&str] = &[
    "augmented.mender",
    "bootstrap.mender",
    "configure.mender",
    "depends.mender",
    "long-name-gnu.mender",
    "long-name-pax.mender",
    "rootfs-gzip.mender",
    "rootfs-lzma.mender",
    "rootfs-none.mender",
    "rootfs-zstd.mender",
    "script-signed.mender",
    "single-file.mender",
    "v2.mender",
];

/// Parses `bytes` fed in chunks of `chunk` bytes.
pub fn parse_chunked_with(bytes: &[u8], chunk: usize, limits: Limits) -> Result<ArtifactMeta, ArtifactError> {
    let mut parser = ArtifactParser::new(limits);
    for piece in bytes.chunks(chunk.max(1)) {
        parser.feed(piece)?;
    }
    parser.finish()
}

/// Parses `bytes` fed in chunks of `chunk` bytes with default limits.
pub fn parse_chunked(bytes: &[u8], chunk: usize) -> Result<ArtifactMeta, ArtifactError> {
    parse_chunked_with(bytes, chunk, Limits::default())
}

/// Parses `bytes` in one piece.
pub fn parse(bytes: &[u8]) -> Result<ArtifactMeta, ArtifactError> {
    parse_chunked(bytes, bytes.len())
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// One tar member.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub data: Vec<u8>,
}

impl Member {
    pub fn new(name: &str, data: impl Into<Vec<u8>>) -> Self {
        Member { name: name.to_owned(), data: data.into() }
    }
}

/// Reads a plain ustar archive as written by Go's archive/tar for short names.
pub fn unpack(tar: &[u8]) -> Vec<Member> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 512 <= tar.len() && tar[pos..pos + 512].iter().any(|&b| b != 0) {
        let h = &tar[pos..pos + 512];
        let name_end = h[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8(h[..name_end].to_vec()).expect("utf-8 name");
        let size_txt =
            std::str::from_utf8(&h[124..135]).expect("size").trim_matches(|c| c == '\0' || c == ' ');
        let size = usize::from_str_radix(size_txt, 8).expect("octal size");
        pos += 512;
        out.push(Member { name, data: tar[pos..pos + size].to_vec() });
        pos += size.div_ceil(512) * 512;
    }
    out
}

/// Writes members as a ustar archive with end-of-archive marker.
pub fn pack(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        h[..m.name.len()].copy_from_slice(m.name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", m.data.len()).as_bytes());
        h[136..148].copy_from_slice(b"14524770400\0");
        h[156] = b'0';
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).expect("gunzip");
    out
}

/// Finds a member by name.
pub fn member<'a>(members: &'a mut [Member], name: &str) -> &'a mut Member {
    members.iter_mut().find(|m| m.name == name).unwrap_or_else(|| panic!("no member {name}"))
}

/// Rewrites the manifest lines of `version`, `header*` to match the members' contents.
pub fn fix_manifest(members: &mut [Member]) {
    let sums: Vec<(String, String)> = members
        .iter()
        .filter(|m| m.name == "version" || m.name.starts_with("header"))
        .map(|m| (m.name.clone(), sha256_hex(&m.data)))
        .collect();
    let manifest = member(members, "manifest");
    let text = String::from_utf8(manifest.data.clone()).expect("manifest text");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !(l.ends_with("  version") || l.contains("  header")))
        .map(str::to_owned)
        .collect();
    for (name, sum) in sums {
        lines.push(format!("{sum}  {name}"));
    }
    manifest.data = (lines.join("\n") + "\n").into_bytes();
}

/// Applies `edit` to the members of the gzip header archive of `members` and fixes the
/// manifest so only the edit is wrong.
pub fn edit_header(members: &mut [Member], edit: impl FnOnce(&mut Vec<Member>)) {
    let header = member(members, "header.tar.gz");
    let mut inner = unpack(&gunzip(&header.data));
    edit(&mut inner);
    header.data = gzip(&pack(&inner));
    fix_manifest(members);
}

/// The real tool; `FLEETLOG_MENDER_ARTIFACT` overrides the path (e.g. to test the skip).
pub fn mender_artifact_path() -> PathBuf {
    std::env::var_os("FLEETLOG_MENDER_ARTIFACT")
        .map_or_else(|| "/usr/bin/mender-artifact".into(), PathBuf::from)
}

/// `None` when the tool is absent and `FLEETLOG_REQUIRE_MENDER` is unset; panics when it is
/// absent but required (CI sets the variable so the cross-check cannot silently vanish).
pub fn mender_artifact() -> Option<PathBuf> {
    let path = mender_artifact_path();
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("FLEETLOG_REQUIRE_MENDER").is_some() {
        panic!("{} is missing but FLEETLOG_REQUIRE_MENDER is set", path.display());
    }
    eprintln!("NOTICE: skipping mender-artifact cross-check: {} not installed", path.display());
    None
}

/// A fresh scratch directory under the system temp dir.
pub fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fleetlog-artifact-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Runs `mender-artifact validate` and `read` on `bytes`; returns the output of `read`.
pub fn mender_read(tool: &Path, bytes: &[u8], tag: &str) -> String {
    let dir = scratch(tag);
    let file = dir.join("a.mender");
    std::fs::write(&file, bytes).expect("write temp artifact");
    let validate = Command::new(tool).arg("validate").arg(&file).output().expect("run mender-artifact");
    assert!(validate.status.success(), "validate failed: {}", String::from_utf8_lossy(&validate.stderr));
    let output = Command::new(tool).arg("read").arg(&file).output().expect("run mender-artifact");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "mender-artifact read failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
