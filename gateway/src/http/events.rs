//! The log over HTTP for other tools: `GET /api/management/v1/fleetlog/events` streams events
//! as Server-Sent Events (`id` = position, `event` = type, `data` = JSON) or, with
//! `format=ndjson`, as JSON lines. Resumable with `Last-Event-ID` or `from`.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fleetlog_projections::tail::{Tail, TailError, TailFilter};
use futures::StreamExt;
use serde::Deserialize;

use super::{ApiError, UserAuth};
use crate::state::AppState;

/// The event stream route.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/management/v1/fleetlog/events", get(stream))
        .route("/api/management/v1/fleetlog/objects/{type}/{id}", get(object))
}

/// Query of an object's history.
#[derive(Debug, Deserialize)]
struct ObjectQuery {
    /// Unix seconds (inclusive): the history and state as they were then.
    at: Option<String>,
}

/// Every event of one object in order, and its state after them (or at `at`).
async fn object(
    State(state): State<AppState>,
    user: UserAuth,
    axum::extract::Path((kind, id)): axum::extract::Path<(String, String)>,
    Query(q): Query<ObjectQuery>,
) -> Result<Response, ApiError> {
    // The whole second is included; a time past the range of microseconds is "now and later".
    let at = super::json::unix_seconds("at", q.at.as_deref())?.map(super::json::end_of_second);
    let h = crate::app::history::history(state.store(), &user.caller.tenant, &kind, &id, at).await?;
    let events: Vec<_> = h.events.iter().map(|e| fleetlog_schemas::to_json(e.seq, &e.envelope)).collect();
    let position = h.events.last().map_or(0, |e| e.seq);
    Ok(axum::Json(serde_json::json!({ "type": kind, "id": id, "position": position, "state": h.state, "events": events })).into_response())
}

/// Query of the stream.
#[derive(Debug, Deserialize)]
struct StreamQuery {
    aggregate_type: Option<String>,
    object_id: Option<String>,
    event_type: Option<String>,
    from: Option<String>,
    format: Option<String>,
    follow: Option<bool>,
}

async fn stream(
    State(state): State<AppState>,
    user: UserAuth,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Result<Response, ApiError> {
    let parse = |what: &str, v: &str| {
        v.trim().parse::<u64>().map_err(|_| ApiError::BadRequest(format!("invalid {what} {v:?}")))
    };
    // Last-Event-ID is the last position the client saw: resume after it.
    let from = match (headers.get("last-event-id").and_then(|v| v.to_str().ok()), q.from.as_deref()) {
        // The largest position has no next one: it is past the end, like any `from` there.
        (Some(last), _) => Some(parse("Last-Event-ID", last)?.checked_add(1).ok_or_else(|| {
            ApiError::BadRequest(format!("Last-Event-ID {last} is beyond the end of the log"))
        })?),
        (None, Some(from)) => Some(parse("from", from)?),
        (None, None) => None,
    };
    let filter = TailFilter {
        // Operators see their own tenant only.
        tenant: Some(user.tenant().into()),
        aggregate_type: q.aggregate_type,
        id: q.object_id,
        event_type: q.event_type,
    };
    let store = state.store();
    let (client, cfg) = (store.client(), store.config());
    let tail = Tail::open(client, &cfg.stream, &cfg.prefix, &filter, from, q.follow.unwrap_or(true))
        .await
        .map_err(|e| match e {
            TailError::Nats(e) => ApiError::Unavailable(e.into()),
            other => ApiError::BadRequest(other.to_string()),
        })?;
    let events = futures::stream::unfold(tail, |mut tail| async move {
        match tail.next().await? {
            Ok(e) => Some((e, tail)),
            Err(err) => {
                tracing::warn!(error = %err, "event stream ended");
                None
            }
        }
    })
    .take_until(state.shutdown.clone().cancelled_owned());
    match q.format.as_deref() {
        None | Some("sse") => {
            let sse = events.map(|e| {
                let json = fleetlog_schemas::to_json(e.seq, &e.envelope);
                Ok::<_, Infallible>(
                    Event::default()
                        .id(e.seq.to_string())
                        .event(e.envelope.event.event_type())
                        .data(json.to_string()),
                )
            });
            Ok(Sse::new(sse).keep_alive(KeepAlive::default()).into_response())
        }
        Some("ndjson") => {
            let lines = events
                .map(|e| Ok::<_, Infallible>(format!("{}\n", fleetlog_schemas::to_json(e.seq, &e.envelope))));
            Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!("unknown format {other:?}: use sse or ndjson"))),
    }
}
