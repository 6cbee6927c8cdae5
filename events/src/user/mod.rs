//! The user aggregate (Mender's useradm): management-API users with an e-mail, a password, and
//! the tokens issued to them (login sessions and personal access tokens).
//!
//! Passwords arrive already hashed: hashing is slow and salted, so the handler does it before
//! `decide`. The hash is stored in the log but never rendered in JSON (tail, audit).

mod types;

pub use types::*;

use crate::Aggregate;

/// The user aggregate.
pub struct User;

/// Live personal access tokens a user may have at once (Mender's limit).
pub const MAX_PERSONAL_ACCESS_TOKENS: usize = 10;

/// Mender's rule of thumb for an address: something@something.tld, no spaces or control
/// characters (a NUL would end the address in C tools and mail headers), ≤ 254 chars.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Longest life of a personal access token (Mender: one year).
pub const MAX_TOKEN_SECONDS: i64 = 365 * 24 * 3600;

/// Mender's rules for a new personal access token: a name of 1 to 255 bytes (after trimming)
/// and a lifetime of 1 s to [`MAX_TOKEN_SECONDS`].
pub fn check_personal_token(name: &str, ttl_seconds: i64) -> Result<(), UserError> {
    if name.is_empty() || name.len() > 255 {
        return Err(UserError::InvalidTokenName);
    }
    if !(1..=MAX_TOKEN_SECONDS).contains(&ttl_seconds) {
        return Err(UserError::InvalidTokenLifetime);
    }
    Ok(())
}

/// Mender's minimum password length.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Mender's password policy, checked before a password is hashed (the event holds only the
/// hash): at least [`MIN_PASSWORD_LEN`] characters, and not the e-mail itself.
pub fn check_password(email: &str, password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(UserError::PasswordTooShort);
    }
    if password.eq_ignore_ascii_case(email) {
        return Err(UserError::PasswordLikeEmail);
    }
    Ok(())
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type State = UserState;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn decide(state: &UserState, command: &UserCommand) -> Result<Vec<UserEvent>, UserError> {
        if let UserCommand::Create { email, password_hash } = command {
            if state.exists {
                return Err(UserError::AlreadyExists);
            }
            if !valid_email(email) {
                return Err(UserError::InvalidEmail);
            }
            let email = email.to_lowercase();
            return Ok(vec![UserEvent::UserCreated { email, password_hash: password_hash.clone() }]);
        }
        if !state.exists {
            return Err(UserError::NotFound);
        }
        match command {
            UserCommand::Create { .. } => unreachable!("handled above"),
            UserCommand::ChangePassword { password_hash, keep_session, now } => {
                let changed = UserEvent::UserPasswordChanged { password_hash: password_hash.clone() };
                let ended = state
                    .tokens
                    .iter()
                    .filter(|(jti, t)| !t.revoked && t.exp > *now && *jti != keep_session)
                    .map(|(jti, _)| UserEvent::UserTokenRevoked { jti: jti.clone() });
                Ok(std::iter::once(changed).chain(ended).collect())
            }
            UserCommand::ChangeEmail { email } => {
                let email = email.to_lowercase();
                if !valid_email(&email) {
                    return Err(UserError::InvalidEmail);
                }
                if email == state.email {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::UserEmailChanged { email }])
            }
            UserCommand::Delete => Ok(vec![UserEvent::UserDeleted]),
            UserCommand::IssueToken { jti, name, exp, now } => {
                if !name.is_empty() {
                    let live =
                        state.tokens.values().filter(|t| !t.name.is_empty() && !t.revoked && t.exp > *now);
                    let live: Vec<_> = live.collect();
                    if live.iter().any(|t| t.name == *name) {
                        return Err(UserError::TokenNameExists);
                    }
                    if live.len() >= MAX_PERSONAL_ACCESS_TOKENS {
                        return Err(UserError::TooManyTokens);
                    }
                }
                Ok(vec![UserEvent::UserTokenIssued { jti: jti.clone(), name: name.clone(), exp: *exp }])
            }
            UserCommand::RevokeToken { jti } => match state.tokens.get(jti) {
                None => Err(UserError::TokenNotFound),
                Some(t) if t.revoked => Ok(vec![]),
                Some(_) => Ok(vec![UserEvent::UserTokenRevoked { jti: jti.clone() }]),
            },
        }
    }

    fn evolve(mut state: UserState, event: &UserEvent) -> UserState {
        match event {
            UserEvent::UserCreated { email, password_hash } => {
                state.exists = true;
                state.email.clone_from(email);
                state.password_hash.clone_from(password_hash);
            }
            UserEvent::UserPasswordChanged { password_hash } => state.password_hash.clone_from(password_hash),
            UserEvent::UserEmailChanged { email } => state.email.clone_from(email),
            UserEvent::UserDeleted => state = UserState::default(),
            UserEvent::UserTokenIssued { jti, name, exp } => {
                state
                    .tokens
                    .insert(jti.clone(), TokenState { name: name.clone(), exp: *exp, revoked: false });
            }
            UserEvent::UserTokenRevoked { jti } => {
                if let Some(t) = state.tokens.get_mut(jti) {
                    t.revoked = true;
                }
            }
        }
        state
    }
}

#[cfg(test)]
mod tests;
