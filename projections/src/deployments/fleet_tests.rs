//! A deployment bigger than the writer holds in memory: listed in parts, then aborted page by
//! page, with the same result in one batch as event by event.

use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::{
    DEVICES_PER_EVENT, DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus as S,
};

use super::{ABORT_PAGE, DeploymentsProjection, DeploymentsQueries};
use crate::testing::{Given, T};
use crate::writer::{MAX_PENDING_WRITES, incomplete};

#[test]
fn a_deployment_beyond_the_writers_bound_is_listed_and_aborted_whole() {
    // Three writes per listed device: the listing alone spills, and so does the abort.
    let n = MAX_PENDING_WRITES / 3 + DEVICES_PER_EVENT / 2;
    assert!(n > 5 * ABORT_PAGE, "the abort walks several pages");
    let ids: Vec<String> = (0..n).map(|i| format!("d{i:06}")).collect();
    let mut parts = ids.chunks(DEVICES_PER_EVENT);
    let spec = DeploymentSpec {
        name: "everyone".into(),
        artifact_name: "v1.0".into(),
        devices: parts.next().unwrap().to_vec(),
        total_devices: n as u64,
        target: "all".into(),
        ..Default::default()
    };
    let mut g = Given::new(DeploymentsProjection).event(
        "deployment",
        "big",
        DeploymentEvent::DeploymentCreated { spec },
    );
    for p in parts {
        g = g.event("deployment", "big", DeploymentEvent::DeploymentDevicesListed { devices: p.to_vec() });
    }
    // One device on each side of a page boundary has finished before the abort.
    let done = [&ids[0], &ids[ABORT_PAGE], &ids[n - 1]];
    for d in done {
        let ok = DeviceDeploymentEvent::DeviceDeploymentStatusChanged {
            status: S::Success,
            substate: String::new(),
        };
        g = g.event("devdeployment", &format!("big:{d}"), ok);
    }
    let g = g.event("deployment", "big", DeploymentEvent::DeploymentAborted);
    let m = g.model();
    assert!(!incomplete(&m.tree()).unwrap(), "the batch ended whole");
    let q = DeploymentsQueries(&m);
    let d = q.deployment(T, "big").unwrap().unwrap();
    assert_eq!(d.device_count, n as u64);
    assert_eq!(
        d.stats.iter().map(|(s, c)| (*s, *c)).collect::<Vec<_>>(),
        [(S::Success, 3), (S::Aborted, n as u64 - 3)]
    );
    assert_eq!(d.status(), "finished");
    for (i, id) in ids.iter().enumerate().step_by(997) {
        let want = if done.contains(&id) { S::Success } else { S::Aborted };
        assert_eq!(q.part(T, "big", id).unwrap().unwrap().status, want, "device {i}");
        assert_eq!(q.next_for(T, id).unwrap(), None);
    }
    assert_eq!(
        g.model_in_batches(1).content_hash().unwrap(),
        m.content_hash().unwrap(),
        "batch size matters"
    );
}
