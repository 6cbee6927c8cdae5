//! A fleetlog server inside the bench process, on the bench's nats-server with a stream of its
//! own, serving on a free loopback port until stopped.

use std::net::SocketAddr;

use fleetlog_gateway::server::Application;
use fleetlog_gateway::settings::{ConnectionArgs, ServeArgs};
use fleetlog_gateway::state::AppState;

/// A running server.
pub struct BenchServer {
    /// Its state (for direct use of the command side and read models).
    pub state: AppState,
    /// Where it listens.
    pub addr: SocketAddr,
    conn: ConnectionArgs,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    dir: tempfile::TempDir,
}

impl BenchServer {
    /// Builds and starts a server on stream `stream` (subjects `prefix.>`) of the nats-server at
    /// `url`, with a fresh data dir.
    pub async fn start(url: &str, stream: &str, prefix: &str) -> anyhow::Result<BenchServer> {
        Self::start_with(url, stream, prefix, |_| {}).await
    }

    /// [`BenchServer::start`] with settings that `tune` adjusts first.
    pub async fn start_with(
        url: &str,
        stream: &str,
        prefix: &str,
        tune: impl FnOnce(&mut ServeArgs),
    ) -> anyhow::Result<BenchServer> {
        let dir = tempfile::tempdir()?;
        let conn = ConnectionArgs {
            data_dir: dir.path().into(),
            nats_url: Some(url.into()),
            nats_server_bin: "nats-server".into(),
            stream: stream.into(),
            subject_prefix: prefix.into(),
            replicas: 1,
            cache_mb: fleetlog_projections::DEFAULT_CACHE_MB,
        };
        let mut args = ServeArgs::with_defaults(conn.clone(), "127.0.0.1:0".parse()?);
        tune(&mut args);
        let app = Box::pin(Application::build(args)).await?;
        let (state, addr) = (app.state().clone(), app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(BenchServer { state, addr, conn, stop, task, dir })
    }

    /// Its data dir (read models, keys, artifacts).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The connection settings it runs with (its log and data dir), for `fleetlog` tools.
    pub fn conn(&self) -> ConnectionArgs {
        self.conn.clone()
    }

    /// Stops it and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}
