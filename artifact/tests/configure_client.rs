//! The real Debian `mender-client` 3.4 installs generated configuration artifacts in
//! standalone mode (`mender install`, then `mender commit`): it accepts the header, hands
//! `header/meta-data` to the `mender-configure` update module and stores the provides, the
//! second configuration clearing those of the first.
//!
//! The client only looks for update modules in `/usr/share/mender/modules/v3` and reads
//! `/etc/mender/artifact_info`, so the test runs it in a private mount namespace with scratch
//! directories bind-mounted over both: the machine's files are never touched. Debian does not
//! package the `mender-configure` module; where it is not installed, a stand-in that does
//! what the real module's `ArtifactInstall` does (copy `header/meta-data` to the configuration
//! file, then run the apply command on it) takes its place. Where it is installed, the real
//! module runs, pointed at scratch files through its `TEST_CONFIG` and `TEST_APPLY_CMD`
//! variables.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::scratch;
use fleetlog_artifact::{ConfigurationArtifact, write_configuration_artifact};
use serde_json::{Value, json};

const MODULES: &str = "/usr/share/mender/modules/v3";

/// Stand-in for the module's install step (see the module docs above).
const STAND_IN: &str = r#"#!/bin/sh
set -e
case "$1" in
    ArtifactInstall)
        cp "$2/header/meta-data" "$TEST_CONFIG"
        "$TEST_APPLY_CMD" "$TEST_CONFIG"
        ;;
    SupportsRollback) echo Yes ;;
    NeedsArtifactReboot) echo No ;;
esac
"#;

/// Installs each artifact in turn, saving the configuration file and the provides after each.
const SCRIPT: &str = r#"set -e
mount --bind "$D/etc" /etc/mender
if [ -n "$STAND_IN" ]; then mount --bind "$D/modules" /usr/share/mender/modules/v3; fi
m() { mender --no-syslog --config "$D/mender.conf" --fallback-config "$D/none.conf" --data "$D/data" "$@"; }
for n in 1 2; do
    m install "$D/$n.mender"
    m commit
    cp "$TEST_CONFIG" "$D/applied-$n.json"
    m show-provides > "$D/provides-$n.txt"
done
"#;

/// False (test skipped) where the client cannot run; a failure if `FLEETLOG_REQUIRE_MENDER`
/// is set.
fn client_runnable() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let paths = ["/usr/bin/mender", "/usr/bin/unshare", MODULES];
    let missing = match paths.into_iter().find(|p| !Path::new(p).exists()) {
        _ if !root => "root",
        Some(path) => path,
        None => return true,
    };
    assert!(std::env::var_os("FLEETLOG_REQUIRE_MENDER").is_none(), "mender install needs {missing}");
    eprintln!("NOTICE: skipping the mender-client install check: needs {missing}");
    false
}

fn artifact(deployment: &str, configuration: &[(&str, &str)]) -> (ConfigurationArtifact, Vec<u8>) {
    let configuration: BTreeMap<String, String> =
        configuration.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let spec = ConfigurationArtifact::for_deployment(deployment, "test-device", configuration);
    let mut bytes = Vec::new();
    write_configuration_artifact(&spec, &mut bytes).expect("write artifact");
    (spec, bytes)
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    let status = Command::new("chmod").arg("755").arg(path).status().unwrap();
    assert!(status.success());
}

#[test]
fn mender_client_installs_configuration_artifacts() {
    if !client_runnable() {
        return;
    }
    let dir = scratch("client");
    let real_module = Path::new(MODULES).join("mender-configure").exists();
    eprintln!("mender-configure module: {}", if real_module { "installed" } else { "stand-in" });
    for sub in ["etc", "data", "modules"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("etc/artifact_info"), "artifact_name=factory-image\n").unwrap();
    std::fs::write(dir.join("device_type"), "device_type=test-device\n").unwrap();
    let conf = json!({ "DeviceTypeFile": dir.join("device_type"), "DBus": { "Enabled": false } });
    std::fs::write(dir.join("mender.conf"), conf.to_string()).unwrap();
    write_exec(&dir.join("modules/mender-configure"), STAND_IN);
    // The apply command records what it was asked to apply.
    let applied_log = dir.join("apply.log");
    write_exec(&dir.join("apply"), &format!("#!/bin/sh\ncat \"$1\" >> '{}'\n", applied_log.display()));

    let first = artifact("11111111-aaaa", &[("hostname", "kiosk-7"), ("timezone", "Europe/Oslo")]);
    let second = artifact("22222222-bbbb", &[("timezone", "UTC"), ("motd", "say \"hi\"\n")]);
    std::fs::write(dir.join("1.mender"), &first.1).unwrap();
    std::fs::write(dir.join("2.mender"), &second.1).unwrap();

    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", SCRIPT])
        .env("D", &dir)
        .env("STAND_IN", if real_module { "" } else { "1" })
        .env("TEST_CONFIG", dir.join("device-config.json"))
        .env("TEST_APPLY_CMD", dir.join("apply"))
        .output()
        .expect("run unshare");
    assert!(
        out.status.success(),
        "mender install failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    for (n, (spec, _)) in [(1, &first), (2, &second)] {
        let applied: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("applied-{n}.json"))).unwrap())
                .expect("the installed configuration is JSON");
        assert_eq!(applied, serde_json::to_value(&spec.configuration).unwrap(), "configuration {n}");
        let provides = std::fs::read_to_string(dir.join(format!("provides-{n}.txt"))).unwrap();
        let name = &spec.artifact_name;
        assert!(provides.contains(&format!("artifact_name={name}\n")), "{provides}");
        assert!(
            provides.contains(&format!("data-partition.mender-configure.version={name}\n")),
            "{provides}"
        );
    }
    // The second configuration cleared the first one's provides.
    let provides = std::fs::read_to_string(dir.join("provides-2.txt")).unwrap();
    assert!(!provides.contains(&first.0.artifact_name), "{provides}");
    assert!(std::fs::read_to_string(&applied_log).unwrap().contains("kiosk-7"));
    let _ = std::fs::remove_dir_all(&dir);
}
