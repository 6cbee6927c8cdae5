//! useradm's plans and plan binding, as open-source Mender answers them: it loads plans from
//! an optional definitions file that its default set-up does not have, so the plan list is
//! empty and the tenant's binding is an empty plan without limits.

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::json::Paging;
use super::{ApiError, UserAuth};
use crate::state::AppState;

/// The plans routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/useradm/plans", get(plans))
        .route("/api/management/v1/useradm/plan_binding", get(plan_binding))
}

/// No plans are defined; paging is still checked as Mender checks it (bad values → 400).
async fn plans(_user: UserAuth, Query(paging): Query<Paging>) -> Result<Json<Vec<Value>>, ApiError> {
    paging.validate()?;
    Ok(Json(Vec::new()))
}

/// Mender's `PlanBindingDetails` with its zero plan (`features` null, no `limits`).
async fn plan_binding(_user: UserAuth) -> Json<Value> {
    Json(json!({ "plan": { "name": "", "display_name": "", "features": null } }))
}
