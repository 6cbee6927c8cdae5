//! The user aggregate's vocabulary: state, commands, events and errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A token issued to a user: a login session, or a personal access token (PAT) with a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenState {
    /// PAT name; empty for a login session.
    pub name: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// True once revoked (logout or PAT deletion).
    pub revoked: bool,
}

/// The folded state of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserState {
    /// True once created and until deleted.
    pub exists: bool,
    /// Lower-cased e-mail.
    pub email: String,
    /// Argon2 PHC string; never shown in JSON.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// Tokens by id (`jti`).
    pub tokens: BTreeMap<String, TokenState>,
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
    /// Replace the password, and end every live token of the user but the session that asks
    /// (login sessions and personal access tokens alike: a changed password often answers a
    /// leaked one).
    ChangePassword {
        /// Argon2 PHC string of the new password.
        password_hash: String,
        /// The token (`jti`) of the session making the change, which stays valid; empty for none.
        keep_session: String,
        /// Now, Unix seconds (expired tokens need no revocation).
        now: i64,
    },
    /// Replace the e-mail (the handler moves the uniqueness claim in the same batch).
    ChangeEmail {
        /// The new e-mail.
        email: String,
    },
    /// Delete the user (and with it every token).
    Delete,
    /// Record a token the handler is about to hand out.
    IssueToken {
        /// Token id.
        jti: String,
        /// PAT name, or empty for a login session.
        name: String,
        /// Expiry, Unix seconds.
        exp: i64,
        /// Now, Unix seconds (PAT limits count only live tokens).
        now: i64,
    },
    /// Revoke a token (logout, PAT deletion).
    RevokeToken {
        /// Token id.
        jti: String,
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
    /// The e-mail was changed.
    UserEmailChanged {
        /// The new, lower-cased e-mail.
        email: String,
    },
    /// The user was deleted.
    UserDeleted,
    /// A token was issued (login or personal access token).
    UserTokenIssued {
        /// Token id.
        jti: String,
        /// PAT name; empty for a login session.
        name: String,
        /// Expiry, Unix seconds.
        exp: i64,
    },
    /// A token was revoked (logout or PAT deletion).
    UserTokenRevoked {
        /// Token id.
        jti: String,
    },
}

crate::event_names!(UserEvent {
    UserCreated,
    UserPasswordChanged,
    UserEmailChanged,
    UserDeleted,
    UserTokenIssued,
    UserTokenRevoked,
});

crate::domain_event!(UserEvent => User);

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
    /// No such token.
    #[error("token not found")]
    TokenNotFound,
    /// A live personal access token has that name already.
    #[error("Personal Access Token with a given name already exists")]
    TokenNameExists,
    /// The user has the most live personal access tokens allowed.
    #[error("maximum number of personal access tokens reached")]
    TooManyTokens,
    /// The password is shorter than Mender allows.
    #[error("password too short")]
    PasswordTooShort,
    /// The password is the e-mail address.
    #[error("password too similar to the email")]
    PasswordLikeEmail,
    /// A personal access token's name is empty or longer than 255 bytes.
    #[error("name: must be 1 to 255 characters")]
    InvalidTokenName,
    /// A personal access token's lifetime is out of range.
    #[error("expires_in: must be between 1 and 31536000 seconds")]
    InvalidTokenLifetime,
}
