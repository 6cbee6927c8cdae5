//! Object history: every event of one object in order, and its state at an instant, folded
//! with the aggregate's own `evolve` (the same fold the command side uses).

use fleetlog_events::{AGGREGATE_TYPES, Aggregate, AggregateRef, AggregateVisitor, RecordedEvent};
use serde::Serialize;

use super::AppError;
use crate::EventStore;

/// The history of one object, up to `at_us` (microseconds, inclusive) when given.
pub struct History {
    /// Its events, oldest first.
    pub events: Vec<RecordedEvent>,
    /// Its state after them.
    pub state: serde_json::Value,
}

/// The state after some events, as JSON, folded exactly as the command side folds it, by the
/// aggregate the registry names.
struct StateJson<'a>(&'a [RecordedEvent]);

impl AggregateVisitor for StateJson<'_> {
    type Output = Result<serde_json::Value, AppError>;

    fn visit<A: Aggregate>(self) -> Self::Output
    where
        A::State: Serialize,
    {
        let (state, _) = crate::fold::<A>(self.0)?;
        serde_json::to_value(state).map_err(AppError::internal)
    }
}

/// Reads one object's subject from the log (the log is the history) and folds it.
pub async fn history(
    store: &EventStore,
    tenant: &str,
    kind: &str,
    id: &str,
    at_us: Option<i64>,
) -> Result<History, AppError> {
    if !AGGREGATE_TYPES.contains(&kind) {
        return Err(AppError::Invalid(format!(
            "unknown object type {kind:?}; known: {}",
            AGGREGATE_TYPES.join(", ")
        )));
    }
    let agg = AggregateRef { tenant: tenant.into(), kind: kind.into(), id: id.into() };
    let mut events = store.load(&store.subject(&agg)?).await?;
    if events.is_empty() {
        return Err(AppError::NotFound(format!("no {kind} {id:?} in the log")));
    }
    if let Some(at) = at_us {
        events.retain(|r| r.envelope.occurred_at.0 <= at);
    }
    let state = fleetlog_events::visit_aggregate(kind, StateJson(&events))
        .ok_or_else(|| AppError::Invalid(format!("unknown object type {kind:?}")))??;
    Ok(History { events, state })
}
