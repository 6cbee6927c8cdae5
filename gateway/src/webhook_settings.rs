//! `fleetlog serve`'s webhook flags (iot-manager deliveries): which hosts webhooks may reach,
//! how long one request may take, and how long a failing delivery is retried.

use std::time::Duration;

use fleetlog_commands::app::processes::WebhookSettings;
use fleetlog_commands::app::processes::allow::AllowList;

/// The `--webhook-*` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct WebhookArgs {
    /// Hosts webhook deliveries may reach: `any` (the default: private networks included), or a
    /// comma-separated list of CIDRs (`10.0.0.0/8`), addresses and host names
    /// (`hooks.example.com`, `*.example.com`), checked on the resolved addresses.
    #[arg(long = "webhook-allow", env = "FLEETLOG_WEBHOOK_ALLOW", default_value = "any",
          value_parser = AllowList::parse)]
    pub allow: AllowList,
    /// Seconds one webhook request may take (connecting at most 5 of them).
    #[arg(long = "webhook-timeout", env = "FLEETLOG_WEBHOOK_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
    /// Seconds a failing delivery (no answer, 5xx, 408, 429) is retried, with backoff up to 30 s
    /// between attempts, before its failure is recorded.
    #[arg(long = "webhook-retry-for", env = "FLEETLOG_WEBHOOK_RETRY_FOR", default_value_t = 3600)]
    pub retry_for: u64,
}

impl Default for WebhookArgs {
    fn default() -> Self {
        WebhookArgs { allow: AllowList::default(), timeout: 10, retry_for: 3600 }
    }
}

impl WebhookArgs {
    /// The application's settings.
    pub fn settings(&self) -> WebhookSettings {
        WebhookSettings {
            allow: self.allow.clone(),
            timeout: Duration::from_secs(self.timeout),
            retry_for: Duration::from_secs(self.retry_for),
            // Longer than one request can take, so a slow receiver is not a crashed process.
            ack_wait: Duration::from_secs(self.timeout.saturating_mul(2).saturating_add(5)),
        }
    }
}
