//! `POST /api/management/v2/devauth/devices/search`: devices by status and id.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use fleetlog_events::device::DeviceStatus;
use fleetlog_projections::devices::DeviceView;
use serde::Deserialize;

use super::devauth::{device_json, find, parse_status};
use super::json::{AppJson, Paging, link_header};
use super::{ApiError, UserAuth};
use crate::app::devices::devices;
use crate::state::AppState;

/// Body of a search: `status` and `id`, each a string or a list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchBody {
    #[serde(default)]
    status: OneOrMany,
    #[serde(default)]
    id: OneOrMany,
}

/// A JSON string or array of strings.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::None => vec![],
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Searches devices; paged like the list, with `Link` headers.
pub(super) async fn search(
    State(state): State<AppState>,
    user: UserAuth,
    Query(paging): Query<Paging>,
    AppJson(body): AppJson<SearchBody>,
) -> Result<Response, ApiError> {
    let (page, per_page) = paging.validate()?;
    let statuses =
        body.status.values().into_iter().map(|s| parse_status(Some(s))).collect::<Result<Vec<_>, _>>()?;
    let mut statuses: Vec<DeviceStatus> = statuses.into_iter().flatten().collect();
    statuses.sort_unstable_by_key(|s| s.as_str());
    statuses.dedup();
    let ids = body.id.values();
    let skip = (page - 1) * per_page;
    // Searches by id read those records; otherwise the status index pages, reading no more than
    // the page's depth (the GUI's device list runs this on every view).
    let found: Vec<DeviceView> = if ids.is_empty() {
        devices(&state, |d| d.list_of(user.tenant(), &statuses, skip, per_page + 1))?
    } else {
        let matches = |d: &DeviceView| statuses.is_empty() || statuses.contains(&d.status());
        let mut all: Vec<_> = ids.iter().filter_map(|id| find(&state, id).ok()).filter(matches).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all.dedup_by(|a, b| a.id == b.id);
        all.into_iter().skip(skip).take(per_page + 1).collect()
    };
    let has_next = found.len() > per_page;
    let links = link_header("/api/management/v2/devauth/devices/search", &[], page, per_page, has_next);
    let body: Vec<_> = found.iter().take(per_page).map(device_json).collect();
    Ok((links, Json(body)).into_response())
}
