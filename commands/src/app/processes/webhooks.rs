//! Webhook delivery: one durable consumer per integration (`pm-webhook-<id>`), from the
//! integration's creation on, over its tenant's `device` events (and `monitor` events when it
//! asked for `device-alert`). Each event becomes zero or more
//! webhook events ([`payload`]), posted in log order ([`delivery`]); a receiver that is down,
//! answers 5xx, 408 or 429 is retried with backoff for `--webhook-retry-for`, while the message's
//! ack deadline is extended. The outcome is recorded (`WebhookDeliveryRecorded`), then the
//! message acknowledged, so a crash anywhere before the ack delivers again (at least once, same
//! event id) and a delivery already recorded is not posted again.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use fleetlog_events::webhook::{Delivery, WebhookCommand, WebhookEvent};
use fleetlog_events::{AggregateRef, RecordedEvent, Timestamp};
use fleetlog_projections::integrations::IntegrationView;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::consumers::{consumer_name, process_name, remove_consumer, sweep_consumers};
use super::delivery::{Attempt, Deliverer};
use super::payload::{self, Outgoing};
use crate::app::integrations::integrations;
use crate::app::{App, AppError, Caller};

/// Deliveries of one integration whose outcome is being recorded at once (they are posted one
/// by one, in order; recording overlaps with the next post).
const IN_FLIGHT: usize = 64;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Keeps one delivery task per live integration until `stop`: starts tasks for new ones, stops
/// those of removed ones and deletes their consumers (also of any removed while stopped).
pub async fn run<H>(app: H, stop: CancellationToken)
where
    H: AsRef<App> + Clone + Send + Sync + 'static,
{
    let deliverer = match Deliverer::new(app.as_ref().webhooks.allow.clone(), app.as_ref().webhooks.timeout) {
        Ok(d) => d,
        Err(e) => return tracing::error!(error = %e, "webhook client; no deliveries"),
    };
    // Decide only on read models that show the log as it was at start: a model still catching
    // up would hide integrations, and their consumers (their checkpoints) would be swept.
    loop {
        if let Ok(last) = app.as_ref().store().last_seq().await
            && app.as_ref().read_models.wait_for(last, Duration::from_secs(5)).await
        {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    let mut running: HashMap<String, (CancellationToken, JoinHandle<()>)> = HashMap::new();
    let mut swept = false;
    loop {
        match integrations(app.as_ref(), |q| q.all_integrations()) {
            Ok(live) => {
                for view in &live {
                    if !running.contains_key(&view.id) {
                        let token = stop.child_token();
                        let task = tokio::spawn(integration_task(
                            app.clone(),
                            deliverer.clone(),
                            view.clone(),
                            token.clone(),
                        ));
                        running.insert(view.id.clone(), (token, task));
                    }
                }
                let gone: Vec<String> =
                    running.keys().filter(|id| !live.iter().any(|v| &v.id == *id)).cloned().collect();
                for id in gone {
                    if let Some((token, task)) = running.remove(&id) {
                        token.cancel();
                        let _ = task.await;
                    }
                    remove_consumer(app.as_ref(), &id).await;
                }
                if !swept {
                    swept = sweep_consumers(app.as_ref(), &live).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing integrations for webhook delivery"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    for (_, (_, task)) in running {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
}

/// Delivers to one integration until stopped, reopening its consumer after failures.
async fn integration_task<H: AsRef<App> + Clone + Send + Sync + 'static>(
    app: H,
    deliverer: Deliverer,
    view: IntegrationView,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        match consume(&app, &deliverer, &view, &stop).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, integration = %view.id, "webhook delivery; reopening"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

type Recording = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), AppError>> + Send>>;

async fn consume<H: AsRef<App> + Clone + Send + Sync + 'static>(
    app: &H,
    deliverer: &Deliverer,
    view: &IntegrationView,
    stop: &CancellationToken,
) -> Result<(), anyhow::Error> {
    let a = app.as_ref();
    let name = consumer_name(&view.id);
    let config = pull::Config {
        durable_name: Some(name.clone()),
        filter_subjects: subjects(a, view),
        deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: view.created_seq + 1 },
        ack_policy: AckPolicy::Explicit,
        ack_wait: a.webhooks.ack_wait,
        max_ack_pending: IN_FLIGHT as i64,
        ..Default::default()
    };
    let consumer = a.store().stream().get_or_create_consumer(&name, config).await?;
    let mut messages = consumer.messages().await?;
    let process = process_name(&view.id);
    let mut recording: FuturesUnordered<Recording> = FuturesUnordered::new();
    let mut pending = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                // Let outcomes already posted be recorded; anything else is delivered again.
                let _ = tokio::time::timeout(Duration::from_secs(5), async { while recording.next().await.is_some() {} }).await;
                return Ok(());
            }
            Some(done) = recording.next(), if !recording.is_empty() => {
                if let Err(e) = done {
                    tracing::warn!(error = %e, integration = %view.id, "recording a webhook outcome");
                }
                a.processes.update(&process, |s| s.lag = pending + recording.len() as u64);
            }
            msg = messages.next(), if recording.len() < IN_FLIGHT => {
                let msg = msg.ok_or_else(|| anyhow::anyhow!("consumer closed"))??;
                let info = msg.info().map_err(|e| anyhow::anyhow!("{e}"))?;
                pending = info.pending;
                let seq = info.stream_sequence;
                a.processes.update(&process, |s| s.lag = pending + 1 + recording.len() as u64);
                let recorded = match fleetlog_schemas::decode(&msg.payload) {
                    Ok(envelope) => RecordedEvent { seq, envelope },
                    Err(e) => {
                        tracing::warn!(error = %e, seq, "undecodable event skipped by webhook delivery");
                        msg.ack().await.map_err(|e| anyhow::anyhow!("{e}"))?;
                        continue;
                    }
                };
                let mut outgoing = outgoing(a, &recorded).await?;
                outgoing.retain(|o| view.wants(o.kind));
                let (mut deliveries, mut stopped) = (Vec::new(), false);
                for o in outgoing {
                    match deliver(a, deliverer, view, &o, &msg, stop).await {
                        Some(Some(d)) => deliveries.push((o, d)),
                        Some(None) => {}
                        None => {
                            stopped = true;
                            break;
                        }
                    }
                }
                if stopped {
                    // Stopped mid-retry: hand the message back for the next start.
                    let _ = msg.ack_with(AckKind::Nak(None)).await;
                    continue;
                }
                let app = app.clone();
                let tenant = view.tenant.clone();
                recording.push(Box::pin(async move {
                    for (o, d) in deliveries {
                        record(app.as_ref(), &tenant, &o, d).await?;
                    }
                    msg.ack().await.map_err(|e| AppError::Unavailable(anyhow::anyhow!("{e}")))
                }));
            }
        }
    }
}

/// What an integration's consumer reads: its tenant's device events, and device monitors'
/// when it asked for `device-alert`.
fn subjects(app: &App, view: &IntegrationView) -> Vec<String> {
    let prefix = &app.store().config().prefix;
    let mut subjects = vec![format!("{prefix}.{}.device.*", view.tenant)];
    if view.wants("device-alert") {
        subjects.push(format!("{prefix}.{}.monitor.*", view.tenant));
    }
    subjects
}

/// The webhook events of one log event.
async fn outgoing(app: &App, event: &RecordedEvent) -> Result<Vec<Outgoing>, anyhow::Error> {
    let agg = &event.envelope.aggregate;
    if agg.kind == "monitor" {
        return Ok(payload::alert_events(event));
    }
    let subject = app.store().subject(&AggregateRef {
        tenant: agg.tenant.clone(),
        kind: "device".into(),
        id: agg.id.clone(),
    })?;
    let history: Vec<RecordedEvent> =
        app.store().load(&subject).await?.into_iter().filter(|e| e.seq <= event.seq).collect();
    Ok(payload::device_events(event, &history))
}

/// Posts one webhook event, retrying while it may succeed later. `None`: stopped (or the
/// integration removed) before an outcome; `Some(None)`: already recorded, nothing posted.
async fn deliver(
    app: &App,
    deliverer: &Deliverer,
    view: &IntegrationView,
    o: &Outgoing,
    msg: &async_nats::jetstream::Message,
    stop: &CancellationToken,
) -> Option<Option<Delivery>> {
    let done = integrations(app, |q| q.event(&view.tenant, &o.id)).ok().flatten();
    if done.is_some_and(|e| e.statuses.iter().any(|s| s.integration_id == view.id)) {
        return Some(None);
    }
    let body = o.body();
    let process = process_name(&view.id);
    let (started, mut backoff, mut attempts) = (Instant::now(), Duration::from_millis(500), 0u32);
    loop {
        // Credentials may change while retrying; a removed integration gets nothing more.
        let target = integrations(app, |q| q.integration(&view.tenant, &view.id)).ok().flatten()?;
        attempts += 1;
        if attempts > 1 {
            let _ = msg.ack_with(AckKind::Progress).await;
        }
        let attempt = deliverer.post(&target.url, &target.secret, &body).await;
        let retry = !attempt.success && retryable(&attempt) && started.elapsed() < app.webhooks.retry_for;
        app.processes.update(&process, |s| s.retrying = retry);
        if !retry {
            let Attempt { success, status, error } = attempt;
            app.processes.update(&process, |s| if success { s.delivered += 1 } else { s.failed += 1 });
            return Some(Some(Delivery {
                integration_id: view.id.clone(),
                event_type: o.kind.to_owned(),
                data_json: o.data.to_string(),
                event_time: Timestamp(o.time),
                success,
                status_code: u32::from(status),
                error,
                attempts,
            }));
        }
        tracing::info!(integration = %view.id, error = %attempt.error, ?backoff, "webhook delivery failed; retrying");
        let until = Instant::now() + backoff;
        while Instant::now() < until {
            let step = until.saturating_duration_since(Instant::now()).min(app.webhooks.ack_wait / 3);
            tokio::select! {
                _ = stop.cancelled() => return None,
                _ = tokio::time::sleep(step) => { let _ = msg.ack_with(AckKind::Progress).await; }
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Worth trying again: no answer, a server error, a timeout or throttling.
fn retryable(a: &Attempt) -> bool {
    a.status == 0 || a.status >= 500 || a.status == 408 || a.status == 429
}

/// Records one outcome, once per (event, integration) even when repeated after a crash.
async fn record(app: &App, tenant: &str, o: &Outgoing, delivery: Delivery) -> Result<(), AppError> {
    let mut caller = Caller::system(tenant, "webhooks");
    caller.command_id = Some(payload::event_id(&o.id, &delivery.integration_id));
    app.execute::<WebhookEvent>(&caller, &o.id, &WebhookCommand::Record(delivery)).await?;
    Ok(())
}
