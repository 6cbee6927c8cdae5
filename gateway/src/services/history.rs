//! Object history: every event of one object in order, and its state at an instant, folded
//! with the aggregate's own `evolve` (the same fold the command side uses).

use fleetlog_events::claim::Claim;
use fleetlog_events::device::Device;
use fleetlog_events::settings::Settings;
use fleetlog_events::user::User;
use fleetlog_events::{AGGREGATE_TYPES, Aggregate, AggregateRef, RecordedEvent};
use serde::Serialize;

use crate::http::ApiError;
use fleetlog_commands::EventStore;

/// The history of one object, up to `at_us` (microseconds, inclusive) when given.
pub struct History {
    /// Its events, oldest first.
    pub events: Vec<RecordedEvent>,
    /// Its state after them.
    pub state: serde_json::Value,
}

/// The state after `events`, as JSON, folded exactly as the command side folds it.
fn state_json<A: Aggregate>(events: &[RecordedEvent]) -> Result<serde_json::Value, ApiError>
where
    A::State: Serialize,
{
    let (state, _) = fleetlog_commands::fold::<A>(events)?;
    serde_json::to_value(state).map_err(|e| ApiError::Internal(e.into()))
}

/// Reads one object's subject from the log (the log is the history) and folds it.
pub async fn history(
    store: &EventStore,
    kind: &str,
    id: &str,
    at_us: Option<i64>,
) -> Result<History, ApiError> {
    if !AGGREGATE_TYPES.contains(&kind) {
        return Err(ApiError::BadRequest(format!(
            "unknown object type {kind:?}; known: {}",
            AGGREGATE_TYPES.join(", ")
        )));
    }
    let agg = AggregateRef { tenant: crate::DEFAULT_TENANT.into(), kind: kind.into(), id: id.into() };
    let mut events = store.load(&store.subject(&agg)?).await?;
    if events.is_empty() {
        return Err(ApiError::NotFound(format!("no {kind} {id:?} in the log")));
    }
    if let Some(at) = at_us {
        events.retain(|r| r.envelope.occurred_at.0 <= at);
    }
    let state = match kind {
        "device" => state_json::<Device>(&events)?,
        "user" => state_json::<User>(&events)?,
        "claim" => state_json::<Claim>(&events)?,
        "inventory" => state_json::<fleetlog_events::inventory::Inventory>(&events)?,
        "release" => state_json::<fleetlog_events::release::Release>(&events)?,
        _ => state_json::<Settings>(&events)?,
    };
    Ok(History { events, state })
}
