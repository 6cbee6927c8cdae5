//! The users read model (useradm): one record per user and an index by e-mail for login.

#[cfg(test)]
mod tests;

use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// One user as stored. `password_hash` never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Lower-cased e-mail.
    pub email: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Creation time, microseconds since the epoch.
    pub created_ts: i64,
    /// Time of the last change, microseconds since the epoch.
    pub updated_ts: i64,
}

/// A personal access token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// Token id (`jti`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Expiry, Unix seconds.
    pub expiration: i64,
    /// Creation time, microseconds since the epoch.
    pub created_ts: i64,
}

/// Settings of one scope (`global` or `user-<id>`), with the version that is their ETag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    /// The JSON object, as text.
    pub json: String,
    /// How many saves: the ETag.
    pub version: u64,
}

/// The projection that maintains [`UserView`]s and settings.
pub struct UsersProjection;

fn record_key(tenant: &str, id: &str) -> Vec<u8> {
    format!("u/{tenant}/{id}").into_bytes()
}

fn settings_key(tenant: &str, scope: &str) -> Vec<u8> {
    format!("t/{tenant}/{scope}").into_bytes()
}

fn pat_key(tenant: &str, user: &str, jti: &str) -> Vec<u8> {
    format!("p/{tenant}/{user}/{jti}").into_bytes()
}

/// Present once a token was revoked (logout, PAT deleted): checked on every management request.
fn revoked_key(tenant: &str, jti: &str) -> Vec<u8> {
    format!("r/{tenant}/{jti}").into_bytes()
}

fn email_key(tenant: &str, email: &str) -> Vec<u8> {
    format!("e/{tenant}/{email}").into_bytes()
}

impl Projection for UsersProjection {
    fn name(&self) -> &'static str {
        crate::Model::Users.name()
    }

    fn version(&self) -> u32 {
        // 2: tokens, revocations and settings.
        2
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        if let DomainEvent::Settings(SettingsEvent::SettingsSaved { json }) = &e.envelope.event {
            let agg = &e.envelope.aggregate;
            let key = settings_key(&agg.tenant, &agg.id);
            let version =
                w.get(&key)?.map(|v| from_bytes::<SettingsView>(&v)).transpose()?.map_or(0, |s| s.version);
            w.insert(key, to_bytes(&SettingsView { json: json.clone(), version: version + 1 })?);
            return Ok(());
        }
        let DomainEvent::User(event) = &e.envelope.event else { return Ok(()) };
        let agg = &e.envelope.aggregate;
        let (tenant, id, ts) = (agg.tenant.as_str(), agg.id.as_str(), e.envelope.occurred_at.0);
        let key = record_key(tenant, id);
        let old: Option<UserView> = w.get(&key)?.map(|v| from_bytes(&v)).transpose()?;
        let mut user = match (old, event) {
            (_, UserEvent::UserCreated { email, password_hash }) => UserView {
                id: id.to_owned(),
                email: email.clone(),
                password_hash: password_hash.clone(),
                created_ts: ts,
                updated_ts: ts,
            },
            (Some(u), _) => u,
            (None, _) => return Ok(()),
        };
        match event {
            UserEvent::UserCreated { .. } => {}
            UserEvent::UserPasswordChanged { password_hash } => user.password_hash.clone_from(password_hash),
            UserEvent::UserEmailChanged { email } => {
                w.remove(email_key(tenant, &user.email))?;
                user.email.clone_from(email);
            }
            UserEvent::UserDeleted => {
                w.remove(email_key(tenant, &user.email))?;
                w.remove(key)?;
                return Ok(());
            }
            UserEvent::UserTokenIssued { jti, name, exp } => {
                if !name.is_empty() {
                    let pat =
                        TokenView { id: jti.clone(), name: name.clone(), expiration: *exp, created_ts: ts };
                    w.insert(pat_key(tenant, id, jti), to_bytes(&pat)?);
                }
                return Ok(());
            }
            UserEvent::UserTokenRevoked { jti } => {
                w.insert(revoked_key(tenant, jti), Vec::new());
                w.remove(pat_key(tenant, id, jti))?;
                return Ok(());
            }
        }
        user.updated_ts = ts;
        w.insert(email_key(tenant, &user.email), id.as_bytes());
        w.insert(key, to_bytes(&user)?);
        Ok(())
    }
}

/// Queries over the users read model.
pub struct UsersQueries<'a>(pub &'a ReadModel);

impl UsersQueries<'_> {
    /// One user by id.
    pub fn get(&self, tenant: &str, id: &str) -> Result<Option<UserView>, ProjectionError> {
        self.0.tree().get(record_key(tenant, id))?.map(|v| from_bytes(&v)).transpose()
    }

    /// One user by (lower-cased) e-mail.
    pub fn by_email(&self, tenant: &str, email: &str) -> Result<Option<UserView>, ProjectionError> {
        let Some(id) = self.0.tree().get(email_key(tenant, email))? else { return Ok(None) };
        self.get(tenant, &String::from_utf8_lossy(&id))
    }

    /// The settings of a scope (empty, version 0, before the first save).
    pub fn settings(&self, tenant: &str, scope: &str) -> Result<SettingsView, ProjectionError> {
        Ok(self
            .0
            .tree()
            .get(settings_key(tenant, scope))?
            .map(|v| from_bytes(&v))
            .transpose()?
            .unwrap_or_default())
    }

    /// True once token `jti` was revoked.
    pub fn is_revoked(&self, tenant: &str, jti: &str) -> Result<bool, ProjectionError> {
        Ok(self.0.tree().contains_key(revoked_key(tenant, jti))?)
    }

    /// The personal access tokens of a user (live and expired, not revoked).
    pub fn tokens(&self, tenant: &str, user: &str) -> Result<Vec<TokenView>, ProjectionError> {
        self.0.tree().scan_prefix(format!("p/{tenant}/{user}/")).values().map(|v| from_bytes(&v?)).collect()
    }

    /// Every user of a tenant, in id order.
    pub fn list(&self, tenant: &str) -> Result<Vec<UserView>, ProjectionError> {
        self.0.tree().scan_prefix(format!("u/{tenant}/")).values().map(|v| from_bytes(&v?)).collect()
    }
}
