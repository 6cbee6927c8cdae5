//! Certificate rotation: the files are checked every `--tls-reload-interval` seconds (and at
//! once on SIGHUP), and a changed pair goes to new handshakes. Connections already open keep
//! the session they negotiated, so nothing is dropped. A pair that does not load (the
//! certificate replaced but not yet its key, say) is logged once and the old one stays until
//! the files are right.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ServerTls;

/// What tells a file changed: inode (a rename over it), size and modification time.
type Stamp = Option<(u64, u64, i64, i64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

fn stamps(tls: &ServerTls) -> (Stamp, Stamp) {
    let (cert, key) = tls.paths();
    (stamp(cert), stamp(key))
}

/// Reloads `tls` when its files change (checked every `interval`; never when zero) or on
/// SIGHUP, until `stop` is cancelled.
pub async fn watch(tls: ServerTls, interval: Duration, stop: CancellationToken) {
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "no SIGHUP handler: the TLS certificate reloads only when its files change");
            None
        }
    };
    let mut loaded = stamps(&tls);
    // The stamps of files that failed to load, so that a broken pair is reported once.
    let mut failed = None;
    let mut ticks = (!interval.is_zero()).then(|| tokio::time::interval(interval));
    loop {
        let forced = tokio::select! {
            () = stop.cancelled() => return,
            _ = async { ticks.as_mut().expect("guarded").tick().await }, if ticks.is_some() => false,
            Some(()) = async { hangup.as_mut().expect("guarded").recv().await }, if hangup.is_some() => true,
        };
        let now = stamps(&tls);
        if !forced && (now == loaded || Some(now) == failed) {
            continue;
        }
        let (cert, key) = tls.paths();
        match tls.reload() {
            Ok(()) => {
                tracing::info!(cert = %cert.display(), key = %key.display(), "TLS certificate reloaded");
                loaded = now;
                failed = None;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "TLS certificate not reloaded; the previous one stays");
                failed = Some(now);
            }
        }
    }
}
