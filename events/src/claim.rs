//! Uniqueness claims: a subject per unique value (a user's e-mail, a device identity) whose
//! holder is decided like any aggregate, and written in the same atomic batch as the change
//! that needs it, or, for a new aggregate, just before its first event ([`ClaimCommand::TakeNew`]).
//! Two concurrent claimants race on the claim's subject; one wins.

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The claim aggregate.
pub struct Claim;

/// Who holds a claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClaimState {
    /// The holder's id, if held.
    pub holder: Option<String>,
    /// Ids that held the value and gave it up, oldest first (not part of the history's JSON:
    /// the events say the same).
    #[serde(skip)]
    pub released_by: Vec<String>,
}

/// What may be asked of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimCommand {
    /// Take the value for `holder` (a no-op if it already holds it).
    Take {
        /// Id of the aggregate that will hold the value.
        holder: String,
    },
    /// Take the value for `holder`, a new aggregate whose own events follow this claim: as
    /// `Take`, but refused if `holder` held the value before and gave it up (a finished
    /// aggregate must not get it back from a slow or retried creation).
    TakeNew {
        /// Id of the new aggregate.
        holder: String,
    },
    /// Give the value up (a no-op unless `holder` holds it).
    Release {
        /// Id of the current holder.
        holder: String,
    },
}

/// The facts recorded about a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ClaimEvent {
    /// The value now belongs to `holder`.
    ClaimTaken {
        /// The holder.
        holder: String,
    },
    /// The value is free again.
    ClaimReleased {
        /// The previous holder.
        holder: String,
    },
}

crate::event_names!(ClaimEvent { ClaimTaken, ClaimReleased });

crate::domain_event!(ClaimEvent => Claim);

/// Why a claim is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Another aggregate holds the value.
    #[error("already taken by {0}")]
    Taken(String),
    /// A new aggregate's take by an id that already held the value and released it.
    #[error("{0} held this value before and gave it up")]
    Released(String),
}

impl Aggregate for Claim {
    const TYPE: &'static str = "claim";
    type State = ClaimState;
    type Command = ClaimCommand;
    type Event = ClaimEvent;
    type Error = ClaimError;

    fn decide(state: &ClaimState, command: &ClaimCommand) -> Result<Vec<ClaimEvent>, ClaimError> {
        if let ClaimCommand::TakeNew { holder } = command
            && state.released_by.contains(holder)
        {
            return Err(ClaimError::Released(holder.clone()));
        }
        match (command, &state.holder) {
            (ClaimCommand::Take { holder } | ClaimCommand::TakeNew { holder }, None) => {
                Ok(vec![ClaimEvent::ClaimTaken { holder: holder.clone() }])
            }
            (ClaimCommand::Take { holder } | ClaimCommand::TakeNew { holder }, Some(h)) if h == holder => {
                Ok(vec![])
            }
            (ClaimCommand::Take { .. } | ClaimCommand::TakeNew { .. }, Some(h)) => {
                Err(ClaimError::Taken(h.clone()))
            }
            (ClaimCommand::Release { holder }, Some(h)) if h == holder => {
                Ok(vec![ClaimEvent::ClaimReleased { holder: holder.clone() }])
            }
            (ClaimCommand::Release { .. }, _) => Ok(vec![]),
        }
    }

    fn evolve(mut state: ClaimState, event: &ClaimEvent) -> ClaimState {
        match event {
            ClaimEvent::ClaimTaken { holder } => state.holder = Some(holder.clone()),
            ClaimEvent::ClaimReleased { holder } => {
                state.holder = None;
                state.released_by.push(holder.clone());
            }
        }
        state
    }
}

/// The claim id of a unique value: `<kind>-<first 32 hex digits of SHA-256(value)>`, a valid
/// subject token whatever the value contains. The hash is computed by the caller's hasher so
/// that this crate stays free of dependencies.
pub fn claim_id(kind: &str, value_digest_hex: &str) -> String {
    format!("{kind}-{}", &value_digest_hex[..value_digest_hex.len().min(32)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn take(h: &str) -> ClaimCommand {
        ClaimCommand::Take { holder: h.into() }
    }

    #[test]
    fn a_free_value_is_taken() {
        Given::<Claim>::nothing().when(take("u1")).then([ClaimEvent::ClaimTaken { holder: "u1".into() }]);
    }

    #[test]
    fn a_held_value_is_refused_to_others_and_idempotent_for_its_holder() {
        let history = [ClaimEvent::ClaimTaken { holder: "u1".into() }];
        Given::<Claim>::events(history.clone()).when(take("u2")).then_err(ClaimError::Taken("u1".into()));
        Given::<Claim>::events(history).when(take("u1")).then_nothing();
    }

    #[test]
    fn a_released_value_can_be_taken_again() {
        let history = [
            ClaimEvent::ClaimTaken { holder: "u1".into() },
            ClaimEvent::ClaimReleased { holder: "u1".into() },
        ];
        Given::<Claim>::events(history)
            .when(take("u2"))
            .then([ClaimEvent::ClaimTaken { holder: "u2".into() }]);
    }

    #[test]
    fn a_new_holder_takes_a_free_value_but_never_one_it_gave_up() {
        let new = |h: &str| ClaimCommand::TakeNew { holder: h.into() };
        Given::<Claim>::nothing().when(new("d1")).then([ClaimEvent::ClaimTaken { holder: "d1".into() }]);
        Given::<Claim>::events([ClaimEvent::ClaimTaken { holder: "d1".into() }])
            .when(new("d1"))
            .then_nothing();
        Given::<Claim>::events([ClaimEvent::ClaimTaken { holder: "d1".into() }])
            .when(new("d2"))
            .then_err(ClaimError::Taken("d1".into()));
        let released = [
            ClaimEvent::ClaimTaken { holder: "d1".into() },
            ClaimEvent::ClaimReleased { holder: "d1".into() },
        ];
        Given::<Claim>::events(released.clone()).when(new("d1")).then_err(ClaimError::Released("d1".into()));
        Given::<Claim>::events(released)
            .when(new("d2"))
            .then([ClaimEvent::ClaimTaken { holder: "d2".into() }]);
    }

    #[test]
    fn only_the_holder_releases() {
        Given::<Claim>::events([ClaimEvent::ClaimTaken { holder: "u1".into() }])
            .when(ClaimCommand::Release { holder: "u2".into() })
            .then_nothing();
    }
}
