//! The iot-manager read model: each tenant's live integrations (with the webhook secret, which
//! the delivery process signs with and the API never shows), and webhook events with every
//! integration's delivery outcome, newest first, also per integration.

#[cfg(test)]
mod tests;

use fleetlog_events::integration::IntegrationEvent;
use fleetlog_events::webhook::WebhookEventEvent;
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// A live integration.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationView {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// `webhook`.
    pub provider: String,
    /// Operator's description.
    pub description: String,
    /// Where it posts.
    pub url: String,
    /// The HMAC key as hex text (empty: unsigned). Never rendered by the API.
    pub secret: String,
    /// Position of its creation: deliveries cover the events after it.
    pub created_seq: u64,
    /// When it was created, microseconds.
    pub created_ts: i64,
    /// The event types it receives (empty: Mender's three device lifecycle types).
    #[serde(default)]
    pub event_types: Vec<String>,
}

impl IntegrationView {
    /// Whether it receives events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        if self.event_types.is_empty() {
            kind != "device-alert"
        } else {
            self.event_types.iter().any(|t| t == kind)
        }
    }
}

impl std::fmt::Debug for IntegrationView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationView")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("secret", &if self.secret.is_empty() { "<none>" } else { "<omitted>" })
            .field("created_seq", &self.created_seq)
            .finish()
    }
}

/// One integration's delivery outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatusView {
    /// The integration.
    pub integration_id: String,
    /// Delivered (2xx).
    pub success: bool,
    /// The receiver's last status (0: no answer).
    pub status_code: u32,
    /// Why it failed.
    pub error: String,
    /// Requests made.
    pub attempts: u32,
}

/// A webhook event as iot-manager's events list shows it (newest first by its time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEventView {
    /// The id receivers saw.
    pub id: String,
    /// `device-provisioned`, ...
    pub event_type: String,
    /// The event's time, microseconds.
    pub time: i64,
    /// Its `data`, JSON text.
    pub data_json: String,
    /// Each integration's outcome, in the order recorded.
    pub statuses: Vec<DeliveryStatusView>,
}

/// The projection that maintains the iot-manager model.
pub struct IntegrationsProjection;

fn integration_key(t: &str, id: &str) -> Vec<u8> {
    format!("i/{t}/{id}").into_bytes()
}

fn event_key(t: &str, id: &str) -> Vec<u8> {
    format!("w/{t}/{id}").into_bytes()
}

/// Newest first: the order key is the inverted time of the event (outcomes of several
/// integrations are recorded in any order), then its id.
fn order_key(t: &str, integration: Option<&str>, time: i64, id: &str) -> Vec<u8> {
    let inverted = i64::MAX.saturating_sub(time.max(0));
    match integration {
        None => format!("o/{t}/{inverted:020}/{id}").into_bytes(),
        Some(i) => format!("p/{t}/{i}/{inverted:020}/{id}").into_bytes(),
    }
}

fn load<T: serde::de::DeserializeOwned>(w: &Writer<'_>, key: &[u8]) -> Result<Option<T>, ProjectionError> {
    w.get(key)?.map(|v| from_bytes(&v)).transpose()
}

impl Projection for IntegrationsProjection {
    fn name(&self) -> &'static str {
        crate::Model::Integrations.name()
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let env = &e.envelope;
        let (t, id) = (env.aggregate.tenant.as_str(), env.aggregate.id.as_str());
        match &env.event {
            DomainEvent::Integration(IntegrationEvent::IntegrationCreated {
                provider,
                description,
                target,
                event_types,
            }) => {
                let view = IntegrationView {
                    id: id.to_owned(),
                    tenant: t.to_owned(),
                    provider: provider.clone(),
                    description: description.clone(),
                    url: target.url.clone(),
                    secret: target.secret.expose().to_owned(),
                    created_seq: e.seq,
                    created_ts: env.occurred_at.0,
                    event_types: event_types.clone(),
                };
                w.insert(integration_key(t, id), to_bytes(&view)?);
            }
            DomainEvent::Integration(IntegrationEvent::IntegrationCredentialsSet { target }) => {
                if let Some(mut view) = load::<IntegrationView>(w, &integration_key(t, id))? {
                    view.url.clone_from(&target.url);
                    view.secret = target.secret.expose().to_owned();
                    w.insert(integration_key(t, id), to_bytes(&view)?);
                }
            }
            DomainEvent::Integration(IntegrationEvent::IntegrationDeleted) => {
                w.remove(integration_key(t, id))?
            }
            DomainEvent::Webhook(WebhookEventEvent::WebhookDeliveryRecorded { delivery: d }) => {
                let key = event_key(t, id);
                let mut view = match load::<WebhookEventView>(w, &key)? {
                    Some(view) => view,
                    None => {
                        w.insert(order_key(t, None, d.event_time.0, id), id.as_bytes().to_vec());
                        WebhookEventView {
                            id: id.to_owned(),
                            event_type: d.event_type.clone(),
                            time: d.event_time.0,
                            data_json: d.data_json.clone(),
                            statuses: Vec::new(),
                        }
                    }
                };
                w.insert(order_key(t, Some(&d.integration_id), d.event_time.0, id), id.as_bytes().to_vec());
                view.statuses.push(DeliveryStatusView {
                    integration_id: d.integration_id.clone(),
                    success: d.success,
                    status_code: d.status_code,
                    error: d.error.clone(),
                    attempts: d.attempts,
                });
                w.insert(key, to_bytes(&view)?);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Queries over the iot-manager model.
pub struct IntegrationsQueries<'a>(pub &'a ReadModel);

impl IntegrationsQueries<'_> {
    /// One live integration.
    pub fn integration(&self, t: &str, id: &str) -> Result<Option<IntegrationView>, ProjectionError> {
        self.0.tree().get(integration_key(t, id))?.map(|v| from_bytes(&v)).transpose()
    }

    /// A tenant's live integrations, by id.
    pub fn integrations(&self, t: &str) -> Result<Vec<IntegrationView>, ProjectionError> {
        self.scan(format!("i/{t}/"))
    }

    /// Every tenant's live integrations (for the delivery process).
    pub fn all_integrations(&self) -> Result<Vec<IntegrationView>, ProjectionError> {
        self.scan("i/".to_owned())
    }

    fn scan(&self, prefix: String) -> Result<Vec<IntegrationView>, ProjectionError> {
        self.0.tree().scan_prefix(prefix).values().map(|v| from_bytes(&v?)).collect()
    }

    /// One webhook event.
    pub fn event(&self, t: &str, id: &str) -> Result<Option<WebhookEventView>, ProjectionError> {
        self.0.tree().get(event_key(t, id))?.map(|v| from_bytes(&v)).transpose()
    }

    /// Webhook events, newest first, skipping `skip` and returning at most `limit`; only those
    /// delivered to `integration` when one is given.
    pub fn events(
        &self,
        t: &str,
        integration: Option<&str>,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<WebhookEventView>, ProjectionError> {
        let prefix = match integration {
            None => format!("o/{t}/"),
            Some(i) => format!("p/{t}/{i}/"),
        };
        let mut out = Vec::new();
        for id in self.0.tree().scan_prefix(prefix).values().skip(skip).take(limit) {
            let id = String::from_utf8_lossy(&id?).into_owned();
            if let Some(v) = self.0.tree().get(event_key(t, &id))? {
                out.push(from_bytes(&v)?);
            }
        }
        Ok(out)
    }
}
