//! The user aggregate (Mender's useradm): management-API users with an e-mail and a password.
//!
//! Passwords arrive already hashed: hashing is slow and salted, so the handler does it before
//! `decide`. The hash is stored in the log but never rendered in JSON (tail, audit).

use serde::{Deserialize, Serialize};

use crate::{Aggregate, DomainEvent};

/// The user aggregate.
pub struct User;

/// The folded state of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserState {
    /// True once created and until deleted.
    pub exists: bool,
    /// Lower-cased e-mail.
    pub email: String,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// What may be asked of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// Create the user.
    Create {
        /// E-mail (any case; stored lower-case).
        email: String,
        /// Argon2 PHC string of the password.
        password_hash: String,
    },
    /// Replace the password.
    ChangePassword {
        /// Argon2 PHC string of the new password.
        password_hash: String,
    },
}

/// The facts recorded about a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum UserEvent {
    /// A user was created.
    UserCreated {
        /// Lower-cased e-mail.
        email: String,
        /// Argon2 PHC string; never shown in JSON.
        #[serde(skip_serializing, default)]
        password_hash: String,
    },
    /// The password was changed.
    UserPasswordChanged {
        /// Argon2 PHC string; never shown in JSON.
        #[serde(skip_serializing, default)]
        password_hash: String,
    },
}

impl UserEvent {
    /// The event's type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            UserEvent::UserCreated { .. } => "UserCreated",
            UserEvent::UserPasswordChanged { .. } => "UserPasswordChanged",
        }
    }
}

impl From<UserEvent> for DomainEvent {
    fn from(e: UserEvent) -> Self {
        DomainEvent::User(e)
    }
}

impl TryFrom<DomainEvent> for UserEvent {
    type Error = DomainEvent;
    fn try_from(e: DomainEvent) -> Result<Self, DomainEvent> {
        match e {
            DomainEvent::User(u) => Ok(u),
            other => Err(other),
        }
    }
}

/// Why a user command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The user exists already.
    #[error("user with the same email already exists")]
    AlreadyExists,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The e-mail is not an address.
    #[error("invalid email address")]
    InvalidEmail,
}

/// Mender's rule of thumb for an address: something@something.tld, no spaces, ≤ 254 chars.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type State = UserState;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn decide(state: &UserState, command: &UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::Create { email, password_hash } => {
                if state.exists {
                    return Err(UserError::AlreadyExists);
                }
                if !valid_email(email) {
                    return Err(UserError::InvalidEmail);
                }
                Ok(vec![UserEvent::UserCreated {
                    email: email.to_lowercase(),
                    password_hash: password_hash.clone(),
                }])
            }
            UserCommand::ChangePassword { password_hash } => {
                if !state.exists {
                    return Err(UserError::NotFound);
                }
                Ok(vec![UserEvent::UserPasswordChanged { password_hash: password_hash.clone() }])
            }
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
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn create(email: &str) -> UserCommand {
        UserCommand::Create { email: email.into(), password_hash: "$argon2id$x".into() }
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
    fn creating_twice_is_refused() {
        Given::<User>::events([UserEvent::UserCreated { email: "a@b.co".into(), password_hash: "h".into() }])
            .when(create("a@b.co"))
            .then_err(UserError::AlreadyExists);
    }

    #[test]
    fn the_password_hash_never_renders_as_json() {
        let json = serde_json::to_string(&UserEvent::UserCreated {
            email: "a@b.co".into(),
            password_hash: "SECRET".into(),
        });
        assert!(!json.unwrap().contains("SECRET"));
    }
}
