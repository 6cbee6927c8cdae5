//! The HTTP accept loop: the router on hyper's HTTP/1 connections, with the limits
//! `axum::serve` cannot set — a header read timeout (a client dribbling its request head
//! would otherwise hold a connection and a task forever) and a head buffer large enough that an
//! oversized header reaches our own check, which answers 431 in Mender's error format.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Limits of each HTTP connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Time a client has to send a whole request head (also the idle time between requests).
    pub header_read_timeout: Duration,
}

/// Largest request head hyper reads before answering a bare 431 itself; heads up to it reach
/// the middleware, whose smaller limit answers in Mender's format.
const MAX_HEAD_BUFFER: usize = 1024 * 1024;

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests and returns when they have.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut shutdown = pin!(shutdown);
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(MAX_HEAD_BUFFER);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service).with_upgrades());
            let mut stopping = pin!(stop.cancelled());
            let mut stopped = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = &mut stopping, if !stopped => {
                        stopped = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}
