//! The read models the gateway hosts are exactly the typed [`Model`]s its queries name.

use fleetlog_projections::Model;

#[test]
fn every_typed_model_has_exactly_one_projection() {
    let hosted: Vec<&str> = crate::server::projections().iter().map(|p| p.name()).collect();
    for model in Model::ALL {
        assert_eq!(hosted.iter().filter(|n| **n == model.name()).count(), 1, "{model:?} hosted once");
    }
    assert_eq!(hosted.len(), Model::ALL.len(), "every hosted model is a Model: {hosted:?}");
}

/// Every `FLEETLOG_*` name the compose file and the cluster's shared settings set is one that
/// `fleetlog serve` reads (a misspelt name is silently ignored by clap otherwise).
#[test]
fn the_cluster_settings_name_only_what_serve_reads() {
    use clap::Args as _;
    let command = crate::settings::ServeArgs::augment_args(clap::Command::new("serve"));
    let read: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for file in ["docker-compose.yml", "deploy/cluster.env"] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let rest = &line[name.len()..];
            if name.starts_with("FLEETLOG_") && (rest.starts_with(':') || rest.starts_with('=')) {
                assert!(read.contains(&name), "{file} sets {name}, which `fleetlog serve` does not read");
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "found the settings ({checked})");
}
