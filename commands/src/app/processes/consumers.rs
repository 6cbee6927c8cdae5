//! The webhook process's consumers: their names, and removing those of integrations that are
//! gone (while running, or while no process ran).

use fleetlog_projections::integrations::IntegrationView;
use futures::StreamExt;

use crate::app::App;

/// The durable consumer of one integration.
pub(super) fn consumer_name(integration: &str) -> String {
    format!("pm-webhook-{integration}")
}

/// The name its progress is shown under.
pub(super) fn process_name(integration: &str) -> String {
    format!("webhook:{integration}")
}

/// Deletes one integration's consumer and forgets its progress.
pub(super) async fn remove_consumer(app: &App, integration: &str) {
    if let Err(e) = app.store().stream().delete_consumer(&consumer_name(integration)).await {
        tracing::debug!(error = %e, integration, "deleting a webhook consumer");
    }
    app.processes.remove(&process_name(integration));
}

/// Deletes the consumers of integrations removed while no process ran; true when done.
pub(super) async fn sweep_consumers(app: &App, live: &[IntegrationView]) -> bool {
    let mut names = app.store().stream().consumer_names();
    let mut stale = Vec::new();
    while let Some(name) = names.next().await {
        let Ok(name) = name else { return false };
        if let Some(id) = name.strip_prefix("pm-webhook-")
            && !live.iter().any(|v| v.id == id)
        {
            stale.push(id.to_owned());
        }
    }
    for id in stale {
        remove_consumer(app, &id).await;
    }
    true
}
