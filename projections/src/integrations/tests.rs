//! Given/when/then tests of the iot-manager read model: live integrations with their target,
//! webhook events with each integration's outcome, newest first, filtered by integration.

use fleetlog_events::Timestamp;
use fleetlog_events::integration::{IntegrationEvent, Secret, WebhookTarget};
use fleetlog_events::user::UserEvent;
use fleetlog_events::webhook::{Delivery, WebhookEventEvent};

use super::{IntegrationsProjection, IntegrationsQueries};
use crate::testing::{Given, START, T};

fn created(url: &str) -> IntegrationEvent {
    IntegrationEvent::IntegrationCreated {
        provider: "webhook".into(),
        description: "hooks".into(),
        target: WebhookTarget { url: url.into(), secret: Secret("00ff".into()) },
        event_types: vec![],
    }
}

fn recorded(integration: &str, kind: &str, success: bool) -> WebhookEventEvent {
    let at = match kind {
        "device-provisioned" => START,
        "device-status-changed" => START + 1,
        _ => START + 2,
    };
    WebhookEventEvent::WebhookDeliveryRecorded {
        delivery: Delivery {
            integration_id: integration.into(),
            event_type: kind.into(),
            data_json: r#"{"id":"d1"}"#.into(),
            event_time: Timestamp(at),
            success,
            status_code: if success { 200 } else { 0 },
            error: if success { String::new() } else { "connection refused".into() },
            attempts: 3,
        },
    }
}

fn two_integrations() -> Given<IntegrationsProjection> {
    Given::new(IntegrationsProjection).event("integration", "i1", created("http://127.0.0.1:1/a")).event(
        "integration",
        "i2",
        created("http://127.0.0.1:2/b"),
    )
}

#[test]
fn integrations_are_listed_with_their_target_until_deleted() {
    two_integrations()
        .event(
            "integration",
            "i1",
            IntegrationEvent::IntegrationCredentialsSet {
                target: WebhookTarget { url: "https://hooks.example.com/".into(), secret: Secret::default() },
            },
        )
        .when("integration", "i2", IntegrationEvent::IntegrationDeleted)
        .then(|m| {
            let q = IntegrationsQueries(m);
            let all = q.integrations(T).unwrap();
            assert_eq!(all.len(), 1);
            let i1 = &all[0];
            assert_eq!(
                (i1.id.as_str(), i1.url.as_str(), i1.secret.as_str()),
                ("i1", "https://hooks.example.com/", "")
            );
            assert_eq!((i1.created_seq, i1.created_ts), (1, START));
            assert!(q.integration(T, "i2").unwrap().is_none());
            assert_eq!(q.all_integrations().unwrap().len(), 1);
        });
}

#[test]
fn the_secret_is_kept_for_signing_but_not_in_debug_output() {
    two_integrations().then(|m| {
        let i1 = IntegrationsQueries(m).integration(T, "i1").unwrap().unwrap();
        assert_eq!(i1.secret, "00ff");
        assert!(!format!("{i1:?}").contains("00ff"));
    });
}

#[test]
fn events_gather_every_integrations_outcome_newest_first_by_their_time() {
    let given = two_integrations()
        .event("webhook-event", "e1", recorded("i1", "device-provisioned", true))
        .event("webhook-event", "e2", recorded("i1", "device-status-changed", true))
        .event("webhook-event", "e1", recorded("i2", "device-provisioned", false))
        .when("webhook-event", "e3", recorded("i2", "device-decommissioned", true));
    given.assert_deterministic();
    given.then(|m| {
        let q = IntegrationsQueries(m);
        let ids = |v: Vec<super::WebhookEventView>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(q.events(T, None, 0, 10).unwrap()), ["e3", "e2", "e1"]);
        assert_eq!(ids(q.events(T, None, 1, 1).unwrap()), ["e2"]);
        assert_eq!(ids(q.events(T, Some("i2"), 0, 10).unwrap()), ["e3", "e1"]);
        let e1 = q.events(T, Some("i1"), 1, 1).unwrap().remove(0);
        assert_eq!(e1.event_type, "device-provisioned");
        let outcomes: Vec<(&str, bool)> =
            e1.statuses.iter().map(|s| (s.integration_id.as_str(), s.success)).collect();
        assert_eq!(outcomes, [("i1", true), ("i2", false)]);
        assert_eq!(e1.statuses[1].error, "connection refused");
    });
}

#[test]
fn other_events_leave_the_model_alone() {
    two_integrations().assert_ignores("user", "u1", UserEvent::UserDeleted);
}
