//! Users: creation (HTTP and `fleetlog admin create-user`), password hashing and checking.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use fleetlog_events::user::{User, UserCommand, check_password};
use fleetlog_projections::users::UserView;

use super::{App, AppError, Caller};
use crate::auth::jwt::Claims;
use crate::{ClaimOp, CommandService, Outcome};

/// Hashes a password with Argon2id (salted; deliberately slow), after Mender's policy
/// (`fleetlog_events::user::check_password`).
pub fn hash_password(email: &str, password: &str) -> Result<String, AppError> {
    check_password(email, password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// True when `password` matches the stored Argon2 hash.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Creates user `id` (a new id), claiming the e-mail so that it stays unique under concurrent
/// requests, and waits until the read models show it.
pub async fn create(
    app: &App,
    caller: &Caller,
    id: &str,
    email: &str,
    password: &str,
) -> Result<(), AppError> {
    let out = create_user(&app.commands, caller, id, email, password).await?;
    app.seen(out.position).await
}

/// [`create`] for a process that has the command side but no read models of its own
/// (`fleetlog admin create-user`, which then waits for a server's); its outcome.
pub async fn create_user(
    commands: &CommandService,
    caller: &Caller,
    id: &str,
    email: &str,
    password: &str,
) -> Result<Outcome, AppError> {
    let email = email.trim().to_lowercase();
    let password_hash = hash_password(&email, password)?;
    let command = UserCommand::Create { email: email.clone(), password_hash };
    let claim = super::claim_id("email", &email);
    let take = [ClaimOp::Take(claim.as_str())];
    match commands.execute_with_claims::<User>(&caller.meta(), id, &command, &take).await {
        Ok(out) => Ok(out),
        Err(crate::CommandError::Taken { .. }) => Err(taken()),
        Err(e) => Err(e.into()),
    }
}

fn taken() -> AppError {
    AppError::Refused("user with the same email already exists".into())
}

pub use fleetlog_events::user::MAX_TOKEN_SECONDS;

/// Issues a personal access token named `name` (trimmed) for the calling user, valid `ttl`
/// seconds (a year when not given); the signed token.
pub async fn issue_personal_token(
    app: &App,
    caller: &Caller,
    name: &str,
    ttl: Option<i64>,
) -> Result<String, AppError> {
    let (name, ttl) = (name.trim(), ttl.unwrap_or(MAX_TOKEN_SECONDS));
    fleetlog_events::user::check_personal_token(name, ttl)?;
    issue_token(app, caller, &caller.actor.id, name, ttl).await
}

/// Records a new token for `user` and returns it signed: a login session (`name` empty) or a
/// personal access token. Every token is an event, so revocation reaches every replica.
pub async fn issue_token(
    app: &App,
    caller: &Caller,
    user: &str,
    name: &str,
    ttl: i64,
) -> Result<String, AppError> {
    let now = crate::now().unix_seconds();
    let jti = uuid::Uuid::new_v4().to_string();
    let command = UserCommand::IssueToken { jti: jti.clone(), name: name.to_owned(), exp: now + ttl, now };
    app.execute::<User>(caller, user, &command).await?;
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
    Ok(app.jwt.sign(&claims))
}

/// Revokes one of `user`'s tokens (logout, PAT deletion).
pub async fn revoke_token(app: &App, caller: &Caller, user: &str, jti: &str) -> Result<(), AppError> {
    app.execute::<User>(caller, user, &UserCommand::RevokeToken { jti: jti.to_owned() }).await?;
    Ok(())
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

/// Updates `target` on behalf of `caller`.
pub async fn update_user(
    app: &App,
    caller: &Caller,
    target: &UserView,
    update: UserUpdate,
) -> Result<(), AppError> {
    if target.id == caller.actor.id && (update.email.is_some() || update.password.is_some()) {
        let current = update.current_password.clone().unwrap_or_default();
        let hash = target.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &current)).await.unwrap_or(false);
        if !ok {
            return Err(AppError::Refused("the current password is missing or wrong".into()));
        }
    }
    if let Some(email) = &update.email {
        let email = email.trim().to_lowercase();
        let (old, new) = (super::claim_id("email", &target.email), super::claim_id("email", &email));
        let claims = [ClaimOp::Release(&old), ClaimOp::Take(&new)];
        let command = UserCommand::ChangeEmail { email: email.clone() };
        match app.execute_with_claims::<User>(caller, &target.id, &command, &claims).await {
            Err(AppError::Taken { .. }) => return Err(taken()),
            other => other?,
        };
    }
    if let Some(password) = &update.password {
        let email = update.email.as_deref().unwrap_or(&target.email).to_owned();
        let password_hash = hash_password(&email, password)?;
        let now = crate::now().unix_seconds();
        let command =
            UserCommand::ChangePassword { password_hash, keep_session: update.session.clone(), now };
        app.execute::<User>(caller, &target.id, &command).await?;
    }
    Ok(())
}

/// Deletes a user and frees the e-mail.
pub async fn delete_user(app: &App, caller: &Caller, target: &UserView) -> Result<(), AppError> {
    let claim = super::claim_id("email", &target.email);
    let release = [ClaimOp::Release(&claim)];
    app.execute_with_claims::<User>(caller, &target.id, &UserCommand::Delete, &release).await?;
    Ok(())
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
    fn weak_passwords_are_refused_before_hashing() {
        assert!(matches!(hash_password("a@b.co", "short"), Err(AppError::Refused(_))));
    }
}
