//! Shared request/response pieces: JSON bodies in Mender's error format, paging, `Link`
//! headers, timestamps.

use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LINK};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body whose rejections (wrong content type, bad JSON) are Mender-style 4xx errors.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim() == "application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "Bad Content-Type, expected 'application/json'".into(),
            ));
        }
        let body = super::json_body::read(req, state).await?;
        super::json_body::decode(&body)
            .map(AppJson)
            .map_err(|e| ApiError::BadRequest(format!("failed to decode request body: {e}")))
    }
}

/// `page` and `per_page` query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    page: Option<String>,
    per_page: Option<String>,
}

/// The first value of `key` in a query read as pairs.
pub fn first(params: &[(String, String)], key: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

impl Paging {
    /// Paging from raw values.
    pub fn new(page: Option<String>, per_page: Option<String>) -> Paging {
        Paging { page, per_page }
    }

    /// Paging from a query read as pairs (for queries whose other keys may repeat).
    pub fn from_pairs(params: &[(String, String)]) -> Paging {
        Paging::new(first(params, "page"), first(params, "per_page"))
    }

    /// Page (≥ 1, default 1) and page size (1..=500, default 20), as Mender checks them.
    pub fn validate(&self) -> Result<(usize, usize), ApiError> {
        let parse = |name: &str, v: &Option<String>, default: usize| match v.as_deref() {
            None | Some("") => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ApiError::BadRequest(format!("invalid {name} query: \"{s}\""))),
        };
        let page = parse("page", &self.page, 1)?;
        let per_page = parse("per_page", &self.per_page, 20)?;
        if per_page > 500 {
            return Err(ApiError::BadRequest("parameter \"per_page\" above limit (max: 500)".into()));
        }
        Ok((page, per_page))
    }
}

/// One `Link` header per relation, as Mender sends them: path plus the query with sorted keys.
pub fn link_header(
    path: &str,
    extra: &[(&str, String)],
    page: usize,
    per_page: usize,
    has_next: bool,
) -> HeaderMap {
    let url = |p: usize| {
        let mut params: Vec<(String, String)> =
            extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        params.push(("page".into(), p.to_string()));
        params.push(("per_page".into(), per_page.to_string()));
        params.sort();
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("{path}?{}", query.join("&"))
    };
    let mut headers = HeaderMap::new();
    let mut add = |p: usize, rel: &str| {
        if let Ok(v) = HeaderValue::from_str(&format!("<{}>; rel=\"{rel}\"", url(p))) {
            headers.append(LINK, v);
        }
    };
    add(1, "first");
    if page > 1 {
        add(page - 1, "prev");
    }
    if has_next {
        add(page + 1, "next");
    }
    headers
}

/// A page of a list as Mender sends it: the items with `Link` (first, prev, next) and
/// `X-Total-Count`.
pub fn paged<T: serde::Serialize>(
    path: &str,
    query: &[(&str, String)],
    (page, per_page): (usize, usize),
    total: usize,
    items: Vec<T>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut headers = link_header(path, query, page, per_page, page * per_page < total);
    headers.insert("x-total-count", total.into());
    (headers, axum::Json(items)).into_response()
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Query parameter `name` as Unix seconds (Mender's `created_after`, `created_before`, ...):
/// absent or empty is `None`; anything but an integer is a 400, never silently ignored.
pub fn unix_seconds(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>().map_err(|_| {
                let shown: String = s.chars().take(64).collect();
                ApiError::BadRequest(format!("{name}: not a Unix time in seconds: {shown:?}"))
            })
        })
        .transpose()
}

/// The first microsecond of a Unix second (see `Timestamp::start_of_second`).
pub fn start_of_second(seconds: i64) -> i64 {
    fleetlog_events::Timestamp::start_of_second(seconds).0
}

/// The last microsecond of a Unix second (see `Timestamp::end_of_second`).
pub fn end_of_second(seconds: i64) -> i64 {
    fleetlog_events::Timestamp::end_of_second(seconds).0
}

/// Microseconds since the epoch as RFC 3339 (UTC), the form Mender's JSON uses; the read models
/// index times in the same form, so there is one implementation.
pub use fleetlog_projections::rfc3339;
