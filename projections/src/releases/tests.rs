//! Given/when/then tests of the releases read model: artifacts grouped by name, notes, tags and
//! their index, storage usage, and pending direct uploads.

use fleetlog_events::artifact::{ArtifactEvent, ArtifactInfo};
use fleetlog_events::release::ReleaseEvent;
use fleetlog_events::user::UserEvent;

use super::{ReleasesProjection, ReleasesQueries};
use crate::testing::{Given, START, T};

fn uploaded(name: &str, size: u64, update_type: &str, device_type: &str) -> ArtifactEvent {
    ArtifactEvent::ArtifactUploaded {
        info: ArtifactInfo {
            name: name.into(),
            description: String::new(),
            device_types: vec![device_type.into()],
            meta_json: format!(r#"{{"updates":[{{"type_info":{{"type":"{update_type}"}}}}]}}"#),
            size,
            storage_key: format!("artifacts/{name}-{size}"),
        },
    }
}

fn two_artifacts() -> Given<ReleasesProjection> {
    Given::new(ReleasesProjection)
        .event("artifact", "a1", uploaded("v1.0", 1000, "rootfs-image", "raspberrypi4"))
        .event("artifact", "a2", uploaded("v1.0", 500, "single-file", "qemux86-64"))
}

fn tags(name: &str, tags: &[&str]) -> ReleaseEvent {
    ReleaseEvent::ReleaseTagsSet { name: name.into(), tags: tags.iter().map(|t| (*t).into()).collect() }
}

#[test]
fn artifacts_of_one_name_make_one_release_and_count_in_the_usage() {
    two_artifacts().when("artifact", "a3", uploaded("v2.0", 20, "rootfs-image", "raspberrypi4")).then(|m| {
        let q = ReleasesQueries(m);
        let r = q.release(T, "v1.0").unwrap().expect("release");
        assert_eq!(r.artifacts.keys().collect::<Vec<_>>(), ["a1", "a2"]);
        assert_eq!(r.artifacts["a1"].size, 1000);
        assert_eq!(r.artifacts["a1"].update_types, ["rootfs-image"]);
        assert_eq!(r.artifacts["a2"].device_types, ["qemux86-64"]);
        assert_eq!(r.modified_ts, START + 1_000_000);
        let names: Vec<String> = q.releases(T).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["v1.0", "v2.0"]);
        assert_eq!(q.usage(T).unwrap(), 1520);
        assert_eq!(q.update_types(T).unwrap(), ["rootfs-image", "single-file"]);
    });
}

#[test]
fn notes_and_tags_show_on_the_release_and_in_the_tag_index() {
    two_artifacts()
        .event(
            "release",
            "v1.0",
            ReleaseEvent::ReleaseNotesSet { name: "v1.0".into(), notes: "Fixes".into() },
        )
        .when("release", "v1.0", tags("v1.0", &["prod", "stable"]))
        .then(|m| {
            let q = ReleasesQueries(m);
            let r = q.release(T, "v1.0").unwrap().unwrap();
            assert_eq!(r.notes, "Fixes");
            assert_eq!(r.tags, ["prod", "stable"]);
            assert_eq!(r.artifacts.len(), 2, "metadata keeps the artifacts");
            assert_eq!(q.tags(T).unwrap(), ["prod", "stable"]);
        });
}

#[test]
fn new_tags_replace_the_old_ones_in_the_index() {
    two_artifacts()
        .event("artifact", "a3", uploaded("v2.0", 20, "rootfs-image", "raspberrypi4"))
        .event("release", "v1.0", tags("v1.0", &["beta", "prod"]))
        .event("release", "v2.0", tags("v2.0", &["prod"]))
        .when("release", "v1.0", tags("v1.0", &["old"]))
        .then(|m| {
            let q = ReleasesQueries(m);
            assert_eq!(q.release(T, "v1.0").unwrap().unwrap().tags, ["old"]);
            assert_eq!(q.tags(T).unwrap(), ["old", "prod"], "prod is still on v2.0, beta on nothing");
        });
}

#[test]
fn a_deleted_artifact_leaves_its_release_and_the_usage() {
    two_artifacts().when("artifact", "a1", ArtifactEvent::ArtifactDeleted).then(|m| {
        let q = ReleasesQueries(m);
        let r = q.release(T, "v1.0").unwrap().unwrap();
        assert_eq!(r.artifacts.keys().collect::<Vec<_>>(), ["a2"]);
        assert_eq!(q.usage(T).unwrap(), 500);
        assert_eq!(q.update_types(T).unwrap(), ["single-file"]);
    });
}

#[test]
fn a_release_without_artifacts_is_not_shown() {
    two_artifacts()
        .event("artifact", "a1", ArtifactEvent::ArtifactDeleted)
        .when("artifact", "a2", ArtifactEvent::ArtifactDeleted)
        .then(|m| {
            let q = ReleasesQueries(m);
            assert_eq!(q.release(T, "v1.0").unwrap(), None);
            assert!(q.releases(T).unwrap().is_empty());
            assert_eq!(q.usage(T).unwrap(), 0);
        });
}

#[test]
fn a_deleted_release_loses_its_notes_and_tags() {
    two_artifacts()
        .event("release", "v1.0", ReleaseEvent::ReleaseNotesSet { name: "v1.0".into(), notes: "n".into() })
        .event("release", "v1.0", tags("v1.0", &["prod"]))
        .when("release", "v1.0", ReleaseEvent::ReleaseDeleted { name: "v1.0".into() })
        .then(|m| {
            let q = ReleasesQueries(m);
            let r = q.release(T, "v1.0").unwrap().expect("artifacts are deleted by their own events");
            assert_eq!((r.notes.as_str(), r.tags.len()), ("", 0));
            assert!(q.tags(T).unwrap().is_empty());
        });
}

#[test]
fn a_direct_upload_is_pending_until_completed_or_abandoned() {
    let requested = |key: &str| ArtifactEvent::ArtifactUploadRequested {
        storage_key: key.into(),
        expires_at: START + 3_600_000_000,
    };
    Given::new(ReleasesProjection)
        .event("artifact", "a1", requested("uploads/a1"))
        .event("artifact", "a2", requested("uploads/a2"))
        .event("artifact", "a3", requested("uploads/a3"))
        .event("artifact", "a1", uploaded("v1.0", 10, "rootfs-image", "pi"))
        .when("artifact", "a2", ArtifactEvent::ArtifactUploadAbandoned { reason: "expired".into() })
        .then(|m| {
            let q = ReleasesQueries(m);
            assert_eq!(q.pending_upload(T, "a1").unwrap(), None, "completed");
            assert_eq!(q.pending_upload(T, "a2").unwrap(), None, "abandoned");
            let deadline = START + 3_600_000_000;
            assert_eq!(q.pending_upload(T, "a3").unwrap(), Some(("uploads/a3".into(), deadline)));
            assert_eq!(q.pending_uploads(T).unwrap(), [("a3".into(), "uploads/a3".into(), deadline)]);
            assert_eq!(q.usage(T).unwrap(), 10);
        });
}

fn history() -> Given<ReleasesProjection> {
    two_artifacts()
        .event("release", "v1.0", tags("v1.0", &["a", "b"]))
        .event("release", "v1.0", ReleaseEvent::ReleaseNotesSet { name: "v1.0".into(), notes: "n".into() })
        .event("artifact", "a1", ArtifactEvent::ArtifactDeleted)
        .event("release", "v1.0", tags("v1.0", &["b", "c"]))
        .event(
            "artifact",
            "a4",
            ArtifactEvent::ArtifactUploadRequested { storage_key: "k".into(), expires_at: 9 },
        )
        .event("release", "v1.0", ReleaseEvent::ReleaseDeleted { name: "v1.0".into() })
        .event("artifact", "a2", ArtifactEvent::ArtifactDeleted)
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn events_of_other_aggregates_are_ignored() {
    history().assert_ignores("user", "u1", UserEvent::UserDeleted);
    // A description lives in the deployments model; releases do not show it.
    history().assert_ignores(
        "artifact",
        "a2",
        ArtifactEvent::ArtifactDescriptionChanged { description: "d".into() },
    );
}
