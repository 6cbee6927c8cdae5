//! `make bench`: fleetlog's hot paths as ratios against baselines measured in the same run on
//! the same nats-server (absolute times on shared machines are noise; ratios are not).
//!
//! Usage: `fleetlog-bench [append|rebuild|identity|inventory|inventory-model|connect|tail|tls|cluster|deployments|reporting|webhooks|all] [--events N] [--devices N] [--cache-mb M]` (the last two for `inventory-model`),
//! `fleetlog-bench scale [--devices N] [--http-devices M] [--cache-mb C] [--steady-secs S] [--replay]` (the issue-16 figures
//! at 1M devices against a child `fleetlog serve`; see `scale/mod.rs`),
//! `fleetlog-bench fuzz [--target T] [--execs N] [--seed S]` (no nats-server needed), or `fleetlog-bench simulate --url URL --user EMAIL --password PASSWORD [--devices N] ...` to
//! run the device simulator against a running `fleetlog serve`.

// A benchmark reports on stdout; that is its whole output.
#![allow(clippy::print_stdout)]

// The allocator of the `fleetlog` binary, so that benches with an in-process server measure
// what operators run.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod append;
mod child;
mod cluster;
mod connect;
mod deployments;
mod fuzz;
mod fuzz_cli;
mod identity;
mod inventory;
mod inventory_model;
mod rebuild;
mod reporting;
mod rollout;
mod scale;
mod server;
mod simulate;
mod simulator;
mod tail;
mod tls;
mod webhooks;

use fleetlog_tests::own_nats_server;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("all").to_owned();
    if which == "fuzz" {
        return fuzz_cli::run(&args[1..]);
    }
    if which == "simulate" {
        // Against a server someone else runs: no nats-server of our own.
        let sim = simulate::SimulateArgs::parse(&args[1..])?;
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        return rt.block_on(simulate::run(sim));
    }
    let scale_args = if which == "scale" { Some(scale::ScaleArgs::parse(&args[1..])?) } else { None };
    let events = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(200_000);
    let number = |flag: &str, default: u64| -> anyhow::Result<u64> {
        let value = args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
        Ok(value.map(|n| n.parse()).transpose()?.unwrap_or(default))
    };
    // `inventory-model` only: the fleet size and the sled cache it runs with. 100k by default:
    // a million devices takes ~16 GB of scratch disk and an hour on a 2-core machine.
    let devices = number("--devices", 100_000)? as usize;
    let cache_mb = number("--cache-mb", fleetlog_projections::DEFAULT_CACHE_MB)?;
    // One nats-server configured exactly as the embedded one (JetStream, sync_interval: always).
    let server = own_nats_server(None, None);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!("fleetlog-bench on nats-server at {} (sync_interval: always)", server.url());
    rt.block_on(async {
        if which == "append" || which == "all" {
            append::run(server.url()).await?;
        }
        if which == "rebuild" || which == "all" {
            rebuild::run(server.url(), events).await?;
        }
        if which == "identity" || which == "all" {
            Box::pin(identity::run(server.url())).await?;
        }
        if which == "inventory" || which == "all" {
            Box::pin(inventory::run(server.url())).await?;
        }
        if which == "inventory-model" || which == "all" {
            Box::pin(inventory_model::run(server.url(), devices, cache_mb)).await?;
        }
        if which == "connect" || which == "all" {
            Box::pin(connect::run(server.url())).await?;
        }
        if which == "tail" || which == "all" {
            tail::run(server.url()).await?;
        }
        if which == "tls" || which == "all" {
            Box::pin(tls::run(server.url())).await?;
        }
        if which == "cluster" || which == "all" {
            Box::pin(cluster::run(server.url())).await?;
        }
        if which == "deployments" || which == "all" {
            Box::pin(deployments::run(server.url())).await?;
        }
        if which == "reporting" || which == "all" {
            Box::pin(reporting::run(server.url())).await?;
        }
        if which == "webhooks" || which == "all" {
            Box::pin(webhooks::run(server.url())).await?;
        }
        // Not part of `all`: at its default size it runs for most of an hour.
        if let Some(scale_args) = &scale_args {
            Box::pin(scale::run(server.url(), scale_args)).await?;
        }
        anyhow::Ok(())
    })?;
    println!("peak RSS of the bench process: {} MiB", peak_rss_kib() / 1024);
    if scale_args.is_some() {
        // The bench's own memory (the simulator), not fleetlog's: that is (s10) above.
        println!(
            "reproduce: make bench BENCH_ARGS='{}'   (or: cargo build --release -p fleetlog-gateway && cargo run --release -p fleetlog-bench -- {0})",
            args.join(" ")
        );
    } else {
        println!(
            "reproduce: make bench   (or: cargo run --release -p fleetlog-bench -- {which} --events {events})"
        );
    }
    server.stop_blocking();
    Ok(())
}

/// VmHWM of this process, in KiB.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

/// VmRSS of this process (now), in KiB.
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Median of a few samples.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// CPU seconds used so far by this process and by the nats-server it started (a grandchild:
/// it runs under a small shell that stops it with us), from `/proc` (user + system; `USER_HZ`
/// is 100 on Linux), to tell which side of the log a phase loads.
pub fn cpu_seconds() -> (f64, f64) {
    // After the parenthesised command name: state, ppid, ..., utime (14th field), stime (15th).
    let read = |pid: &str| -> Option<(u32, String, u32, f64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, tail) = stat.rsplit_once(')')?;
        let (pid, comm) = head.split_once(" (")?;
        let f: Vec<&str> = tail.split_whitespace().collect();
        let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some((pid.parse().ok()?, comm.to_owned(), f.get(1)?.parse().ok()?, ticks as f64 / 100.0))
    };
    let me = std::process::id();
    let all: Vec<_> = std::fs::read_dir("/proc")
        .map(|d| d.filter_map(Result::ok).filter_map(|e| read(&e.file_name().to_string_lossy())).collect())
        .unwrap_or_default();
    let children: Vec<u32> = all.iter().filter(|p| p.2 == me).map(|p| p.0).collect();
    let own = all.iter().find(|p| p.0 == me).map_or(0.0, |p| p.3);
    let nats = all
        .iter()
        .filter(|p| p.1 == "nats-server" && (p.2 == me || children.contains(&p.2)))
        .map(|p| p.3)
        .sum();
    (own, nats)
}

/// A user (created through the command side, as `fleetlog admin create-user` does) and a
/// token for it, once the read models know both.
pub async fn user_token(state: &fleetlog_gateway::state::AppState, email: &str) -> anyhow::Result<String> {
    use std::time::Duration;
    let caller = fleetlog_gateway::app::Caller::system("default", "bench");
    let user = uuid::Uuid::new_v4().to_string();
    fleetlog_gateway::app::users::create(state, &caller, &user, email, "bench-password-1").await?;
    let token = fleetlog_gateway::app::users::issue_token(state, &caller, &user, "", 3600).await?;
    let last = state.store().last_seq().await?;
    anyhow::ensure!(state.read_models.wait_for(last, Duration::from_secs(30)).await, "user known");
    Ok(token)
}
