//! The integration aggregate's rules: creation, credentials, providers, targets, secrets.

use super::*;
use crate::testing::Given;

fn target(url: &str, secret: &str) -> WebhookTarget {
    WebhookTarget { url: url.into(), secret: Secret(secret.into()) }
}

fn create(provider: &str, kind: &str, t: WebhookTarget) -> IntegrationCommand {
    IntegrationCommand::Create {
        provider: provider.into(),
        credential_type: kind.into(),
        description: "hooks".into(),
        target: t,
        event_types: vec![],
    }
}

fn created() -> IntegrationEvent {
    IntegrationEvent::IntegrationCreated {
        provider: WEBHOOK.into(),
        description: "hooks".into(),
        target: target("http://127.0.0.1:9/h", "00ff"),
        event_types: vec![],
    }
}

#[test]
fn a_webhook_is_created_once_and_its_credentials_replaced_while_it_lives() {
    let make = create(WEBHOOK, "http", target("http://127.0.0.1:9/h", "00ff"));
    Given::<Integration>::nothing().when(make.clone()).then([created()]);
    Given::<Integration>::events([created()]).when(make).then_err(IntegrationError::AlreadyExists);
    let set = |t| IntegrationCommand::SetCredentials { credential_type: "http".into(), target: t };
    Given::<Integration>::events([created()]).when(set(target("https://hooks.example.com/x", ""))).then([
        IntegrationEvent::IntegrationCredentialsSet { target: target("https://hooks.example.com/x", "") },
    ]);
    Given::<Integration>::events([created()])
        .when(set(target("http://127.0.0.1:9/h", "00ff")))
        .then_nothing();
    let gone = [created(), IntegrationEvent::IntegrationDeleted];
    Given::<Integration>::events(gone.clone())
        .when(set(target("http://a/", "")))
        .then_err(IntegrationError::NotFound);
    Given::<Integration>::events(gone).when(IntegrationCommand::Delete).then_err(IntegrationError::NotFound);
}

#[test]
fn cloud_providers_are_refused_with_a_reason_and_credentials_must_fit() {
    let t = target("http://a/", "");
    let refused = Given::<Integration>::nothing().when(create("iot-hub", "sas", t.clone()));
    refused.then_err(IntegrationError::ProviderUnavailable("iot-hub".into()));
    let wrong = Given::<Integration>::nothing().when(create(WEBHOOK, "aws", t.clone()));
    wrong.then_err(IntegrationError::IncompatibleCredentials {
        provider: WEBHOOK.into(),
        credential_type: "aws".into(),
    });
    Given::<Integration>::nothing()
        .when(create("slack", "http", t))
        .then_err(IntegrationError::UnknownProvider("slack".into()));
}

#[test]
fn event_types_must_be_known() {
    let mut make = create(WEBHOOK, "http", target("http://a/", ""));
    if let IntegrationCommand::Create { event_types, .. } = &mut make {
        *event_types = vec!["device-alert".into(), "device-exploded".into()];
    }
    Given::<Integration>::nothing()
        .when(make)
        .then_err(IntegrationError::UnknownEventType("device-exploded".into()));
}

#[test]
fn urls_and_secrets_are_checked() {
    for bad in ["", "ftp://a/", "http://", "http:///x", "http://a b/", "http://:80/"] {
        assert!(matches!(check_target(&target(bad, "")), Err(IntegrationError::InvalidUrl(_))), "{bad}");
    }
    for bad in ["abc", "zz", &"a".repeat(66)] {
        assert_eq!(check_target(&target("http://a/", bad)), Err(IntegrationError::InvalidSecret), "{bad}");
    }
    assert_eq!(check_target(&target("HTTPS://user@hooks.example.com:8443/p?q=1", "DEADbeef")), Ok(()));
}

#[test]
fn the_secret_never_renders() {
    let json = serde_json::to_string(&created()).unwrap();
    assert!(!json.contains("00ff") && json.contains("127.0.0.1"), "{json}");
    assert!(!format!("{:?}", created()).contains("00ff"));
    let state = Given::<Integration>::events([created()]);
    assert!(!serde_json::to_string(state.state()).unwrap().contains("00ff"));
}
