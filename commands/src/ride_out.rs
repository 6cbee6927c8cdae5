//! Riding out a log that cannot answer for a moment (a JetStream leader election, a reconnect):
//! the command loop and the claim-first creation wait and try again rather than fail at once.

use crate::error::StoreError;

/// How long a command rides out a log that cannot answer (a JetStream leader election after a
/// node died, a reconnect) before the failure reaches the caller.
const RIDE_OUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits out transient failures of the log, within [`RIDE_OUT`], with a growing pause.
pub(crate) struct RideOut {
    started: std::time::Instant,
    pause: std::time::Duration,
}

impl RideOut {
    pub(crate) fn new() -> RideOut {
        RideOut { started: std::time::Instant::now(), pause: std::time::Duration::from_millis(50) }
    }

    /// True (after a pause) when `e` may pass and there is time left to try again. Safe for an
    /// append whose outcome is unknown: the retry reloads the subject first, and a command id
    /// already in it answers as a repeat (the store's message id also de-duplicates).
    pub(crate) async fn retry(&mut self, e: &StoreError) -> bool {
        let transient = matches!(
            e,
            StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_) | StoreError::Server { code: 503, .. }
        );
        if !transient || self.started.elapsed() + self.pause > RIDE_OUT {
            return false;
        }
        tracing::warn!(error = %e, pause_ms = self.pause.as_millis() as u64, "the log did not answer; retrying");
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(std::time::Duration::from_secs(1));
        true
    }
}
