//! `fleetlog-bench simulate`: the device simulator against a running `fleetlog serve`.
//!
//! Onboards `--devices` new devices through the real auth flow (the operator given by `--user`
//! and `--password` accepts them), then polls `next` every `--interval` seconds for
//! `--duration` seconds, installing whatever deployment a device is given. It stops by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;

use crate::simulator::{Seed, Sim, SimDevice};

/// Flags of `simulate`.
pub struct SimulateArgs {
    url: String,
    devices: u32,
    user: String,
    password: String,
    duration: Duration,
    interval: Duration,
    in_flight: usize,
}

/// Usage of `simulate`.
pub const USAGE: &str = "fleetlog-bench simulate --url http://127.0.0.1:8080 --user EMAIL --password PASSWORD \
[--devices 1000] [--duration 60] [--interval 5] [--in-flight 64]   (or FLEETLOG_SIM_USER, FLEETLOG_SIM_PASSWORD)";

impl SimulateArgs {
    /// Reads the flags after `simulate`.
    pub fn parse(args: &[String]) -> anyhow::Result<SimulateArgs> {
        let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
        let number = |name: &str, default: u64| -> anyhow::Result<u64> {
            flag(name).map_or(Ok(default), |v| v.parse().with_context(|| format!("{name} {v}: {USAGE}")))
        };
        let user = flag("--user").or_else(|| std::env::var("FLEETLOG_SIM_USER").ok());
        let password = flag("--password").or_else(|| std::env::var("FLEETLOG_SIM_PASSWORD").ok());
        Ok(SimulateArgs {
            url: flag("--url").unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            devices: u32::try_from(number("--devices", 1000)?)?,
            user: user.with_context(|| format!("an operator is needed to accept devices: {USAGE}"))?,
            password: password.with_context(|| format!("the operator's password is needed: {USAGE}"))?,
            duration: Duration::from_secs(number("--duration", 60)?),
            interval: Duration::from_secs(number("--interval", 5)?.max(1)),
            in_flight: usize::try_from(number("--in-flight", 64)?.max(1))?,
        })
    }
}

/// Runs the simulator and prints what happened.
pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let sim = Sim::new(&args.url, args.in_flight)?;
    let operator = sim.login(&args.user, &args.password).await?;
    let seed = Seed::random();
    let started = Instant::now();
    let mut devices: Vec<SimDevice> = (0..args.devices).map(|i| SimDevice::new(&seed, i)).collect();
    println!(
        "simulate: {} devices with Ed25519 keys made in {:.1} s",
        devices.len(),
        started.elapsed().as_secs_f64()
    );
    let steps = sim.onboard(&operator, &mut devices).await?;
    let rate = |d: Duration| f64::from(args.devices) / d.as_secs_f64();
    println!(
        "onboarded through HTTP: submitted {:.0}/s (401 pending), accepted by the operator {:.0}/s, authorized {:.0}/s (200 + JWT)",
        rate(steps.submitted),
        rate(steps.accepted),
        rate(steps.authorized)
    );

    let (idle, updated, failed) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let started = Instant::now();
    let mut round = 0u32;
    while started.elapsed() < args.duration {
        let round_start = Instant::now();
        let (sim, idle, updated, failed) = (&sim, &idle, &updated, &failed);
        futures::stream::iter(devices.iter_mut())
            .for_each_concurrent(args.in_flight, |d| async move {
                let outcome = match sim.next(d).await {
                    Ok(None) => {
                        idle.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    }
                    Ok(Some(update)) => {
                        // A sample of downloads is enough to check the links and their length.
                        let fetch = updated.fetch_add(1, Ordering::Relaxed) % 100 == 0;
                        sim.install(d, &update, fetch).await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = outcome {
                    // Keep going: one broken device should not stop the fleet, but say why.
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        println!("  device {}: {e:#}", d.mac);
                    }
                }
            })
            .await;
        round += 1;
        println!(
            "round {round}: {} devices polled in {:.2} s; so far {} idle polls, {} updates installed, {} errors",
            devices.len(),
            round_start.elapsed().as_secs_f64(),
            idle.load(Ordering::Relaxed),
            updated.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed)
        );
        let rest = args.interval.saturating_sub(round_start.elapsed());
        if started.elapsed() + rest >= args.duration {
            break;
        }
        tokio::time::sleep(rest).await;
    }
    anyhow::ensure!(failed.load(Ordering::Relaxed) == 0, "some devices failed (see above)");
    Ok(())
}
