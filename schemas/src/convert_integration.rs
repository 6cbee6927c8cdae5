//! Conversions of the integration, webhook-event and device-monitor aggregates' events, both
//! ways.

use fleetlog_events::integration::{IntegrationEvent, Secret, WebhookTarget};
use fleetlog_events::monitor::{Alert, MonitorEvent};
use fleetlog_events::webhook::{Delivery, WebhookEventEvent};
use fleetlog_events::{DomainEvent, Timestamp};

use crate::proto::{self, envelope::Event as P};

fn target_to_proto(t: &WebhookTarget) -> Option<proto::WebhookTarget> {
    Some(proto::WebhookTarget { url: t.url.clone(), secret: t.secret.expose().to_owned() })
}

fn target_from_proto(t: Option<proto::WebhookTarget>) -> WebhookTarget {
    let t = t.unwrap_or_default();
    WebhookTarget { url: t.url, secret: Secret(t.secret) }
}

/// An integration event's stored form.
pub(crate) fn integration_to_proto(e: &IntegrationEvent) -> P {
    match e {
        IntegrationEvent::IntegrationCreated { provider, description, target, event_types } => {
            P::IntegrationCreated(proto::IntegrationCreated {
                provider: provider.clone(),
                description: description.clone(),
                target: target_to_proto(target),
                event_types: event_types.clone(),
            })
        }
        IntegrationEvent::IntegrationCredentialsSet { target } => {
            P::IntegrationCredentialsSet(proto::IntegrationCredentialsSet { target: target_to_proto(target) })
        }
        IntegrationEvent::IntegrationDeleted => P::IntegrationDeleted(proto::IntegrationDeleted {}),
    }
}

/// A webhook event's stored form.
pub(crate) fn webhook_to_proto(e: &WebhookEventEvent) -> P {
    let WebhookEventEvent::WebhookDeliveryRecorded { delivery: d } = e;
    P::WebhookDeliveryRecorded(proto::WebhookDeliveryRecorded {
        integration_id: d.integration_id.clone(),
        event_type: d.event_type.clone(),
        data_json: d.data_json.clone(),
        event_time: d.event_time.0,
        success: d.success,
        status_code: d.status_code,
        error: d.error.clone(),
        attempts: d.attempts,
    })
}

/// An `IntegrationCreated` from its stored form.
pub(crate) fn created(m: proto::IntegrationCreated) -> DomainEvent {
    DomainEvent::Integration(IntegrationEvent::IntegrationCreated {
        provider: m.provider,
        description: m.description,
        target: target_from_proto(m.target),
        event_types: m.event_types,
    })
}

/// An `IntegrationCredentialsSet` from its stored form.
pub(crate) fn credentials_set(m: proto::IntegrationCredentialsSet) -> DomainEvent {
    DomainEvent::Integration(IntegrationEvent::IntegrationCredentialsSet {
        target: target_from_proto(m.target),
    })
}

/// A `WebhookDeliveryRecorded` from its stored form.
pub(crate) fn delivery_recorded(m: proto::WebhookDeliveryRecorded) -> DomainEvent {
    DomainEvent::Webhook(WebhookEventEvent::WebhookDeliveryRecorded {
        delivery: Delivery {
            integration_id: m.integration_id,
            event_type: m.event_type,
            data_json: m.data_json,
            event_time: Timestamp(m.event_time),
            success: m.success,
            status_code: m.status_code,
            error: m.error,
            attempts: m.attempts,
        },
    })
}

/// A device monitor event's stored form.
pub(crate) fn monitor_to_proto(e: &MonitorEvent) -> P {
    match e {
        MonitorEvent::AlertRaised { alert: a } => P::AlertRaised(proto::AlertRaised {
            name: a.name.clone(),
            level: a.level.clone(),
            subject_name: a.subject_name.clone(),
            subject_type: a.subject_type.clone(),
            subject_status: a.subject_status.clone(),
            details_json: a.details_json.clone(),
            timestamp: a.timestamp.0,
        }),
        MonitorEvent::MonitorConfigSet { config_json } => {
            P::MonitorConfigSet(proto::MonitorConfigSet { config_json: config_json.clone() })
        }
    }
}

/// An `AlertRaised` from its stored form.
pub(crate) fn alert_raised(m: proto::AlertRaised) -> DomainEvent {
    DomainEvent::Monitor(MonitorEvent::AlertRaised {
        alert: Alert {
            name: m.name,
            level: m.level,
            subject_name: m.subject_name,
            subject_type: m.subject_type,
            subject_status: m.subject_status,
            details_json: m.details_json,
            timestamp: Timestamp(m.timestamp),
        },
    })
}
