//! Direct uploads (Mender's on-prem `artifacts/directupload`): the client gets a link to put
//! the `.mender` file into storage itself (S3: a presigned PUT; local: a signed link to
//! fleetlog), then completes the upload. Completing streams the file from its upload key
//! through the same parser and checks as a normal upload into the artifact's key; the upload
//! object is removed either way. Requests and abandonments are events on the artifact; a
//! sweeper abandons uploads that pass their deadline and removes what they left.

use std::time::Duration;

use fleetlog_commands::CommandMeta;
use fleetlog_events::Actor;
use fleetlog_events::artifact::{Artifact, ArtifactCommand};
use fleetlog_storage::StoreError;

use crate::http::{ApiError, UserAuth};
use crate::services::releases::releases;
use crate::state::AppState;

/// Where a direct upload's file is put before it is checked.
pub fn upload_key(tenant: &str, id: &str) -> String {
    format!("uploads/{tenant}/{id}.mender")
}

/// The upload id in an upload key of the default tenant, if it is one.
pub fn id_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(&format!("uploads/{}/", crate::DEFAULT_TENANT))?.strip_suffix(".mender")
}

/// Reserves an id and returns it with the upload link and its deadline (microseconds).
pub async fn request(state: &AppState, user: &UserAuth) -> Result<(String, String, i64), ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let key = upload_key(crate::DEFAULT_TENANT, &id);
    let lifetime = state.direct_upload_expiry;
    let expires_at = fleetlog_commands::now().0 + lifetime.as_micros() as i64;
    let command = ArtifactCommand::RequestUpload { storage_key: key.clone(), expires_at };
    let out = state.commands.execute::<Artifact>(&user.meta(), &id, &command).await?;
    state.seen(out.position).await?;
    let uri = state.storage.upload_link(&key, lifetime).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    Ok((id, uri, expires_at))
}

/// The pending upload `id` that has not passed its deadline: its upload key.
pub fn pending(state: &AppState, id: &str) -> Result<String, ApiError> {
    let not_found = || ApiError::NotFound("not found".into());
    if id.is_empty() || id.len() > 64 {
        return Err(not_found());
    }
    let (key, expires_at) =
        releases(state, |q| q.pending_upload(crate::DEFAULT_TENANT, id))?.ok_or_else(not_found)?;
    if expires_at < fleetlog_commands::now().0 {
        return Err(not_found());
    }
    Ok(key)
}

/// Completes upload `id`: parses and stores the file as an artifact, or refuses it (and then
/// the upload is abandoned and its file removed).
pub async fn complete(state: &AppState, user: &UserAuth, id: &str) -> Result<(), ApiError> {
    let key = pending(state, id)?;
    let object = match state.storage.get(&key, None).await {
        Ok(object) => object,
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::BadRequest("the artifact file has not been uploaded".into()));
        }
        Err(e) => return Err(ApiError::Unavailable(e.into())),
    };
    let stored =
        crate::services::artifacts::upload_as(state, user, id, String::new(), Some(object.size), object.body)
            .await;
    match stored {
        Ok(()) => {
            remove(state, &key).await;
            Ok(())
        }
        Err(e) if e.status().is_client_error() => {
            abandon(state, &user.meta(), id, &key, &e.to_string()).await?;
            Err(e)
        }
        // The log or storage failed: the upload stays pending (completing may be retried).
        Err(e) => Err(e),
    }
}

async fn remove(state: &AppState, key: &str) {
    if let Err(e) = state.storage.delete(key).await {
        tracing::warn!(%key, error = %e, "could not remove a direct upload's file");
    }
}

/// Abandons a pending upload, then removes its file (only if this call abandoned it, so that
/// a completion racing with the sweeper keeps what it stored).
async fn abandon(
    state: &AppState,
    meta: &CommandMeta,
    id: &str,
    key: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let command = ArtifactCommand::AbandonUpload { reason: reason.to_owned() };
    let out = state.commands.execute::<Artifact>(meta, id, &command).await?;
    if out.appended > 0 {
        remove(state, key).await;
    }
    state.seen(out.position).await
}

/// Abandons every pending upload past its deadline; returns how many it looked at.
pub async fn sweep(state: &AppState) -> Result<usize, ApiError> {
    let now = fleetlog_commands::now().0;
    let expired: Vec<(String, String, i64)> = releases(state, |q| q.pending_uploads(crate::DEFAULT_TENANT))?
        .into_iter()
        .filter(|(_, _, expires_at)| *expires_at < now)
        .collect();
    let meta = CommandMeta::new(crate::DEFAULT_TENANT, Actor::system("direct-upload-sweeper"), "");
    for (id, key, _) in &expired {
        abandon(state, &meta, id, key, "expired").await?;
    }
    Ok(expired.len())
}

/// Runs [`sweep`] every quarter of the upload lifetime (between 1 s and 1 min) until shutdown.
pub async fn sweeper(state: AppState) {
    let period = (state.direct_upload_expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        if let Err(e) = sweep(&state).await {
            tracing::warn!(error = %e, "sweeping expired direct uploads");
        }
    }
}
