//! Saved inventory filters (Mender's v2 filters resource): names unique by claim, terms
//! checked with the filter language before they are saved; searching with them.

use fleetlog_events::filter::{FilterCommand, FilterTerm, SavedFilter};
use fleetlog_projections::inventory::SavedFilterView;
use fleetlog_projections::inventory::predicate::Predicate;

use super::inventory::inventory;
use super::{App, AppError, Caller};
use crate::ClaimOp;

/// Saves a filter under a new id (derived from the idempotency key when one is given);
/// returns the id. A name in use is a conflict.
pub async fn create(
    app: &App,
    caller: &Caller,
    name: String,
    terms: Vec<FilterTerm>,
    idempotency_key: Option<&str>,
) -> Result<String, AppError> {
    for t in &terms {
        Predicate::parse(t)?;
    }
    let (caller, id) = caller.creating("filter", idempotency_key);
    let claim = super::claim_id("filter-name", &name);
    let command = FilterCommand::Create { name, terms };
    match app.execute_with_claims::<SavedFilter>(&caller, &id, &command, &[ClaimOp::Take(&claim)]).await {
        Ok(_) => Ok(id),
        Err(AppError::Taken { .. }) => {
            Err(AppError::Conflict("a filter with this name already exists".into()))
        }
        Err(e) => Err(e),
    }
}

/// A saved filter, or not found.
pub fn saved(app: &App, tenant: &str, id: &str) -> Result<SavedFilterView, AppError> {
    inventory(app, |q| Ok(q.saved_filter(tenant, id)?))?
        .ok_or_else(|| AppError::NotFound("filter not found".into()))
}

/// A saved filter's terms, checked for a search.
pub fn filters_of(saved: &SavedFilterView) -> Result<Vec<Predicate>, AppError> {
    Ok(saved.terms.iter().map(Predicate::parse).collect::<Result<Vec<_>, _>>()?)
}

/// Deletes a saved filter and frees its name.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    let f = saved(app, &caller.tenant, id)?;
    let claim = super::claim_id("filter-name", &f.name);
    let release = [ClaimOp::Release(&claim)];
    app.execute_with_claims::<SavedFilter>(caller, id, &FilterCommand::Delete, &release).await?;
    Ok(())
}
