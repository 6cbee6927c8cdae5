//! Malformed variants of real artifacts must fail with a specific, actionable error.

mod common;

use common::{
    Member, edit_header, fix_manifest, fixture, gzip, member, pack, parse, parse_chunked_with, unpack,
};
use fleetlog_artifact::{ArtifactError, ArtifactParser, Limits};

fn members(name: &str) -> Vec<Member> {
    unpack(&fixture(name))
}

fn err_of(members: &[Member]) -> ArtifactError {
    parse(&pack(members)).expect_err("expected the artifact to be rejected")
}

#[test]
fn repacked_fixture_is_still_valid() {
    // Guards the helpers: unpack + pack of an unmodified artifact parses.
    for name in ["rootfs-gzip.mender", "bootstrap.mender", "v2.mender", "depends.mender"] {
        parse(&pack(&members(name))).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn truncated_artifact() {
    let bytes = fixture("rootfs-gzip.mender");
    for cut in [1, 511, 512, 1024, 3000, bytes.len() - 1024, bytes.len() - 512, bytes.len() - 1] {
        let err = parse(&bytes[..cut]).expect_err("truncated");
        assert!(err.to_string().contains("unexpected end of artifact"), "cut {cut}: {err}");
    }
    let err = parse(&[]).expect_err("empty");
    assert!(err.to_string().contains("unexpected end of artifact"), "{err}");
}

#[test]
fn not_a_tar() {
    for bytes in [gzip(b"hello"), b"{\"format\":\"mender\"}".repeat(100), vec![0xff; 4096]] {
        assert_eq!(parse(&bytes).unwrap_err(), ArtifactError::NotATar);
    }
}

#[test]
fn checksum_mismatch_names_the_file() {
    // Payload byte changed in an uncompressed data tar.
    let mut m = members("rootfs-none.mender");
    let data = member(&mut m, "data/0000.tar");
    data.data[600] ^= 1;
    let err = err_of(&m);
    assert!(
        matches!(&err, ArtifactError::ChecksumMismatch { file, .. } if file == "data/0000/rootfs.ext4"),
        "{err}"
    );
    assert!(err.to_string().contains("invalid checksum for 'data/0000/rootfs.ext4'"), "{err}");

    // Header replaced without updating the manifest.
    let mut m = members("rootfs-gzip.mender");
    member(&mut m, "header.tar.gz").data = gzip(b"not the header");
    let err = err_of(&m);
    assert!(err.to_string().contains("invalid checksum for 'header.tar.gz'"), "{err}");

    // version changed (still valid JSON) without updating the manifest.
    let mut m = members("rootfs-gzip.mender");
    member(&mut m, "version").data = br#"{"format":"mender", "version":3}"#.to_vec();
    assert!(err_of(&m).to_string().contains("invalid checksum for 'version'"));
}

#[test]
fn wrong_order_and_missing_files() {
    let m = members("rootfs-gzip.mender");
    let names = |order: &[usize]| order.iter().map(|&i| m[i].clone()).collect::<Vec<_>>();
    // Members are version, manifest, header.tar.gz, data/0000.tar.gz.
    let err = err_of(&names(&[1, 0, 2, 3]));
    assert!(matches!(&err, ArtifactError::WrongOrder { found, .. } if found == "manifest"), "{err}");
    assert!(err.to_string().contains("'version' as the first file"), "{err}");
    let err = err_of(&names(&[0, 2, 3]));
    assert!(err.to_string().contains("found 'header.tar.gz' where 'manifest' was expected"), "{err}");
    let err = err_of(&names(&[0, 1, 3]));
    assert!(matches!(err, ArtifactError::WrongOrder { .. }), "{err}");
    let err = err_of(&names(&[0, 1, 3, 2]));
    assert!(matches!(err, ArtifactError::WrongOrder { .. }), "{err}");
    let err = err_of(&names(&[0, 1, 2, 3, 3]));
    assert!(err.to_string().contains("increasing order"), "{err}");
    let err = err_of(&names(&[0, 1]));
    assert!(matches!(&err, ArtifactError::MissingFile { file } if file.starts_with("header.tar")), "{err}");
    // Data declared in the manifest but never shipped.
    let err = err_of(&names(&[0, 1, 2]));
    assert!(
        err.to_string().contains("files listed in the manifest are missing: data/0000/rootfs.ext4"),
        "{err}"
    );
    let mut extra = names(&[0, 1, 2, 3]);
    extra.push(Member::new("surprise", "x"));
    assert!(err_of(&extra).to_string().contains("found 'surprise'"));
}

#[test]
fn unsupported_version_and_format() {
    let mut m = members("rootfs-gzip.mender");
    member(&mut m, "version").data = br#"{"format":"mender","version":4}"#.to_vec();
    fix_manifest(&mut m);
    let err = err_of(&m);
    assert_eq!(err.to_string(), "unsupported version 4; supported versions are: 2, 3");
    member(&mut m, "version").data = br#"{"format":"debian","version":3}"#.to_vec();
    assert!(matches!(err_of(&m), ArtifactError::UnsupportedFormat { format } if format == "debian"));
    member(&mut m, "version").data = b"{not json".to_vec();
    assert!(matches!(err_of(&m), ArtifactError::InvalidJson { file, .. } if file == "version"));
}

#[test]
fn bad_json_in_header_info_and_type_info() {
    let mut m = members("rootfs-gzip.mender");
    edit_header(&mut m, |inner| inner[0].data = b"{\"payloads\": [".to_vec());
    let err = err_of(&m);
    assert!(matches!(&err, ArtifactError::InvalidJson { file, .. } if file == "header-info"), "{err}");
    assert!(err.to_string().starts_with("invalid JSON in header-info"), "{err}");

    let mut m = members("rootfs-gzip.mender");
    edit_header(&mut m, |inner| {
        inner[0].data = br#"{"payloads":[{"type":"x"}],"artifact_provides":{"artifact_name":"a"},"artifact_depends":{"device_type":[]}}"#.to_vec()
    });
    assert!(err_of(&m).to_string().contains("no compatible device type"));

    let mut m = members("depends.mender");
    edit_header(&mut m, |inner| {
        member(inner, "headers/0000/type-info").data =
            br#"{"type":"custom","artifact_provides":{"k":["a"]}}"#.to_vec();
    });
    let err = err_of(&m);
    assert!(
        matches!(&err, ArtifactError::InvalidJson { file, .. } if file == "headers/0000/type-info"),
        "{err}"
    );

    let mut m = members("depends.mender");
    edit_header(&mut m, |inner| member(inner, "headers/0000/meta-data").data = b"[1,2]".to_vec());
    assert!(err_of(&m).to_string().contains("must be a JSON object"));
}

#[test]
fn header_structure_errors() {
    let mut m = members("script-signed.mender");
    edit_header(&mut m, |inner| inner.swap(0, 1));
    assert!(err_of(&m).to_string().contains("'header-info' as the first file"));

    let mut m = members("script-signed.mender");
    edit_header(&mut m, |inner| {
        let script = inner.remove(1);
        inner.push(script);
    });
    assert!(err_of(&m).to_string().contains("scripts must come first"));

    let mut m = members("rootfs-gzip.mender");
    edit_header(&mut m, |inner| inner.retain(|x| x.name != "headers/0000/type-info"));
    assert!(err_of(&m).to_string().contains("missing 'headers/0000/type-info in header.tar.gz'"));

    let mut m = members("rootfs-gzip.mender");
    edit_header(&mut m, |inner| inner.push(Member::new("headers/0001/type-info", "{}")));
    assert!(err_of(&m).to_string().contains("which header-info does not declare"));
}

#[test]
fn unsupported_compression() {
    let mut m = members("rootfs-gzip.mender");
    m[2].name = "header.tar.bz2".into();
    assert_eq!(err_of(&m), ArtifactError::UnsupportedCompression { file: "header.tar.bz2".into() });
    let mut m = members("rootfs-gzip.mender");
    m[3].name = "data/0000.tar.lz4".into();
    assert!(matches!(err_of(&m), ArtifactError::UnsupportedCompression { .. }));
}

#[test]
fn corrupt_compressed_data() {
    let mut m = members("rootfs-gzip.mender");
    let data = member(&mut m, "data/0000.tar.gz");
    let mid = data.data.len() / 2;
    data.data[mid] ^= 0x55;
    let err = err_of(&m);
    assert!(
        matches!(&err, ArtifactError::Decompress { file, .. } | ArtifactError::ChecksumMismatch { file, .. }
            if file.starts_with("data/0000")),
        "{err}"
    );
    let mut m = members("rootfs-gzip.mender");
    let data = member(&mut m, "data/0000.tar.gz");
    data.data.truncate(data.data.len() - 4);
    assert!(err_of(&m).to_string().contains("unexpected end of artifact"));
}

#[test]
fn limits_are_enforced() {
    let bytes = fixture("rootfs-none.mender");
    let limits = Limits { max_header_size: 1024, ..Limits::default() };
    let err = parse_chunked_with(&bytes, 4096, limits).unwrap_err();
    assert_eq!(err.to_string(), "'header.tar' is too large: more than 1024 bytes");
    let limits = Limits { max_unpacked_payload_size: 100, ..Limits::default() };
    assert!(matches!(parse_chunked_with(&bytes, 4096, limits), Err(ArtifactError::TooLarge { .. })));
    let limits = Limits { max_payload_files: 3, ..Limits::default() };
    let err = parse_chunked_with(&fixture("single-file.mender"), 4096, limits).unwrap_err();
    assert!(err.to_string().contains("number of payload files"), "{err}");
}

#[test]
fn empty_payload_must_not_carry_data() {
    let mut m = members("bootstrap.mender");
    let files = members("rootfs-gzip.mender");
    m.push(files[3].clone());
    m.retain(|x| x.name != "data/0000.tar.gz" || x.data.len() > 100);
    let err = err_of(&m);
    assert!(err.to_string().contains("empty payload (type null)"), "{err}");
}

#[test]
fn payload_files_must_be_in_the_manifest_and_declared() {
    // A data tar from another artifact: its file is not in this manifest.
    let mut m = members("depends.mender");
    member(&mut m, "data/0000.tar.gz").data = members("rootfs-gzip.mender")[3].data.clone();
    let err = err_of(&m);
    assert_eq!(err, ArtifactError::MissingChecksum { file: "data/0000/rootfs.ext4".into() });

    // v2: headers/0000/files must list exactly what the data tar holds.
    let mut m = members("v2.mender");
    edit_header(&mut m, |inner| {
        member(inner, "headers/0000/files").data = br#"{"files":["other.img"]}"#.to_vec()
    });
    assert!(err_of(&m).to_string().contains("not declared in headers/0000/files"));

    // A declared payload whose data tar is empty.
    let mut m = members("rootfs-gzip.mender");
    member(&mut m, "data/0000.tar.gz").data = gzip(&[0u8; 1024]);
    let err = err_of(&m);
    assert_eq!(err, ArtifactError::ManifestFilesMissing { files: "data/0000/rootfs.ext4".into() });

    // A data tar for a payload the header does not declare.
    let mut m = members("rootfs-gzip.mender");
    let mut extra = m[3].clone();
    extra.name = "data/0001.tar.gz".into();
    m.push(extra);
    assert!(err_of(&m).to_string().contains("no matching payload"));
}

#[test]
fn errors_are_sticky_and_trailing_zeros_are_fine() {
    let mut parser = ArtifactParser::new(Limits::default());
    let first = parser.feed(&[0xffu8; 600]).unwrap_err();
    assert_eq!(parser.feed(b"more").unwrap_err(), first);
    assert_eq!(parser.finish().unwrap_err(), first);

    let mut bytes = fixture("rootfs-gzip.mender");
    bytes.extend_from_slice(&[0u8; 10240]);
    assert_eq!(parse(&bytes).unwrap().size, 8192 + 10240);
}
