//! Releases: notes and tags on the release aggregate (its id a digest of the name, so a
//! client's name never becomes a subject token), and deleting a release with its artifacts.

use std::collections::BTreeSet;

use fleetlog_events::release::{Release, ReleaseCommand};
use fleetlog_projections::releases::{ReleaseView, ReleasesQueries};
use sha2::{Digest, Sha256};

use super::{App, AppError, Caller, DEFAULT_TENANT};

/// The release aggregate's id: 32 hex digits of SHA-256 of the name.
pub fn release_id(name: &str) -> String {
    Sha256::digest(name.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Runs `f` over the releases read model.
pub fn releases<T>(
    app: &App,
    f: impl FnOnce(&ReleasesQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, AppError> {
    let model = app.model(fleetlog_projections::Model::Releases)?;
    Ok(f(&ReleasesQueries(&model))?)
}

/// A release that has artifacts, or 404.
pub fn find(app: &App, name: &str) -> Result<ReleaseView, AppError> {
    releases(app, |q| q.release(DEFAULT_TENANT, name))?
        .ok_or_else(|| AppError::NotFound("release not found".into()))
}

async fn execute(app: &App, caller: &Caller, name: &str, command: ReleaseCommand) -> Result<(), AppError> {
    app.execute::<Release>(caller, &release_id(name), &command).await?;
    Ok(())
}

/// Replaces a release's notes.
pub async fn set_notes(app: &App, caller: &Caller, name: &str, notes: String) -> Result<(), AppError> {
    find(app, name)?;
    execute(app, caller, name, ReleaseCommand::SetNotes { name: name.to_owned(), notes }).await
}

/// Replaces a release's tags; the limit on distinct tags counts every other release's.
pub async fn set_tags(app: &App, caller: &Caller, name: &str, tags: Vec<String>) -> Result<(), AppError> {
    find(app, name)?;
    let tags_elsewhere: BTreeSet<String> = releases(app, |q| q.releases(&caller.tenant))?
        .into_iter()
        .filter(|r| r.name != name)
        .flat_map(|r| r.tags)
        .collect();
    let command = ReleaseCommand::SetTags { name: name.to_owned(), tags, tags_elsewhere };
    execute(app, caller, name, command).await
}

/// Forgets a release's notes and tags once its last artifact is gone (nothing when it has none).
pub async fn forget_if_empty(app: &App, caller: &Caller, name: &str) -> Result<(), AppError> {
    if releases(app, |q| q.release(&caller.tenant, name))?.is_some() {
        return Ok(());
    }
    execute(app, caller, name, ReleaseCommand::Delete { name: name.to_owned() }).await
}

/// Why releases were not deleted.
pub enum DeleteRefused {
    /// Unfinished deployments use them (their ids).
    InUse(Vec<String>),
    /// Anything else.
    Error(AppError),
}

impl From<AppError> for DeleteRefused {
    fn from(e: AppError) -> Self {
        DeleteRefused::Error(e)
    }
}

/// Deletes releases: every artifact of each name, refused as a whole while an unfinished
/// deployment uses any of them. Unknown names are skipped, as Mender does.
pub async fn delete(app: &App, caller: &Caller, names: &[String]) -> Result<(), DeleteRefused> {
    let t = caller.tenant.as_str();
    let mut active = Vec::new();
    let mut artifacts = Vec::new();
    for name in names {
        let (arts, ids) = super::deployments::deployments(app, |q| {
            Ok((q.artifacts_named(t, name)?, q.active_deployment_ids_of(t, name)?))
        })?;
        active.extend(ids);
        artifacts.extend(arts.into_iter().map(|a| a.id));
    }
    if !active.is_empty() {
        active.sort();
        active.dedup();
        return Err(DeleteRefused::InUse(active));
    }
    for id in artifacts {
        match super::artifacts::delete(app, caller, &id).await {
            // Deleted meanwhile by someone else: the outcome is the same.
            Ok(()) | Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for name in names {
        forget_if_empty(app, caller, name).await?;
    }
    Ok(())
}
