//! Settings (Mender's useradm settings): a free-form JSON object per scope — the tenant's
//! (`global`) or one user's (`user-<id>`) — replaced as a whole, guarded by an ETag.

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The settings aggregate.
pub struct Settings;

/// The current settings of one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SettingsState {
    /// The JSON object, as text (empty before the first save).
    pub json: String,
    /// Version counter: the ETag clients send back in `If-Match`.
    pub version: u64,
}

/// What may be asked of settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsCommand {
    /// Replace the settings.
    Save {
        /// The new JSON object, as text (validated by the caller).
        json: String,
        /// The version the client saw (`If-Match`), if it sent one.
        if_match: Option<u64>,
    },
}

/// The facts recorded about settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SettingsEvent {
    /// The settings were replaced.
    SettingsSaved {
        /// The JSON object, as text.
        json: String,
    },
}

crate::event_names!(SettingsEvent { SettingsSaved });

crate::domain_event!(SettingsEvent => Settings);

/// Why a save is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The client's copy is stale (`If-Match` does not match).
    #[error("ETag does not match")]
    Stale,
}

impl Aggregate for Settings {
    const TYPE: &'static str = "settings";
    type State = SettingsState;
    type Command = SettingsCommand;
    type Event = SettingsEvent;
    type Error = SettingsError;

    fn decide(state: &SettingsState, command: &SettingsCommand) -> Result<Vec<SettingsEvent>, SettingsError> {
        let SettingsCommand::Save { json, if_match } = command;
        if if_match.is_some_and(|v| v != state.version) {
            return Err(SettingsError::Stale);
        }
        if *json == state.json {
            return Ok(vec![]);
        }
        Ok(vec![SettingsEvent::SettingsSaved { json: json.clone() }])
    }

    fn evolve(mut state: SettingsState, event: &SettingsEvent) -> SettingsState {
        let SettingsEvent::SettingsSaved { json } = event;
        state.json.clone_from(json);
        state.version += 1;
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn save(json: &str, if_match: Option<u64>) -> SettingsCommand {
        SettingsCommand::Save { json: json.into(), if_match }
    }

    #[test]
    fn settings_are_saved_and_a_stale_etag_is_refused() {
        let saved = SettingsEvent::SettingsSaved { json: "{\"a\":1}".into() };
        Given::<Settings>::nothing().when(save("{\"a\":1}", None)).then([saved.clone()]);
        Given::<Settings>::events([saved.clone()])
            .when(save("{\"a\":2}", Some(0)))
            .then_err(SettingsError::Stale);
        Given::<Settings>::events([saved.clone()])
            .when(save("{\"a\":2}", Some(1)))
            .then([SettingsEvent::SettingsSaved { json: "{\"a\":2}".into() }]);
        Given::<Settings>::events([saved]).when(save("{\"a\":1}", None)).then_nothing();
    }
}
