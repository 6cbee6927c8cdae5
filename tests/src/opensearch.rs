//! A real OpenSearch node for tests: one shared per test binary ([`shared_opensearch_url`]),
//! or one of a test's own ([`OpenSearchNode::start`]) for tests that stop and restart it.
//!
//! `scripts/setup.sh` installs it: `FLEETLOG_OPENSEARCH_HOME` names the install (default
//! `~/.cache/fleetlog/tools/opensearch`) and `FLEETLOG_JAVA_HOME` the Java 21+ it runs with
//! (default `~/.cache/fleetlog/tools/bin/opensearch-java`). A missing install fails the test
//! that needs it, never skips it. OpenSearch refuses to run as root: as root the node runs as
//! the user named in the install's `.run-user` (setup creates it), through `setpriv`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a node gets to answer: it takes 20 s on a quiet machine, up to a minute on a
/// loaded one.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// The heap: small, the tests index a few thousand documents at most.
const JAVA_OPTS: &str = "-Xms256m -Xmx512m";

fn tools_path(rest: &str) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/fleetlog/tools").join(rest)
}

/// The install (`bin/opensearch` inside): `$FLEETLOG_OPENSEARCH_HOME`, else the one setup links.
pub fn opensearch_home() -> PathBuf {
    std::env::var_os("FLEETLOG_OPENSEARCH_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| tools_path("opensearch"), PathBuf::from)
}

/// The JDK the node runs with: `$FLEETLOG_JAVA_HOME`, else the one setup links.
pub fn opensearch_java() -> PathBuf {
    std::env::var_os("FLEETLOG_JAVA_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| tools_path("bin/opensearch-java"), PathBuf::from)
}

/// A running node. Dropping it (or the test process exiting) stops it; a node started on a
/// temp dir removes the dir once it has exited.
pub struct OpenSearchNode {
    url: String,
    port: u16,
    dir: PathBuf,
    child: Child,
    stdin: Option<ChildStdin>,
    /// How long it took to answer.
    pub startup: Duration,
}

impl OpenSearchNode {
    /// Starts a node on `dir` (kept when given; a fresh temp dir removed at exit otherwise),
    /// on `port` (a free one otherwise), and waits until it answers and its cluster is yellow.
    pub fn start(dir: Option<PathBuf>, port: Option<u16>) -> Result<OpenSearchNode, String> {
        Self::start_from(&opensearch_home(), &opensearch_java(), dir, port)
    }

    /// [`OpenSearchNode::start`] with the install at `home` run by the JDK at `java`.
    pub fn start_from(
        home: &Path,
        java: &Path,
        dir: Option<PathBuf>,
        port: Option<u16>,
    ) -> Result<OpenSearchNode, String> {
        if !home.join("bin/opensearch").is_file() {
            return Err(format!(
                "no OpenSearch at {} (FLEETLOG_OPENSEARCH_HOME): run `make setup` (scripts/setup.sh installs 3.8.0)",
                home.display()
            ));
        }
        if !java.join("bin/java").is_file() {
            return Err(format!(
                "no Java at {} (FLEETLOG_JAVA_HOME; OpenSearch 3 needs Java 21+): run `make setup`",
                java.display()
            ));
        }
        // Resolve the links: the node user may not be able to pass through the tools dir.
        let home = home.canonicalize().map_err(|e| format!("{}: {e}", home.display()))?;
        let java = java.canonicalize().map_err(|e| format!("{}: {e}", java.display()))?;
        let remove_on_exit = dir.is_none();
        let dir = match dir {
            Some(d) => d,
            None => tempfile::Builder::new()
                .prefix("fleetlog-opensearch-")
                .tempdir()
                .map_err(|e| e.to_string())?
                .keep(),
        };
        for sub in ["data", "logs", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        let run_as = run_user(&home);
        if let Some(user) = &run_as {
            let status = Command::new("chown").arg("-R").arg(format!("{user}:")).arg(&dir).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err(format!("cannot hand {} to user {user}", dir.display()));
            }
        }
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let transport = free_port()?;
        let path = |sub: &str| dir.join(sub).display().to_string();
        let mut node = Vec::<String>::new();
        if let Some(user) = &run_as {
            node.extend(["setpriv".into(), format!("--reuid={user}"), format!("--regid={user}")]);
            node.push("--init-groups".into());
        }
        node.extend([
            "env".into(),
            format!("JAVA_HOME={}", java.display()),
            format!("OPENSEARCH_JAVA_HOME={}", java.display()),
            format!("OPENSEARCH_TMPDIR={}", path("tmp")),
            format!("OPENSEARCH_JAVA_OPTS={JAVA_OPTS}"),
            home.join("bin/opensearch").display().to_string(),
            format!("-Ehttp.port={port}"),
            format!("-Etransport.port={transport}"),
            "-Enetwork.host=127.0.0.1".into(),
            "-Ediscovery.type=single-node".into(),
            format!("-Ecluster.name=fleetlog-test-{port}"),
            format!("-Epath.data={}", path("data")),
            format!("-Epath.logs={}", path("logs")),
        ]);
        let log = std::fs::File::create(dir.join("console.log")).map_err(|e| e.to_string())?;
        // A shell between us and the node stops it when our end of its stdin closes: the
        // shared node of a test binary goes down when the binary exits, however it exits.
        let cleanup = if remove_on_exit { dir.display().to_string() } else { String::new() };
        let began = Instant::now();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"cleanup=$1; shift; "$@" & pid=$!; read _; kill -TERM "$pid"; wait "$pid"; [ -z "$cleanup" ] || rm -rf "$cleanup""#)
            .arg("opensearch-node")
            .arg(cleanup)
            .args(&node)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the OpenSearch node: {e}"))?;
        let stdin = child.stdin.take();
        let url = format!("http://127.0.0.1:{port}");
        let mut node = OpenSearchNode { url, port, dir, child, stdin, startup: Duration::ZERO };
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                return Err(format!("OpenSearch exited at start ({status}):\n{}", node.log_tail()));
            }
            if http_status(port, "GET", "/_cluster/health?wait_for_status=yellow&timeout=1s") == Some(200) {
                node.startup = began.elapsed();
                return Ok(node);
            }
            if began.elapsed() > STARTUP_TIMEOUT {
                return Err(format!(
                    "OpenSearch did not answer on {} within {STARTUP_TIMEOUT:?}:\n{}",
                    node.url,
                    node.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The node's directory (data, logs, console output).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last lines of the node's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let out = std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    /// Stops the node (SIGTERM: it closes its shards) and waits until it has exited.
    pub fn stop(mut self) {
        self.stop_in_place();
    }

    fn stop_in_place(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let pid = i32::try_from(self.child.id()).unwrap_or(i32::MAX);
        let _ = Command::new("kill").arg("-KILL").arg(format!("-{pid}")).status();
        let _ = self.child.wait();
    }
}

impl Drop for OpenSearchNode {
    fn drop(&mut self) {
        self.stop_in_place();
    }
}

/// The URL of the node shared by every test of this binary, started on first use. It stops,
/// and its data goes, when the test process exits. A missing install panics with what to do.
pub fn shared_opensearch_url() -> &'static str {
    static NODE: OnceLock<OpenSearchNode> = OnceLock::new();
    NODE.get_or_init(|| {
        let node = OpenSearchNode::start(None, None).unwrap_or_else(|e| panic!("{e}"));
        let _ = writeln!(std::io::stderr(), "OpenSearch node on {} after {:?}", node.url(), node.startup);
        node
    })
    .url()
}

/// As root, the user the install names (OpenSearch will not run as root).
fn run_user(home: &Path) -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return None;
    }
    let user = std::fs::read_to_string(home.join(".run-user")).ok();
    Some(user.map_or_else(|| "fleetlog-opensearch".to_owned(), |u| u.trim().to_owned()))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The status of a plain HTTP request to the node, `None` when it does not answer.
pub fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let request = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_install_is_an_error_that_says_what_to_run() {
        let missing = Path::new("/nonexistent/opensearch");
        let e = OpenSearchNode::start_from(missing, &opensearch_java(), None, None).err().unwrap();
        assert!(e.contains("/nonexistent/opensearch") && e.contains("make setup"), "{e}");
        let e = OpenSearchNode::start_from(&opensearch_home(), missing, None, None).err();
        if opensearch_home().join("bin/opensearch").is_file() {
            assert!(e.unwrap().contains("Java 21+"));
        }
    }
}
