//! `fleetlog-bench scale`: the issue-16 figures at fleet size (1M devices by default) against a
//! release `fleetlog serve` running as a child process, so that its RSS and CPU are its own.
//!
//! Most of the fleet is appended to the log through the command side's store (the events the
//! onboarding would record, with real keys); `--http-devices` onboard over HTTP. Then: the
//! server's first build of every read model from the log vs a raw read, bytes per device,
//! projection of one-attribute reports, the steady load at Mender's default intervals, the
//! load test 301 burst and a deployment to the whole fleet, each with the CPU split; last,
//! sled's own ceiling for the store the run built.

mod ceiling;
mod fleet;
mod http;
mod load;
mod report;
mod traffic;

use anyhow::Context;

/// Flags of `scale`.
pub struct ScaleArgs {
    /// Devices in the fleet.
    pub devices: u32,
    /// Of which onboarded through HTTP (the rest appended directly).
    pub http_devices: u32,
    /// `--cache-mb` for the server (None: its default).
    pub cache_mb: Option<u64>,
    /// Length of the steady-load phase, in seconds.
    pub steady_secs: u64,
    /// Also time `fleetlog replay` (all models, one pass) on the stopped server's data dir.
    pub replay: bool,
}

/// Usage of `scale`.
pub const USAGE: &str = "fleetlog-bench scale [--devices 1000000] [--http-devices 10000] [--cache-mb C] [--steady-secs 120] [--replay]";

impl ScaleArgs {
    /// Reads the flags after `scale`.
    pub fn parse(args: &[String]) -> anyhow::Result<ScaleArgs> {
        let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        let number = |name: &str| -> anyhow::Result<Option<u64>> {
            flag(name).map(|v| v.parse().with_context(|| format!("{name} {v}: {USAGE}"))).transpose()
        };
        let devices = u32::try_from(number("--devices")?.unwrap_or(1_000_000))?;
        let http_devices = u32::try_from(number("--http-devices")?.unwrap_or(10_000))?.min(devices);
        anyhow::ensure!(devices >= 100 && http_devices >= 10, "at least 100 devices, 10 over HTTP: {USAGE}");
        Ok(ScaleArgs {
            devices,
            http_devices,
            cache_mb: number("--cache-mb")?,
            steady_secs: number("--steady-secs")?.unwrap_or(120),
            replay: args.iter().any(|a| a == "--replay"),
        })
    }
}

/// Runs the scale bench on the nats-server at `url` and prints its figures.
pub async fn run(url: &str, args: &ScaleArgs) -> anyhow::Result<()> {
    crate::child::binary()?;
    disk_check(args)?;
    Box::pin(fleet::run(url, args)).await
}

/// Bytes per device the run writes under the temp dir, as measured at 1M: the read-model
/// store (25.4 KB, `bench/RESULTS.md`) and the log with its later events (about 5 KB).
const STORE_BYTES_PER_DEVICE: u64 = 25_400;
const LOG_BYTES_PER_DEVICE: u64 = 5_000;

/// What a run needs free on the temp dir's disk, with a tenth to spare. `--replay` builds new
/// trees beside the old ones, so it needs the store twice.
fn disk_needed(devices: u32, replay: bool) -> u64 {
    let store = STORE_BYTES_PER_DEVICE * (1 + u64::from(replay));
    u64::from(devices) * (store + LOG_BYTES_PER_DEVICE) * 11 / 10
}

/// Refuses to start a run that would fill the disk: an earlier 1M run did, and its figures
/// from then on measured a full disk rather than fleetlog.
fn disk_check(args: &ScaleArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir();
    let out = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(&dir)
        .output()
        .context("df: to check free disk space")?;
    let free = String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse::<u64>().ok());
    let Some(free) = free else { anyhow::bail!("df gave no free space for {}", dir.display()) };
    let needed = disk_needed(args.devices, args.replay);
    let gb = |b: u64| b as f64 / 1e9;
    anyhow::ensure!(
        free >= needed,
        "{} devices{} need about {:.1} GB free under {} ({:.1} GB free): free some space, or point TMPDIR at a bigger disk",
        args.devices,
        if args.replay { " with --replay" } else { "" },
        gb(needed),
        dir.display(),
        gb(free)
    );
    println!(
        "disk: {:.1} GB free under {}, the run needs about {:.1} GB",
        gb(free),
        dir.display(),
        gb(needed)
    );
    Ok(())
}
