//! Given/when/then tests of the users read model: users by id and e-mail, passwords, personal
//! access tokens, revocations and settings.

use fleetlog_events::device::DeviceEvent;
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;

use super::{UsersProjection, UsersQueries};
use crate::testing::{Given, START, T};

const SECOND: i64 = 1_000_000;

fn created(id: &str, email: &str) -> Given<UsersProjection> {
    Given::new(UsersProjection).event("user", id, create(email))
}

fn create(email: &str) -> UserEvent {
    UserEvent::UserCreated { email: email.into(), password_hash: "$argon2id$v=19$old".into() }
}

fn issued(jti: &str, name: &str) -> UserEvent {
    UserEvent::UserTokenIssued { jti: jti.into(), name: name.into(), exp: 1_800_000_000 }
}

#[test]
fn a_created_user_is_found_by_id_and_by_email() {
    created("u1", "alice@example.com").then(|m| {
        let q = UsersQueries(m);
        let u = q.get(T, "u1").unwrap().expect("user");
        assert_eq!(u.email, "alice@example.com");
        assert_eq!(u.password_hash, "$argon2id$v=19$old");
        assert_eq!((u.created_ts, u.updated_ts), (START, START));
        assert_eq!(q.by_email(T, "alice@example.com").unwrap(), Some(u));
        assert_eq!(q.by_email(T, "bob@example.com").unwrap(), None);
        assert_eq!(q.list(T).unwrap().len(), 1);
    });
}

#[test]
fn a_changed_password_replaces_the_hash() {
    created("u1", "alice@example.com")
        .when("user", "u1", UserEvent::UserPasswordChanged { password_hash: "$argon2id$v=19$new".into() })
        .then(|m| {
            let u = UsersQueries(m).get(T, "u1").unwrap().unwrap();
            assert_eq!(u.password_hash, "$argon2id$v=19$new");
            assert_eq!(u.created_ts, START);
            assert_eq!(u.updated_ts, START + SECOND);
        });
}

#[test]
fn a_changed_email_moves_the_login_index() {
    created("u1", "alice@example.com")
        .when("user", "u1", UserEvent::UserEmailChanged { email: "alice@corp.example".into() })
        .then(|m| {
            let q = UsersQueries(m);
            assert_eq!(q.by_email(T, "alice@example.com").unwrap(), None);
            assert_eq!(q.by_email(T, "alice@corp.example").unwrap().unwrap().id, "u1");
            assert_eq!(q.get(T, "u1").unwrap().unwrap().email, "alice@corp.example");
        });
}

#[test]
fn a_deleted_user_is_gone_and_its_email_free() {
    created("u1", "alice@example.com")
        .event("user", "u2", create("bob@example.com"))
        .when("user", "u1", UserEvent::UserDeleted)
        .then(|m| {
            let q = UsersQueries(m);
            assert_eq!(q.get(T, "u1").unwrap(), None);
            assert_eq!(q.by_email(T, "alice@example.com").unwrap(), None);
            let ids: Vec<String> = q.list(T).unwrap().into_iter().map(|u| u.id).collect();
            assert_eq!(ids, ["u2"]);
        });
}

#[test]
fn a_personal_access_token_is_listed_and_a_login_token_is_not() {
    created("u1", "alice@example.com")
        .event("user", "u1", issued("jti-login", ""))
        .when("user", "u1", issued("jti-pat", "ci"))
        .then(|m| {
            let q = UsersQueries(m);
            let tokens = q.tokens(T, "u1").unwrap();
            assert_eq!(tokens.len(), 1);
            assert_eq!((tokens[0].id.as_str(), tokens[0].name.as_str()), ("jti-pat", "ci"));
            assert_eq!(tokens[0].expiration, 1_800_000_000);
            assert_eq!(tokens[0].created_ts, START + 2 * SECOND);
            assert!(!q.is_revoked(T, "jti-pat").unwrap());
            // Issuing a token is not a change of the user.
            assert_eq!(q.get(T, "u1").unwrap().unwrap().updated_ts, START);
        });
}

#[test]
fn a_revoked_token_is_refused_and_no_longer_listed() {
    created("u1", "alice@example.com")
        .event("user", "u1", issued("jti-login", ""))
        .event("user", "u1", issued("jti-pat", "ci"))
        .event("user", "u1", UserEvent::UserTokenRevoked { jti: "jti-login".into() })
        .when("user", "u1", UserEvent::UserTokenRevoked { jti: "jti-pat".into() })
        .then(|m| {
            let q = UsersQueries(m);
            assert!(q.is_revoked(T, "jti-login").unwrap(), "logout");
            assert!(q.is_revoked(T, "jti-pat").unwrap(), "PAT deleted");
            assert!(!q.is_revoked(T, "jti-other").unwrap());
            assert!(q.tokens(T, "u1").unwrap().is_empty());
        });
}

#[test]
fn saved_settings_count_their_versions_per_scope() {
    let saved = |json: &str| SettingsEvent::SettingsSaved { json: json.into() };
    Given::new(UsersProjection)
        .event("settings", "global", saved(r#"{"a":1}"#))
        .event("settings", "user-u1", saved(r#"{"theme":"dark"}"#))
        .when("settings", "global", saved(r#"{"a":2}"#))
        .then(|m| {
            let q = UsersQueries(m);
            let global = q.settings(T, "global").unwrap();
            assert_eq!((global.json.as_str(), global.version), (r#"{"a":2}"#, 2));
            assert_eq!(q.settings(T, "user-u1").unwrap().version, 1);
            let none = q.settings(T, "user-u2").unwrap();
            assert_eq!((none.json.as_str(), none.version), ("", 0));
        });
}

#[test]
fn events_of_a_user_never_created_change_nothing() {
    Given::new(UsersProjection).when("user", "ghost", UserEvent::UserDeleted).then(|m| {
        let q = UsersQueries(m);
        assert_eq!(q.get(T, "ghost").unwrap(), None);
        assert!(q.list(T).unwrap().is_empty());
    });
}

fn history() -> Given<UsersProjection> {
    created("u1", "alice@example.com")
        .event("user", "u2", create("bob@example.com"))
        .event("user", "u1", UserEvent::UserPasswordChanged { password_hash: "h2".into() })
        .event("user", "u1", issued("j1", ""))
        .event("user", "u1", issued("j2", "ci"))
        .event("user", "u1", UserEvent::UserTokenRevoked { jti: "j2".into() })
        .event("user", "u2", UserEvent::UserEmailChanged { email: "robert@example.com".into() })
        .event("settings", "global", SettingsEvent::SettingsSaved { json: "{}".into() })
        .event("user", "u2", UserEvent::UserDeleted)
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn events_of_other_aggregates_are_ignored() {
    history().assert_ignores("device", "u1", DeviceEvent::DeviceDecommissioned);
}
