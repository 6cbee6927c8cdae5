//! The configuration artifact writer: accepted by the real `mender-artifact`, re-parsed by
//! this crate, and laid out like the artifact mender-artifact makes with the settings of the
//! deployments service (`tests/fixtures/configure.mender`).

mod common;

use std::collections::BTreeMap;

use common::{Member, fixture, mender_artifact, mender_read, parse, parse_chunked, unpack};
use fleetlog_artifact::{
    ArtifactError, CONFIGURE_CLEARS_PROVIDES, CONFIGURE_PAYLOAD_TYPE, CONFIGURE_PROVIDES_KEY,
    ConfigurationArtifact, write_configuration_artifact,
};
use serde_json::{Map, Value, json};

/// The deployment the fixture was generated for.
const FIXTURE_NAME: &str = "configuration-0b8f7c1e-4a9d-4f6b-9c3e-2d1a5b7e8f90";

fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn spec(name: &str, configuration: BTreeMap<String, String>) -> ConfigurationArtifact {
    ConfigurationArtifact {
        artifact_name: name.to_owned(),
        device_type: "raspberrypi4".to_owned(),
        configuration,
        mtime: 1_700_000_000,
    }
}

fn fixture_spec() -> ConfigurationArtifact {
    spec(FIXTURE_NAME, config(&[("hostname", "kiosk-7"), ("timezone", "Europe/Oslo")]))
}

fn generate(spec: &ConfigurationArtifact) -> Vec<u8> {
    let mut out = Vec::new();
    let written = write_configuration_artifact(spec, &mut out).expect("write artifact");
    assert_eq!(written, out.len() as u64);
    out
}

fn as_json_map(configuration: &BTreeMap<String, String>) -> Map<String, Value> {
    configuration.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect()
}

/// Configuration values that need JSON escaping (quotes, backslash, newline, non-ASCII, HTML).
fn tricky() -> BTreeMap<String, String> {
    config(&[
        ("motd", "line 1\nline \"2\"\t\\ end"),
        ("städte", "Tromsø, 東京"),
        ("html", "<a href='x'>&amp;</a>"),
        ("", "empty key"),
    ])
}

#[test]
fn mender_artifact_reads_and_validates_configuration_artifacts() {
    let Some(tool) = mender_artifact() else { return };
    let out = mender_read(&tool, &generate(&fixture_spec()), "configure");
    for line in [
        format!("Name: {FIXTURE_NAME}"),
        "Compatible devices: '[raspberrypi4]'".to_owned(),
        "Type:   mender-configure".to_owned(),
        format!("data-partition.mender-configure.version: {FIXTURE_NAME}"),
        "Clears Provides: [\"data-partition.mender-configure.*\"]".to_owned(),
        "\"hostname\": \"kiosk-7\"".to_owned(),
        "\"timezone\": \"Europe/Oslo\"".to_owned(),
        "Files: None".to_owned(),
    ] {
        assert!(out.contains(&line), "{line} missing:\n{out}");
    }
    // Escaped values and an empty configuration are accepted too.
    let out = mender_read(&tool, &generate(&spec("cfg-tricky", tricky())), "configure-tricky");
    assert!(out.contains(r#""motd": "line 1\nline \"2\"\t\\ end""#), "{out}");
    let out = mender_read(&tool, &generate(&spec("cfg-empty", BTreeMap::new())), "configure-empty");
    assert!(out.contains("Name: cfg-empty") && out.contains("Files: None"), "{out}");
}

#[test]
fn the_parser_reads_back_the_configuration() {
    for configuration in [fixture_spec().configuration, tricky()] {
        let s = spec("cfg-1", configuration);
        let bytes = generate(&s);
        for chunk in [1, 7, 512, bytes.len()] {
            let meta = parse_chunked(&bytes, chunk).unwrap();
            assert_eq!(meta.name, "cfg-1");
            assert_eq!(meta.device_types_compatible, ["raspberrypi4"]);
            assert_eq!(meta.info.version, 3);
            assert_eq!(meta.updates.len(), 1);
            let update = &meta.updates[0];
            assert_eq!(update.type_info.kind.as_deref(), Some(CONFIGURE_PAYLOAD_TYPE));
            assert!(update.files.is_empty());
            assert_eq!(update.meta_data.as_ref(), Some(&as_json_map(&s.configuration)));
            assert_eq!(meta.artifact_provides[CONFIGURE_PROVIDES_KEY], "cfg-1");
            assert_eq!(meta.artifact_provides["artifact_name"], "cfg-1");
            assert_eq!(meta.clears_artifact_provides, [CONFIGURE_CLEARS_PROVIDES]);
            assert_eq!(meta.artifact_depends["device_type"], json!(["raspberrypi4"]));
            assert_eq!(meta.size, bytes.len() as u64);
        }
    }
    // An empty configuration is still an (empty) meta-data object.
    let meta = parse(&generate(&spec("cfg-empty", BTreeMap::new()))).unwrap();
    assert_eq!(meta.updates[0].meta_data, Some(Map::new()));
}

/// Outer members, with the header archive unpacked, of an uncompressed artifact.
fn layout(bytes: &[u8]) -> (Vec<Member>, Vec<Member>) {
    let outer = unpack(bytes);
    let header = outer.iter().find(|m| m.name == "header.tar").expect("header.tar");
    let inner = unpack(&header.data);
    (outer, inner)
}

fn names(members: &[Member]) -> Vec<&str> {
    members.iter().map(|m| m.name.as_str()).collect()
}

#[test]
fn layout_matches_what_mender_artifact_writes_for_the_deployments_service() {
    let ours = generate(&fixture_spec());
    let theirs = fixture("configure.mender");
    assert_eq!(parse(&ours).unwrap(), parse(&theirs).unwrap());
    assert_eq!(ours.len(), theirs.len());

    let ((outer, inner), (t_outer, t_inner)) = (layout(&ours), layout(&theirs));
    assert_eq!(names(&outer), ["version", "manifest", "header.tar", "data/0000.tar"]);
    assert_eq!(names(&outer), names(&t_outer));
    assert_eq!(names(&inner), ["header-info", "headers/0000/type-info", "headers/0000/meta-data"]);
    assert_eq!(names(&inner), names(&t_inner));
    // header-info and type-info are byte-identical, hence the whole header and manifest too.
    for (o, t) in outer.iter().chain(&inner).zip(t_outer.iter().chain(&t_inner)) {
        assert_eq!(o.data, t.data, "{} differs", o.name);
    }
    // The payload archive is empty: just the end-of-archive marker.
    assert_eq!(outer[3].data, vec![0u8; 1024]);
    let manifest = String::from_utf8(outer[1].data.clone()).unwrap();
    assert_eq!(manifest.lines().count(), 2, "{manifest}");
}

#[test]
fn meta_data_is_a_json_object_of_strings() {
    let s = spec("cfg-json", tricky());
    let (_, inner) = layout(&generate(&s));
    let value: Value = serde_json::from_slice(&inner[2].data).unwrap();
    assert_eq!(value, Value::Object(as_json_map(&s.configuration)));
    let (_, inner) = layout(&generate(&spec("cfg-empty", BTreeMap::new())));
    assert_eq!(inner[2].data, b"{}");
}

#[test]
fn for_deployment_uses_mender_naming() {
    let s = ConfigurationArtifact::for_deployment("0b8f7c1e-4a9d", "qemux86-64", config(&[("a", "b")]));
    assert_eq!(s.artifact_name, "configuration-0b8f7c1e-4a9d");
    assert_eq!(s.device_type, "qemux86-64");
    assert!(s.mtime > 1_700_000_000);
}

#[test]
fn invalid_specs_are_rejected_before_writing() {
    let good = fixture_spec();
    let cases = [
        ConfigurationArtifact { artifact_name: " ".into(), ..good.clone() },
        ConfigurationArtifact { artifact_name: "a\nb".into(), ..good.clone() },
        ConfigurationArtifact { device_type: String::new(), ..good.clone() },
        ConfigurationArtifact { device_type: "rpi\t4".into(), ..good.clone() },
    ];
    for bad in cases {
        let mut out = Vec::new();
        let err = write_configuration_artifact(&bad, &mut out).unwrap_err();
        assert!(matches!(err, ArtifactError::InvalidInput(_)), "{bad:?}: {err}");
        assert!(out.is_empty(), "{bad:?} wrote {} bytes", out.len());
    }
}
