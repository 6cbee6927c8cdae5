//! Given/when/then tests of the deployment aggregate: creation rules, aborts, and the rollout
//! commands (phases in order, pause and resume, control maps, dynamic joins).

use super::*;
use crate::testing::Given;

fn spec(devices: &[&str]) -> DeploymentSpec {
    DeploymentSpec {
        name: "fix-1".into(),
        artifact_name: "release-2".into(),
        devices: devices.iter().map(|d| (*d).to_owned()).collect(),
        target: "devices".into(),
        ..Default::default()
    }
}

#[test]
fn a_deployment_needs_devices_and_names() {
    let created = DeploymentEvent::DeploymentCreated { spec: spec(&["d1"]) };
    Given::<Deployment>::nothing().when(DeploymentCommand::Create(spec(&["d1"]))).then([created]);
    Given::<Deployment>::nothing()
        .when(DeploymentCommand::Create(spec(&[])))
        .then_err(DeploymentError::NoDevices);
    let unnamed = DeploymentSpec { name: " ".into(), ..spec(&["d1"]) };
    Given::<Deployment>::nothing()
        .when(DeploymentCommand::Create(unnamed))
        .then_err(DeploymentError::MissingField);
}

#[test]
fn retries_are_capped_and_an_artifact_is_needed() {
    let at_most = DeploymentSpec { retries: MAX_RETRIES, ..spec(&["d1"]) };
    let created = DeploymentEvent::DeploymentCreated { spec: at_most.clone() };
    Given::<Deployment>::nothing().when(DeploymentCommand::Create(at_most)).then([created]);
    let too_many = DeploymentSpec { retries: MAX_RETRIES + 1, ..spec(&["d1"]) };
    Given::<Deployment>::nothing()
        .when(DeploymentCommand::Create(too_many))
        .then_err(DeploymentError::TooManyRetries);
    let many = DeploymentSpec { retries: MAX_RETRIES + 1, ..spec(&["d1"]) };
    assert_eq!(check_deployable(&many, 0), Err(DeploymentError::TooManyRetries));
    assert_eq!(check_deployable(&spec(&["d1"]), 0), Err(DeploymentError::NoArtifact));
    assert_eq!(check_deployable(&spec(&["d1"]), 2), Ok(()));
}

#[test]
fn the_state_counts_the_devices_without_keeping_them() {
    let created = DeploymentEvent::DeploymentCreated { spec: spec(&["d1", "d2"]) };
    let given = Given::<Deployment>::events([created]);
    let state = given.state();
    assert_eq!((state.device_count, state.spec.devices.len()), (2, 0));
    assert_eq!(state.spec.artifact_name, "release-2");
}

#[test]
fn only_unfinished_deployments_abort() {
    let created = DeploymentEvent::DeploymentCreated { spec: spec(&["d1"]) };
    Given::<Deployment>::events([created.clone()])
        .when(DeploymentCommand::Abort { finished: false })
        .then([DeploymentEvent::DeploymentAborted]);
    Given::<Deployment>::events([created.clone()])
        .when(DeploymentCommand::Abort { finished: true })
        .then_err(DeploymentError::Finished);
    Given::<Deployment>::events([created, DeploymentEvent::DeploymentAborted])
        .when(DeploymentCommand::Abort { finished: false })
        .then_err(DeploymentError::Finished);
}

fn rollout_spec() -> DeploymentSpec {
    DeploymentSpec {
        phases: vec![
            rollout::Phase { batch_size: 50, start_ts: 1, device_count: 1 },
            rollout::Phase { batch_size: 50, start_ts: 2, device_count: 1 },
        ],
        ..spec(&["d1", "d2"])
    }
}

#[test]
fn phases_start_in_order_once_and_must_account_for_every_device() {
    let created = DeploymentEvent::DeploymentCreated { spec: rollout_spec() };
    let start = |phase| DeploymentCommand::StartPhase { phase, finished: false };
    Given::<Deployment>::events([created.clone()])
        .when(start(0))
        .then([DeploymentEvent::DeploymentPhaseStarted { phase: 0 }]);
    Given::<Deployment>::events([created.clone()]).when(start(1)).then([]);
    Given::<Deployment>::events([created.clone(), DeploymentEvent::DeploymentPhaseStarted { phase: 0 }])
        .when(start(0))
        .then([]);
    Given::<Deployment>::events([created, DeploymentEvent::DeploymentAborted])
        .when(start(0))
        .then_err(DeploymentError::Finished);
    let short = DeploymentSpec { devices: vec!["d1".into()], ..rollout_spec() };
    assert!(matches!(
        Deployment::decide(&DeploymentState::default(), &DeploymentCommand::Create(short)),
        Err(DeploymentError::Phases(_))
    ));
}

#[test]
fn a_big_deployment_lists_its_devices_in_parts_of_one_append() {
    let ids: Vec<String> = (0..DEVICES_PER_EVENT * 2 + 5).map(|i| format!("d{i}")).collect();
    let big = DeploymentSpec { devices: ids.clone(), ..spec(&[]) };
    let events = Deployment::decide(&DeploymentState::default(), &DeploymentCommand::Create(big)).unwrap();
    assert_eq!(events.len(), 3);
    let DeploymentEvent::DeploymentCreated { spec: first } = &events[0] else { panic!("{events:?}") };
    assert_eq!((first.devices.len(), first.device_total()), (DEVICES_PER_EVENT, ids.len() as u64));
    let listed: Vec<String> = events
        .iter()
        .flat_map(|e| match e {
            DeploymentEvent::DeploymentCreated { spec } => spec.devices.clone(),
            DeploymentEvent::DeploymentDevicesListed { devices } => devices.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(listed, ids, "every device once, in order");
    let state = events.iter().fold(DeploymentState::default(), Deployment::evolve);
    assert_eq!(state.device_count, ids.len());
    let small =
        Deployment::decide(&DeploymentState::default(), &DeploymentCommand::Create(spec(&["d1"]))).unwrap();
    assert!(matches!(&small[..], [DeploymentEvent::DeploymentCreated { spec }] if spec.total_devices == 0));
}

#[test]
fn pause_and_resume_alternate() {
    let created = DeploymentEvent::DeploymentCreated { spec: rollout_spec() };
    let paused = DeploymentEvent::DeploymentPaused { reason: "why".into() };
    let pause = DeploymentCommand::Pause { reason: "why".into(), finished: false };
    Given::<Deployment>::events([created.clone()]).when(pause.clone()).then([paused.clone()]);
    Given::<Deployment>::events([created.clone(), paused.clone()])
        .when(pause)
        .then_err(DeploymentError::AlreadyPaused);
    Given::<Deployment>::events([created.clone()])
        .when(DeploymentCommand::Resume { finished: false })
        .then_err(DeploymentError::NotPaused);
    Given::<Deployment>::events([created, paused])
        .when(DeploymentCommand::Resume { finished: false })
        .then([DeploymentEvent::DeploymentResumed]);
}

#[test]
fn control_maps_change_only_where_there_is_one() {
    use rollout::{ControlAction, ControlState, ControlStep};
    let step = |a| ControlStep { action: Some(a), ..Default::default() };
    let states: std::collections::BTreeMap<_, _> =
        [(ControlState::Reboot, step(ControlAction::Continue))].into();
    let update =
        DeploymentCommand::UpdateControlMap { priority: None, states: states.clone(), finished: false };
    Given::<Deployment>::events([DeploymentEvent::DeploymentCreated { spec: spec(&["d1"]) }])
        .when(update.clone())
        .then_err(DeploymentError::NoControlMap);
    let pausing = rollout::ControlMap {
        priority: 1,
        states: [(ControlState::Reboot, step(ControlAction::Pause))].into(),
    };
    let with_map = DeploymentSpec { update_control_map: Some(pausing), ..spec(&["d1"]) };
    let map = rollout::ControlMap { priority: 1, states };
    Given::<Deployment>::events([DeploymentEvent::DeploymentCreated { spec: with_map }])
        .when(update)
        .then([DeploymentEvent::DeploymentControlMapUpdated { map }]);
}

#[test]
fn only_dynamic_deployments_take_devices_up_to_their_bound() {
    let add = |device: &str, member| DeploymentCommand::AddDevice {
        device: device.into(),
        member,
        finished: false,
    };
    Given::<Deployment>::events([DeploymentEvent::DeploymentCreated { spec: spec(&["d1"]) }])
        .when(add("d2", false))
        .then_err(DeploymentError::NotDynamic);
    let dynamic = DeploymentSpec {
        devices: vec![],
        dynamic: Some(DynamicTarget { filter: vec![], max_devices: Some(1) }),
        ..spec(&[])
    };
    let created = DeploymentEvent::DeploymentCreated { spec: dynamic };
    Given::<Deployment>::events([created.clone()])
        .when(add("d2", false))
        .then([DeploymentEvent::DeploymentDeviceAdded { device: "d2".into() }]);
    Given::<Deployment>::events([created.clone()]).when(add("d2", true)).then([]);
    let joined = DeploymentEvent::DeploymentDeviceAdded { device: "d2".into() };
    Given::<Deployment>::events([created, joined]).when(add("d3", false)).then([]);
}
