//! Artifact uploads: the `.mender` file streams to storage while it is parsed and its
//! checksums verified, then one event records it. A file that fails to parse, runs past the
//! size limit, or clashes with an existing name + depends leaves nothing stored.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use fleetlog_artifact::{ArtifactError, ArtifactMeta, ArtifactParser, Limits};
use fleetlog_events::artifact::{Artifact, ArtifactCommand, ArtifactInfo};
use futures::{Stream, StreamExt};

use super::{App, AppError, Caller};
use crate::ClaimOp;

/// Why the upload stream was cut.
#[derive(Debug)]
enum Cut {
    Parse(ArtifactError),
    TooLarge,
}

/// The storage key of an artifact.
pub fn storage_key(tenant: &str, id: &str) -> String {
    format!("artifacts/{tenant}/{id}.mender")
}

/// Streams `body` into storage under a new id while parsing it; on success records the
/// artifact and returns its id.
pub async fn upload<S, E>(
    app: &App,
    caller: &Caller,
    description: String,
    declared_size: Option<u64>,
    body: S,
) -> Result<String, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let id = uuid::Uuid::new_v4().to_string();
    upload_as(app, caller, &id, description, declared_size, body).await?;
    Ok(id)
}

/// [`upload`] under a given id (a completed direct upload keeps the id it was given).
pub async fn upload_as<S, E>(
    app: &App,
    caller: &Caller,
    id: &str,
    description: String,
    declared_size: Option<u64>,
    body: S,
) -> Result<(), AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    // The rule is the aggregate's; checked here too so that a 10 GiB upload is not streamed
    // only to be refused for its description.
    if description.chars().count() > fleetlog_events::artifact::MAX_DESCRIPTION {
        return Err(fleetlog_events::artifact::ArtifactError::DescriptionTooLong.into());
    }
    let max = app.max_artifact_bytes;
    if declared_size.is_some_and(|s| s > max) {
        return Err(AppError::TooLarge);
    }
    let key = storage_key(&caller.tenant, id);
    let parser = Arc::new(Mutex::new(Some(ArtifactParser::new(Limits::default()))));
    let cut: Arc<Mutex<Option<Cut>>> = Arc::default();
    let mut seen = 0u64;
    let inspected = {
        let (parser, cut) = (parser.clone(), cut.clone());
        body.map(move |chunk| {
            let chunk = chunk.map_err(io::Error::other)?;
            seen += chunk.len() as u64;
            let fail = |c: Cut| {
                *cut.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
                io::Error::new(io::ErrorKind::InvalidData, "artifact rejected")
            };
            if seen > max {
                return Err(fail(Cut::TooLarge));
            }
            let mut guard = parser.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = guard.as_mut()
                && let Err(e) = p.feed(&chunk)
            {
                return Err(fail(Cut::Parse(e)));
            }
            Ok(chunk)
        })
    };
    let stored = app.storage.put_stream(&key, inspected, declared_size).await;
    let cut = cut.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (stored, cut) {
        (_, Some(Cut::TooLarge)) => return Err(AppError::TooLarge),
        (_, Some(Cut::Parse(e))) => return Err(AppError::Invalid(e.to_string())),
        (Err(fleetlog_storage::StoreError::LengthMismatch { expected, actual }), None) => {
            return Err(AppError::Invalid(format!("artifact has {actual} bytes, size said {expected}")));
        }
        (Err(e), None) if e.is_client_error() => return Err(AppError::Invalid(e.to_string())),
        (Err(e), None) => return Err(AppError::Unavailable(e.into())),
        (Ok(_), None) => {}
    }
    let finished = parser.lock().unwrap_or_else(|p| p.into_inner()).take().map(ArtifactParser::finish);
    let meta = match finished {
        Some(Ok(meta)) => meta,
        Some(Err(e)) => return Err(discard(app, &key, AppError::Invalid(e.to_string())).await),
        None => return Err(discard(app, &key, AppError::Invalid("empty artifact".into())).await),
    };
    match record(app, caller, id, &key, description, meta).await {
        Ok(()) => Ok(()),
        Err(e) => Err(discard(app, &key, e).await),
    }
}

/// Removes a stored file whose upload was refused, then returns the refusal.
async fn discard(app: &App, key: &str, error: AppError) -> AppError {
    if let Err(e) = app.storage.delete(key).await {
        tracing::warn!(%key, error = %e, "could not remove a refused upload");
    }
    error
}

/// The uniqueness of an artifact: its name and everything it depends on (device types too).
fn identity(meta: &ArtifactMeta) -> String {
    let mut depends = meta.artifact_depends.clone();
    depends.insert("device_type".into(), serde_json::json!(meta.device_types_compatible));
    format!("{}\n{}", meta.name, serde_json::Value::Object(depends.into_iter().collect()))
}

/// Records a parsed and stored artifact, claiming its name + depends.
pub async fn record(
    app: &App,
    caller: &Caller,
    id: &str,
    key: &str,
    description: String,
    meta: ArtifactMeta,
) -> Result<(), AppError> {
    let info = ArtifactInfo {
        name: meta.name.clone(),
        description,
        device_types: meta.device_types_compatible.clone(),
        meta_json: serde_json::to_string(&meta).map_err(|e| AppError::Internal(e.into()))?,
        size: meta.size,
        storage_key: key.to_owned(),
    };
    let claim = super::claim_id("artifact", &identity(&meta));
    let command = ArtifactCommand::Upload(info);
    match app.execute_with_claims::<Artifact>(caller, id, &command, &[ClaimOp::Take(&claim)]).await {
        Ok(_) => Ok(()),
        Err(AppError::Taken { .. }) => {
            Err(AppError::Conflict("an artifact with the same name and depends already exists".into()))
        }
        Err(e) => Err(e),
    }
}

/// Deletes an artifact (refused while an unfinished deployment uses its name), then its file.
pub async fn delete(app: &App, caller: &Caller, id: &str) -> Result<(), AppError> {
    let t = caller.tenant.as_str();
    let (artifact, active) = super::deployments::deployments(app, |q| {
        let a = q.artifact(t, id)?;
        let active = match &a {
            Some(a) => q.active_deployments_of(t, &a.info.name)?,
            None => 0,
        };
        Ok((a, active))
    })?;
    let artifact = artifact.ok_or_else(|| AppError::NotFound("artifact not found".into()))?;
    let meta: ArtifactMeta =
        serde_json::from_str(&artifact.info.meta_json).map_err(|e| AppError::Internal(e.into()))?;
    let claim = super::claim_id("artifact", &identity(&meta));
    let command = ArtifactCommand::Delete { active_deployments: active };
    app.execute_with_claims::<Artifact>(caller, id, &command, &[ClaimOp::Release(&claim)]).await?;
    if let Err(e) = app.storage.delete(&artifact.info.storage_key).await {
        tracing::warn!(key = %artifact.info.storage_key, error = %e, "artifact deleted, its file not yet");
    }
    // The release goes with its last artifact, and its notes and tags with it (as in Mender).
    super::releases::forget_if_empty(app, caller, &artifact.info.name).await
}

/// Replaces an artifact's description.
pub async fn edit(app: &App, caller: &Caller, id: &str, description: String) -> Result<(), AppError> {
    app.execute::<Artifact>(caller, id, &ArtifactCommand::EditDescription { description }).await?;
    Ok(())
}
