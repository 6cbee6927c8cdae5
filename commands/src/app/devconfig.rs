//! Configuration deployments (Mender's deviceconfig "deploy"): a deployment of the device's
//! wanted configuration, whose artifact — a `mender-configure` module image carrying the
//! configuration — is made for the device when it downloads it.

use std::collections::BTreeMap;

use fleetlog_events::deployment::{Deployment, DeploymentCommand, DeploymentSpec};
use fleetlog_events::devconfig::{DeviceConfig, DeviceConfigCommand};
use serde_json::{Value, json};

use fleetlog_projections::rfc3339;

use super::deployments::DOWNLOAD_LINK_LIFETIME;
use super::{App, AppError, Caller, DEFAULT_TENANT};

/// Creates a configuration deployment of `device`'s wanted configuration; its id.
pub async fn deploy(
    app: &App,
    caller: &Caller,
    device: &str,
    configuration: BTreeMap<String, String>,
    retries: u32,
    update_control_map: Option<fleetlog_events::deployment::rollout::ControlMap>,
) -> Result<String, AppError> {
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
        update_control_map,
        ..Default::default()
    };
    // Two decisions, two commands (a command id is what makes a retry idempotent).
    app.execute::<Deployment>(caller, &id, &DeploymentCommand::Create(spec)).await?;
    let deployed = DeviceConfigCommand::Deployed { deployment_id: id.clone() };
    app.execute::<DeviceConfig>(caller, device, &deployed).await?;
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
    app: &App,
    deployment: &str,
    artifact_name: &str,
    device: &str,
    device_type: &str,
) -> Result<Value, AppError> {
    let uri = app
        .config_links
        .link(
            &key(deployment, device, device_type),
            DOWNLOAD_LINK_LIFETIME,
            Some(&format!("{artifact_name}.mender")),
        )
        .map_err(|e| AppError::Invalid(format!("device type cannot be used in a link: {e}")))?;
    let expire = crate::now().0 + DOWNLOAD_LINK_LIFETIME.as_micros() as i64;
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
pub fn artifact(app: &App, key: &str) -> Result<Vec<u8>, AppError> {
    let mut parts = key.splitn(3, '/');
    let (Some(dep), Some(_device), Some(hex)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AppError::NotFound("not found".into()));
    };
    let device_type = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| AppError::NotFound("not found".into()))?;
    let d = super::deployments::deployments(app, |q| q.deployment(DEFAULT_TENANT, dep))?
        .ok_or_else(|| AppError::NotFound("deployment not found".into()))?;
    let configuration =
        d.configuration.ok_or_else(|| AppError::NotFound("not a configuration deployment".into()))?;
    let spec = fleetlog_artifact::ConfigurationArtifact::for_deployment(dep, device_type, configuration);
    let mut out = Vec::new();
    fleetlog_artifact::write_configuration_artifact(&spec, &mut out)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(out)
}

/// Runs a device-configuration command (set the wanted configuration, the device's report).
pub async fn run(
    app: &App,
    caller: &Caller,
    device: &str,
    command: &DeviceConfigCommand,
) -> Result<(), AppError> {
    app.execute::<DeviceConfig>(caller, device, command).await?;
    Ok(())
}
