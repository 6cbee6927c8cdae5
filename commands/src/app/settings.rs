//! Settings documents (the GUI's user and global settings): one aggregate per scope, saved
//! whole, optionally guarded by the version the client read.

use fleetlog_events::settings::{Settings, SettingsCommand};

use super::{App, AppError, Caller};

/// Saves `json` (a JSON object's text) as the settings of `scope`; with `if_match`, only if
/// the stored version is still that one ([`AppError::PreconditionFailed`] otherwise).
pub async fn save(
    app: &App,
    caller: &Caller,
    scope: &str,
    json: String,
    if_match: Option<u64>,
) -> Result<(), AppError> {
    app.execute::<Settings>(caller, scope, &SettingsCommand::Save { json, if_match }).await?;
    Ok(())
}
