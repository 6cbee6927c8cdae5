//! Webhook events (iot-manager's `Event`): one aggregate per event pushed to integrations, its
//! id the `id` receivers see (derived from the log event behind it, so a redelivery carries the
//! same id and receivers can de-duplicate). Each integration's delivery outcome is one fact:
//! `delivery_statuses` in Mender's events list.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{Aggregate, Timestamp};

/// The webhook event aggregate.
pub struct WebhookEvent;

/// The event types Mender's iot-manager sends, plus `device-alert` (devicemonitor).
pub const EVENT_TYPES: &[&str] =
    &["device-provisioned", "device-status-changed", "device-decommissioned", "device-alert"];

/// How one delivery to one integration ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The integration delivered to.
    pub integration_id: String,
    /// `device-provisioned`, `device-status-changed`, `device-decommissioned`, `device-alert`.
    pub event_type: String,
    /// The event's `data`, JSON text, as posted.
    pub data_json: String,
    /// The event's `time`.
    pub event_time: Timestamp,
    /// Whether the receiver answered 2xx.
    pub success: bool,
    /// The receiver's last HTTP status (0: no answer).
    pub status_code: u32,
    /// Why it failed (empty on success).
    pub error: String,
    /// How many requests were made.
    pub attempts: u32,
}

/// A webhook event's state: the integrations whose outcome is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookEventState {
    /// Integrations with a recorded outcome.
    pub recorded: BTreeSet<String>,
}

/// What may be asked of a webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookCommand {
    /// Record one integration's outcome (once: a repeat after a restart records nothing).
    Record(Delivery),
}

/// The facts recorded about a webhook event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WebhookEventEvent {
    /// One integration's delivery ended (delivered, or given up after retries).
    WebhookDeliveryRecorded {
        /// The outcome.
        #[serde(flatten)]
        delivery: Delivery,
    },
}

crate::event_names!(WebhookEventEvent { WebhookDeliveryRecorded });

crate::domain_event!(WebhookEventEvent => Webhook);

/// Why a webhook command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Not one of [`EVENT_TYPES`].
    #[error("unknown webhook event type {0:?}")]
    UnknownType(String),
}

impl Aggregate for WebhookEvent {
    const TYPE: &'static str = "webhook-event";
    type State = WebhookEventState;
    type Command = WebhookCommand;
    type Event = WebhookEventEvent;
    type Error = WebhookError;

    fn decide(
        state: &WebhookEventState,
        command: &WebhookCommand,
    ) -> Result<Vec<WebhookEventEvent>, WebhookError> {
        let WebhookCommand::Record(delivery) = command;
        if !EVENT_TYPES.contains(&delivery.event_type.as_str()) {
            return Err(WebhookError::UnknownType(delivery.event_type.clone()));
        }
        if state.recorded.contains(&delivery.integration_id) {
            return Ok(vec![]);
        }
        Ok(vec![WebhookEventEvent::WebhookDeliveryRecorded { delivery: delivery.clone() }])
    }

    fn evolve(mut state: WebhookEventState, event: &WebhookEventEvent) -> WebhookEventState {
        let WebhookEventEvent::WebhookDeliveryRecorded { delivery } = event;
        state.recorded.insert(delivery.integration_id.clone());
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn delivery(integration: &str, success: bool) -> Delivery {
        Delivery {
            integration_id: integration.into(),
            event_type: "device-decommissioned".into(),
            data_json: r#"{"id":"d1"}"#.into(),
            event_time: Timestamp(1),
            success,
            status_code: if success { 200 } else { 503 },
            error: if success { String::new() } else { "503 Service Unavailable".into() },
            attempts: 1,
        }
    }

    #[test]
    fn each_integration_outcome_is_recorded_once() {
        let first = WebhookEventEvent::WebhookDeliveryRecorded { delivery: delivery("i1", true) };
        Given::<WebhookEvent>::nothing()
            .when(WebhookCommand::Record(delivery("i1", true)))
            .then([first.clone()]);
        Given::<WebhookEvent>::events([first.clone()])
            .when(WebhookCommand::Record(delivery("i1", false)))
            .then_nothing();
        Given::<WebhookEvent>::events([first])
            .when(WebhookCommand::Record(delivery("i2", false)))
            .then([WebhookEventEvent::WebhookDeliveryRecorded { delivery: delivery("i2", false) }]);
    }

    #[test]
    fn only_known_event_types_are_recorded() {
        let odd = Delivery { event_type: "device-exploded".into(), ..delivery("i1", true) };
        Given::<WebhookEvent>::nothing()
            .when(WebhookCommand::Record(odd))
            .then_err(WebhookError::UnknownType("device-exploded".into()));
    }
}
