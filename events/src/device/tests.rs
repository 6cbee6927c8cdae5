//! Given/when/then tests of the device rules.

use super::*;
use crate::testing::Given;

fn submitted(id: &str, key: &str) -> DeviceEvent {
    DeviceEvent::AuthSetSubmitted {
        auth_set_id: id.into(),
        identity_data: r#"{"mac":"00:11"}"#.into(),
        pubkey: key.into(),
    }
}

fn submit(id: &str, key: &str) -> DeviceCommand {
    DeviceCommand::SubmitAuthSet {
        auth_set_id: id.into(),
        identity_data: r#"{"mac":"00:11"}"#.into(),
        pubkey: key.into(),
    }
}

fn accepted(id: &str) -> DeviceEvent {
    DeviceEvent::AuthSetAccepted { auth_set_id: id.into() }
}

fn rejected(id: &str) -> DeviceEvent {
    DeviceEvent::AuthSetRejected { auth_set_id: id.into() }
}

#[test]
fn a_first_auth_request_creates_a_pending_device() {
    Given::<Device>::nothing().when(submit("a1", "K1")).then([submitted("a1", "K1")]);
    let given = Given::<Device>::events([submitted("a1", "K1")]);
    assert_eq!(given.state().status(), DeviceStatus::Pending);
}

#[test]
fn a_known_key_submitted_again_changes_nothing() {
    Given::<Device>::events([submitted("a1", "K1"), accepted("a1")]).when(submit("a2", "K1")).then_nothing();
}

#[test]
fn a_new_key_adds_a_second_auth_set() {
    Given::<Device>::events([submitted("a1", "K1")]).when(submit("a2", "K2")).then([submitted("a2", "K2")]);
}

#[test]
fn a_different_identity_is_refused() {
    Given::<Device>::events([submitted("a1", "K1")])
        .when(DeviceCommand::SubmitAuthSet {
            auth_set_id: "a2".into(),
            identity_data: r#"{"mac":"ff"}"#.into(),
            pubkey: "K2".into(),
        })
        .then_err(DeviceError::IdentityMismatch);
}

#[test]
fn accepting_a_set_rejects_the_previously_accepted_one() {
    Given::<Device>::events([submitted("a1", "K1"), accepted("a1"), submitted("a2", "K2")])
        .when(DeviceCommand::AcceptAuthSet { auth_set_id: "a2".into() })
        .then([rejected("a1"), accepted("a2")]);
}

#[test]
fn accepting_an_accepted_set_changes_nothing() {
    Given::<Device>::events([submitted("a1", "K1"), accepted("a1")])
        .when(DeviceCommand::AcceptAuthSet { auth_set_id: "a1".into() })
        .then_nothing();
}

#[test]
fn accepting_an_unknown_set_is_refused() {
    Given::<Device>::events([submitted("a1", "K1")])
        .when(DeviceCommand::AcceptAuthSet { auth_set_id: "zz".into() })
        .then_err(DeviceError::AuthSetNotFound);
}

#[test]
fn the_status_is_derived_from_the_sets() {
    let given = Given::<Device>::events([submitted("a1", "K1"), accepted("a1")]);
    assert_eq!(given.state().status(), DeviceStatus::Accepted);
    let given = Given::<Device>::events([submitted("a1", "K1"), rejected("a1")]);
    assert_eq!(given.state().status(), DeviceStatus::Rejected);
    assert_eq!(DeviceState::default().status(), DeviceStatus::Noauth);
}

#[test]
fn rejecting_twice_changes_nothing() {
    Given::<Device>::events([submitted("a1", "K1"), rejected("a1")])
        .when(DeviceCommand::RejectAuthSet { auth_set_id: "a1".into() })
        .then_nothing();
}

#[test]
fn a_decommissioned_device_refuses_everything() {
    let history = [submitted("a1", "K1"), DeviceEvent::DeviceDecommissioned];
    Given::<Device>::events(history.clone()).when(submit("a2", "K2")).then_err(DeviceError::Decommissioned);
    Given::<Device>::events(history.clone())
        .when(DeviceCommand::AcceptAuthSet { auth_set_id: "a1".into() })
        .then_err(DeviceError::NotFound);
    Given::<Device>::events(history).when(DeviceCommand::Decommission).then_err(DeviceError::NotFound);
}

#[test]
fn decommissioning_an_unknown_device_is_refused() {
    Given::<Device>::nothing().when(DeviceCommand::Decommission).then_err(DeviceError::NotFound);
}

#[test]
fn events_render_as_tagged_json() {
    let json = serde_json::to_string(&accepted("a1")).unwrap();
    assert_eq!(json, r#"{"type":"AuthSetAccepted","auth_set_id":"a1"}"#);
}

fn preauthorized(id: &str, key: &str) -> DeviceEvent {
    DeviceEvent::DevicePreauthorized {
        auth_set_id: id.into(),
        identity_data: r#"{"mac":"00:11"}"#.into(),
        pubkey: key.into(),
    }
}

#[test]
fn a_preauthorized_key_is_accepted_on_its_first_request() {
    let given = Given::<Device>::events([preauthorized("p1", "K1")]);
    assert_eq!(given.state().status(), DeviceStatus::Preauthorized);
    given.when(submit("a1", "K1")).then([accepted("p1")]);
}

#[test]
fn preauthorizing_a_known_device_is_refused() {
    Given::<Device>::events([submitted("a1", "K1")])
        .when(DeviceCommand::Preauthorize {
            auth_set_id: "p1".into(),
            identity_data: r#"{"mac":"00:11"}"#.into(),
            pubkey: "K2".into(),
        })
        .then_err(DeviceError::AlreadyExists);
}

#[test]
fn a_set_can_go_back_to_pending_and_be_dismissed() {
    let history = [submitted("a1", "K1"), accepted("a1")];
    Given::<Device>::events(history.clone())
        .when(DeviceCommand::SetPending { auth_set_id: "a1".into() })
        .then([DeviceEvent::AuthSetPending { auth_set_id: "a1".into() }]);
    let dismissed = [submitted("a1", "K1"), DeviceEvent::AuthSetDismissed { auth_set_id: "a1".into() }];
    assert_eq!(Given::<Device>::events(dismissed).state().status(), DeviceStatus::Noauth);
    Given::<Device>::events(history)
        .when(DeviceCommand::DismissAuthSet { auth_set_id: "zz".into() })
        .then_err(DeviceError::AuthSetNotFound);
}

#[test]
fn acceptance_and_revocation_start_a_new_token_epoch() {
    assert_eq!(accepted("a1").new_token_epoch(), Some("a1"));
    let revoked = DeviceEvent::DeviceTokensRevoked { auth_set_id: "a1".into() };
    assert_eq!(revoked.new_token_epoch(), Some("a1"));
    assert_eq!(rejected("a1").new_token_epoch(), None);
    assert_eq!(submitted("a1", "K1").new_token_epoch(), None);
}

#[test]
fn a_token_is_good_only_for_the_admission_it_was_issued_under() {
    // Issued under the admission that began at position 7.
    assert!(token_current(7, 7));
    // Still good when read against a model that is behind (it cannot be older than the token).
    assert!(token_current(7, 5));
    // Re-accepted or revoked at 9: the token from position 7 is over.
    assert!(!token_current(7, 9));
}

#[test]
fn an_identity_has_one_canonical_form() {
    let a = canonical_identity(r#"{ "mac": "00:11", "sku": "x" }"#).unwrap();
    let b = canonical_identity(r#"{"sku":"x","mac":"00:11"}"#).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, r#"{"mac":"00:11","sku":"x"}"#);
    for bad in ["{}", "[]", "\"mac\"", "not json", ""] {
        assert_eq!(canonical_identity(bad), None, "{bad:?}");
    }
}
