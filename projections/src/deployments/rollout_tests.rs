//! Given/when/then tests of the rollout side of the deployments model: phases that open in
//! turn, pauses, per-phase counts, control maps, and dynamic deployments that grow and finish.

use fleetlog_events::Actor;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::rollout::{ControlMap, Phase};
use fleetlog_events::deployment::{
    DeploymentEvent as E, DeploymentSpec, DeviceDeploymentStatus as S, DynamicTarget,
};

use super::{DeploymentView, DeploymentsProjection, DeploymentsQueries};
use crate::testing::{Given, T};

fn phased() -> Given<DeploymentsProjection> {
    let spec = DeploymentSpec {
        name: "canary".into(),
        artifact_name: "v2".into(),
        devices: vec!["d3".into(), "d1".into(), "d2".into()],
        target: "all".into(),
        phases: vec![
            Phase { batch_size: 34, start_ts: 10, device_count: 1 },
            Phase { batch_size: 66, start_ts: 20, device_count: 2 },
        ],
        update_control_map: Some(ControlMap::default()),
        ..Default::default()
    };
    Given::new(DeploymentsProjection).event("deployment", "dep1", E::DeploymentCreated { spec })
}

fn dynamic(max_devices: Option<u64>) -> Given<DeploymentsProjection> {
    let spec = DeploymentSpec {
        name: "fleet".into(),
        artifact_name: "v2".into(),
        target: "filter:f1".into(),
        dynamic: Some(DynamicTarget { filter: vec![], max_devices }),
        ..Default::default()
    };
    Given::new(DeploymentsProjection).event("deployment", "dyn", E::DeploymentCreated { spec })
}

fn dep(m: &crate::ReadModel, id: &str) -> DeploymentView {
    DeploymentsQueries(m).deployment(T, id).unwrap().expect("deployment")
}

fn success() -> DeviceDeploymentEvent {
    DeviceDeploymentEvent::DeviceDeploymentStatusChanged { status: S::Success, substate: String::new() }
}

#[test]
fn a_phased_deployment_is_scheduled_until_its_first_phase_and_opens_phase_by_phase() {
    phased().then(|m| {
        let d = dep(m, "dep1");
        assert_eq!(d.status(), "scheduled");
        assert!(!d.open_to(0) && !d.open_to(1));
        let q = DeploymentsQueries(m);
        let phases: Vec<usize> =
            ["d3", "d1", "d2"].iter().map(|x| q.part(T, "dep1", x).unwrap().unwrap().phase).collect();
        assert_eq!(phases, [0, 1, 1], "the event's order decides the phases");
        assert_eq!(q.rollouts().unwrap(), [(T.to_owned(), "dep1".to_owned())]);
    });
    let started = phased().event("deployment", "dep1", E::DeploymentPhaseStarted { phase: 0 });
    started.then(|m| {
        let d = dep(m, "dep1");
        assert_eq!(d.status(), "pending");
        assert!(d.open_to(0) && !d.open_to(1));
    });
    phased()
        .event("deployment", "dep1", E::DeploymentPhaseStarted { phase: 0 })
        .by(Actor::device("d3"))
        .event("devdeployment", "dep1:d3", success())
        .by(Actor::system("rollout-scheduler"))
        .when("deployment", "dep1", E::DeploymentPaused { reason: "too many failures".into() })
        .then(|m| {
            let d = dep(m, "dep1");
            assert_eq!((d.phases[0].requested, d.phases[1].requested), (1, 0));
            assert_eq!(d.paused.as_deref(), Some("too many failures"));
            assert!(!d.open_to(0), "a paused deployment reaches no new device");
            assert_eq!(d.status(), "inprogress");
        });
}

#[test]
fn resuming_and_changing_the_control_map_show_in_the_view() {
    let map: ControlMap =
        serde_json::from_str(r#"{"states":{"ArtifactReboot_Enter":{"action":"continue"}}}"#).unwrap();
    phased()
        .event("deployment", "dep1", E::DeploymentPaused { reason: "operator".into() })
        .event("deployment", "dep1", E::DeploymentResumed)
        .when("deployment", "dep1", E::DeploymentControlMapUpdated { map: map.clone() })
        .then(|m| {
            let d = dep(m, "dep1");
            assert_eq!((d.paused.clone(), d.control_map), (None, Some(map)));
        });
}

#[test]
fn a_dynamic_deployment_grows_and_stays_open_until_full_or_aborted() {
    dynamic(None)
        .event("deployment", "dyn", E::DeploymentDeviceAdded { device: "d9".into() })
        .by(Actor::device("d9"))
        .when("devdeployment", "dyn:d9", success())
        .then(|m| {
            let d = dep(m, "dyn");
            assert_eq!((d.device_count, d.initial_device_count, d.status()), (1, 0, "inprogress"));
            let q = DeploymentsQueries(m);
            assert_eq!(q.dynamic_deployments(T).unwrap(), ["dyn"], "still taking devices");
            assert_eq!(q.history(T, "d9").unwrap().len(), 1);
        });
    dynamic(Some(1))
        .event("deployment", "dyn", E::DeploymentDeviceAdded { device: "d9".into() })
        .by(Actor::device("d9"))
        .when("devdeployment", "dyn:d9", success())
        .then(|m| {
            assert_eq!(dep(m, "dyn").status(), "finished", "max_devices reached, all done");
            assert!(DeploymentsQueries(m).dynamic_deployments(T).unwrap().is_empty());
        });
    dynamic(None).when("deployment", "dyn", E::DeploymentAborted).then(|m| {
        assert_eq!(dep(m, "dyn").status(), "finished", "an empty dynamic deployment aborts at once");
        assert!(DeploymentsQueries(m).dynamic_deployments(T).unwrap().is_empty());
    });
}

#[test]
fn rollout_events_apply_the_same_in_any_batching() {
    phased()
        .event("deployment", "dep1", E::DeploymentPhaseStarted { phase: 0 })
        .event("deployment", "dep1", E::DeploymentPhaseStarted { phase: 1 })
        .event("deployment", "dep1", E::DeploymentAborted)
        .assert_deterministic();
}
