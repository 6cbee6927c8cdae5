//! Direct uploads (Mender's on-prem `artifacts/directupload`): the client gets a link to put
//! the `.mender` file into storage itself (S3: a presigned PUT; local: a signed link to
//! fleetlog), then completes the upload. Completing streams the file from its upload key
//! through the same parser and checks as a normal upload into the artifact's key; the upload
//! object is removed either way. Requests and abandonments are events on the artifact; a
//! sweeper abandons uploads that pass their deadline and removes what they left.

use std::time::Duration;

use fleetlog_events::artifact::{Artifact, ArtifactCommand};
use fleetlog_storage::StoreError;

use super::releases::releases;
use super::{App, AppError, Caller, DEFAULT_TENANT};

/// Where a direct upload's file is put before it is checked.
pub fn upload_key(tenant: &str, id: &str) -> String {
    format!("uploads/{tenant}/{id}.mender")
}

/// The upload id in an upload key of the default tenant, if it is one.
pub fn id_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(&format!("uploads/{}/", DEFAULT_TENANT))?.strip_suffix(".mender")
}

/// Reserves an id and returns it with the upload link and its deadline (microseconds).
pub async fn request(app: &App, caller: &Caller) -> Result<(String, String, i64), AppError> {
    let id = uuid::Uuid::new_v4().to_string();
    let key = upload_key(DEFAULT_TENANT, &id);
    let lifetime = app.direct_upload_expiry;
    let expires_at = crate::now().0 + lifetime.as_micros() as i64;
    let command = ArtifactCommand::RequestUpload { storage_key: key.clone(), expires_at };
    app.execute::<Artifact>(caller, &id, &command).await?;
    let uri = app.storage.upload_link(&key, lifetime).await.map_err(|e| AppError::Unavailable(e.into()))?;
    Ok((id, uri, expires_at))
}

/// The pending upload `id` that has not passed its deadline: its upload key.
pub fn pending(app: &App, id: &str) -> Result<String, AppError> {
    let not_found = || AppError::NotFound("not found".into());
    if id.is_empty() || id.len() > 64 {
        return Err(not_found());
    }
    let (key, expires_at) = releases(app, |q| q.pending_upload(DEFAULT_TENANT, id))?.ok_or_else(not_found)?;
    if expires_at < crate::now().0 {
        return Err(not_found());
    }
    Ok(key)
}

/// Completes upload `id`: parses and stores the file as an artifact, or refuses it (and then
/// the upload is abandoned and its file removed).
pub async fn complete(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    let key = pending(app, id)?;
    let object = match app.storage.get(&key, None).await {
        Ok(object) => object,
        Err(StoreError::NotFound(_)) => {
            return Err(AppError::Invalid("the artifact file has not been uploaded".into()));
        }
        Err(e) => return Err(AppError::Unavailable(e.into())),
    };
    let stored =
        super::artifacts::upload_as(app, caller, id, String::new(), Some(object.size), object.body).await;
    match stored {
        Ok(()) => {
            remove(app, &key).await;
            Ok(())
        }
        Err(e) if e.is_client_error() => {
            abandon(app, caller, id, &key, &e.to_string()).await?;
            Err(e)
        }
        // The log or storage failed: the upload stays pending (completing may be retried).
        Err(e) => Err(e),
    }
}

async fn remove(app: &App, key: &str) {
    if let Err(e) = app.storage.delete(key).await {
        tracing::warn!(%key, error = %e, "could not remove a direct upload's file");
    }
}

/// Abandons a pending upload, then removes its file (only if this call abandoned it, so that
/// a completion racing with the sweeper keeps what it stored).
async fn abandon(app: &App, caller: &Caller, id: &str, key: &str, reason: &str) -> Result<(), AppError> {
    let command = ArtifactCommand::AbandonUpload { reason: reason.to_owned() };
    if app.execute::<Artifact>(caller, id, &command).await?.appended > 0 {
        remove(app, key).await;
    }
    Ok(())
}

/// Abandons every pending upload past its deadline; returns how many it looked at.
pub async fn sweep(app: &App) -> Result<usize, AppError> {
    let now = crate::now().0;
    let expired: Vec<(String, String, i64)> = releases(app, |q| q.pending_uploads(DEFAULT_TENANT))?
        .into_iter()
        .filter(|(_, _, expires_at)| *expires_at < now)
        .collect();
    let caller = Caller::system(DEFAULT_TENANT, "direct-upload-sweeper");
    for (id, key, _) in &expired {
        abandon(app, &caller, id, key, "expired").await?;
    }
    Ok(expired.len())
}

/// Runs [`sweep`] every quarter of the upload lifetime (between 1 s and 1 min) until
/// `shutdown` completes.
pub async fn sweeper(app: &App, shutdown: impl std::future::Future<Output = ()>) {
    let period = (app.direct_upload_expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    super::every(period, shutdown, "sweeping expired direct uploads", || sweep(app)).await
}
