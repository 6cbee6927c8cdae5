//! The application layer's one error type, transport-neutral: what kind of failure, and the
//! text a client may see. Every domain error maps to a kind here, in this one file; the gateway
//! maps kinds to HTTP statuses in one file of its own (`http/error.rs`).

use fleetlog_events::artifact::ArtifactError;
use fleetlog_events::claim::ClaimError;
use fleetlog_events::connect::ConnectError;
use fleetlog_events::deployment::DeploymentError;
use fleetlog_events::deployment::device::DeviceDeploymentError;
use fleetlog_events::devconfig::DeviceConfigError;
use fleetlog_events::device::DeviceError;
use fleetlog_events::filter::FilterError;
use fleetlog_events::integration::IntegrationError;
use fleetlog_events::inventory::InventoryError;
use fleetlog_events::monitor::MonitorError;
use fleetlog_events::release::ReleaseError;
use fleetlog_events::settings::SettingsError;
use fleetlog_events::user::UserError;
use fleetlog_events::webhook::WebhookError;
use fleetlog_projections::{ProjectionError, QueryError};

use crate::{CommandError, StoreError};

/// Why an application call failed. Client-facing variants carry the text the caller sees;
/// internal ones keep their cause for the log.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed or breaks a rule about its shape.
    #[error("{0}")]
    Invalid(String),
    /// Missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such object.
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but refused (Mender's useradm: duplicates, weak passwords).
    #[error("{0}")]
    Refused(String),
    /// Conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A unique value (name, identity) is held by another object.
    #[error("already exists")]
    Taken {
        /// The holder's id.
        holder: String,
    },
    /// A precondition (an ETag, a version) no longer holds.
    #[error("{0}")]
    PreconditionFailed(String),
    /// What was sent is over the size limit (an artifact larger than the server takes).
    #[error("request body too large")]
    TooLarge,
    /// What would be stored is over what the log takes in one event.
    #[error("request too large to store: {0}")]
    TooLargeToStore(String),
    /// A device did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// A device cannot do what was asked; the text is the device's answer.
    #[error("{0}")]
    DeviceRefused(String),
    /// The log or the read models are unreachable or behind; the caller may retry.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A change was sent but not confirmed: it may or may not be stored.
    #[error(
        "the outcome is unknown: the change may or may not have been stored; retry with the same \
         Idempotency-Key header to get its outcome without a duplicate"
    )]
    OutcomeUnknown(#[source] anyhow::Error),
    /// A bug or an unexpected failure.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// Whether the caller's request is at fault (as opposed to the server, the log or a
    /// device).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            AppError::DeviceRefused(_)
                | AppError::Unavailable(_)
                | AppError::OutcomeUnknown(_)
                | AppError::Internal(_)
        )
    }

    /// An internal error from any cause.
    pub fn internal(e: impl Into<anyhow::Error>) -> AppError {
        AppError::Internal(e.into())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidToken(t) => AppError::Invalid(format!("invalid id {t:?}")),
            StoreError::Conflict { .. } => {
                AppError::Conflict("the object was changed concurrently, try again".into())
            }
            StoreError::TooLarge { .. } => AppError::TooLargeToStore(e.to_string()),
            StoreError::Unavailable(_) => AppError::Unavailable(e.into()),
            StoreError::OutcomeUnknown(_) => AppError::OutcomeUnknown(e.into()),
            other => AppError::Internal(other.into()),
        }
    }
}

impl<E> From<CommandError<E>> for AppError
where
    E: std::error::Error + Into<AppError> + 'static,
{
    fn from(e: CommandError<E>) -> Self {
        match e {
            CommandError::Rejected(domain) => domain.into(),
            CommandError::Taken { holder } => AppError::Taken { holder },
            CommandError::Conflict => {
                AppError::Conflict("the object was changed concurrently, try again".into())
            }
            CommandError::Store(s) => s.into(),
        }
    }
}

impl From<ProjectionError> for AppError {
    fn from(e: ProjectionError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<QueryError> for AppError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Invalid(text) => AppError::Invalid(text),
            QueryError::Store(e) => e.into(),
        }
    }
}

impl From<fleetlog_storage::StoreError> for AppError {
    fn from(e: fleetlog_storage::StoreError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<DeviceError> for AppError {
    fn from(e: DeviceError) -> Self {
        match e {
            DeviceError::NotFound | DeviceError::AuthSetNotFound => AppError::NotFound(e.to_string()),
            DeviceError::AlreadyExists => AppError::Conflict(e.to_string()),
            DeviceError::Decommissioned | DeviceError::IdentityMismatch => {
                AppError::Unauthorized("unauthorized".into())
            }
        }
    }
}

impl From<UserError> for AppError {
    fn from(e: UserError) -> Self {
        match e {
            // Mender's useradm answers 422 for a duplicate or invalid user.
            UserError::AlreadyExists | UserError::InvalidEmail => AppError::Refused(e.to_string()),
            UserError::NotFound | UserError::TokenNotFound => AppError::NotFound(e.to_string()),
            UserError::TokenNameExists => AppError::Conflict(e.to_string()),
            UserError::TooManyTokens | UserError::PasswordTooShort | UserError::PasswordLikeEmail => {
                AppError::Refused(e.to_string())
            }
            UserError::InvalidTokenName | UserError::InvalidTokenLifetime => AppError::Invalid(e.to_string()),
        }
    }
}

impl From<InventoryError> for AppError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::EtagMismatch => AppError::PreconditionFailed(e.to_string()),
            InventoryError::NotInGroup(_) => AppError::NotFound(e.to_string()),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

impl From<ArtifactError> for AppError {
    fn from(e: ArtifactError) -> Self {
        match e {
            ArtifactError::NotFound => AppError::NotFound(e.to_string()),
            ArtifactError::AlreadyExists | ArtifactError::InUse => AppError::Conflict(e.to_string()),
            ArtifactError::DescriptionTooLong => AppError::Invalid(e.to_string()),
        }
    }
}

impl From<ReleaseError> for AppError {
    fn from(e: ReleaseError) -> Self {
        match e {
            ReleaseError::TooManyUniqueTags => AppError::Conflict(e.to_string()),
            ReleaseError::NotesTooLong | ReleaseError::TooManyTags | ReleaseError::InvalidTag(_) => {
                AppError::Invalid(e.to_string())
            }
        }
    }
}

impl From<DeploymentError> for AppError {
    fn from(e: DeploymentError) -> Self {
        match e {
            DeploymentError::NotFound => AppError::NotFound(e.to_string()),
            DeploymentError::Finished | DeploymentError::NoArtifact => AppError::Refused(e.to_string()),
            DeploymentError::AlreadyExists
            | DeploymentError::AlreadyPaused
            | DeploymentError::NotPaused
            | DeploymentError::NoControlMap
            | DeploymentError::NotDynamic => AppError::Conflict(e.to_string()),
            DeploymentError::MissingField
            | DeploymentError::NoDevices
            | DeploymentError::TooManyRetries
            | DeploymentError::Phases(_)
            | DeploymentError::Invalid(_) => AppError::Invalid(e.to_string()),
        }
    }
}

impl From<DeviceDeploymentError> for AppError {
    fn from(e: DeviceDeploymentError) -> Self {
        match e {
            DeviceDeploymentError::Aborted | DeviceDeploymentError::Finished(_) => {
                AppError::Conflict(e.to_string())
            }
            other => AppError::Invalid(other.to_string()),
        }
    }
}

impl From<FilterError> for AppError {
    fn from(e: FilterError) -> Self {
        match e {
            FilterError::NotFound => AppError::NotFound(e.to_string()),
            FilterError::AlreadyExists => AppError::Conflict(e.to_string()),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

impl From<DeviceConfigError> for AppError {
    fn from(e: DeviceConfigError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<SettingsError> for AppError {
    fn from(_: SettingsError) -> Self {
        AppError::PreconditionFailed("the settings were changed since they were read (ETag mismatch)".into())
    }
}

impl From<ConnectError> for AppError {
    fn from(e: ConnectError) -> Self {
        AppError::Conflict(e.to_string())
    }
}

impl From<ClaimError> for AppError {
    fn from(e: ClaimError) -> Self {
        AppError::Conflict(e.to_string())
    }
}

impl From<IntegrationError> for AppError {
    fn from(e: IntegrationError) -> Self {
        match e {
            IntegrationError::NotFound => AppError::NotFound(e.to_string()),
            IntegrationError::AlreadyExists => AppError::Conflict(e.to_string()),
            other => AppError::Invalid(other.to_string()),
        }
    }
}

impl From<WebhookError> for AppError {
    fn from(e: WebhookError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<MonitorError> for AppError {
    fn from(e: MonitorError) -> Self {
        AppError::Invalid(e.to_string())
    }
}
