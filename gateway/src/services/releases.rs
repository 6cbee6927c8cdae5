//! Releases: notes and tags on the release aggregate (its id a digest of the name, so a
//! client's name never becomes a subject token), and deleting a release with its artifacts.

use std::collections::BTreeSet;

use fleetlog_events::release::{Release, ReleaseCommand, ReleaseError};
use fleetlog_projections::releases::{ReleaseView, ReleasesQueries};
use sha2::{Digest, Sha256};

use crate::http::{ApiError, UserAuth};
use crate::state::AppState;

/// The release aggregate's id: 32 hex digits of SHA-256 of the name.
pub fn release_id(name: &str) -> String {
    Sha256::digest(name.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Runs `f` over the releases read model.
pub fn releases<T>(
    state: &AppState,
    f: impl FnOnce(&ReleasesQueries<'_>) -> Result<T, fleetlog_projections::ProjectionError>,
) -> Result<T, ApiError> {
    let model = state.model(fleetlog_projections::Model::Releases)?;
    Ok(f(&ReleasesQueries(&model))?)
}

impl From<ReleaseError> for ApiError {
    fn from(e: ReleaseError) -> Self {
        match e {
            ReleaseError::TooManyUniqueTags => ApiError::Conflict(e.to_string()),
            ReleaseError::NotesTooLong | ReleaseError::TooManyTags | ReleaseError::InvalidTag(_) => {
                ApiError::BadRequest(e.to_string())
            }
        }
    }
}

/// A release that has artifacts, or 404.
pub fn find(state: &AppState, name: &str) -> Result<ReleaseView, ApiError> {
    releases(state, |q| q.release(crate::DEFAULT_TENANT, name))?
        .ok_or_else(|| ApiError::NotFound("release not found".into()))
}

async fn execute(
    state: &AppState,
    user: &UserAuth,
    name: &str,
    command: ReleaseCommand,
) -> Result<(), ApiError> {
    let out = state.commands.execute::<Release>(&user.meta(), &release_id(name), &command).await?;
    state.seen(out.position).await
}

/// Replaces a release's notes.
pub async fn set_notes(state: &AppState, user: &UserAuth, name: &str, notes: String) -> Result<(), ApiError> {
    find(state, name)?;
    execute(state, user, name, ReleaseCommand::SetNotes { name: name.to_owned(), notes }).await
}

/// Replaces a release's tags; the limit on distinct tags counts every other release's.
pub async fn set_tags(
    state: &AppState,
    user: &UserAuth,
    name: &str,
    tags: Vec<String>,
) -> Result<(), ApiError> {
    find(state, name)?;
    let tags_elsewhere: BTreeSet<String> = releases(state, |q| q.releases(crate::DEFAULT_TENANT))?
        .into_iter()
        .filter(|r| r.name != name)
        .flat_map(|r| r.tags)
        .collect();
    let command = ReleaseCommand::SetTags { name: name.to_owned(), tags, tags_elsewhere };
    execute(state, user, name, command).await
}

/// Forgets a release's notes and tags once its last artifact is gone (nothing when it has none).
pub async fn forget_if_empty(state: &AppState, user: &UserAuth, name: &str) -> Result<(), ApiError> {
    if releases(state, |q| q.release(crate::DEFAULT_TENANT, name))?.is_some() {
        return Ok(());
    }
    execute(state, user, name, ReleaseCommand::Delete { name: name.to_owned() }).await
}

/// Why releases were not deleted.
pub enum DeleteRefused {
    /// Unfinished deployments use them (their ids).
    InUse(Vec<String>),
    /// Anything else.
    Error(ApiError),
}

impl From<ApiError> for DeleteRefused {
    fn from(e: ApiError) -> Self {
        DeleteRefused::Error(e)
    }
}

/// Deletes releases: every artifact of each name, refused as a whole while an unfinished
/// deployment uses any of them. Unknown names are skipped, as Mender does.
pub async fn delete(state: &AppState, user: &UserAuth, names: &[String]) -> Result<(), DeleteRefused> {
    let t = crate::DEFAULT_TENANT;
    let mut active = Vec::new();
    let mut artifacts = Vec::new();
    for name in names {
        let (arts, ids) = crate::services::deployments::deployments(state, |q| {
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
        match crate::services::artifacts::delete(state, user, &id).await {
            // Deleted meanwhile by someone else: the outcome is the same.
            Ok(()) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for name in names {
        forget_if_empty(state, user, name).await?;
    }
    Ok(())
}
