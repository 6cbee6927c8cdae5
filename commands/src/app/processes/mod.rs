//! Process managers: every reaction to events, in one place. Each is a durable JetStream
//! consumer with its own checkpoint (the consumer's ack floor, kept by the server), so a
//! restart resumes where it stopped; each issues commands through [`App::execute`] as
//! `Caller::system(tenant, "<name>")`, idempotently (a repeat after a crash records nothing
//! new), and reports its lag, which `/readyz` and `/metrics` show.
//!
//! | process | consumes | does |
//! |---|---|---|
//! | `webhook:<integration>` (one per integration) | `device` events after the integration's creation (and `monitor` events if it wants `device-alert`) | posts `device-provisioned`, `device-status-changed`, `device-decommissioned` (and `device-alert`) to the webhook, retrying with backoff; records each outcome (`WebhookDeliveryRecorded`) |
//!
//! Decommissioning's other effects (deployments finished as `decommissioned`, the inventory
//! dropped, remote sessions refused) are already rules of the read models and of `decide`, so
//! they need no process of their own.

pub mod allow;
mod consumers;
pub mod delivery;
pub mod payload;
mod webhooks;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use webhooks::run;

use super::App;

/// Settings of the webhook deliveries (`--webhook-*`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Hosts deliveries may reach.
    pub allow: allow::AllowList,
    /// One request's time limit.
    pub timeout: Duration,
    /// How long a failing delivery is retried before its failure is recorded.
    pub retry_for: Duration,
    /// How long the log waits for a process to finish a message before handing it out again
    /// (after a crash); progress is signalled while a delivery is retried. Longer than one
    /// request may take.
    pub ack_wait: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow: allow::AllowList::default(),
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(3600),
            ack_wait: Duration::from_secs(25),
        }
    }
}

/// One process's progress.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProcessLag {
    /// Events it has yet to finish.
    pub lag: u64,
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries recorded as failed.
    pub failed: u64,
    /// Whether it is retrying a delivery now.
    pub retrying: bool,
}

/// The processes' progress, by name (shown by `/readyz` and `/metrics`).
#[derive(Debug, Default)]
pub struct ProcessStatus {
    by_name: Mutex<BTreeMap<String, ProcessLag>>,
}

impl ProcessStatus {
    /// Changes one process's figures.
    pub fn update(&self, name: &str, f: impl FnOnce(&mut ProcessLag)) {
        let mut all = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        let entry = all.entry(name.to_owned()).or_default();
        f(entry);
        metrics::gauge!("fleetlog_process_lag", "process" => name.to_owned()).set(entry.lag as f64);
    }

    /// Forgets a process (its integration was removed).
    pub fn remove(&self, name: &str) {
        self.by_name.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
        metrics::gauge!("fleetlog_process_lag", "process" => name.to_owned()).set(0.0);
    }

    /// Every process's figures.
    pub fn snapshot(&self) -> BTreeMap<String, ProcessLag> {
        self.by_name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Runs every process manager until `stop` is cancelled. `app` is any shared handle to the
/// application (the gateway's state).
pub async fn run_all<H>(app: H, stop: CancellationToken)
where
    H: AsRef<App> + Clone + Send + Sync + 'static,
{
    run(app, stop).await;
}
