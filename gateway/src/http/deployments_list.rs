//! The deployments list (v1 and v2): status, search and creation-time filters, sort by
//! creation, paging with `Link` and `X-Total-Count`.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::deployments::{BASE, deployment_json};
use super::json::{Paging, paged};
use super::{ApiError, UserAuth};
use crate::app::deployments::deployments;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per_page: Option<String>,
    #[serde(default)]
    created_after: Option<String>,
    #[serde(default)]
    created_before: Option<String>,
}

/// A Unix-seconds bound as microseconds (`None` when absent).
fn bound(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .and_then(|s| s.checked_mul(1_000_000))
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid {name}: must be a Unix timestamp"))),
    }
}

/// `GET .../deployments`: newest first unless `sort=asc`. `scheduled` is a valid status that
/// nothing has yet: fleetlog starts every deployment at once.
pub(super) async fn list(
    State(state): State<AppState>,
    user: UserAuth,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (page, per_page) = Paging::new(q.page.clone(), q.per_page.clone()).validate()?;
    if let Some(s) = q.status.as_deref()
        && !matches!(s, "pending" | "inprogress" | "finished" | "scheduled")
    {
        return Err(ApiError::BadRequest(format!(
            "invalid status {:?}",
            s.chars().take(32).collect::<String>()
        )));
    }
    // Mender's bounds are inclusive, in whole seconds.
    let after = bound("created_after", q.created_after.as_deref())?;
    let before = bound("created_before", q.created_before.as_deref())?.map(|b| b + 999_999);
    let mut all = deployments(&state, |m| m.deployments(user.tenant()))?;
    all.retain(|d| {
        q.status.as_deref().is_none_or(|s| d.status() == s)
            && after.is_none_or(|a| d.created_ts >= a)
            && before.is_none_or(|b| d.created_ts <= b)
    });
    if let Some(text) = q.search.as_deref().filter(|s| !s.is_empty()) {
        all.retain(|d| d.name.contains(text) || d.artifact_name.contains(text));
    }
    match q.sort.as_deref() {
        None | Some("" | "desc") => {}
        Some("asc") => all.reverse(),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "invalid sort {:?}",
                other.chars().take(32).collect::<String>()
            )));
        }
    }
    let total = all.len();
    let body = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|d| deployment_json(&state, d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut query: Vec<(&str, String)> = Vec::new();
    let fields = [
        ("status", &q.status),
        ("search", &q.search),
        ("sort", &q.sort),
        ("created_after", &q.created_after),
        ("created_before", &q.created_before),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            query.push((key, v.clone()));
        }
    }
    Ok(paged(BASE, &query, (page, per_page), total, body))
}
