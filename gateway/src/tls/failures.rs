//! Bounded logging of failed TLS handshakes. Anyone can open a connection and send garbage (a
//! port scanner, a client speaking plain HTTP to the TLS port, one that distrusts our
//! certificate), so one failure is worth a debug line and a counter, never an error line: the
//! log gets at most one warning a minute saying how many failed and the latest reason.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often at most a summary of failed handshakes is logged.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Failed handshakes since the last summary.
#[derive(Debug, Default)]
pub struct HandshakeFailures {
    state: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    count: u64,
    last_report: Option<Instant>,
}

impl HandshakeFailures {
    /// Records a handshake with `peer` that failed with `error` (or timed out).
    pub fn record(&self, peer: SocketAddr, error: &dyn std::fmt::Display) {
        metrics::counter!("fleetlog_tls_handshake_failures_total").increment(1);
        tracing::debug!(%peer, %error, "TLS handshake failed");
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.count += 1;
        if state.last_report.is_some_and(|t| now.duration_since(t) < REPORT_EVERY) {
            return;
        }
        let count = std::mem::take(&mut state.count);
        state.last_report = Some(now);
        drop(state);
        tracing::warn!(
            count,
            latest_peer = %peer,
            latest_error = %error,
            "TLS handshakes failed (at most one such line a minute; each is at debug level)"
        );
    }

    /// Failures not yet reported in a summary line.
    pub fn unreported(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).count
    }
}

#[cfg(test)]
mod tests {
    use super::HandshakeFailures;

    #[test]
    fn the_first_failure_is_reported_and_the_rest_of_the_minute_only_counted() {
        let failures = HandshakeFailures::default();
        let peer = "127.0.0.1:1".parse().unwrap();
        failures.record(peer, &"first");
        assert_eq!(failures.unreported(), 0, "the first one is summed up at once");
        for _ in 0..1000 {
            failures.record(peer, &"again");
        }
        assert_eq!(failures.unreported(), 1000, "then counted until a minute has passed");
    }
}
