//! `--http-redirect`: a plain-HTTP listener that answers every request with a redirect to the
//! same path on the HTTPS listener. It is for browsers typing `http://`: devices and Mender's
//! tools do not follow a redirect of a POST (and must not send tokens in clear anyway), so they
//! are configured with the `https://` URL.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Where redirects go: the public URL when it is `https://`, else the host the client asked
/// for on the HTTPS port.
#[derive(Debug, Clone)]
pub struct Target {
    base: Option<String>,
    port: u16,
}

impl Target {
    /// The target for `--public-url` (if any) and the HTTPS listener's `port`.
    pub fn new(public_url: Option<&str>, port: u16) -> Target {
        let base =
            public_url.filter(|u| u.starts_with("https://")).map(|u| u.trim_end_matches('/').to_owned());
        Target { base, port }
    }

    /// The redirect's location for a request to `path_and_query` with `Host: host`, or `None`
    /// when the host is not a plain name or address (it would be copied into the answer).
    fn location(&self, host: Option<&str>, path_and_query: &str) -> Option<String> {
        if let Some(base) = &self.base {
            return Some(format!("{base}{path_and_query}"));
        }
        let host = host?;
        // Drop the port: `name:port`, or `[v6]:port`.
        let name = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => &host[..i],
            _ => host,
        };
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
        let port = if self.port == 443 { String::new() } else { format!(":{}", self.port) };
        ok.then(|| format!("https://{name}{port}{path_and_query}"))
    }
}

/// The redirecting router.
pub fn router(target: Target) -> Router {
    Router::new().fallback(redirect).with_state(target)
}

/// Serves redirects to `target` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    target: Target,
    limits: super::serve::ConnLimits,
    stop: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let stopped = async move { stop.cancelled().await };
    super::serve::serve(listener, router(target), limits, None, stopped).await
}

async fn redirect(State(target): State<Target>, req: Request) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let Some(location) = target.location(host, path) else {
        return (StatusCode::BAD_REQUEST, "use https\n").into_response();
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        return (StatusCode::BAD_REQUEST, "use https\n").into_response();
    };
    // 301 for what browsers fetch; 308 keeps any other method and body as they were.
    let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    (status, [(header::LOCATION, location)], "use https\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn the_location_keeps_the_path_and_the_host_and_refuses_odd_hosts() {
        let t = Target::new(None, 8443);
        assert_eq!(
            t.location(Some("example.com:8080"), "/ui?x=1").unwrap(),
            "https://example.com:8443/ui?x=1"
        );
        assert_eq!(t.location(Some("[::1]:80"), "/").unwrap(), "https://[::1]:8443/");
        assert_eq!(t.location(Some("evil.com/x"), "/"), None);
        assert_eq!(t.location(None, "/"), None);
        assert_eq!(Target::new(None, 443).location(Some("a.b"), "/p").unwrap(), "https://a.b/p");
        let public = Target::new(Some("https://ota.example.com/"), 8443);
        assert_eq!(public.location(Some("whatever"), "/p").unwrap(), "https://ota.example.com/p");
    }
}
