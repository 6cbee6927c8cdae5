//! Given/when/then tests of the deployments read model: artifacts, deployments and their
//! statistics, each device's part, the per-device queue `next` reads, aborts and decommissions.

use fleetlog_events::Actor;
use fleetlog_events::artifact::{ArtifactEvent, ArtifactInfo};
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus as S};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::user::UserEvent;

use super::{DeploymentsProjection, DeploymentsQueries};
use crate::testing::{Given, START, T};

const SECOND: i64 = 1_000_000;

fn upload(name: &str) -> ArtifactEvent {
    let info = ArtifactInfo {
        name: name.into(),
        description: "first".into(),
        device_types: vec!["raspberrypi4".into()],
        meta_json: "{}".into(),
        size: 1024,
        storage_key: format!("artifacts/{name}"),
    };
    ArtifactEvent::ArtifactUploaded { info }
}

fn create(name: &str, devices: &[&str]) -> DeploymentEvent {
    let spec = DeploymentSpec {
        name: name.into(),
        artifact_name: "v1.0".into(),
        devices: devices.iter().map(|d| (*d).into()).collect(),
        retries: 1,
        force_installation: false,
        target: "devices".into(),
        configuration: None,
        ..Default::default()
    };
    DeploymentEvent::DeploymentCreated { spec }
}

fn status(s: S) -> DeviceDeploymentEvent {
    DeviceDeploymentEvent::DeviceDeploymentStatusChanged { status: s, substate: format!("{s:?}") }
}

/// Deployment `dep1` (created at START) of `v1.0` to d1 and d2.
fn created() -> Given<DeploymentsProjection> {
    Given::new(DeploymentsProjection).event("deployment", "dep1", create("rollout", &["d1", "d2"]))
}

#[test]
fn an_uploaded_artifact_is_listed_by_id_and_name_and_goes_when_deleted() {
    let g = Given::new(DeploymentsProjection)
        .event("artifact", "a1", upload("v1.0"))
        .event("artifact", "a2", upload("v2.0"))
        .event("artifact", "a1", ArtifactEvent::ArtifactDescriptionChanged { description: "second".into() });
    let m = g.model();
    let q = DeploymentsQueries(&m);
    let a1 = q.artifact(T, "a1").unwrap().expect("artifact");
    assert_eq!((a1.info.name.as_str(), a1.info.description.as_str()), ("v1.0", "second"));
    assert_eq!((a1.info.size, a1.modified_ts), (1024, START + 2 * SECOND));
    assert_eq!(q.artifacts(T).unwrap().len(), 2);
    assert_eq!(q.artifacts_named(T, "v1.0").unwrap(), [a1]);
    g.when("artifact", "a1", ArtifactEvent::ArtifactDeleted).then(|m| {
        let q = DeploymentsQueries(m);
        assert_eq!(q.artifact(T, "a1").unwrap(), None);
        assert!(q.artifacts_named(T, "v1.0").unwrap().is_empty());
        assert_eq!(q.artifacts(T).unwrap().len(), 1);
    });
}

#[test]
fn a_created_deployment_is_pending_for_each_of_its_devices() {
    created().then(|m| {
        let q = DeploymentsQueries(m);
        let d = q.deployment(T, "dep1").unwrap().expect("deployment");
        assert_eq!((d.name.as_str(), d.artifact_name.as_str()), ("rollout", "v1.0"));
        assert_eq!((d.device_count, d.retries, d.created_ts), (2, 1, START));
        assert_eq!(d.stats.into_iter().collect::<Vec<_>>(), [(S::Pending, 2)]);
        assert_eq!(q.deployment(T, "dep1").unwrap().unwrap().status(), "pending");
        let parts = q.parts(T, "dep1").unwrap();
        assert_eq!(
            parts.iter().map(|p| (p.device_id.as_str(), p.status)).collect::<Vec<_>>(),
            [("d1", S::Pending), ("d2", S::Pending)]
        );
        assert_eq!(q.next_for(T, "d1").unwrap().as_deref(), Some("dep1"));
        assert_eq!(q.next_for(T, "d3").unwrap(), None);
        assert_eq!(q.history(T, "d2").unwrap().len(), 1);
        assert_eq!(q.active_deployments_of(T, "v1.0").unwrap(), 1);
        assert_eq!(q.active_deployment_ids_of(T, "v1.0").unwrap(), ["dep1"]);
    });
}

#[test]
fn a_device_reporting_progress_puts_the_deployment_in_progress() {
    created()
        .by(Actor::device("d1"))
        .event(
            "devdeployment",
            "dep1:d1",
            DeviceDeploymentEvent::DeviceDeploymentAssigned { artifact_id: "a1".into() },
        )
        .when("devdeployment", "dep1:d1", status(S::Downloading))
        .then(|m| {
            let q = DeploymentsQueries(m);
            let p = q.part(T, "dep1", "d1").unwrap().unwrap();
            assert_eq!((p.status, p.substate.as_str()), (S::Downloading, "Downloading"));
            assert_eq!(p.artifact_id.as_deref(), Some("a1"));
            assert_eq!((p.started_ts, p.finished_ts), (Some(START + 2 * SECOND), None));
            let d = q.deployment(T, "dep1").unwrap().unwrap();
            assert_eq!(d.status(), "inprogress");
            assert_eq!(d.stats.into_iter().collect::<Vec<_>>(), [(S::Pending, 1), (S::Downloading, 1)]);
            assert_eq!(q.next_for(T, "d1").unwrap().as_deref(), Some("dep1"), "still unfinished");
        });
}

#[test]
fn a_deployment_finishes_when_its_last_device_does() {
    created()
        .by(Actor::device("d1"))
        .event("devdeployment", "dep1:d1", status(S::Success))
        .by(Actor::device("d2"))
        .when("devdeployment", "dep1:d2", status(S::Failure))
        .then(|m| {
            let q = DeploymentsQueries(m);
            let d = q.deployment(T, "dep1").unwrap().unwrap();
            assert_eq!(d.status(), "finished");
            assert_eq!(d.finished_ts, Some(START + 2 * SECOND));
            assert_eq!(d.stats.into_iter().collect::<Vec<_>>(), [(S::Success, 1), (S::Failure, 1)]);
            assert_eq!(q.part(T, "dep1", "d1").unwrap().unwrap().finished_ts, Some(START + SECOND));
            assert_eq!(q.next_for(T, "d1").unwrap(), None);
            assert_eq!(q.next_for(T, "d2").unwrap(), None);
            assert_eq!(q.active_deployments_of(T, "v1.0").unwrap(), 0, "the artifact may be deleted");
        });
}

#[test]
fn a_retried_failure_reopens_the_deployment() {
    created()
        .by(Actor::device("d1"))
        .event("devdeployment", "dep1:d1", status(S::Success))
        .event(
            "devdeployment",
            "dep1:d2",
            DeviceDeploymentEvent::DeviceDeploymentAssigned { artifact_id: "a1".into() },
        )
        .event("devdeployment", "dep1:d2", status(S::Failure))
        .when("devdeployment", "dep1:d2", DeviceDeploymentEvent::DeviceDeploymentRetried { attempt: 1 })
        .then(|m| {
            let q = DeploymentsQueries(m);
            let p = q.part(T, "dep1", "d2").unwrap().unwrap();
            assert_eq!((p.status, p.attempts, p.artifact_id), (S::Pending, 1, None));
            assert_eq!(p.finished_ts, None);
            let d = q.deployment(T, "dep1").unwrap().unwrap();
            assert_eq!((d.status(), d.finished_ts), ("inprogress", None));
            assert_eq!(q.next_for(T, "d2").unwrap().as_deref(), Some("dep1"));
            assert_eq!(q.active_deployments_of(T, "v1.0").unwrap(), 1);
        });
}

#[test]
fn an_abort_finishes_the_unfinished_parts_only() {
    created()
        .by(Actor::device("d1"))
        .event("devdeployment", "dep1:d1", status(S::Success))
        .by(Actor::device("d2"))
        .event("devdeployment", "dep1:d2", status(S::Downloading))
        .by(Actor::user("u1", "alice@example.com"))
        .when("deployment", "dep1", DeploymentEvent::DeploymentAborted)
        .then(|m| {
            let q = DeploymentsQueries(m);
            let d = q.deployment(T, "dep1").unwrap().unwrap();
            assert!(d.aborted);
            assert_eq!((d.status(), d.finished_ts), ("finished", Some(START + 3 * SECOND)));
            assert_eq!(d.stats.into_iter().collect::<Vec<_>>(), [(S::Success, 1), (S::Aborted, 1)]);
            assert_eq!(q.part(T, "dep1", "d1").unwrap().unwrap().status, S::Success);
            assert_eq!(q.part(T, "dep1", "d2").unwrap().unwrap().status, S::Aborted);
            assert_eq!(q.next_for(T, "d2").unwrap(), None);
            assert_eq!(q.active_deployments_of(T, "v1.0").unwrap(), 0);
        });
}

#[test]
fn a_decommissioned_device_ends_its_parts_and_the_others_go_on() {
    created()
        .event("deployment", "dep2", create("second", &["d1"]))
        .when("device", "d1", DeviceEvent::DeviceDecommissioned)
        .then(|m| {
            let q = DeploymentsQueries(m);
            for dep in ["dep1", "dep2"] {
                assert_eq!(q.part(T, dep, "d1").unwrap().unwrap().status, S::Decommissioned);
            }
            assert_eq!(q.next_for(T, "d1").unwrap(), None);
            let dep1 = q.deployment(T, "dep1").unwrap().unwrap();
            assert_eq!(dep1.stats.into_iter().collect::<Vec<_>>(), [(S::Pending, 1), (S::Decommissioned, 1)]);
            assert_eq!(q.deployment(T, "dep2").unwrap().unwrap().status(), "finished");
            assert_eq!(q.next_for(T, "d2").unwrap().as_deref(), Some("dep1"));
            assert_eq!(q.active_deployment_ids_of(T, "v1.0").unwrap(), ["dep1"]);
        });
}

#[test]
fn a_part_ended_by_an_abort_or_a_decommission_never_started() {
    created()
        .event("deployment", "dep2", create("second", &["d2"]))
        .event("deployment", "dep1", DeploymentEvent::DeploymentAborted)
        .when("device", "d2", DeviceEvent::DeviceDecommissioned)
        .then(|m| {
            let q = DeploymentsQueries(m);
            for (dep, device, at) in [("dep1", "d1", 2), ("dep1", "d2", 2), ("dep2", "d2", 3)] {
                let p = q.part(T, dep, device).unwrap().unwrap();
                assert_eq!(p.started_ts, None, "{dep}/{device}: the device never reported");
                assert_eq!(p.finished_ts, Some(START + at * SECOND), "{dep}/{device}");
            }
        });
}

#[test]
fn next_serves_the_oldest_unfinished_deployment_and_lists_newest_first() {
    created()
        .event("deployment", "dep0", create("later", &["d1"]))
        .by(Actor::device("d1"))
        .when("devdeployment", "dep1:d1", status(S::AlreadyInstalled))
        .then(|m| {
            let q = DeploymentsQueries(m);
            assert_eq!(q.next_for(T, "d1").unwrap().as_deref(), Some("dep0"));
            let ids: Vec<String> = q.deployments(T).unwrap().into_iter().map(|d| d.id).collect();
            assert_eq!(ids, ["dep0", "dep1"], "by creation, not by id");
            let history: Vec<String> =
                q.history(T, "d1").unwrap().into_iter().map(|p| p.deployment_id).collect();
            assert_eq!(history, ["dep0", "dep1"]);
        });
}

#[test]
fn a_saved_log_is_kept_and_a_deleted_part_leaves_the_history() {
    let log = r#"[{"level":"error","message":"no space"}]"#;
    created()
        .by(Actor::device("d1"))
        .event("devdeployment", "dep1:d1", status(S::Failure))
        .event(
            "devdeployment",
            "dep1:d1",
            DeviceDeploymentEvent::DeviceDeploymentLogSaved { messages_json: log.into() },
        )
        .when("devdeployment", "dep1:d1", DeviceDeploymentEvent::DeviceDeploymentDeleted)
        .then(|m| {
            let q = DeploymentsQueries(m);
            let p = q.part(T, "dep1", "d1").unwrap().unwrap();
            assert!(p.has_log);
            assert_eq!(q.log(T, "dep1", "d1").unwrap().as_deref(), Some(log));
            assert!(q.history(T, "d1").unwrap().is_empty());
            assert_eq!(q.history(T, "d2").unwrap().len(), 1);
        });
}

fn history() -> Given<DeploymentsProjection> {
    Given::new(DeploymentsProjection)
        .event("artifact", "a1", upload("v1.0"))
        .event("deployment", "dep1", create("rollout", &["d1", "d2", "d3"]))
        .event(
            "devdeployment",
            "dep1:d1",
            DeviceDeploymentEvent::DeviceDeploymentAssigned { artifact_id: "a1".into() },
        )
        .event("devdeployment", "dep1:d1", status(S::Installing))
        .event("devdeployment", "dep1:d1", status(S::Failure))
        .event("devdeployment", "dep1:d1", DeviceDeploymentEvent::DeviceDeploymentRetried { attempt: 1 })
        .event("devdeployment", "dep1:d2", status(S::Success))
        .event("device", "d3", DeviceEvent::DeviceDecommissioned)
        .event("deployment", "dep2", create("second", &["d1"]))
        .event("deployment", "dep1", DeploymentEvent::DeploymentAborted)
        .event("devdeployment", "dep1:d2", DeviceDeploymentEvent::DeviceDeploymentDeleted)
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn events_of_other_aggregates_are_ignored() {
    history().assert_ignores("user", "u1", UserEvent::UserDeleted);
    history().assert_ignores("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as1".into() });
    // A part of a deployment that does not target the device.
    history().assert_ignores("devdeployment", "dep2:d9", status(S::Success));
}
