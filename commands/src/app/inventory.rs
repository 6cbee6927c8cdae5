//! Inventory as the API shows it: a device document as Mender's `DeviceInventory` JSON, and
//! running inventory commands for the handlers.

use fleetlog_events::inventory::{AttrValue, Inventory, InventoryCommand};
use fleetlog_projections::inventory::predicate::Predicate;
use fleetlog_projections::inventory::{InventoryDoc, InventoryQueries, search};
use fleetlog_projections::rfc3339;
use serde_json::{Value, json};

use super::{App, AppError, Caller, DEFAULT_TENANT};

/// Runs `f` over the inventory read model.
pub fn inventory<T>(
    app: &App,
    f: impl FnOnce(&InventoryQueries<'_>) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let model = app.model(fleetlog_projections::Model::Inventory)?;
    f(&InventoryQueries(&model))
}

/// The ids of the devices matching `filters`, read off the async workers: the answer can be
/// most of the fleet (a whole-fleet deployment, a big group).
pub async fn matching_ids(app: &App, filters: Vec<Predicate>) -> Result<Vec<String>, AppError> {
    app.off_worker(fleetlog_projections::Model::Inventory, move |m| {
        Ok(search::matching_ids(&InventoryQueries(m), DEFAULT_TENANT, &filters)?)
    })
    .await
}

/// A device's document, or 404.
pub fn device(app: &App, id: &str) -> Result<InventoryDoc, AppError> {
    inventory(app, |q| Ok(q.get(DEFAULT_TENANT, id)?))?
        .ok_or_else(|| AppError::NotFound("device not found".into()))
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
    app: &App,
    caller: &Caller,
    device_id: &str,
    command: &InventoryCommand,
) -> Result<bool, AppError> {
    device(app, device_id)?;
    Ok(app.execute::<Inventory>(caller, device_id, command).await?.appended > 0)
}

/// A JSON value as an attribute value, if it is one (text, number, or a list of either).
pub fn attr_value(v: &Value) -> Option<AttrValue> {
    serde_json::from_value(v.clone()).ok()
}

/// Records the calling device's inventory report (`replace`: the whole inventory, else the
/// attributes given); a report that changes nothing appends nothing.
pub async fn report(
    app: &App,
    device: &Caller,
    attributes: std::collections::BTreeMap<String, AttrValue>,
    replace: bool,
) -> Result<(), AppError> {
    let command = InventoryCommand::Report { attributes, replace };
    app.execute::<Inventory>(device, &device.actor.id, &command).await?;
    Ok(())
}
