//! Artifacts (Mender's deployments service): an uploaded `.mender` file's metadata, its
//! description, and its deletion. The file itself lives in object storage under `storage_key`;
//! the event records what was parsed out of it. Name + depends are unique (a claim).

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The artifact aggregate.
pub struct Artifact;

/// What an upload recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    /// Artifact name (`artifact_provides.artifact_name`).
    pub name: String,
    /// Operator's description.
    pub description: String,
    /// Device types it installs on.
    pub device_types: Vec<String>,
    /// The parsed metadata as Mender's Artifact JSON (without id, description, modified).
    pub meta_json: String,
    /// Size of the file in bytes.
    pub size: u64,
    /// Where the file is stored.
    pub storage_key: String,
}

/// An artifact's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArtifactState {
    /// Uploaded and not deleted.
    pub live: bool,
    /// Its metadata.
    pub info: ArtifactInfo,
    /// A direct upload was requested and is neither completed nor abandoned: until when
    /// (microseconds since the epoch).
    pub pending_until: Option<i64>,
    /// A direct upload was abandoned (expired or refused): the id is spent.
    pub abandoned: bool,
}

/// What may be asked of an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactCommand {
    /// Record an uploaded, parsed and stored artifact.
    Upload(ArtifactInfo),
    /// Change the description.
    EditDescription {
        /// The new description (≤ 4096 characters).
        description: String,
    },
    /// Reserve the id for a direct upload to `storage_key`, completed before `expires_at`.
    RequestUpload {
        /// Where the client puts the file.
        storage_key: String,
        /// Deadline, microseconds since the epoch.
        expires_at: i64,
    },
    /// Give up a pending direct upload (it expired, or the file was refused on completion).
    AbandonUpload {
        /// Why, for the log (≤ 200 characters).
        reason: String,
    },
    /// Delete it; `active_deployments` is how many unfinished deployments use it now.
    Delete {
        /// Unfinished deployments using the artifact (resolved by the caller).
        active_deployments: usize,
    },
}

/// The facts recorded about an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ArtifactEvent {
    /// An artifact was uploaded.
    ArtifactUploaded {
        /// What was parsed and where it is stored.
        #[serde(flatten)]
        info: ArtifactInfo,
    },
    /// Its description changed.
    ArtifactDescriptionChanged {
        /// The new description.
        description: String,
    },
    /// It was deleted (the stored file is removed after this is recorded).
    ArtifactDeleted,
    /// A direct upload was requested: the client puts the file at `storage_key` itself.
    ArtifactUploadRequested {
        /// Where the file goes.
        storage_key: String,
        /// Deadline for completing it, microseconds since the epoch.
        expires_at: i64,
    },
    /// A pending direct upload was given up; whatever was uploaded is removed.
    ArtifactUploadAbandoned {
        /// Why (expired, or why the file was refused).
        reason: String,
    },
}

crate::event_names!(ArtifactEvent {
    ArtifactUploaded,
    ArtifactDescriptionChanged,
    ArtifactDeleted,
    ArtifactUploadRequested,
    ArtifactUploadAbandoned,
});

crate::domain_event!(ArtifactEvent => Artifact);

/// Why an artifact command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    /// The id is taken.
    #[error("artifact already exists")]
    AlreadyExists,
    /// No such artifact.
    #[error("artifact not found")]
    NotFound,
    /// The description is too long.
    #[error("description must be at most {MAX_DESCRIPTION} characters")]
    DescriptionTooLong,
    /// An unfinished deployment uses it.
    #[error("artifact used by an active deployment")]
    InUse,
}

/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 4096;

impl Aggregate for Artifact {
    const TYPE: &'static str = "artifact";
    type State = ArtifactState;
    type Command = ArtifactCommand;
    type Event = ArtifactEvent;
    type Error = ArtifactError;

    fn decide(state: &ArtifactState, command: &ArtifactCommand) -> Result<Vec<ArtifactEvent>, ArtifactError> {
        match command {
            ArtifactCommand::Upload(info) => {
                if state.live || !state.info.name.is_empty() || state.abandoned {
                    return Err(ArtifactError::AlreadyExists);
                }
                if info.description.chars().count() > MAX_DESCRIPTION {
                    return Err(ArtifactError::DescriptionTooLong);
                }
                Ok(vec![ArtifactEvent::ArtifactUploaded { info: info.clone() }])
            }
            ArtifactCommand::RequestUpload { storage_key, expires_at } => {
                if state.live || state.abandoned || state.pending_until.is_some() {
                    return Err(ArtifactError::AlreadyExists);
                }
                Ok(vec![ArtifactEvent::ArtifactUploadRequested {
                    storage_key: storage_key.clone(),
                    expires_at: *expires_at,
                }])
            }
            ArtifactCommand::AbandonUpload { reason } => {
                if state.live || state.pending_until.is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![ArtifactEvent::ArtifactUploadAbandoned {
                    reason: reason.chars().take(200).collect(),
                }])
            }
            _ if !state.live => Err(ArtifactError::NotFound),
            ArtifactCommand::EditDescription { description } => {
                if description.chars().count() > MAX_DESCRIPTION {
                    return Err(ArtifactError::DescriptionTooLong);
                }
                if *description == state.info.description {
                    return Ok(vec![]);
                }
                Ok(vec![ArtifactEvent::ArtifactDescriptionChanged { description: description.clone() }])
            }
            ArtifactCommand::Delete { active_deployments } if *active_deployments > 0 => {
                Err(ArtifactError::InUse)
            }
            ArtifactCommand::Delete { .. } => Ok(vec![ArtifactEvent::ArtifactDeleted]),
        }
    }

    fn evolve(mut state: ArtifactState, event: &ArtifactEvent) -> ArtifactState {
        match event {
            ArtifactEvent::ArtifactUploaded { info } => {
                state = ArtifactState { live: true, info: info.clone(), ..Default::default() }
            }
            ArtifactEvent::ArtifactUploadRequested { expires_at, .. } => {
                state.pending_until = Some(*expires_at)
            }
            ArtifactEvent::ArtifactUploadAbandoned { .. } => {
                state.pending_until = None;
                state.abandoned = true;
            }
            ArtifactEvent::ArtifactDescriptionChanged { description } => {
                state.info.description.clone_from(description)
            }
            ArtifactEvent::ArtifactDeleted => state.live = false,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn info() -> ArtifactInfo {
        ArtifactInfo { name: "release-1".into(), device_types: vec!["rpi4".into()], ..Default::default() }
    }

    #[test]
    fn an_artifact_is_uploaded_once_and_deleted_when_unused() {
        let uploaded = ArtifactEvent::ArtifactUploaded { info: info() };
        Given::<Artifact>::nothing().when(ArtifactCommand::Upload(info())).then([uploaded.clone()]);
        Given::<Artifact>::events([uploaded.clone()])
            .when(ArtifactCommand::Upload(info()))
            .then_err(ArtifactError::AlreadyExists);
        Given::<Artifact>::events([uploaded.clone()])
            .when(ArtifactCommand::Delete { active_deployments: 1 })
            .then_err(ArtifactError::InUse);
        Given::<Artifact>::events([uploaded.clone()])
            .when(ArtifactCommand::Delete { active_deployments: 0 })
            .then([ArtifactEvent::ArtifactDeleted]);
        Given::<Artifact>::events([uploaded, ArtifactEvent::ArtifactDeleted])
            .when(ArtifactCommand::EditDescription { description: "x".into() })
            .then_err(ArtifactError::NotFound);
    }

    #[test]
    fn a_direct_upload_is_completed_once_or_abandoned_for_good() {
        let requested = ArtifactEvent::ArtifactUploadRequested { storage_key: "k".into(), expires_at: 10 };
        let request = ArtifactCommand::RequestUpload { storage_key: "k".into(), expires_at: 10 };
        Given::<Artifact>::nothing().when(request.clone()).then([requested.clone()]);
        Given::<Artifact>::events([requested.clone()]).when(request).then_err(ArtifactError::AlreadyExists);
        let uploaded = ArtifactEvent::ArtifactUploaded { info: info() };
        Given::<Artifact>::events([requested.clone()])
            .when(ArtifactCommand::Upload(info()))
            .then([uploaded.clone()]);
        let abandon = ArtifactCommand::AbandonUpload { reason: "expired".into() };
        // A completed upload is no longer pending: the sweeper leaves it alone.
        Given::<Artifact>::events([requested.clone(), uploaded]).when(abandon.clone()).then_nothing();
        let abandoned = ArtifactEvent::ArtifactUploadAbandoned { reason: "expired".into() };
        Given::<Artifact>::events([requested.clone()]).when(abandon.clone()).then([abandoned.clone()]);
        Given::<Artifact>::events([requested.clone(), abandoned.clone()]).when(abandon).then_nothing();
        Given::<Artifact>::events([requested, abandoned])
            .when(ArtifactCommand::Upload(info()))
            .then_err(ArtifactError::AlreadyExists);
    }

    #[test]
    fn descriptions_are_limited() {
        let long = "d".repeat(4097);
        let uploaded = ArtifactEvent::ArtifactUploaded { info: info() };
        Given::<Artifact>::events([uploaded])
            .when(ArtifactCommand::EditDescription { description: long })
            .then_err(ArtifactError::DescriptionTooLong);
    }
}
