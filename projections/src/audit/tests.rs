//! Given/when/then tests of the audit read model: one entry per auditable event with its actor,
//! action, object and object details, the object and actor indexes, and what is left out.

use fleetlog_events::Actor;
use fleetlog_events::artifact::{ArtifactEvent, ArtifactInfo};
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::device::DeviceDeploymentEvent;
use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::user::UserEvent;
use serde_json::{Value, json};

use super::{AuditEntry, AuditFilter, AuditProjection, AuditQueries};
use crate::ReadModel;
use crate::testing::{Given, START, T};

const SECOND: i64 = 1_000_000;

fn alice() -> Actor {
    Actor::user("u1", "alice@example.com")
}

/// Every entry, oldest first.
fn entries(m: &ReadModel) -> Vec<AuditEntry> {
    search(m, AuditFilter { ascending: true, ..Default::default() })
}

fn search(m: &ReadModel, f: AuditFilter) -> Vec<AuditEntry> {
    let (found, total) = AuditQueries(m).search(T, &f, 0, 100).unwrap();
    assert_eq!(found.len(), total);
    found
}

fn details(e: &AuditEntry) -> Value {
    serde_json::from_str(&e.object_details).expect("details are JSON")
}

fn created_user() -> Given<AuditProjection> {
    let create = UserEvent::UserCreated { email: "bob@example.com".into(), password_hash: "h".into() };
    Given::new(AuditProjection).by(alice()).event("user", "u2", create)
}

fn submitted_device() -> Given<AuditProjection> {
    let submit = DeviceEvent::AuthSetSubmitted {
        auth_set_id: "as1".into(),
        identity_data: r#"{"mac":"00:11"}"#.into(),
        pubkey: "key".into(),
    };
    Given::new(AuditProjection).by(Actor::device("d1")).event("device", "d1", submit).by(alice())
}

#[test]
fn a_created_user_is_one_entry_with_its_actor_and_object() {
    created_user().then(|m| {
        let all = entries(m);
        assert_eq!(all.len(), 1);
        let e = &all[0];
        assert_eq!((e.seq, e.time), (1, START));
        assert_eq!((e.actor_type.as_str(), e.actor_id.as_str()), ("user", "u1"));
        assert_eq!(e.actor_email, "alice@example.com");
        assert_eq!(
            (e.action.as_str(), e.object_type.as_str(), e.object_id.as_str()),
            ("create", "user", "u2")
        );
        assert_eq!(details(e), json!({ "email": "bob@example.com" }));
        assert_eq!(e.change, "user bob@example.com created");
        assert_eq!((e.event_type.as_str(), e.request_id.as_str()), ("UserCreated", "req-1"));
    });
}

#[test]
fn a_later_event_of_a_user_shows_its_current_email() {
    created_user()
        .event("user", "u2", UserEvent::UserEmailChanged { email: "robert@example.com".into() })
        .when("user", "u2", UserEvent::UserPasswordChanged { password_hash: "h2".into() })
        .then(|m| {
            let all = entries(m);
            assert_eq!(all.len(), 3);
            assert_eq!(all[1].change, "email changed to robert@example.com");
            assert_eq!((all[2].action.as_str(), all[2].change.as_str()), ("update", "password changed"));
            assert_eq!(details(&all[2]), json!({ "email": "robert@example.com" }));
        });
}

#[test]
fn a_login_and_a_personal_access_token_are_told_apart() {
    let issued = |name: &str| UserEvent::UserTokenIssued { jti: "j".into(), name: name.into(), exp: 0 };
    created_user().event("user", "u2", issued("")).when("user", "u2", issued("ci")).then(|m| {
        let all = entries(m);
        assert_eq!((all[1].action.as_str(), all[1].object_type.as_str()), ("login", "user"));
        assert_eq!((all[2].action.as_str(), all[2].object_type.as_str()), ("create", "token"));
        assert_eq!(all[2].change, "personal access token ci created");
    });
}

#[test]
fn a_device_entry_carries_its_identity_and_the_device_as_actor_when_it_asked() {
    submitted_device().when("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as1".into() }).then(
        |m| {
            let all = entries(m);
            assert_eq!(all.len(), 2);
            assert_eq!((all[0].actor_type.as_str(), all[0].actor_id.as_str()), ("device", "d1"));
            assert_eq!(all[0].action, "create");
            let e = &all[1];
            assert_eq!((e.actor_type.as_str(), e.action.as_str()), ("user", "accept"));
            assert_eq!((e.object_type.as_str(), e.object_id.as_str()), ("device", "d1"));
            assert_eq!(details(e), json!({ "identity_data": { "mac": "00:11" } }));
            assert_eq!(e.change, "auth set as1 accepted");
        },
    );
}

#[test]
fn deployment_and_artifact_entries_carry_their_details() {
    let spec = DeploymentSpec {
        name: "rollout".into(),
        artifact_name: "v1.0".into(),
        devices: vec!["d1".into(), "d2".into()],
        target: "devices".into(),
        ..Default::default()
    };
    let info =
        ArtifactInfo { name: "v1.0".into(), device_types: vec!["pi".into()], size: 9, ..Default::default() };
    Given::new(AuditProjection)
        .by(alice())
        .event("artifact", "a1", ArtifactEvent::ArtifactUploaded { info })
        .event("artifact", "a1", ArtifactEvent::ArtifactDescriptionChanged { description: "new".into() })
        .event("deployment", "dep1", DeploymentEvent::DeploymentCreated { spec })
        .when("deployment", "dep1", DeploymentEvent::DeploymentAborted)
        .then(|m| {
            let all = entries(m);
            assert_eq!(all[0].action, "upload");
            assert_eq!(all[0].change, "artifact v1.0 uploaded (9 bytes)");
            assert_eq!(details(&all[1])["description"], "new");
            assert_eq!(details(&all[1])["device_types_compatible"], json!(["pi"]));
            assert_eq!(all[2].change, "deployment rollout of v1.0 to 2 devices");
            assert_eq!((all[3].action.as_str(), all[3].object_id.as_str()), ("abort", "dep1"));
            assert_eq!(details(&all[3]), json!({ "name": "rollout", "artifact_name": "v1.0" }));
        });
}

#[test]
fn a_remote_session_is_on_its_device_with_menders_action_names() {
    let start = ConnectEvent::RemoteSessionStarted {
        device_id: "d1".into(),
        kind: "terminal".into(),
        detail: String::new(),
    };
    submitted_device()
        .event("rsession", "s1", start)
        .when("rsession", "s1", ConnectEvent::RemoteSessionEnded { bytes: 0, error: String::new() })
        .then(|m| {
            let all = entries(m);
            assert_eq!(all.len(), 3);
            for (e, action) in all[1..].iter().zip(["open_terminal", "close_terminal"]) {
                assert_eq!(e.action, action);
                assert_eq!((e.object_type.as_str(), e.object_id.as_str()), ("device", "d1"));
                assert_eq!(details(e), json!({ "identity_data": { "mac": "00:11" } }));
            }
            assert_eq!(all[1].change, "terminal with device d1");
        });
}

#[test]
fn searches_use_the_object_and_actor_indexes_and_page_newest_first() {
    submitted_device()
        .event("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as1".into() })
        .event(
            "user",
            "u2",
            UserEvent::UserCreated { email: "bob@example.com".into(), password_hash: "h".into() },
        )
        .when("device", "d1", DeviceEvent::DeviceDecommissioned)
        .then(|m| {
            let seqs = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
            let on_device = AuditFilter {
                object_type: Some("device".into()),
                object_id: Some("d1".into()),
                ..Default::default()
            };
            assert_eq!(seqs(search(m, on_device)), [4, 2, 1]);
            assert_eq!(
                seqs(search(m, AuditFilter { actor_id: Some("u1".into()), ..Default::default() })),
                [4, 3, 2]
            );
            let by_email =
                AuditFilter { actor_email: Some("alice@example.com".into()), ..Default::default() };
            assert_eq!(seqs(search(m, by_email)), [4, 3, 2]);
            let window = AuditFilter {
                after: Some(START + SECOND),
                before: Some(START + 2 * SECOND),
                ..Default::default()
            };
            assert_eq!(seqs(search(m, window)), [3, 2]);
            let (page, total) = AuditQueries(m).search(T, &AuditFilter::default(), 1, 2).unwrap();
            assert_eq!((seqs(page), total), (vec![3, 2], 4));
            assert_eq!(AuditQueries(m).search("other", &AuditFilter::default(), 0, 10).unwrap().1, 0);
        });
}

fn history() -> Given<AuditProjection> {
    submitted_device()
        .event("device", "d1", DeviceEvent::AuthSetAccepted { auth_set_id: "as1".into() })
        .event(
            "user",
            "u2",
            UserEvent::UserCreated { email: "bob@example.com".into(), password_hash: "h".into() },
        )
        .event(
            "rsession",
            "s1",
            ConnectEvent::RemoteSessionStarted {
                device_id: "d1".into(),
                kind: "port-forward".into(),
                detail: "localhost:22".into(),
            },
        )
        .event("rsession", "s1", ConnectEvent::RemoteSessionEnded { bytes: 5, error: "reset".into() })
        .event("user", "u2", UserEvent::UserDeleted)
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn bookkeeping_and_device_progress_make_no_entry() {
    history().assert_ignores("claim", "identity:abc", ClaimEvent::ClaimTaken { holder: "d1".into() });
    let status = DeviceDeploymentEvent::DeviceDeploymentStatusChanged {
        status: DeviceDeploymentStatus::Downloading,
        substate: String::new(),
    };
    history().by(Actor::device("d1")).assert_ignores("devdeployment", "dep1:d1", status);
    let connected = ConnectEvent::DeviceConnected { connection_id: "c".into() };
    history().by(Actor::device("d1")).assert_ignores("connection", "d1", connected);
}
