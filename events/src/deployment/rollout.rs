//! Rollout controls of a deployment: phases (Mender's enterprise `phases`), an automatic stop
//! on a failure rate (beyond Mender), and update control maps (the pause points Mender's
//! client understands). Pure: planning phases, checking maps and the failure rule take no I/O,
//! so replaying the log reproduces every decision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The most phases a deployment may have (bounds the request and the event).
pub const MAX_PHASES: usize = 100;

/// One phase as the operator asks for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRequest {
    /// Percent of the devices (1–100); may be left out on the last phase (the rest).
    pub batch_size: Option<u32>,
    /// When it starts, microseconds since the epoch; may be left out on the first (now).
    pub start_ts: Option<i64>,
}

/// One phase as decided at creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// Percent of the devices it was asked for.
    pub batch_size: u32,
    /// When it starts, microseconds since the epoch.
    pub start_ts: i64,
    /// How many of the deployment's devices are in it: the devices list holds phase 1's
    /// devices first, then phase 2's, and so on.
    pub device_count: u64,
}

/// Why phases are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhaseError {
    /// A phase's size is out of range, or sizes do not add up.
    #[error("{0}")]
    BatchSize(String),
    /// A start time is missing, in the past or out of order.
    #[error("{0}")]
    StartTime(String),
}

/// Orders `devices` for a phased deployment `id` and decides each phase's share, given the
/// creation time `now`: every phase but the last needs a size, the sizes add up to 100 (the
/// last may be left out to take the rest), start times rise strictly and none is in the past.
/// The order is a stable hash of deployment and device ids, so each phase is a spread sample
/// of the fleet rather than the alphabetically first devices; it is recorded in the event,
/// so replay never recomputes it.
pub fn plan_phases(
    id: &str,
    mut devices: Vec<String>,
    asked: &[PhaseRequest],
    now: i64,
) -> Result<(Vec<String>, Vec<Phase>), PhaseError> {
    let bad = |m: &str| Err(PhaseError::BatchSize(m.to_owned()));
    if asked.is_empty() || asked.len() > MAX_PHASES {
        return bad(&format!("a deployment has 1 to {MAX_PHASES} phases"));
    }
    let mut sizes = Vec::with_capacity(asked.len());
    for (i, p) in asked.iter().enumerate() {
        match p.batch_size {
            Some(s) if (1..=100).contains(&s) => sizes.push(s),
            Some(_) => return bad("batch_size must be between 1 and 100"),
            None if i + 1 == asked.len() => sizes.push(0),
            None => return bad("batch_size is required on every phase but the last"),
        }
    }
    let given: u32 = sizes.iter().sum();
    match asked.last().and_then(|p| p.batch_size) {
        Some(_) if given != 100 => return bad("the phases' batch sizes must add up to 100"),
        None if given >= 100 => return bad("the phases' batch sizes add up to 100 or more before the last"),
        None => *sizes.last_mut().expect("one phase at least") = 100 - given,
        Some(_) => {}
    }
    let mut starts = Vec::with_capacity(asked.len());
    for (i, p) in asked.iter().enumerate() {
        let start = match p.start_ts {
            Some(t) if t < now => {
                return Err(PhaseError::StartTime(format!("phase {} starts in the past", i + 1)));
            }
            Some(t) => t,
            None if i == 0 => now,
            None => return Err(PhaseError::StartTime(format!("phase {} needs a start_ts", i + 1))),
        };
        if starts.last().is_some_and(|prev| start <= *prev) {
            return Err(PhaseError::StartTime(format!("phase {} must start after phase {}", i + 1, i)));
        }
        starts.push(start);
    }
    devices.sort_by_cached_key(|d| (spread(id, d), d.clone()));
    let total = devices.len() as u64;
    let mut left = total;
    let mut phases = Vec::with_capacity(sizes.len());
    for (i, (size, start)) in sizes.into_iter().zip(starts).enumerate() {
        let share = if i + 1 == asked.len() {
            left
        } else {
            // At least one device while any remain, so a small fleet still has a canary.
            (u64::from(size) * total / 100).max(1).min(left)
        };
        left -= share;
        phases.push(Phase { batch_size: size, start_ts: start, device_count: share });
    }
    Ok((devices, phases))
}

/// FNV-1a over `deployment/device`: stable across builds and platforms (std's hasher is not).
fn spread(deployment: &str, device: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in deployment.bytes().chain([b'/']).chain(device.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The automatic stop (fleetlog's, beyond Mender): past `min_devices` finished devices, a
/// share of failures above `max_failure_rate` percent stops the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureLimit {
    /// Percent of finished devices that may fail (0–100).
    pub max_failure_rate: u32,
    /// Finished devices needed before the rate counts (at least 1).
    pub min_devices: u64,
}

impl FailureLimit {
    /// Why the rollout must stop, if it must: `failed` of `finished` devices failed.
    pub fn tripped(&self, failed: u64, finished: u64) -> Option<String> {
        let over =
            finished >= self.min_devices.max(1) && failed * 100 > u64::from(self.max_failure_rate) * finished;
        over.then(|| {
            format!(
                "failure rate {}% is over the limit of {}% ({failed} of {finished} finished devices failed)",
                failed * 100 / finished,
                self.max_failure_rate
            )
        })
    }
}

/// A state of Mender's client where an update control map may pause it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ControlState {
    /// Before installing (`pause_before_installing`).
    #[serde(rename = "ArtifactInstall_Enter")]
    Install,
    /// Before rebooting (`pause_before_rebooting`).
    #[serde(rename = "ArtifactReboot_Enter")]
    Reboot,
    /// Before committing (`pause_before_committing`).
    #[serde(rename = "ArtifactCommit_Enter")]
    Commit,
}

/// What the client does on entering a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    /// Go on.
    Continue,
    /// Go on, whatever other maps say.
    ForceContinue,
    /// Wait for the map to change.
    Pause,
    /// Fail the update (the client rolls back).
    Fail,
}

/// The actions for one state, as Mender's client reads them (unset fields take its defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlStep {
    /// What to do on entering the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ControlAction>,
    /// What to do when the map expires unrefreshed (`pause` is not allowed here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_map_expire: Option<ControlAction>,
    /// What the action becomes once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_action_executed: Option<ControlAction>,
}

/// A deployment's update control map (its id, on the wire, is the deployment's id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlMap {
    /// Priority among the device's maps, -10..=10.
    #[serde(default)]
    pub priority: i32,
    /// The states it controls.
    #[serde(default)]
    pub states: BTreeMap<ControlState, ControlStep>,
}

impl ControlMap {
    /// Checks what serde cannot: the priority range and `on_map_expire` never `pause`.
    pub fn check(&self) -> Result<(), String> {
        if !(-10..=10).contains(&self.priority) {
            return Err("update_control_map priority must be between -10 and 10".into());
        }
        if self.states.values().any(|s| s.on_map_expire == Some(ControlAction::Pause)) {
            return Err("on_map_expire may not be pause".into());
        }
        Ok(())
    }

    /// This map with `update`'s states put over its own (an operator continuing or failing a
    /// paused step); the priority stays.
    pub fn merged(&self, update: &BTreeMap<ControlState, ControlStep>) -> ControlMap {
        let mut states = self.states.clone();
        states.extend(update.iter().map(|(k, v)| (*k, *v)));
        ControlMap { priority: self.priority, states }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("dev-{i:03}")).collect()
    }

    fn ask(size: Option<u32>, start: Option<i64>) -> PhaseRequest {
        PhaseRequest { batch_size: size, start_ts: start }
    }

    #[test]
    fn phases_split_the_fleet_in_a_stable_spread_order() {
        let asked = [ask(Some(10), None), ask(None, Some(2_000))];
        let (order, phases) = plan_phases("dep-1", devices(50), &asked, 1_000).unwrap();
        assert_eq!(phases.iter().map(|p| p.device_count).collect::<Vec<_>>(), [5, 45]);
        assert_eq!((phases[0].start_ts, phases[1].batch_size), (1_000, 90));
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, devices(50), "every device once");
        assert_ne!(order[..5], devices(50)[..5], "not simply the first ids");
        let (again, _) =
            plan_phases("dep-1", devices(50).into_iter().rev().collect(), &asked, 1_000).unwrap();
        assert_eq!(order, again, "the same choice whatever the input order");
        let (tiny, phases) = plan_phases("dep-1", devices(3), &asked, 1_000).unwrap();
        assert_eq!((tiny.len(), phases[0].device_count, phases[1].device_count), (3, 1, 2));
    }

    #[test]
    fn bad_phases_are_refused() {
        let refused = |asked: &[PhaseRequest]| plan_phases("d", devices(4), asked, 1_000).unwrap_err();
        assert!(matches!(
            refused(&[ask(Some(60), None), ask(Some(60), Some(2_000))]),
            PhaseError::BatchSize(_)
        ));
        assert!(matches!(
            refused(&[ask(Some(50), None), ask(Some(40), Some(2_000))]),
            PhaseError::BatchSize(_)
        ));
        assert!(matches!(refused(&[ask(Some(100), None), ask(None, Some(2_000))]), PhaseError::BatchSize(_)));
        assert!(matches!(refused(&[ask(Some(0), None), ask(None, Some(2_000))]), PhaseError::BatchSize(_)));
        assert!(matches!(refused(&[ask(None, None), ask(None, Some(2_000))]), PhaseError::BatchSize(_)));
        assert!(matches!(refused(&[]), PhaseError::BatchSize(_)));
        assert!(matches!(
            refused(&[ask(Some(50), Some(999)), ask(None, Some(2_000))]),
            PhaseError::StartTime(_)
        ));
        assert!(matches!(
            refused(&[ask(Some(50), Some(3_000)), ask(None, Some(2_000))]),
            PhaseError::StartTime(_)
        ));
        assert!(matches!(refused(&[ask(Some(50), None), ask(None, None)]), PhaseError::StartTime(_)));
        assert!(plan_phases("d", devices(4), &[ask(Some(100), Some(5_000))], 1_000).is_ok());
    }

    #[test]
    fn the_failure_limit_waits_for_its_sample() {
        let limit = FailureLimit { max_failure_rate: 20, min_devices: 5 };
        assert_eq!(limit.tripped(4, 4), None, "too few finished yet");
        assert_eq!(limit.tripped(1, 5), None, "20% is allowed");
        let why = limit.tripped(2, 5).unwrap();
        assert!(why.contains("40%") && why.contains("2 of 5"), "{why}");
    }

    #[test]
    fn control_maps_parse_strictly_and_merge_by_state() {
        let map: ControlMap =
            serde_json::from_str(r#"{"priority":1,"states":{"ArtifactReboot_Enter":{"action":"pause"}}}"#)
                .unwrap();
        assert_eq!(map.check(), Ok(()));
        assert!(serde_json::from_str::<ControlMap>(r#"{"states":{"ArtifactDownload_Enter":{}}}"#).is_err());
        assert!(
            serde_json::from_str::<ControlMap>(r#"{"states":{"ArtifactReboot_Enter":{"action":"wait"}}}"#)
                .is_err()
        );
        let expiring: ControlMap =
            serde_json::from_str(r#"{"states":{"ArtifactCommit_Enter":{"on_map_expire":"pause"}}}"#).unwrap();
        assert!(expiring.check().is_err());
        let go = [(
            ControlState::Reboot,
            ControlStep { action: Some(ControlAction::Continue), ..Default::default() },
        )];
        let merged = map.merged(&go.into_iter().collect());
        assert_eq!(
            (merged.priority, merged.states[&ControlState::Reboot].action),
            (1, Some(ControlAction::Continue))
        );
    }
}
