//! Configuration deployments (Mender's deviceconfig "deploy"): a deployment of the device's
//! wanted configuration, whose artifact — a `mender-configure` module image carrying the
//! configuration — is made for the device when it downloads it.

use std::collections::BTreeMap;

use fleetlog_events::deployment::{Deployment, DeploymentCommand, DeploymentSpec};
use fleetlog_events::devconfig::{DeviceConfig, DeviceConfigCommand};
use serde_json::{Value, json};

use crate::http::json::rfc3339;
use crate::http::{ApiError, UserAuth};
use crate::services::deployments::DOWNLOAD_LINK_LIFETIME;
use crate::state::AppState;

/// Creates a configuration deployment of `device`'s wanted configuration; its id.
pub async fn deploy(
    state: &AppState,
    user: &UserAuth,
    device: &str,
    configuration: BTreeMap<String, String>,
    retries: u32,
) -> Result<String, ApiError> {
    // The aggregate's rule, checked before the deployment is made (it is recorded after).
    if configuration.is_empty() {
        return Err(fleetlog_events::devconfig::DeviceConfigError::NothingToDeploy.into());
    }
    let id = uuid::Uuid::new_v4().to_string();
    let spec = DeploymentSpec {
        name: "configuration".into(),
        artifact_name: format!("configuration-{id}"),
        devices: vec![device.to_owned()],
        retries,
        // A configuration is applied even when the device already has one.
        force_installation: true,
        target: "devices".into(),
        configuration: Some(configuration),
    };
    // Two decisions, two commands (a command id is what makes a retry idempotent).
    state.commands.execute::<Deployment>(&user.meta(), &id, &DeploymentCommand::Create(spec)).await?;
    let out = state
        .commands
        .execute::<DeviceConfig>(
            &user.meta(),
            device,
            &DeviceConfigCommand::Deployed { deployment_id: id.clone() },
        )
        .await?;
    state.seen(out.position).await?;
    Ok(id)
}

/// The storage-free key of a device's configuration artifact (device types are hex-encoded so
/// that any text is a valid link).
pub fn key(deployment: &str, device: &str, device_type: &str) -> String {
    let hex: String = device_type.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{deployment}/{device}/{hex}")
}

/// `next`'s instructions for a configuration deployment.
pub fn instructions(
    state: &AppState,
    deployment: &str,
    artifact_name: &str,
    device: &str,
    device_type: &str,
) -> Result<Value, ApiError> {
    let uri = state
        .config_links
        .link(
            &key(deployment, device, device_type),
            DOWNLOAD_LINK_LIFETIME,
            Some(&format!("{artifact_name}.mender")),
        )
        .map_err(|e| ApiError::BadRequest(format!("device type cannot be used in a link: {e}")))?;
    let expire = fleetlog_commands::now().0 + DOWNLOAD_LINK_LIFETIME.as_micros() as i64;
    Ok(json!({
        "id": deployment,
        "artifact": {
            "id": format!("{deployment}:{device}"),
            "artifact_name": artifact_name,
            "source": { "uri": uri, "expire": rfc3339(expire) },
            "device_types_compatible": [device_type],
        }
    }))
}

/// The configuration artifact behind a verified link key: its bytes.
pub fn artifact(state: &AppState, key: &str) -> Result<Vec<u8>, ApiError> {
    let mut parts = key.splitn(3, '/');
    let (Some(dep), Some(_device), Some(hex)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::NotFound("not found".into()));
    };
    let device_type = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ApiError::NotFound("not found".into()))?;
    let d = crate::services::deployments::deployments(state, |q| q.deployment(crate::DEFAULT_TENANT, dep))?
        .ok_or_else(|| ApiError::NotFound("deployment not found".into()))?;
    let configuration =
        d.configuration.ok_or_else(|| ApiError::NotFound("not a configuration deployment".into()))?;
    let spec = fleetlog_artifact::ConfigurationArtifact::for_deployment(dep, device_type, configuration);
    let mut out = Vec::new();
    fleetlog_artifact::write_configuration_artifact(&spec, &mut out)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(out)
}
