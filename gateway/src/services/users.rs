//! Users: creation (HTTP and `fleetlog admin create-user`), password hashing and checking.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use fleetlog_commands::{CommandMeta, CommandService, Outcome};
use fleetlog_events::user::{User, UserCommand};

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

/// Creates a user with a new id, claiming the e-mail so that it stays unique under concurrent
/// requests. Returns the id and the outcome (its position, for read-your-writes).
pub async fn create_user(
    commands: &CommandService,
    meta: &CommandMeta,
    email: &str,
    password: &str,
) -> Result<(String, Outcome), ApiError> {
    let email = email.trim().to_lowercase();
    let password_hash = hash_password(&email, password)?;
    let id = uuid::Uuid::new_v4().to_string();
    let command = UserCommand::Create { email: email.clone(), password_hash };
    let claim = super::claim_id("email", &email);
    let outcome =
        commands.execute_claiming::<User>(meta, &id, &command, &claim).await.map_err(|e| match e {
            fleetlog_commands::CommandError::Taken { .. } => {
                ApiError::Unprocessable("user with the same email already exists".into())
            }
            other => other.into(),
        })?;
    Ok((id, outcome))
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
