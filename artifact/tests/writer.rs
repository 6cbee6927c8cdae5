//! The single-file artifact writer: output accepted by the real `mender-artifact read`,
//! re-parsed by this crate, and equivalent to what `single-file-artifact-gen` makes.

mod common;

use std::io::{Cursor, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;

use common::{fixture, fixture_path, mender_artifact, mender_read, parse, parse_chunked, scratch};
use fleetlog_artifact::{
    ArtifactError, SingleFileArtifact, write_single_file_artifact, write_single_file_artifact_seekable,
};
use sha2::{Digest, Sha256};

fn spec(name: &str, file_name: &str, contents: &[u8]) -> SingleFileArtifact {
    let mut spec = SingleFileArtifact::new(
        name,
        vec!["raspberrypi4".to_owned()],
        "/opt/app",
        file_name,
        contents.len() as u64,
    );
    spec.mtime = 1_700_000_000;
    spec
}

fn generate(spec: &SingleFileArtifact, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let sha: [u8; 32] = Sha256::digest(contents).into();
    let written = write_single_file_artifact(spec, &sha, contents, &mut out).expect("write artifact");
    assert_eq!(written, out.len() as u64);
    out
}

#[test]
fn mender_artifact_reads_generated_artifacts() {
    let Some(tool) = mender_artifact() else { return };
    let tool = tool.as_path();
    let contents = std::fs::read(fixture_path("inputs/app.conf")).unwrap();
    let mut s = spec("gen-1", "app.conf", &contents);
    s.device_types.push("qemux86-64".to_owned());
    let out = mender_read(tool, &generate(&s, &contents), "basic");
    assert!(out.contains("Name: gen-1"), "{out}");
    assert!(out.contains("Compatible devices: '[raspberrypi4 qemux86-64]'"), "{out}");
    assert!(out.contains("Type:   single-file"), "{out}");
    assert!(out.contains("rootfs-image.single-file.version: gen-1"), "{out}");
    for name in ["dest_dir", "filename", "permissions", "app.conf"] {
        assert!(out.contains(&format!("name:     {name}\n")), "{name} missing:\n{out}");
    }
    let sha = format!("{:x}", Sha256::digest(&contents));
    assert!(out.contains(&format!("checksum: {sha}")), "{out}");

    // A file name too long for ustar goes through a pax header; an empty file works too.
    let long = "x".repeat(150) + ".bin";
    let out = mender_read(tool, &generate(&spec("gen-long", &long, b""), b""), "long");
    assert!(out.contains(&format!("name:     {long}")), "{out}");
}

#[test]
fn generated_artifact_matches_single_file_artifact_gen() {
    let contents = std::fs::read(fixture_path("inputs/app.conf")).unwrap();
    let ours = parse(&generate(&spec("release-1", "app.conf", &contents), &contents)).unwrap();
    let mut theirs = parse(&fixture("single-file.mender")).unwrap();
    // Only the dates of the control files (made at generation time) and the size differ.
    for (t, o) in theirs.updates[0].files.iter_mut().zip(&ours.updates[0].files) {
        t.date = o.date.clone();
    }
    theirs.size = ours.size;
    assert_eq!(ours, theirs);
}

#[test]
fn generated_artifact_parses_in_any_chunking() {
    let contents: Vec<u8> = (0..1_048_577u32).map(|i| (i * 31 % 251) as u8).collect();
    let bytes = generate(&spec("big-1", "blob.bin", &contents), &contents);
    for chunk in [1, 7, 65_536] {
        let meta = parse_chunked(&bytes, chunk).unwrap();
        let file = &meta.updates[0].files[3];
        assert_eq!((file.name.as_str(), file.size), ("blob.bin", contents.len() as u64));
        assert_eq!(file.checksum, format!("{:x}", Sha256::digest(&contents)));
        assert_eq!(file.date, "2023-11-14T22:13:20Z");
        assert_eq!(meta.size, bytes.len() as u64);
    }
}

#[test]
fn seekable_writer_patches_the_checksum() {
    let contents = b"some payload\n";
    let expected = generate(&spec("seek-1", "p.txt", contents), contents);
    let mut cursor = Cursor::new(b"0123456789".to_vec());
    cursor.seek(SeekFrom::End(0)).unwrap();
    let written =
        write_single_file_artifact_seekable(&spec("seek-1", "p.txt", contents), &contents[..], &mut cursor)
            .expect("seekable write");
    assert_eq!(written, expected.len() as u64);
    assert_eq!(cursor.position(), 10 + written);
    assert_eq!(&cursor.get_ref()[10..], expected.as_slice());
}

#[test]
fn writer_rejects_inconsistent_input() {
    let contents = b"abc";
    let s = spec("bad-1", "f", contents);
    let err = write_single_file_artifact(&s, &[0u8; 32], &contents[..], Vec::new()).unwrap_err();
    assert!(err.to_string().contains("invalid checksum for 'data/0000/f'"), "{err}");

    let sha: [u8; 32] = Sha256::digest(contents).into();
    let short = SingleFileArtifact { file_size: 4, ..s.clone() };
    let err = write_single_file_artifact(&short, &sha, &contents[..], Vec::new()).unwrap_err();
    assert!(err.to_string().contains("ended after 3 of 4 bytes"), "{err}");
    let long = SingleFileArtifact { file_size: 2, ..s.clone() };
    let err = write_single_file_artifact(&long, &sha, &contents[..], Vec::new()).unwrap_err();
    assert!(err.to_string().contains("longer than 2 bytes"), "{err}");

    let cases = [
        SingleFileArtifact { dest_dir: "opt/app".into(), ..s.clone() },
        SingleFileArtifact { file_name: "a/b".into(), ..s.clone() },
        SingleFileArtifact { file_name: "filename".into(), ..s.clone() },
        SingleFileArtifact { device_types: vec![], ..s.clone() },
        SingleFileArtifact { artifact_name: " ".into(), ..s.clone() },
        SingleFileArtifact { permissions: 0o10000, ..s.clone() },
    ];
    for bad in cases {
        let err = write_single_file_artifact(&bad, &sha, &contents[..], Vec::new()).unwrap_err();
        assert!(matches!(err, ArtifactError::InvalidInput(_)), "{bad:?}: {err}");
    }
}

#[test]
fn single_file_update_module_installs_the_generated_payload() {
    // Runs the real module's ArtifactInstall on the payload files, laid out as the Mender
    // client would (`$FILES/files/<name>`), to prove the control files are what it expects.
    let module = Path::new("/usr/share/mender/modules/v3/single-file");
    if !module.exists() {
        assert!(std::env::var_os("FLEETLOG_REQUIRE_MENDER").is_none(), "{} is missing", module.display());
        eprintln!("NOTICE: skipping update-module check: {} not installed", module.display());
        return;
    }
    let dir = scratch("module");
    let dest = dir.join("installed");
    let contents = b"#!/bin/sh\necho hi\n";
    let mut s = spec("mod-1", "tool.sh", contents);
    s.dest_dir = dest.to_str().expect("utf-8 temp path").to_owned();
    s.permissions = 0o750;
    let outer = common::unpack(&generate(&s, contents));
    let data = outer.iter().find(|m| m.name == "data/0000.tar").expect("data tar");
    std::fs::create_dir_all(dir.join("files")).unwrap();
    for file in common::unpack(&data.data) {
        std::fs::write(dir.join("files").join(&file.name), &file.data).unwrap();
    }
    let status =
        Command::new("sh").arg(module).arg("ArtifactInstall").arg(&dir).status().expect("run module");
    assert!(status.success());
    let installed = dest.join("tool.sh");
    assert_eq!(std::fs::read(&installed).unwrap(), contents);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&installed).unwrap().permissions().mode() & 0o7777, 0o750);
    let _ = std::fs::remove_dir_all(&dir);
}
