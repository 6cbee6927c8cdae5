//! The one iot-manager request the web GUI makes on every page: the list of integrations.
//! fleetlog has no iot-manager yet (its own issue), so the list is empty rather than a 404,
//! which the GUI shows as an error banner.

use axum::routing::get;
use axum::{Json, Router};

use super::UserAuth;
use crate::state::AppState;

/// The integrations list route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/management/v1/iot-manager/integrations", get(integrations))
}

/// No integrations are configured; a token is still required, as in Mender.
async fn integrations(_user: UserAuth) -> Json<Vec<serde_json::Value>> {
    Json(Vec::new())
}
