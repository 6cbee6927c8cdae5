//! `fleetlog tail` and `fleetlog replay`: the log as a product, from the command line.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use fleetlog_projections::snapshot::{Until, build_copy};
use fleetlog_projections::tail::{Tail, TailFilter};
use fleetlog_projections::{HostConfig, ProjectionHost};

use crate::server::{Nats, projections};
use crate::settings::{HistoryArgs, ReplayArgs, TailArgs};

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

/// Parses `--to`: a position, or an RFC 3339 instant.
pub fn parse_until(to: &str) -> anyhow::Result<Until> {
    if let Ok(n) = to.parse::<u64>() {
        return Ok(Until::Position(n));
    }
    let t = time::OffsetDateTime::parse(to, &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow::anyhow!("--to {to:?}: neither a position nor an RFC 3339 time"))?;
    Ok(Until::Time((t.unix_timestamp_nanos() / 1000) as i64))
}

/// Builds a point-in-time copy of the read models into `out/readmodels`.
async fn copy_until(args: &ReplayArgs, nats: &Nats, to: &str, out: &std::path::Path) -> anyhow::Result<()> {
    let until = parse_until(to)?;
    let path = out.join("readmodels");
    if path.exists() {
        anyhow::bail!("{} exists already: choose an empty --out", path.display());
    }
    let db = fleetlog_projections::open_store(&path, args.conn.cache_mb)
        .with_context(|| format!("creating {}", path.display()))?;
    let all = projections();
    let chosen: Vec<_> =
        all.into_iter().filter(|p| args.model.as_deref().is_none_or(|m| m == p.name())).collect();
    anyhow::ensure!(
        !chosen.is_empty(),
        "no read model named {:?}",
        args.model.as_deref().unwrap_or_default()
    );
    let started = Instant::now();
    let reached = build_copy(&nats.client, &args.conn.stream, &db, &chosen, until, &|name, done, target| {
        progress(name, done, target, started)
    })
    .await?;
    eprintln!();
    eprintln!("copy at position {reached} in {}", path.display());
    Ok(())
}

/// Rebuilds read models offline into fresh trees, with a progress line on stderr; with `--to`,
/// builds a point-in-time copy instead.
pub async fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let nats = Nats::connect(&args.conn).await?;
    if let (Some(to), Some(out)) = (&args.to, &args.out) {
        let result = copy_until(args, &nats, to, out).await;
        nats.close().await;
        return result;
    }
    let result = async {
        let path = args.conn.data_dir.join("readmodels");
        let db = match args.conn.open_read_models() {
            Ok(db) => db,
            // Locked: a `serve` runs on this data dir. Ask it to rebuild its own models.
            Err(e) => {
                match std::fs::read_to_string(args.conn.data_dir.join(crate::rebuild_rpc::SERVE_ID_FILE)) {
                    Ok(id) => return replay_remote(args, &nats, id.trim()).await,
                    Err(_) => {
                        return Err(anyhow::Error::new(e).context(format!("opening {}", path.display())));
                    }
                }
            }
        };
        if args.model.as_deref() == Some(fleetlog_projections::reporting::opensearch::SEARCH_MODEL) {
            anyhow::bail!(
                "--model search rebuilds the OpenSearch index of a running `serve --opensearch-url` on this data dir; none runs"
            );
        }
        let cfg = HostConfig { stream: args.conn.stream.clone(), ..HostConfig::default() };
        let host = ProjectionHost::start(db, nats.client.clone(), cfg, projections()).await?;
        let names: Vec<String> = match &args.model {
            Some(m) => vec![m.clone()],
            None => host.models().map(|m| m.name().to_owned()).collect(),
        };
        // One pass over the log for every chosen model: each event is read and decoded once.
        let started = Instant::now();
        let label = args.model.clone().unwrap_or_else(|| "all read models".to_owned());
        let chosen: Vec<&str> = names.iter().map(String::as_str).collect();
        host.rebuild_many(&chosen, &|done, target| progress(&label, done, target, started)).await?;
        eprintln!();
        eprintln!("rebuilt in {:.1} s", started.elapsed().as_secs_f64());
        for name in &names {
            let hash = host.model(name).map(|m| m.content_hash()).transpose()?.unwrap_or_default();
            eprintln!("{name}: content {}", &hash[..16.min(hash.len())]);
        }
        host.stop().await;
        anyhow::Ok(())
    }
    .await;
    nats.close().await;
    result
}

/// Asks the running `serve` with id `id` to rebuild, printing its progress.
async fn replay_remote(args: &ReplayArgs, nats: &Nats, id: &str) -> anyhow::Result<()> {
    use futures::StreamExt;
    let subject = crate::rebuild_rpc::rebuild_subject(&args.conn.stream, id);
    let inbox = nats.client.new_inbox();
    let mut replies = nats.client.subscribe(inbox.clone()).await?;
    let model = args.model.clone().unwrap_or_default();
    nats.client.publish_with_reply(subject, inbox, model.into()).await?;
    nats.client.flush().await?;
    let started = Instant::now();
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(30), replies.next())
            .await
            .map_err(|_| anyhow::anyhow!("the running serve did not answer (is it still running?)"))?
            .ok_or_else(|| anyhow::anyhow!("connection closed"))?;
        let report: crate::rebuild_rpc::Report = serde_json::from_slice(&msg.payload)?;
        if let Some(e) = report.error {
            eprintln!();
            anyhow::bail!("rebuilding {}: {e}", report.model);
        }
        if report.done {
            eprintln!();
            eprintln!("rebuilt in the running serve in {:.1} s", started.elapsed().as_secs_f64());
            return Ok(());
        }
        progress(&report.model, report.position, report.target, started);
    }
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

/// Writes one object's events and state (now, or at `--at`) to `out` as one JSON document.
pub async fn history(args: &HistoryArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let at = match args.at.as_deref() {
        None => None,
        Some(at) => Some(match at.parse::<i64>() {
            Ok(seconds) => fleetlog_events::Timestamp::end_of_second(seconds).0,
            Err(_) => match parse_until(at)? {
                Until::Time(us) => us,
                Until::Position(_) => unreachable!("numbers parse as seconds above"),
            },
        }),
    };
    let nats = Nats::connect(&args.conn).await?;
    let result = async {
        let store =
            fleetlog_commands::EventStore::open(nats.client.clone(), args.conn.store_config()).await?;
        let h = crate::app::history::history(&store, crate::DEFAULT_TENANT, &args.kind, &args.id, at)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let events: Vec<_> = h.events.iter().map(|e| fleetlog_schemas::to_json(e.seq, &e.envelope)).collect();
        let doc = serde_json::json!({ "type": args.kind, "id": args.id, "state": h.state, "events": events });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        anyhow::Ok(())
    }
    .await;
    nats.close().await;
    result
}
