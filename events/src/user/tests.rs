//! Given/when/then tests of the user rules.

use super::*;
use crate::testing::Given;

fn create(email: &str) -> UserCommand {
    UserCommand::Create { email: email.into(), password_hash: "$argon2id$x".into() }
}

fn created() -> UserEvent {
    UserEvent::UserCreated { email: "a@b.co".into(), password_hash: "h".into() }
}

fn pat(jti: &str, name: &str) -> UserCommand {
    UserCommand::IssueToken { jti: jti.into(), name: name.into(), exp: 2_000, now: 1_000 }
}

#[test]
fn a_user_is_created_with_a_lower_case_email() {
    Given::<User>::nothing().when(create("Admin@Example.com")).then([UserEvent::UserCreated {
        email: "admin@example.com".into(),
        password_hash: "$argon2id$x".into(),
    }]);
}

#[test]
fn a_bad_email_is_refused() {
    for bad in ["", "admin", "admin@", "@example.com", "a b@example.com", "admin@example", "a@b@c.com"] {
        Given::<User>::nothing().when(create(bad)).then_err(UserError::InvalidEmail);
    }
}

#[test]
fn an_email_with_a_nul_or_another_control_character_is_refused() {
    for bad in
        ["a\0b@example.com", "admin@example.com\0", "ad\u{7f}min@example.com", "a\u{1b}[2J@example.com"]
    {
        Given::<User>::nothing().when(create(bad)).then_err(UserError::InvalidEmail);
    }
    Given::<User>::events([created()])
        .when(UserCommand::ChangeEmail { email: "new\0@example.com".into() })
        .then_err(UserError::InvalidEmail);
}

#[test]
fn creating_twice_is_refused() {
    Given::<User>::events([created()]).when(create("a@b.co")).then_err(UserError::AlreadyExists);
}

#[test]
fn a_deleted_user_accepts_nothing_but_creation() {
    Given::<User>::events([created(), UserEvent::UserDeleted])
        .when(UserCommand::Delete)
        .then_err(UserError::NotFound);
    Given::<User>::nothing().when(pat("t1", "ci")).then_err(UserError::NotFound);
}

#[test]
fn changing_the_email_to_the_same_changes_nothing() {
    Given::<User>::events([created()])
        .when(UserCommand::ChangeEmail { email: "A@B.CO".into() })
        .then_nothing();
    Given::<User>::events([created()])
        .when(UserCommand::ChangeEmail { email: "new@b.co".into() })
        .then([UserEvent::UserEmailChanged { email: "new@b.co".into() }]);
}

#[test]
fn personal_access_token_names_are_unique_and_limited() {
    let issued =
        |jti: &str, name: &str| UserEvent::UserTokenIssued { jti: jti.into(), name: name.into(), exp: 2_000 };
    Given::<User>::events([created(), issued("t1", "ci")])
        .when(pat("t2", "ci"))
        .then_err(UserError::TokenNameExists);
    // A revoked or expired token frees its name.
    Given::<User>::events([created(), issued("t1", "ci"), UserEvent::UserTokenRevoked { jti: "t1".into() }])
        .when(pat("t2", "ci"))
        .then([issued("t2", "ci")]);
    let ten: Vec<_> = std::iter::once(created())
        .chain((0..10).map(|i| issued(&format!("t{i}"), &format!("n{i}"))))
        .collect();
    Given::<User>::events(ten).when(pat("t11", "eleventh")).then_err(UserError::TooManyTokens);
}

#[test]
fn revoking_is_idempotent_and_needs_a_known_token() {
    let issued = UserEvent::UserTokenIssued { jti: "t1".into(), name: String::new(), exp: 2_000 };
    let revoked = UserEvent::UserTokenRevoked { jti: "t1".into() };
    Given::<User>::events([created(), issued.clone()])
        .when(UserCommand::RevokeToken { jti: "t1".into() })
        .then([revoked.clone()]);
    Given::<User>::events([created(), issued, revoked])
        .when(UserCommand::RevokeToken { jti: "t1".into() })
        .then_nothing();
    Given::<User>::events([created()])
        .when(UserCommand::RevokeToken { jti: "zz".into() })
        .then_err(UserError::TokenNotFound);
}

#[test]
fn the_password_hash_never_renders_as_json() {
    let json = serde_json::to_string(&UserEvent::UserCreated {
        email: "a@b.co".into(),
        password_hash: "SECRET".into(),
    });
    assert!(!json.unwrap().contains("SECRET"));
}

#[test]
fn changing_the_password_ends_every_other_live_token() {
    let issued =
        |jti: &str, name: &str, exp| UserEvent::UserTokenIssued { jti: jti.into(), name: name.into(), exp };
    let revoked = |jti: &str| UserEvent::UserTokenRevoked { jti: jti.into() };
    Given::<User>::events([
        created(),
        issued("s1", "", 2_000),
        issued("s2", "", 2_000),
        issued("pat", "ci", 2_000),
        issued("old", "", 500),
        issued("out", "", 2_000),
        revoked("out"),
    ])
    .when(UserCommand::ChangePassword { password_hash: "h2".into(), keep_session: "s1".into(), now: 1_000 })
    .then([
        UserEvent::UserPasswordChanged { password_hash: "h2".into() },
        revoked("pat"),
        revoked("s2"),
    ]);
}

#[test]
fn personal_tokens_need_a_name_and_a_lifetime_within_a_year() {
    assert_eq!(check_personal_token("ci", 3600), Ok(()));
    assert_eq!(check_personal_token("ci", MAX_TOKEN_SECONDS), Ok(()));
    assert_eq!(check_personal_token("", 3600), Err(UserError::InvalidTokenName));
    assert_eq!(check_personal_token(&"n".repeat(256), 3600), Err(UserError::InvalidTokenName));
    assert_eq!(check_personal_token("ci", 0), Err(UserError::InvalidTokenLifetime));
    assert_eq!(check_personal_token("ci", MAX_TOKEN_SECONDS + 1), Err(UserError::InvalidTokenLifetime));
    assert_eq!(
        UserError::InvalidTokenLifetime.to_string(),
        format!("expires_in: must be between 1 and {MAX_TOKEN_SECONDS} seconds")
    );
}

#[test]
fn the_password_policy_is_mender_s() {
    assert_eq!(check_password("a@b.co", "short"), Err(UserError::PasswordTooShort));
    assert_eq!(check_password("abcdefgh@b.co", "ABCDEFGH@B.CO"), Err(UserError::PasswordLikeEmail));
    assert_eq!(check_password("a@b.co", "correct horse"), Ok(()));
    // Characters, not bytes: eight accented letters are long enough.
    assert_eq!(check_password("a@b.co", "éééééééé"), Ok(()));
}
