//! The HTTP accept loop: the router on hyper's connections, with the limits `axum::serve`
//! cannot set — a header read timeout (a client dribbling its request head would otherwise
//! hold a connection and a task forever) and a head buffer large enough that an oversized
//! header reaches our own check, which answers 431 in Mender's error format. With TLS, each
//! connection's handshake runs in its own task within the same timeout, and the protocol the
//! client chose by ALPN picks HTTP/2 or HTTP/1.1 (with upgrades: WebSockets over TLS).

use std::fmt::Display;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::tls::{ClientCertificate, HandshakeFailures};

/// Limits of each HTTP connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Time a client has to send a whole request head (also the idle time between requests,
    /// and the time a TLS handshake may take).
    pub header_read_timeout: Duration,
}

/// Largest request head hyper reads before answering a bare 431 itself; heads up to it reach
/// the middleware, whose smaller limit answers in Mender's format.
const MAX_HEAD_BUFFER: usize = 1024 * 1024;

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// lets open connections finish their requests and returns when they have.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut shutdown = pin!(shutdown);
    let stop = CancellationToken::new();
    let connections = TaskTracker::new();
    let failures = Arc::new(HandshakeFailures::default());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let stop = stop.clone();
        let Some(acceptor) = tls.clone() else {
            let service = TowerToHyperService::new(WithPeer { router: router.clone(), cert: None });
            connections.spawn(http1(TokioIo::new(stream), service, limits, stop));
            continue;
        };
        let failures = failures.clone();
        let router = router.clone();
        connections.spawn(async move {
            // Small TLS records go out at once rather than waiting for Nagle.
            let _ = stream.set_nodelay(true);
            let Some(stream) = handshake(&acceptor, stream, limits, &stop, peer, &failures).await else {
                return;
            };
            let cert = ClientCertificate::of(stream.get_ref().1);
            let service = TowerToHyperService::new(WithPeer { router, cert });
            if stream.get_ref().1.alpn_protocol() == Some(crate::tls::ALPN_H2) {
                http2(TokioIo::new(stream), service, stop).await
            } else {
                http1(TokioIo::new(stream), service, limits, stop).await
            }
        });
    }
    stop.cancel();
    connections.close();
    connections.wait().await;
    Ok(())
}

/// The TLS handshake, within the header timeout; a failure is counted, not logged as an error.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    limits: ConnLimits,
    stop: &CancellationToken,
    peer: std::net::SocketAddr,
    failures: &HandshakeFailures,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let accepted = tokio::select! {
        accepted = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)) => accepted,
        () = stop.cancelled() => return None,
    };
    match accepted {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            failures.record(peer, &e);
            None
        }
        Err(_) => {
            failures.record(peer, &"no handshake within the header read timeout");
            None
        }
    }
}

/// The router, with the connection's verified client certificate (if any) put into each
/// request's extensions.
#[derive(Clone)]
struct WithPeer {
    router: Router,
    cert: Option<ClientCertificate>,
}

impl tower::Service<axum::extract::Request<hyper::body::Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = axum::routing::future::RouteFuture<std::convert::Infallible>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<axum::extract::Request<hyper::body::Incoming>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut req: axum::extract::Request<hyper::body::Incoming>) -> Self::Future {
        if let Some(cert) = &self.cert {
            req.extensions_mut().insert(cert.clone());
        }
        self.router.call(req)
    }
}

type Service = TowerToHyperService<WithPeer>;

/// One HTTP/1.1 connection, with upgrades (WebSockets).
async fn http1<I>(io: TokioIo<I>, service: Service, limits: ConnLimits, stop: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BUFFER);
    let conn = builder.serve_connection(io, service).with_upgrades();
    drive(conn, stop, |c| c.graceful_shutdown()).await
}

/// One HTTP/2 connection (negotiated by ALPN over TLS only).
async fn http2<I>(io: TokioIo<I>, service: Service, stop: CancellationToken)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEAD_BUFFER).unwrap_or(u32::MAX))
        // A peer that stops answering pings is gone: its connection is closed.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let conn = builder.serve_connection(io, service);
    drive(conn, stop, |c| c.graceful_shutdown()).await
}

/// Runs `conn` to its end; when `stop` fires, asks it to finish its requests and close.
async fn drive<C, E>(conn: C, stop: CancellationToken, graceful: impl FnOnce(Pin<&mut C>))
where
    C: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut conn = pin!(conn);
    let mut graceful = Some(graceful);
    let mut stopping = pin!(stop.cancelled());
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut stopping, if graceful.is_some() => {
                if let Some(shutdown) = graceful.take() {
                    shutdown(conn.as_mut());
                }
            }
        }
    }
}
