//! Inventory as the API shows it: a device document as Mender's `DeviceInventory` JSON, and
//! running inventory commands for the handlers.

use fleetlog_commands::CommandMeta;
use fleetlog_events::inventory::{AttrValue, Inventory, InventoryCommand, InventoryError};
use fleetlog_projections::inventory::{InventoryDoc, InventoryQueries};
use fleetlog_projections::rfc3339;
use serde_json::{Value, json};

use crate::http::ApiError;
use crate::state::AppState;

/// Runs `f` over the inventory read model.
pub fn inventory<T>(
    state: &AppState,
    f: impl FnOnce(&InventoryQueries<'_>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let model = state.model(fleetlog_projections::Model::Inventory)?;
    f(&InventoryQueries(&model))
}

/// A device's document, or 404.
pub fn device(state: &AppState, id: &str) -> Result<InventoryDoc, ApiError> {
    inventory(state, |q| Ok(q.get(crate::DEFAULT_TENANT, id)?))?
        .ok_or_else(|| ApiError::NotFound("device not found".into()))
}

/// Mender's `DeviceInventory`: `{id, updated_ts, attributes: [{name, value, scope}]}`.
pub fn doc_json(d: &InventoryDoc) -> Value {
    let attributes: Vec<Value> = d
        .entries()
        .into_iter()
        .map(|(scope, name, value)| {
            let mut a = json!({ "name": name, "value": value, "scope": scope });
            if scope == "tags"
                && let Some(t) = d.tags.get(name.as_ref())
                && !t.description.is_empty()
            {
                a["description"] = Value::String(t.description.clone());
            }
            a
        })
        .collect();
    json!({ "id": d.id, "attributes": attributes, "updated_ts": rfc3339(d.updated_ts) })
}

/// Runs an inventory command on an existing device (404 otherwise) and waits until the
/// inventory model shows its effect; returns whether anything changed.
pub async fn execute(
    state: &AppState,
    meta: &CommandMeta,
    device_id: &str,
    command: &InventoryCommand,
) -> Result<bool, ApiError> {
    device(state, device_id)?;
    let outcome = state.commands.execute::<Inventory>(meta, device_id, command).await?;
    state.seen(outcome.position).await?;
    Ok(outcome.appended > 0)
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::EtagMismatch => ApiError::PreconditionFailed(e.to_string()),
            InventoryError::NotInGroup(_) => ApiError::NotFound(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// A JSON value as an attribute value, if it is one (text, number, or a list of either).
pub fn attr_value(v: &Value) -> Option<AttrValue> {
    serde_json::from_value(v.clone()).ok()
}
