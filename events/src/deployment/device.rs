//! One device's part in one deployment (aggregate id `<deployment id>:<device id>`): which
//! artifact it was given, the statuses it reported under Mender's rules, retries, its log.
//! Polls that change nothing record nothing.

use serde::{Deserialize, Serialize};

use super::DeviceDeploymentStatus as S;
use crate::Aggregate;

/// The device-deployment aggregate.
pub struct DeviceDeployment;

/// Its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeviceDeploymentState {
    /// Current status.
    pub status: S,
    /// The artifact assigned by the last `next` answer, if any.
    pub artifact_id: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Removed from the device's deployment history (a finished part only).
    pub deleted: bool,
}

/// What may be asked of a device deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDeploymentCommand {
    /// `next` answers with this artifact (recorded the first time only).
    Assign {
        /// The artifact given to the device.
        artifact_id: String,
    },
    /// `next` found nothing to install: `noartifact` or `already-installed`.
    Skip {
        /// Which of the two.
        status: S,
    },
    /// The device reports a status.
    Report {
        /// The status.
        status: S,
        /// Free text (≤ 200 characters).
        substate: String,
        /// The deployment was aborted (resolved by the caller).
        aborted: bool,
        /// Retries the deployment allows.
        retries: u32,
    },
    /// The device uploads its deployment log (JSON array of messages, checked by the caller).
    SaveLog {
        /// The messages, JSON text.
        messages_json: String,
    },
    /// An operator aborts this device's part (Mender's "abort a device's deployments").
    Abort,
    /// An operator resets the device's deployment history: a finished part is logically
    /// deleted (Mender's `DELETE .../devices/{id}/history`).
    DeleteFromHistory {
        /// The read model shows the part finished (an abort or a decommissioning finishes
        /// parts there without an event of their own; resolved by the caller).
        finished: bool,
    },
}

/// The facts recorded about a device deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeviceDeploymentEvent {
    /// The device was given an artifact.
    DeviceDeploymentAssigned {
        /// The artifact.
        artifact_id: String,
    },
    /// The status changed.
    DeviceDeploymentStatusChanged {
        /// The new status.
        status: S,
        /// The device's substate text.
        substate: String,
    },
    /// A failed attempt will be retried: the device gets the deployment again.
    DeviceDeploymentRetried {
        /// The attempt that failed (1-based).
        attempt: u32,
    },
    /// The device's log was stored.
    DeviceDeploymentLogSaved {
        /// The messages, JSON text.
        messages_json: String,
    },
    /// The finished part was removed from the device's deployment history.
    DeviceDeploymentDeleted,
}

crate::event_names!(DeviceDeploymentEvent {
    DeviceDeploymentAssigned,
    DeviceDeploymentStatusChanged,
    DeviceDeploymentRetried,
    DeviceDeploymentLogSaved,
    DeviceDeploymentDeleted,
});

crate::domain_event!(DeviceDeploymentEvent => DeviceDeployment);

/// Why a device-deployment command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceDeploymentError {
    /// The deployment was aborted: the device must stop (409).
    #[error("deployment aborted")]
    Aborted,
    /// It already finished with another status (409).
    #[error("deployment already finished with status {0}")]
    Finished(&'static str),
    /// Not a status a device may report (400).
    #[error("invalid status {0}")]
    InvalidStatus(&'static str),
    /// The substate is too long (400).
    #[error("substate must be at most 200 characters")]
    SubstateTooLong,
}

impl Aggregate for DeviceDeployment {
    const TYPE: &'static str = "devdeployment";
    type State = DeviceDeploymentState;
    type Command = DeviceDeploymentCommand;
    type Event = DeviceDeploymentEvent;
    type Error = DeviceDeploymentError;

    fn decide(
        state: &DeviceDeploymentState,
        command: &DeviceDeploymentCommand,
    ) -> Result<Vec<DeviceDeploymentEvent>, DeviceDeploymentError> {
        use DeviceDeploymentCommand as C;
        use DeviceDeploymentEvent as E;
        match command {
            C::Assign { artifact_id } => {
                if state.status.is_finished() || state.artifact_id.as_ref() == Some(artifact_id) {
                    return Ok(vec![]);
                }
                Ok(vec![E::DeviceDeploymentAssigned { artifact_id: artifact_id.clone() }])
            }
            C::Skip { status } => {
                if state.status.is_finished() {
                    return Ok(vec![]);
                }
                Ok(vec![E::DeviceDeploymentStatusChanged { status: *status, substate: String::new() }])
            }
            C::Report { status, substate, aborted, retries } => {
                if !status.device_may_report() {
                    return Err(DeviceDeploymentError::InvalidStatus(status.as_str()));
                }
                if substate.chars().count() > 200 {
                    return Err(DeviceDeploymentError::SubstateTooLong);
                }
                if *aborted || state.status == S::Aborted {
                    return Err(DeviceDeploymentError::Aborted);
                }
                if state.status.is_finished() {
                    // A repeated final report (the client retries on errors) changes nothing.
                    if state.status == *status {
                        return Ok(vec![]);
                    }
                    return Err(DeviceDeploymentError::Finished(state.status.as_str()));
                }
                if state.status == *status {
                    return Ok(vec![]);
                }
                let mut events =
                    vec![E::DeviceDeploymentStatusChanged { status: *status, substate: substate.clone() }];
                if *status == S::Failure && state.attempts < *retries {
                    events.push(E::DeviceDeploymentRetried { attempt: state.attempts + 1 });
                }
                Ok(events)
            }
            C::SaveLog { messages_json } => {
                Ok(vec![E::DeviceDeploymentLogSaved { messages_json: messages_json.clone() }])
            }
            C::Abort if state.status.is_finished() => Ok(vec![]),
            C::Abort => {
                Ok(vec![E::DeviceDeploymentStatusChanged { status: S::Aborted, substate: String::new() }])
            }
            C::DeleteFromHistory { finished }
                if state.deleted || !(*finished || state.status.is_finished()) =>
            {
                Ok(vec![])
            }
            C::DeleteFromHistory { .. } => Ok(vec![E::DeviceDeploymentDeleted]),
        }
    }

    fn evolve(mut state: DeviceDeploymentState, event: &DeviceDeploymentEvent) -> DeviceDeploymentState {
        match event {
            DeviceDeploymentEvent::DeviceDeploymentAssigned { artifact_id } => {
                state.artifact_id = Some(artifact_id.clone())
            }
            DeviceDeploymentEvent::DeviceDeploymentStatusChanged { status, .. } => state.status = *status,
            DeviceDeploymentEvent::DeviceDeploymentRetried { attempt } => {
                state = DeviceDeploymentState {
                    status: S::Pending,
                    artifact_id: None,
                    attempts: *attempt,
                    deleted: false,
                }
            }
            DeviceDeploymentEvent::DeviceDeploymentLogSaved { .. } => {}
            DeviceDeploymentEvent::DeviceDeploymentDeleted => state.deleted = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;
    use DeviceDeploymentCommand as C;
    use DeviceDeploymentEvent as E;

    fn report(status: S, retries: u32) -> C {
        C::Report { status, substate: String::new(), aborted: false, retries }
    }

    fn changed(status: S) -> E {
        E::DeviceDeploymentStatusChanged { status, substate: String::new() }
    }

    #[test]
    fn a_device_reports_its_way_to_success() {
        Given::<DeviceDeployment>::nothing().when(report(S::Downloading, 0)).then([changed(S::Downloading)]);
        Given::<DeviceDeployment>::events([changed(S::Downloading)])
            .when(report(S::Downloading, 0))
            .then_nothing();
        Given::<DeviceDeployment>::events([changed(S::Installing)])
            .when(report(S::Success, 0))
            .then([changed(S::Success)]);
        Given::<DeviceDeployment>::events([changed(S::Success)]).when(report(S::Success, 0)).then_nothing();
        Given::<DeviceDeployment>::events([changed(S::Success)])
            .when(report(S::Failure, 0))
            .then_err(DeviceDeploymentError::Finished("success"));
    }

    #[test]
    fn server_statuses_and_aborts_are_refused() {
        Given::<DeviceDeployment>::nothing()
            .when(report(S::Aborted, 0))
            .then_err(DeviceDeploymentError::InvalidStatus("aborted"));
        Given::<DeviceDeployment>::nothing()
            .when(C::Report { status: S::Installing, substate: String::new(), aborted: true, retries: 0 })
            .then_err(DeviceDeploymentError::Aborted);
    }

    #[test]
    fn failures_are_retried_as_allowed() {
        Given::<DeviceDeployment>::events([changed(S::Installing)])
            .when(report(S::Failure, 1))
            .then([changed(S::Failure), E::DeviceDeploymentRetried { attempt: 1 }]);
        let retried =
            [changed(S::Installing), changed(S::Failure), E::DeviceDeploymentRetried { attempt: 1 }];
        let given = Given::<DeviceDeployment>::events(retried.clone());
        assert_eq!(given.state().status, S::Pending);
        Given::<DeviceDeployment>::events(retried.into_iter().chain([changed(S::Installing)]))
            .when(report(S::Failure, 1))
            .then([changed(S::Failure)]);
    }

    #[test]
    fn operators_abort_unfinished_parts_and_delete_finished_ones_from_history() {
        Given::<DeviceDeployment>::events([changed(S::Downloading)])
            .when(C::Abort)
            .then([changed(S::Aborted)]);
        Given::<DeviceDeployment>::events([changed(S::Success)]).when(C::Abort).then_nothing();
        let delete = |finished| C::DeleteFromHistory { finished };
        Given::<DeviceDeployment>::events([changed(S::Downloading)]).when(delete(false)).then_nothing();
        Given::<DeviceDeployment>::events([changed(S::Success)])
            .when(delete(false))
            .then([E::DeviceDeploymentDeleted]);
        // Finished in the read model only (its deployment was aborted).
        Given::<DeviceDeployment>::nothing().when(delete(true)).then([E::DeviceDeploymentDeleted]);
        Given::<DeviceDeployment>::events([changed(S::Success), E::DeviceDeploymentDeleted])
            .when(delete(true))
            .then_nothing();
    }

    #[test]
    fn the_artifact_is_recorded_once() {
        let assign = C::Assign { artifact_id: "a1".into() };
        let assigned = E::DeviceDeploymentAssigned { artifact_id: "a1".into() };
        Given::<DeviceDeployment>::nothing().when(assign.clone()).then([assigned.clone()]);
        Given::<DeviceDeployment>::events([assigned]).when(assign).then_nothing();
    }
}
