//! The audit log API, compatible with Mender's (paid-edition) auditlogs: served from the log's
//! own events through the audit read model. `GET /logs` (paged JSON) and `GET /logs/export`
//! (CSV), with the same filters.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fleetlog_projections::audit::{AuditEntry, AuditFilter, AuditQueries};
use serde::Deserialize;

use super::json::{Paging, end_of_second, paged, rfc3339, start_of_second, unix_seconds};
use super::{ApiError, UserAuth};
use crate::state::AppState;

/// Most entries one export returns.
const EXPORT_LIMIT: usize = 100_000;

/// The auditlogs routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/auditlogs/logs", get(logs))
        .route("/api/management/v1/auditlogs/logs/export", get(export))
}

/// Query of both routes.
#[derive(Debug, Deserialize)]
struct AuditQuery {
    page: Option<String>,
    per_page: Option<String>,
    actor_id: Option<String>,
    actor_email: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    sort: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let ascending = match self.sort.as_deref() {
            None | Some("") | Some("desc") => false,
            Some("asc") => true,
            Some(other) => {
                return Err(ApiError::BadRequest(format!("sort: must be asc or desc, not {other:?}")));
            }
        };
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor_id: nonempty(&self.actor_id),
            actor_email: nonempty(&self.actor_email).map(|e| e.to_lowercase()),
            object_type: nonempty(&self.object_type),
            object_id: nonempty(&self.object_id),
            // Seconds, inclusive: `before` covers the whole last second.
            after: unix_seconds("created_after", self.created_after.as_deref())?.map(start_of_second),
            before: unix_seconds("created_before", self.created_before.as_deref())?.map(end_of_second),
            ascending,
        })
    }
}

fn entry_json(e: &AuditEntry) -> serde_json::Value {
    let mut object = serde_json::json!({ "id": e.object_id, "type": e.object_type });
    // Mender nests the details under the object's type: `object.user.email`, ...
    if let Ok(details @ serde_json::Value::Object(_)) = serde_json::from_str(&e.object_details) {
        object[e.object_type.as_str()] = details;
    }
    serde_json::json!({
        "actor": { "id": e.actor_id, "type": e.actor_type, "email": e.actor_email },
        "time": rfc3339(e.time),
        "action": e.action,
        "object": object,
        "change": e.change,
        "meta": { "request_id": [e.request_id], "event_type": [e.event_type], "position": [e.seq.to_string()] },
    })
}

fn model(state: &AppState) -> Result<std::sync::Arc<fleetlog_projections::ReadModel>, ApiError> {
    Ok(state.model(fleetlog_projections::Model::Audit)?)
}

async fn logs(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let (page, per_page) = Paging::new(q.page.clone(), q.per_page.clone()).validate()?;
    let model = model(&state)?;
    let (entries, total) =
        AuditQueries(&model).search(user.tenant(), &filter, (page - 1) * per_page, per_page)?;
    let body: Vec<_> = entries.iter().map(entry_json).collect();
    Ok(paged("/api/management/v1/auditlogs/logs", &[], (page, per_page), total, body))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

async fn export(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let model = model(&state)?;
    let (entries, _) = AuditQueries(&model).search(user.tenant(), &filter, 0, EXPORT_LIMIT)?;
    let mut csv =
        String::from("time,actor_type,actor_id,actor_email,action,object_type,object_id,change,request_id\n");
    for e in &entries {
        let row = [
            rfc3339(e.time),
            e.actor_type.clone(),
            e.actor_id.clone(),
            e.actor_email.clone(),
            e.action.clone(),
            e.object_type.clone(),
            e.object_id.clone(),
            e.change.clone(),
            e.request_id.clone(),
        ];
        csv.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        csv.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/csv")], csv).into_response())
}
