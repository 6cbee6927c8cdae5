//! A throwaway SeaweedFS S3 server for tests (feature `test-support`): one `weed mini`
//! process on free loopback ports with a temporary data directory and fixed credentials,
//! killed with its process group on drop.
//!
//! `FLEETLOG_WEED` names the `weed` binary (default `~/.cache/fleetlog/tools/bin/weed`, where
//! `scripts/setup.sh` links it). Without it tests skip with a notice, unless
//! `FLEETLOG_REQUIRE_S3=1`, which makes them fail instead (CI sets it).

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::{Backend, StorageConfig};

/// Access key id of the server's one identity.
pub const ACCESS_KEY: &str = "fleetlog-test";
/// Its secret key.
pub const SECRET_KEY: &str = "fleetlog-test-secret";

/// How long the server gets to answer on its S3 port (it takes about a second).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Each of master, volume, filer, S3 and admin listens on an HTTP and a gRPC port. All ten are
/// given explicitly: left alone, gRPC ports default to port + 10000, which nobody reserved.
const PORT_FLAGS: [&str; 10] = [
    "-master.port",
    "-master.port.grpc",
    "-volume.port",
    "-volume.port.grpc",
    "-filer.port",
    "-filer.port.grpc",
    "-s3.port",
    "-s3.port.grpc",
    "-admin.port",
    "-admin.port.grpc",
];
const S3_PORT: usize = 6;

/// A running SeaweedFS; dropping it kills the server and removes its data.
#[derive(Debug)]
pub struct SeaweedFs {
    child: Child,
    dir: tempfile::TempDir,
    ports: Vec<u16>,
    endpoint: String,
    /// How long the server took to answer on its S3 port.
    pub startup: Duration,
}

impl SeaweedFs {
    /// The `weed` binary to run: `$FLEETLOG_WEED`, else the one `scripts/setup.sh` installs.
    pub fn weed_path() -> PathBuf {
        if let Some(path) = std::env::var_os("FLEETLOG_WEED") {
            return PathBuf::from(path);
        }
        let home = std::env::var_os("HOME").unwrap_or_default();
        PathBuf::from(home).join(".cache/fleetlog/tools/bin/weed")
    }

    /// Start a server, or `None` with a notice on stderr when `weed` is not installed and
    /// `FLEETLOG_REQUIRE_S3` is not `1`. Panics when it is required and missing, or when it is
    /// there but does not start. Blocks for about a second.
    pub fn start_or_skip(test: &str) -> Option<SeaweedFs> {
        let weed = SeaweedFs::weed_path();
        if !weed.is_file() {
            let required = std::env::var("FLEETLOG_REQUIRE_S3").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "FLEETLOG_REQUIRE_S3=1 but there is no weed at {} (run scripts/setup.sh)",
                weed.display()
            );
            // Straight to the process's stderr, past the test harness's capture, so the skip
            // shows in a normal `cargo test` run.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP {test}: no weed at {} (run scripts/setup.sh or set FLEETLOG_WEED)",
                weed.display()
            );
            return None;
        }
        Some(SeaweedFs::start(&weed).unwrap_or_else(|e| panic!("{test}: {e}")))
    }

    /// Start `weed` and wait until its S3 port answers. A start that fails (most likely a
    /// port taken between choosing and binding it) is retried twice on new ports.
    pub fn start(weed: &std::path::Path) -> Result<SeaweedFs, String> {
        let mut last_error = String::new();
        for attempt in 1..=3 {
            match SeaweedFs::try_start(weed) {
                Ok(server) => return Ok(server),
                Err(e) => {
                    let _ = writeln!(std::io::stderr(), "weed start attempt {attempt} failed: {e}");
                    last_error = e;
                }
            }
        }
        Err(last_error)
    }

    fn try_start(weed: &std::path::Path) -> Result<SeaweedFs, String> {
        let dir = tempfile::Builder::new().prefix("fleetlog-weed-").tempdir().map_err(|e| e.to_string())?;
        let path = |name: &str| dir.path().join(name).display().to_string();
        let identities = format!(
            r#"{{"identities":[{{"name":"fleetlog","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        fs::write(path("s3.json"), identities).map_err(|e| e.to_string())?;
        for sub in ["data", "logs"] {
            fs::create_dir(path(sub)).map_err(|e| e.to_string())?;
        }
        let ports = free_ports(PORT_FLAGS.len())?;
        let log = fs::File::create(path("weed.out")).map_err(|e| e.to_string())?;
        let mut command = Command::new(weed);
        command
            .arg(format!("-logdir={}", path("logs")))
            .arg("mini")
            .arg(format!("-dir={}", path("data")))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args(PORT_FLAGS.iter().zip(&ports).map(|(flag, port)| format!("{flag}={port}")))
            // Off: outbound telemetry, and the servers tests do not use (each would want a port).
            .args(["-master.telemetry=false", "-webdav=false", "-admin.ui=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            // Like AWS: writing to a missing bucket is an error, not an implicit create.
            .arg("-s3.autoCreateBucket=false")
            .arg(format!("-s3.config={}", path("s3.json")))
            // Their defaults are /tmp/seaweedfs-*-<port>.sock, which would outlive the server.
            .arg(format!("-filer.localSocket={}", path("filer.sock")))
            .arg(format!("-s3.localSocket={}", path("s3.sock")))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        // Its own process group, so drop can kill everything it started.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let began = Instant::now();
        let child = command.spawn().map_err(|e| format!("cannot run {}: {e}", weed.display()))?;
        let endpoint = format!("http://127.0.0.1:{}", ports[S3_PORT]);
        let mut server = SeaweedFs { child, dir, ports, endpoint, startup: Duration::ZERO };
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("weed exited at start ({status}): {}", server.log_tail()));
            }
            if answers_http(server.ports[S3_PORT]) {
                server.startup = began.elapsed();
                return Ok(server);
            }
            if began.elapsed() > STARTUP_TIMEOUT {
                return Err(format!(
                    "weed S3 did not answer within {STARTUP_TIMEOUT:?}: {}",
                    server.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The S3 endpoint URL (`http://127.0.0.1:<port>`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings for an S3 store on this server, in `bucket` (created on connect).
    pub fn storage_config(&self, bucket: &str) -> StorageConfig {
        StorageConfig {
            backend: Backend::S3,
            s3_endpoint: Some(self.endpoint.clone()),
            s3_bucket: bucket.to_owned(),
            s3_access_key: Some(ACCESS_KEY.into()),
            s3_secret_key: Some(SECRET_KEY.into()),
            ..StorageConfig::default()
        }
    }

    /// The last lines of the server's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let out = fs::read_to_string(self.dir.path().join("weed.out")).unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        // SIGKILL: the data is thrown away, and on SIGTERM weed waits out its pre-stop delay.
        let pid = i32::try_from(self.child.id()).unwrap_or(i32::MAX);
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = self.child.wait();
        // gRPC unix sockets have no flag for their path: weed puts them in the temp dir, named
        // after our ports.
        let temp = std::env::temp_dir();
        for (flag, port) in PORT_FLAGS.iter().zip(&self.ports) {
            if let Some(service) = flag.strip_prefix('-').and_then(|f| f.strip_suffix(".port.grpc")) {
                let _ = fs::remove_file(temp.join(format!("seaweedfs-{service}-grpc-{port}.sock")));
            }
        }
    }
}

/// `n` distinct free loopback ports, none handed out before in this process. They are free
/// again (for weed) once this returns, so the kernel could give one of them to the next
/// caller before weed binds it; remembering them keeps parallel tests from colliding.
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // Listeners stay open until the end, so the kernel gives each port once in this call.
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < n && listeners.len() < n * 10 {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("no free port: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        if handed_out.insert(port) {
            ports.push(port);
        }
        listeners.push(listener);
    }
    if ports.len() < n {
        return Err("ran out of fresh loopback ports".into());
    }
    Ok(ports)
}

/// Whether an HTTP server answers on the port (any status: an anonymous S3 request gets 403).
fn answers_http(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}
