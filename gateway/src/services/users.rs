//! Users: creation (HTTP and `fleetlog admin create-user`), password hashing and checking.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use fleetlog_commands::{ClaimOp, CommandError, CommandMeta, CommandService, Outcome};
use fleetlog_events::user::{User, UserCommand};
use fleetlog_projections::users::UserView;

use crate::auth::jwt::Claims;
use crate::state::AppState;

use crate::http::ApiError;

/// Mender's minimum password length.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with Argon2id (salted; deliberately slow), after Mender's checks.
pub fn hash_password(email: &str, password: &str) -> Result<String, ApiError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::Unprocessable("password too short".into()));
    }
    if password.eq_ignore_ascii_case(email) {
        return Err(ApiError::Unprocessable("password too similar to the email".into()));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// True when `password` matches the stored Argon2 hash.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Creates user `id` (a new id), claiming the e-mail so that it stays unique under concurrent
/// requests. Returns the outcome (its position, for read-your-writes).
pub async fn create_user(
    commands: &CommandService,
    meta: &CommandMeta,
    id: &str,
    email: &str,
    password: &str,
) -> Result<Outcome, ApiError> {
    let email = email.trim().to_lowercase();
    let password_hash = hash_password(&email, password)?;
    let command = UserCommand::Create { email: email.clone(), password_hash };
    let claim = super::claim_id("email", &email);
    let outcome =
        commands.execute_claiming::<User>(meta, id, &command, &claim).await.map_err(|e| match e {
            fleetlog_commands::CommandError::Taken { .. } => {
                ApiError::Unprocessable("user with the same email already exists".into())
            }
            other => other.into(),
        })?;
    Ok(outcome)
}

/// Longest life of a personal access token (Mender: one year).
pub const MAX_TOKEN_SECONDS: i64 = 365 * 24 * 3600;

/// Records a new token for `user` and returns it signed: a login session (`name` empty) or a
/// personal access token. Every token is an event, so revocation reaches every replica.
pub async fn issue_token(
    state: &AppState,
    meta: &CommandMeta,
    user: &str,
    name: &str,
    ttl: i64,
) -> Result<String, ApiError> {
    let now = fleetlog_commands::now().unix_seconds();
    let jti = uuid::Uuid::new_v4().to_string();
    let command = UserCommand::IssueToken { jti: jti.clone(), name: name.to_owned(), exp: now + ttl, now };
    state.commands.execute::<User>(meta, user, &command).await?;
    let claims = Claims {
        jti,
        sub: user.to_owned(),
        iat: now,
        exp: now + ttl,
        iss: "fleetlog".into(),
        device: false,
        user: true,
        tenant: String::new(),
        epoch: None,
    };
    Ok(state.jwt.sign(&claims))
}

/// Revokes one of `user`'s tokens (logout, PAT deletion).
pub async fn revoke_token(
    state: &AppState,
    meta: &CommandMeta,
    user: &str,
    jti: &str,
) -> Result<Outcome, ApiError> {
    Ok(state.commands.execute::<User>(meta, user, &UserCommand::RevokeToken { jti: jti.to_owned() }).await?)
}

/// What a user update asks for.
pub struct UserUpdate {
    /// New e-mail.
    pub email: Option<String>,
    /// New password.
    pub password: Option<String>,
    /// The caller's current password (required to change their own e-mail or password).
    pub current_password: Option<String>,
    /// The token of the session asking: a password change ends every other token of the user.
    pub session: String,
}

/// Updates `target` on behalf of `caller`; returns the last position written.
pub async fn update_user(
    state: &AppState,
    meta: &CommandMeta,
    caller: &str,
    target: &UserView,
    update: UserUpdate,
) -> Result<u64, ApiError> {
    if target.id == caller && (update.email.is_some() || update.password.is_some()) {
        let current = update.current_password.clone().unwrap_or_default();
        let hash = target.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &current)).await.unwrap_or(false);
        if !ok {
            return Err(ApiError::Unprocessable("the current password is missing or wrong".into()));
        }
    }
    let mut position = 0;
    if let Some(email) = &update.email {
        let email = email.trim().to_lowercase();
        let (old, new) = (super::claim_id("email", &target.email), super::claim_id("email", &email));
        let claims = [ClaimOp::Release(&old), ClaimOp::Take(&new)];
        let command = UserCommand::ChangeEmail { email: email.clone() };
        let out =
            state.commands.execute_with_claims::<User>(meta, &target.id, &command, &claims).await.map_err(
                |e| match e {
                    CommandError::Taken { .. } => {
                        ApiError::Unprocessable("user with the same email already exists".into())
                    }
                    other => other.into(),
                },
            )?;
        position = out.position;
    }
    if let Some(password) = &update.password {
        let email = update.email.as_deref().unwrap_or(&target.email).to_owned();
        let password_hash = hash_password(&email, password)?;
        let now = fleetlog_commands::now().unix_seconds();
        let command =
            UserCommand::ChangePassword { password_hash, keep_session: update.session.clone(), now };
        position = state.commands.execute::<User>(meta, &target.id, &command).await?.position;
    }
    Ok(position)
}

/// Deletes a user and frees the e-mail.
pub async fn delete_user(
    state: &AppState,
    meta: &CommandMeta,
    target: &UserView,
) -> Result<Outcome, ApiError> {
    let claim = super::claim_id("email", &target.email);
    Ok(state.commands.execute_releasing::<User>(meta, &target.id, &UserCommand::Delete, &claim).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("a@b.co", "correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong horse!"));
        assert!(!verify_password("not a hash", "correct horse"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(matches!(hash_password("a@b.co", "short"), Err(ApiError::Unprocessable(_))));
        assert!(matches!(hash_password("abcdefgh@b.co", "ABCDEFGH@B.CO"), Err(ApiError::Unprocessable(_))));
    }
}
