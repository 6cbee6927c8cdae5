//! Parses artifacts made by the real mender-artifact 3.9 and asserts the exact metadata.

mod common;

use common::{FIXTURES, fixture, fixture_path, parse, parse_chunked, sha256_hex};
use fleetlog_artifact::{ArtifactMeta, Limits, parse_reader};
use serde_json::{Value, json};

/// `sha256sum tests/fixtures/inputs/*`, as printed when the fixtures were made.
const ROOTFS_SHA: &str = "5ec45814c43f149b06011375e39ec282ec070e1d99b4c82e04ac508bfc22c5fc";
const HELLO_SHA: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";
const RUN_SHA: &str = "a4e0317eafab5cf1bc4a0041c7c8aeb6ece56fe72e7b2b3017a8a6574614cd35";
const APP_CONF_SHA: &str = "3f13dbdf64dc99643f6daeffa2cd789673564419a35891b1d954e1d676029a3e";
const LONG_NAME: &str =
    "payload-with-a-very-long-file-name-that-does-not-fit-into-the-one-hundred-byte-ustar-name-field.bin";
/// mtime the generator script gives all inputs.
const DATE: &str = "2023-11-14T22:13:20Z";

fn input_sha(name: &str) -> String {
    sha256_hex(&std::fs::read(fixture_path("inputs").join(name)).expect("input file"))
}

fn meta_json(name: &str) -> Value {
    serde_json::to_value(parse(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))).expect("serialize")
}

#[test]
fn input_checksums_match_sha256sum() {
    assert_eq!(input_sha("rootfs.ext4"), ROOTFS_SHA);
    assert_eq!(input_sha("hello.txt"), HELLO_SHA);
    assert_eq!(input_sha("run.sh"), RUN_SHA);
    assert_eq!(input_sha("app.conf"), APP_CONF_SHA);
}

#[test]
fn every_fixture_parses_identically_in_any_chunking() {
    for name in FIXTURES {
        let bytes = fixture(name);
        let whole = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(whole.size, bytes.len() as u64, "{name}");
        for chunk in [1, 7, 512, 513, 64 * 1024] {
            let chunked = parse_chunked(&bytes, chunk).unwrap_or_else(|e| panic!("{name} @{chunk}: {e}"));
            assert_eq!(chunked, whole, "{name} chunk {chunk}");
        }
        let from_reader = parse_reader(bytes.as_slice(), Limits::default()).expect("reader");
        assert_eq!(from_reader, whole, "{name} via parse_reader");
        // The metadata round-trips through JSON (it is stored as JSON by the server).
        let back: ArtifactMeta = serde_json::from_value(serde_json::to_value(&whole).unwrap()).unwrap();
        assert_eq!(back, whole, "{name} JSON round trip");
    }
}

fn rootfs_expected(name: &str, size: u64) -> Value {
    json!({
        "name": name,
        "device_types_compatible": ["qemux86-64"],
        "info": {"format": "mender", "version": 3},
        "signed": false,
        "updates": [{
            "type_info": {"type": "rootfs-image"},
            "files": [{"name": "rootfs.ext4", "checksum": ROOTFS_SHA, "size": 3000, "date": DATE}]
        }],
        "artifact_provides": {
            "artifact_name": name,
            "rootfs-image.checksum": ROOTFS_SHA,
            "rootfs-image.version": name
        },
        "artifact_depends": {"device_type": ["qemux86-64"]},
        "clears_artifact_provides": ["artifact_group", "rootfs_image_checksum", "rootfs-image.*"],
        "scripts": [],
        "size": size
    })
}

#[test]
fn rootfs_image_in_every_compression() {
    assert_eq!(meta_json("rootfs-gzip.mender"), rootfs_expected("rootfs-gzip", 8192));
    assert_eq!(meta_json("rootfs-none.mender"), rootfs_expected("rootfs-none", 12288));
    assert_eq!(meta_json("rootfs-lzma.mender"), rootfs_expected("rootfs-lzma", 8192));
    // Recompressed from rootfs-none with zstd and repacked with GNU tar (GNU headers).
    assert_eq!(meta_json("rootfs-zstd.mender"), rootfs_expected("rootfs-none", 10240));
}

#[test]
fn single_file_module_from_the_generator_script() {
    let meta = parse(&fixture("single-file.mender")).unwrap();
    assert_eq!(meta.name, "release-1");
    assert_eq!(meta.device_types_compatible, ["raspberrypi4"]);
    assert_eq!(meta.updates.len(), 1);
    assert_eq!(meta.updates[0].type_info.kind.as_deref(), Some("single-file"));
    let files: Vec<(&str, &str, u64)> =
        meta.updates[0].files.iter().map(|f| (f.name.as_str(), f.checksum.as_str(), f.size)).collect();
    assert_eq!(
        files,
        [
            ("dest_dir", sha256_hex(b"/opt/app\n").as_str(), 9),
            ("filename", sha256_hex(b"app.conf\n").as_str(), 9),
            ("permissions", sha256_hex(b"644\n").as_str(), 4),
            ("app.conf", APP_CONF_SHA, 39),
        ]
    );
    assert_eq!(meta.updates[0].files[3].date, DATE);
    assert_eq!(
        serde_json::to_value(&meta.artifact_provides).unwrap(),
        json!({"artifact_name": "release-1", "rootfs-image.single-file.version": "release-1"})
    );
    assert_eq!(meta.clears_artifact_provides, ["rootfs-image.single-file.*"]);
    assert_eq!(meta.payload_size(), 9 + 9 + 4 + 39);
}

#[test]
fn depends_provides_groups_and_meta_data() {
    assert_eq!(
        meta_json("depends.mender"),
        json!({
            "name": "dep-1",
            "device_types_compatible": ["dt1", "dt2"],
            "info": {"format": "mender", "version": 3},
            "signed": false,
            "updates": [{
                "type_info": {"type": "custom"},
                "files": [{"name": "hello.txt", "checksum": HELLO_SHA, "size": 12, "date": DATE}],
                "meta_data": {"foo": "bar", "n": 3, "list": ["a", "b"]}
            }],
            "artifact_provides": {
                "artifact_name": "dep-1",
                "artifact_group": "grp-b",
                "foo": "bar",
                "num": "42",
                "rootfs-image.app.version": "1.2.3"
            },
            "artifact_depends": {
                "device_type": ["dt1", "dt2"],
                "artifact_name": ["release-0", "release-00"],
                "artifact_group": ["grp-a"],
                "dep": "val"
            },
            "clears_artifact_provides": ["x.*", "rootfs-image.app.*"],
            "scripts": [],
            "size": 5120
        })
    );
}

#[test]
fn signed_script_module_with_state_scripts() {
    let meta = parse(&fixture("script-signed.mender")).unwrap();
    assert!(meta.signed);
    assert_eq!(meta.name, "script-1");
    assert_eq!(meta.scripts, ["ArtifactInstall_Enter_00", "ArtifactCommit_Leave_10"]);
    assert_eq!(meta.updates[0].type_info.kind.as_deref(), Some("script"));
    assert_eq!(meta.updates[0].files[0].checksum, RUN_SHA);
    assert_eq!(
        Value::Object(meta.updates[0].meta_data.clone().unwrap()),
        json!({"foo": "bar", "n": 3, "list": ["a", "b"]})
    );
    assert!(!parse(&fixture("depends.mender")).unwrap().signed);
}

#[test]
fn format_version_2() {
    let meta = meta_json("v2.mender");
    assert_eq!(
        meta,
        json!({
            "name": "v2-1",
            "device_types_compatible": ["qemu", "bbb"],
            "info": {"format": "mender", "version": 2},
            "signed": false,
            "updates": [{
                "type_info": {"type": "rootfs-image"},
                "files": [{"name": "rootfs.ext4", "checksum": ROOTFS_SHA, "size": 3000, "date": DATE}]
            }],
            "artifact_provides": {"artifact_name": "v2-1"},
            "artifact_depends": {"device_type": ["qemu", "bbb"]},
            "clears_artifact_provides": [],
            "scripts": [],
            "size": 8192
        })
    );
}

#[test]
fn empty_payload_bootstrap_artifact() {
    let meta = parse(&fixture("bootstrap.mender")).unwrap();
    assert_eq!(meta.name, "boot-1");
    assert_eq!(meta.updates.len(), 1);
    assert_eq!(meta.updates[0].type_info.kind, None);
    assert!(meta.updates[0].files.is_empty());
    assert_eq!(meta_json("bootstrap.mender")["updates"][0]["type_info"], json!({"type": null}));
}

#[test]
fn augmented_artifact_collects_files_from_both_manifests() {
    let meta = parse(&fixture("augmented.mender")).unwrap();
    assert_eq!(meta.name, "aug-1");
    let files: Vec<(&str, &str)> =
        meta.updates[0].files.iter().map(|f| (f.name.as_str(), f.checksum.as_str())).collect();
    assert_eq!(files, [("hello.txt", HELLO_SHA), ("run.sh", RUN_SHA)]);
    assert_eq!(meta.updates[0].type_info.kind.as_deref(), Some("foo"));
}

#[test]
fn long_payload_names_via_pax_and_gnu_headers() {
    for name in ["long-name-pax.mender", "long-name-gnu.mender"] {
        let meta = parse(&fixture(name)).unwrap();
        assert_eq!(meta.updates[0].files[0].name, LONG_NAME, "{name}");
        assert_eq!(meta.updates[0].files[0].checksum, input_sha(LONG_NAME), "{name}");
        assert_eq!(meta.updates[0].files[0].date, DATE, "{name}");
    }
}

#[test]
fn header_fields_are_available_before_the_payload() {
    let bytes = fixture("rootfs-none.mender");
    let mut parser = fleetlog_artifact::ArtifactParser::new(Limits::default());
    // version, manifest and header.tar end at byte 6144; the data tar follows.
    parser.feed(&bytes[..7000]).unwrap();
    assert_eq!(parser.artifact_name(), Some("rootfs-none"));
    assert_eq!(parser.device_types(), Some(&["qemux86-64".to_owned()][..]));
    assert_eq!(parser.bytes_fed(), 7000);
    parser.feed(&bytes[7000..]).unwrap();
    assert_eq!(parser.finish().unwrap().name, "rootfs-none");
}
