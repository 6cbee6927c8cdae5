//! HTTP latency histograms by route, and the Prometheus recorder they go to.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: the device poll path lives in the first few.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The process-wide recorder (metrics are global; installed once, even with several apps in
/// one test process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a test harness); ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Records `fleetlog_http_request_duration_seconds{method, route, status}`.
///
/// The histogram handles are kept by a hash of their labels, so that a request on a known
/// route allocates nothing here (building the labels would allocate three strings, and the
/// device poll path is meant to stay allocation-light).
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    histogram(&method, route, res.status().as_u16()).record(started.elapsed().as_secs_f64());
    res
}

fn histogram(method: &axum::http::Method, route: &str, status: u16) -> metrics::Histogram {
    use std::hash::{Hash, Hasher};
    static HANDLES: OnceLock<RwLock<HashMap<u64, metrics::Histogram>>> = OnceLock::new();
    let handles = HANDLES.get_or_init(Default::default);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (method.as_str(), route, status).hash(&mut h);
    let key = h.finish();
    if let Some(found) = handles.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return found.clone();
    }
    let labels =
        [("method", method.as_str().to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    let made = metrics::histogram!("fleetlog_http_request_duration_seconds", &labels);
    handles.write().unwrap_or_else(|p| p.into_inner()).insert(key, made.clone());
    made
}
