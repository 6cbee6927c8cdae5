//! The release `fleetlog` binary run as a child process on the bench's nats-server, so that
//! its memory and CPU are measured apart from the bench's own (the simulator, the load).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

/// A `fleetlog serve` running as a child process, with its own data dir (removed on drop).
pub struct ChildServer {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// Its data dir (`readmodels/` holds the read models' store).
    pub data_dir: PathBuf,
    /// Flags that select the same log and data dir, for other subcommands (`admin`, `replay`).
    conn: Vec<String>,
    child: Child,
    log: PathBuf,
    /// The highest VmHWM read before a [`ChildServer::step_peak_rss_kib`] reset it.
    earlier_peak_kib: std::cell::Cell<u64>,
    /// The same since [`ChildServer::start_phase`].
    phase_peak_kib: std::cell::Cell<u64>,
    _dir: tempfile::TempDir,
}

/// The `fleetlog` binary next to this bench's executable (both built by `cargo build --release`).
pub fn binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("fleetlog");
    ensure!(
        path.exists(),
        "{} not found: build it first with `cargo build --release -p fleetlog-gateway` (make bench does)",
        path.display()
    );
    Ok(path)
}

impl ChildServer {
    /// Starts `fleetlog serve` on stream `stream` (subjects `prefix.>`) of the nats-server at
    /// `nats_url`, with a fresh data dir under the system's temp dir, on a free loopback port,
    /// with `extra_args` (e.g. `--cache-mb 128`) appended. It does not wait for readiness.
    pub fn start(nats_url: &str, stream: &str, prefix: &str, extra_args: &[String]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)?;
        // A port the kernel just handed out and we released: free unless something races us.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let conn: Vec<String> = [
            "--nats-url",
            nats_url,
            "--stream",
            stream,
            "--subject-prefix",
            prefix,
            "--data-dir",
            &data_dir.to_string_lossy(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let log = dir.path().join("fleetlog.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(binary()?)
            .arg("serve")
            .args(&conn)
            .args(["--listen", &addr.to_string()])
            .args(extra_args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting fleetlog serve")?;
        Ok(ChildServer {
            addr,
            pid: child.id(),
            data_dir,
            conn,
            child,
            log,
            earlier_peak_kib: 0.into(),
            phase_peak_kib: 0.into(),
            _dir: dir,
        })
    }

    /// Runs another `fleetlog` subcommand (`admin create-user ...`, `replay`) on the same log
    /// and data dir, with `args` after the subcommand words; answers its stdout.
    pub fn tool(&self, words: &[&str], args: &[&str]) -> anyhow::Result<String> {
        let out = Command::new(binary()?).args(words).args(&self.conn).args(args).output()?;
        ensure!(
            out.status.success(),
            "fleetlog {}: {}",
            words.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until `/readyz` answers 200 (every read model caught up with the log).
    pub async fn wait_ready(&mut self, http: &reqwest::Client, timeout: Duration) -> anyhow::Result<()> {
        let url = format!("http://{}/readyz", self.addr);
        let started = Instant::now();
        loop {
            if let Ok(res) = http.get(&url).send().await
                && res.status() == 200
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("fleetlog exited ({status}): {}", self.log_tail());
            }
            ensure!(started.elapsed() < timeout, "fleetlog not ready after {timeout:?}: {}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last warnings and errors the server logged (without backtrace lines).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("panicked"))
            .collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// Its resident memory now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid, "VmRSS:")
    }

    /// Its peak resident memory so far (VmHWM, kept by the kernel), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.pid, "VmHWM:").max(self.earlier_peak_kib.get())
    }

    /// Starts a phase: its peak RSS ([`ChildServer::phase_peak_rss_kib`]) counts from now.
    pub fn start_phase(&self) {
        self.step_peak_rss_kib();
        self.phase_peak_kib.set(0);
    }

    /// Its peak resident memory since [`ChildServer::start_phase`], steps within included,
    /// in KiB.
    pub fn phase_peak_rss_kib(&self) -> u64 {
        status_kib(self.pid, "VmHWM:").max(self.phase_peak_kib.get())
    }

    /// Its peak resident memory since the last call (or its start), in KiB: the kernel's
    /// VmHWM, then reset to the current RSS (`clear_refs` 5), so one step of a phase can be
    /// told from the next. [`ChildServer::peak_rss_kib`] still gives the whole run's peak.
    pub fn step_peak_rss_kib(&self) -> u64 {
        let peak = status_kib(self.pid, "VmHWM:");
        self.earlier_peak_kib.set(self.earlier_peak_kib.get().max(peak));
        self.phase_peak_kib.set(self.phase_peak_kib.get().max(peak));
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
        peak
    }

    /// CPU seconds it has used (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(self.pid)
    }

    /// Bytes of disk allocated under its data dir's `sub` (e.g. `readmodels`).
    pub fn disk_bytes(&self, sub: &str) -> u64 {
        allocated(&self.data_dir.join(sub))
    }

    /// Stops it with SIGTERM (a graceful drain) and waits; SIGKILL after 30 s.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill").args(["-TERM", &self.pid.to_string()]).status();
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                self.child.kill()?;
                self.child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // A bench that fails half-way must not leave a server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A field of `/proc/<pid>/status`, in KiB (0 once the process is gone).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// utime + stime of `pid` from `/proc/<pid>/stat` (`USER_HZ` is 100 on Linux).
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the parenthesised command name: state is the 3rd, utime the 14th.
    let Some((_, tail)) = stat.rsplit_once(')') else { return 0.0 };
    let f: Vec<&str> = tail.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (tick(11) + tick(12)) as f64 / 100.0
}

/// Bytes of disk blocks allocated to the files under `p` (sled's files may have holes).
pub fn allocated(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir(p)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => allocated(&e.path()),
                    Ok(m) => m.blocks() * 512,
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
