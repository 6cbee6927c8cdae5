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
    Box::pin(fleet::run(url, args)).await
}
