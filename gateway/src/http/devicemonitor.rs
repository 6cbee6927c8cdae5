//! devicemonitor (Mender's monitor add-on, closed source; the best-known shape, documented in
//! `docs/DEVICEMONITOR.md`): devices post alerts and their monitor configuration; operators
//! read a device's alerts (paged, newest first), its latest alert per check, its
//! configuration, and the fleet's devices with open CRITICAL alerts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fleetlog_commands::app::monitor;
use fleetlog_events::Timestamp;
use fleetlog_events::monitor::Alert;
use fleetlog_projections::monitor::{AlertView, MonitorSummary};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{AppJson, Paging};
use super::{ApiError, DeviceAuth, RequestId, UserAuth};
use crate::state::AppState;

const DEVICES: &str = "/api/devices/v1/devicemonitor";
const MANAGEMENT: &str = "/api/management/v1/devicemonitor";

/// The device and management routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(&format!("{DEVICES}/alert"), post(post_alerts))
        .route(&format!("{DEVICES}/config"), post(put_config).put(put_config))
        .route(&format!("{MANAGEMENT}/devices/alerting"), get(alerting))
        .route(&format!("{MANAGEMENT}/devices/{{id}}/alerts"), get(alerts))
        .route(&format!("{MANAGEMENT}/devices/{{id}}/alerts/latest"), get(latest))
        .route(&format!("{MANAGEMENT}/devices/{{id}}/config"), get(config))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubjectIn {
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertIn {
    name: String,
    level: String,
    subject: SubjectIn,
    /// RFC 3339, or Unix seconds.
    timestamp: Value,
}

fn timestamp(v: &Value) -> Result<Timestamp, ApiError> {
    let bad = || ApiError::BadRequest("timestamp: must be RFC 3339 or Unix seconds".into());
    match v {
        Value::Number(n) => {
            let secs = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e11).ok_or_else(bad)?;
            Ok(Timestamp((secs * 1e6) as i64))
        }
        Value::String(s) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| bad())?;
            i64::try_from(t.unix_timestamp_nanos() / 1000).map(Timestamp).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn alert(a: AlertIn) -> Result<Alert, ApiError> {
    Ok(Alert {
        timestamp: timestamp(&a.timestamp)?,
        name: a.name,
        level: a.level,
        subject_name: a.subject.name,
        subject_type: a.subject.kind,
        subject_status: a.subject.status,
        details_json: a.subject.details.map(|d| d.to_string()).unwrap_or_else(|| "{}".into()),
    })
}

async fn post_alerts(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<Value>,
) -> Result<StatusCode, ApiError> {
    // One alert, or a list of them; decoded here so that the error names the field.
    let invalid = |e: serde_json::Error| ApiError::BadRequest(format!("invalid alert: {e}"));
    let list: Vec<AlertIn> = match body {
        Value::Array(_) => serde_json::from_value(body).map_err(invalid)?,
        Value::Object(_) => vec![serde_json::from_value(body).map_err(invalid)?],
        _ => return Err(ApiError::BadRequest("expected an alert object or a list of them".into())),
    };
    let alerts = list.into_iter().map(alert).collect::<Result<Vec<_>, _>>()?;
    monitor::raise(&state, &device.caller(&request_id), alerts).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_config(
    State(state): State<AppState>,
    device: DeviceAuth,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    AppJson(body): AppJson<serde_json::Map<String, Value>>,
) -> Result<StatusCode, ApiError> {
    let json = Value::Object(body).to_string();
    monitor::set_config(&state, &device.caller(&request_id), json).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An alert as operators see it.
fn alert_json(v: &AlertView) -> Value {
    let a = &v.alert;
    let details: Value = serde_json::from_str(&a.details_json).unwrap_or(Value::Null);
    json!({
        "name": a.name,
        "level": a.level,
        "subject": { "name": a.subject_name, "type": a.subject_type, "status": a.subject_status, "details": details },
        "timestamp": fleetlog_projections::rfc3339(a.timestamp.0),
        "received_ts": fleetlog_projections::rfc3339(v.received_ts),
    })
}

async fn alerts(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let (page, per_page) = paging.validate()?;
    let list = monitor::alerts(&state, &user.caller.tenant, &id, page, per_page)?;
    Ok(Json(list.iter().map(alert_json).collect()))
}

async fn latest(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(monitor::latest(&state, &user.caller.tenant, &id)?.iter().map(alert_json).collect()))
}

async fn config(
    State(state): State<AppState>,
    user: UserAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let text = monitor::config(&state, &user.caller.tenant, &id)?;
    Ok(Json(serde_json::from_str(&text).unwrap_or_else(|_| json!({}))))
}

fn summary_json(s: &MonitorSummary) -> Value {
    let critical: Vec<&str> =
        s.checks.iter().filter(|(_, l)| *l == "CRITICAL").map(|(name, _)| name.as_str()).collect();
    json!({ "device_id": s.device_id, "alerts": s.open_critical(), "alert_count": s.total, "critical": critical })
}

async fn alerting(State(state): State<AppState>, user: UserAuth) -> Result<Json<Vec<Value>>, ApiError> {
    Ok(Json(monitor::alerting(&state, &user.caller.tenant)?.iter().map(summary_json).collect()))
}
