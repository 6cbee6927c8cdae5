//! `fleetlog tail` and `fleetlog replay`: the log as a product, from the command line.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use fleetlog_projections::tail::{Tail, TailFilter};
use fleetlog_projections::{HostConfig, ProjectionHost};

use crate::app::{Nats, projections};
use crate::settings::{ReplayArgs, TailArgs};

/// Writes matching events to `out` as JSON lines until the log is caught up (`--no-follow`),
/// the connection ends, or `out` is closed.
pub async fn tail(args: &TailArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let filter = TailFilter {
        tenant: args.tenant.clone(),
        aggregate_type: args.aggregate_type.clone(),
        id: args.id.clone(),
        event_type: args.event.clone(),
    };
    let nats = Nats::connect(&args.conn).await?;
    let result = async {
        let conn = &args.conn;
        let mut tail =
            Tail::open(&nats.client, &conn.stream, &conn.subject_prefix, &filter, args.from, !args.no_follow)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        while let Some(event) = tail.next().await {
            let event = event?;
            let line = fleetlog_schemas::to_json(event.seq, &event.envelope);
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                break; // the reader went away (e.g. `| head`)
            }
        }
        anyhow::Ok(())
    }
    .await;
    nats.close().await;
    result
}

/// Rebuilds read models offline into fresh trees, with a progress line on stderr.
pub async fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let nats = Nats::connect(&args.conn).await?;
    let result = async {
        let path = args.conn.data_dir.join("readmodels");
        let db = sled::open(&path).with_context(|| {
            format!("opening {} (is `fleetlog serve` running on this data dir?)", path.display())
        })?;
        let cfg = HostConfig { stream: args.conn.stream.clone(), ..HostConfig::default() };
        let host = ProjectionHost::start(db, nats.client.clone(), cfg, projections()).await?;
        let names: Vec<String> = match &args.model {
            Some(m) => vec![m.clone()],
            None => host.models().map(|m| m.name().to_owned()).collect(),
        };
        for name in names {
            let started = Instant::now();
            host.rebuild(&name, &|done, target| progress(&name, done, target, started)).await?;
            let hash = host.model(&name).map(|m| m.content_hash()).transpose()?.unwrap_or_default();
            eprintln!();
            eprintln!(
                "{name}: rebuilt in {:.1} s, content {}",
                started.elapsed().as_secs_f64(),
                &hash[..16.min(hash.len())]
            );
        }
        host.stop().await;
        anyhow::Ok(())
    }
    .await;
    nats.close().await;
    result
}

fn progress(name: &str, done: u64, target: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-6);
    let rate = done as f64 / secs;
    let eta = if rate > 0.0 { target.saturating_sub(done) as f64 / rate } else { 0.0 };
    let width = 30usize;
    let filled = if target == 0 { width } else { (done.min(target) as usize * width) / target as usize };
    eprint!(
        "\r{name} [{}{}] {done}/{target} {rate:.0} events/s ETA {eta:.0} s ",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
}
