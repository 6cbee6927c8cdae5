//! iot-manager integrations: an operator-chosen target that device lifecycle events are pushed
//! to. Only the `webhook` provider works in this build; `iot-hub` and `iot-core` need Azure and
//! AWS, so creating one is refused with a reason rather than stored half-working.
//!
//! The webhook secret is part of the events (the delivery process signs with it after any
//! restart), but it never renders: not in JSON (tail, history, audit), not in `Debug` (logs).

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The integration aggregate.
pub struct Integration;

/// The provider that works end to end.
pub const WEBHOOK: &str = "webhook";

/// A secret that never renders: `Debug` prints `<omitted>`, and fields holding one are skipped
/// when serialised.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret itself, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether one was given.
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() { "<omitted>" } else { "<none>" })
    }
}

/// Where a webhook posts, and the secret it signs with (hex; empty for unsigned deliveries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The HMAC key as hex text (Mender decodes it to bytes); never rendered.
    #[serde(skip_serializing, default)]
    pub secret: Secret,
}

/// An integration's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntegrationState {
    /// Created and not deleted.
    pub live: bool,
    /// Created once (an id is never reused).
    pub created: bool,
    /// `webhook`.
    pub provider: String,
    /// Operator's description.
    pub description: String,
    /// Where it posts.
    pub target: WebhookTarget,
    /// The event types it receives (empty: Mender's three device lifecycle types).
    pub event_types: Vec<String>,
}

/// What may be asked of an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationCommand {
    /// Register a new integration.
    Create {
        /// `webhook`, `iot-hub` or `iot-core`.
        provider: String,
        /// The credentials' `type` (`http` for webhooks).
        credential_type: String,
        /// Up to 1024 characters.
        description: String,
        /// Where to post.
        target: WebhookTarget,
        /// The event types wanted (empty: Mender's three; `device-alert` only on request).
        event_types: Vec<String>,
    },
    /// Replace the credentials.
    SetCredentials {
        /// The credentials' `type`.
        credential_type: String,
        /// The new target.
        target: WebhookTarget,
    },
    /// Remove it.
    Delete,
}

/// The facts recorded about an integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum IntegrationEvent {
    /// An integration was registered.
    IntegrationCreated {
        /// Provider.
        provider: String,
        /// Description.
        description: String,
        /// Target (the secret does not render).
        target: WebhookTarget,
        /// The event types it receives (empty: Mender's three device lifecycle types).
        #[serde(default)]
        event_types: Vec<String>,
    },
    /// Its credentials were replaced.
    IntegrationCredentialsSet {
        /// The new target.
        target: WebhookTarget,
    },
    /// It was removed.
    IntegrationDeleted,
}

crate::event_names!(IntegrationEvent { IntegrationCreated, IntegrationCredentialsSet, IntegrationDeleted });

crate::domain_event!(IntegrationEvent => Integration);

/// Why an integration command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// No such integration.
    #[error("integration not found")]
    NotFound,
    /// The id is taken.
    #[error("integration already exists")]
    AlreadyExists,
    /// A cloud provider this build cannot reach.
    #[error(
        "provider '{0}' is not available in this build: it needs its cloud service, which this server \
         does not reach; use provider 'webhook'"
    )]
    ProviderUnavailable(String),
    /// Not a provider at all.
    #[error("unknown provider '{0}': must be one of webhook, iot-hub, iot-core")]
    UnknownProvider(String),
    /// Credentials of another kind than the provider takes.
    #[error("'{provider}' incompatible with credential type '{credential_type}'")]
    IncompatibleCredentials {
        /// The provider.
        provider: String,
        /// The type given.
        credential_type: String,
    },
    /// A bad URL.
    #[error("credentials.http.url: {0}")]
    InvalidUrl(&'static str),
    /// A bad secret.
    #[error("credentials.http.secret: must be hexadecimal, an even number of digits, at most 64")]
    InvalidSecret,
    /// Too long a description.
    #[error("description: the length must be no more than 1024")]
    DescriptionTooLong,
    /// Not an event type integrations receive.
    #[error("event_types: unknown event type {0:?}")]
    UnknownEventType(String),
}

/// Checks a webhook target: an absolute `http`/`https` URL with a host, no spaces or control
/// characters, at most 2048 bytes; a secret of hex digits (Mender decodes it to the HMAC key).
pub fn check_target(target: &WebhookTarget) -> Result<(), IntegrationError> {
    let url = target.url.as_str();
    if url.is_empty() {
        return Err(IntegrationError::InvalidUrl("cannot be blank"));
    }
    if url.len() > 2048 {
        return Err(IntegrationError::InvalidUrl("longer than 2048 bytes"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IntegrationError::InvalidUrl("must not contain spaces or control characters"));
    }
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|s| url.get(..s.len()).filter(|p| p.eq_ignore_ascii_case(s)).map(|_| &url[s.len()..]))
        .ok_or(IntegrationError::InvalidUrl("must be an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(IntegrationError::InvalidUrl("has no host"));
    }
    let secret = target.secret.expose();
    if secret.len() > 64 || !secret.len().is_multiple_of(2) || !secret.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(IntegrationError::InvalidSecret);
    }
    Ok(())
}

fn check_credentials(provider: &str, credential_type: &str) -> Result<(), IntegrationError> {
    match provider {
        WEBHOOK if credential_type == "http" => Ok(()),
        WEBHOOK => Err(IntegrationError::IncompatibleCredentials {
            provider: provider.into(),
            credential_type: credential_type.into(),
        }),
        "iot-hub" | "iot-core" => Err(IntegrationError::ProviderUnavailable(provider.into())),
        other => Err(IntegrationError::UnknownProvider(other.into())),
    }
}

impl Aggregate for Integration {
    const TYPE: &'static str = "integration";
    type State = IntegrationState;
    type Command = IntegrationCommand;
    type Event = IntegrationEvent;
    type Error = IntegrationError;

    fn decide(
        state: &IntegrationState,
        command: &IntegrationCommand,
    ) -> Result<Vec<IntegrationEvent>, IntegrationError> {
        match command {
            IntegrationCommand::Create { provider, credential_type, description, target, event_types } => {
                if state.created {
                    return Err(IntegrationError::AlreadyExists);
                }
                check_credentials(provider, credential_type)?;
                if description.chars().count() > 1024 {
                    return Err(IntegrationError::DescriptionTooLong);
                }
                check_target(target)?;
                if let Some(odd) =
                    event_types.iter().find(|t| !crate::webhook::EVENT_TYPES.contains(&t.as_str()))
                {
                    return Err(IntegrationError::UnknownEventType(odd.clone()));
                }
                Ok(vec![IntegrationEvent::IntegrationCreated {
                    provider: provider.clone(),
                    description: description.clone(),
                    target: target.clone(),
                    event_types: event_types.clone(),
                }])
            }
            IntegrationCommand::SetCredentials { .. } | IntegrationCommand::Delete if !state.live => {
                Err(IntegrationError::NotFound)
            }
            IntegrationCommand::SetCredentials { credential_type, target } => {
                check_credentials(&state.provider, credential_type)?;
                check_target(target)?;
                if *target == state.target {
                    return Ok(vec![]);
                }
                Ok(vec![IntegrationEvent::IntegrationCredentialsSet { target: target.clone() }])
            }
            IntegrationCommand::Delete => Ok(vec![IntegrationEvent::IntegrationDeleted]),
        }
    }

    fn evolve(mut state: IntegrationState, event: &IntegrationEvent) -> IntegrationState {
        match event {
            IntegrationEvent::IntegrationCreated { provider, description, target, event_types } => {
                state = IntegrationState {
                    live: true,
                    created: true,
                    provider: provider.clone(),
                    description: description.clone(),
                    target: target.clone(),
                    event_types: event_types.clone(),
                }
            }
            IntegrationEvent::IntegrationCredentialsSet { target } => state.target = target.clone(),
            IntegrationEvent::IntegrationDeleted => state.live = false,
        }
        state
    }
}

#[cfg(test)]
mod tests;
