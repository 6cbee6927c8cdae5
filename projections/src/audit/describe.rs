//! What an event says for the audit log: its action, the type of its object and a
//! human-readable change. Remote-access sessions are on their device, as in Mender.

use fleetlog_events::DomainEvent;
use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::DeploymentEvent;
use fleetlog_events::devconfig::DeviceConfigEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::FilterEvent;
use fleetlog_events::integration::IntegrationEvent;
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::release::ReleaseEvent;
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;

/// (action, object type, change) of an event, or `None` for bookkeeping events.
pub(super) fn describe(event: &DomainEvent) -> Option<(&'static str, &'static str, String)> {
    Some(match event {
        DomainEvent::Device(e) => match e {
            DeviceEvent::AuthSetSubmitted { auth_set_id, .. } => {
                ("create", "device", format!("auth set {auth_set_id} submitted"))
            }
            DeviceEvent::DevicePreauthorized { auth_set_id, .. } => {
                ("create", "device", format!("preauthorized with auth set {auth_set_id}"))
            }
            DeviceEvent::AuthSetAccepted { auth_set_id } => {
                ("accept", "device", format!("auth set {auth_set_id} accepted"))
            }
            DeviceEvent::AuthSetRejected { auth_set_id } => {
                ("reject", "device", format!("auth set {auth_set_id} rejected"))
            }
            DeviceEvent::AuthSetPending { auth_set_id } => {
                ("update", "device", format!("auth set {auth_set_id} set to pending"))
            }
            DeviceEvent::AuthSetDismissed { auth_set_id } => {
                ("dismiss", "device", format!("auth set {auth_set_id} dismissed"))
            }
            DeviceEvent::DeviceTokensRevoked { auth_set_id } => {
                ("revoke", "device", format!("tokens of auth set {auth_set_id} revoked"))
            }
            DeviceEvent::DeviceDecommissioned => ("decommission", "device", "device decommissioned".into()),
        },
        DomainEvent::User(e) => match e {
            UserEvent::UserCreated { email, .. } => ("create", "user", format!("user {email} created")),
            UserEvent::UserPasswordChanged { .. } => ("update", "user", "password changed".into()),
            UserEvent::UserEmailChanged { email } => ("update", "user", format!("email changed to {email}")),
            UserEvent::UserDeleted => ("delete", "user", "user deleted".into()),
            UserEvent::UserTokenIssued { name, .. } if name.is_empty() => {
                ("login", "user", "logged in".into())
            }
            UserEvent::UserTokenIssued { name, .. } => {
                ("create", "token", format!("personal access token {name} created"))
            }
            UserEvent::UserTokenRevoked { jti } => ("revoke", "user", format!("token {jti} revoked")),
        },
        DomainEvent::Settings(SettingsEvent::SettingsSaved { .. }) => {
            ("update", "settings", "settings saved".into())
        }
        DomainEvent::Inventory(e) => match e {
            InventoryEvent::InventoryReported { attributes } => {
                ("update", "inventory", format!("inventory reported: {} attributes", attributes.len()))
            }
            InventoryEvent::InventoryChanged { set, removed } => (
                "update",
                "inventory",
                format!("inventory reported: {} attributes set, {} removed", set.len(), removed.len()),
            ),
            InventoryEvent::InventoryTagsSet { tags, .. } => {
                ("update", "inventory", format!("tags set: {} tags", tags.len()))
            }
            InventoryEvent::InventoryGroupAssigned { group } => {
                ("update", "inventory", format!("added to group {group}"))
            }
            InventoryEvent::InventoryGroupUnassigned { group } => {
                ("update", "inventory", format!("removed from group {group}"))
            }
            InventoryEvent::InventoryDeleted => ("delete", "inventory", "inventory deleted".into()),
        },
        DomainEvent::Filter(FilterEvent::FilterCreated { name, terms }) => {
            ("create", "filter", format!("filter {name} saved with {} terms", terms.len()))
        }
        DomainEvent::Filter(FilterEvent::FilterDeleted) => ("delete", "filter", "filter deleted".into()),
        DomainEvent::Artifact(e) => match e {
            ArtifactEvent::ArtifactUploaded { info } => {
                ("upload", "artifact", format!("artifact {} uploaded ({} bytes)", info.name, info.size))
            }
            ArtifactEvent::ArtifactDescriptionChanged { .. } => {
                ("update", "artifact", "description changed".into())
            }
            ArtifactEvent::ArtifactDeleted => ("delete", "artifact", "artifact deleted".into()),
            ArtifactEvent::ArtifactUploadRequested { .. } => {
                ("request_upload", "artifact", "direct upload requested".into())
            }
            ArtifactEvent::ArtifactUploadAbandoned { reason } => {
                ("abandon_upload", "artifact", format!("direct upload abandoned: {reason}"))
            }
        },
        DomainEvent::Deployment(DeploymentEvent::DeploymentCreated { spec }) => (
            "create",
            "deployment",
            format!("deployment {} of {} to {} devices", spec.name, spec.artifact_name, spec.device_total()),
        ),
        DomainEvent::Deployment(DeploymentEvent::DeploymentAborted) => {
            ("abort", "deployment", "deployment aborted".into())
        }
        DomainEvent::Deployment(DeploymentEvent::DeploymentPhaseStarted { phase }) => {
            ("start_phase", "deployment", format!("phase {} started", phase + 1))
        }
        DomainEvent::Deployment(DeploymentEvent::DeploymentPaused { reason }) => {
            ("pause", "deployment", format!("deployment paused: {reason}"))
        }
        DomainEvent::Deployment(DeploymentEvent::DeploymentResumed) => {
            ("resume", "deployment", "deployment resumed".into())
        }
        DomainEvent::Deployment(DeploymentEvent::DeploymentControlMapUpdated { map }) => {
            ("update", "deployment", format!("update control map changed ({} states)", map.states.len()))
        }
        // A device joining a dynamic deployment is the deployment's progress, not a user action.
        DomainEvent::Deployment(
            DeploymentEvent::DeploymentDeviceAdded { .. } | DeploymentEvent::DeploymentDevicesListed { .. },
        ) => return None,
        // Devices' progress is shown by the deployment itself, not as user actions.
        DomainEvent::DeviceDeployment(_) => return None,
        DomainEvent::DeviceConfig(e) => match e {
            DeviceConfigEvent::DeviceConfigSet { configuration } => {
                ("set_configuration", "device", format!("configuration set: {} keys", configuration.len()))
            }
            DeviceConfigEvent::DeviceConfigDeployed { deployment_id } => {
                ("deploy_configuration", "device", format!("configuration deployed in {deployment_id}"))
            }
            DeviceConfigEvent::DeviceConfigReported { .. } => return None,
        },
        DomainEvent::Connect(e) => match e {
            ConnectEvent::RemoteSessionStarted { device_id, kind, detail } => {
                let action = match kind.as_str() {
                    "terminal" => "open_terminal",
                    "port-forward" => "open_portforward",
                    "file-upload" => "upload_file",
                    "file-download" => "download_file",
                    _ => "open_session",
                };
                (action, "device", format!("{kind} with device {device_id} {detail}").trim_end().to_owned())
            }
            // The action is named after the session's kind (see `details::object`).
            ConnectEvent::RemoteSessionEnded { bytes, error } if error.is_empty() => {
                ("close_session", "device", format!("session ended ({bytes} bytes)"))
            }
            ConnectEvent::RemoteSessionEnded { error, .. } => {
                ("close_session", "device", format!("session failed: {error}"))
            }
            // Devices' connections are state (see the device's inventory), not user actions.
            ConnectEvent::DeviceConnected { .. } | ConnectEvent::DeviceDisconnected { .. } => return None,
        },
        DomainEvent::Claim(ClaimEvent::ClaimTaken { .. } | ClaimEvent::ClaimReleased { .. }) => return None,
        DomainEvent::Release(e) => match e {
            ReleaseEvent::ReleaseNotesSet { name, .. } => {
                ("update", "release", format!("release {name}: notes set"))
            }
            ReleaseEvent::ReleaseTagsSet { name, tags } => {
                ("update", "release", format!("release {name}: tags set to [{}]", tags.join(", ")))
            }
            ReleaseEvent::ReleaseDeleted { name } => ("delete", "release", format!("release {name} deleted")),
        },
        // The target's URL is shown; its secret never is (it does not render).
        DomainEvent::Integration(e) => match e {
            IntegrationEvent::IntegrationCreated { provider, target, .. } => {
                ("create", "integration", format!("{provider} integration to {}", target.url))
            }
            IntegrationEvent::IntegrationCredentialsSet { target } => {
                ("update", "integration", format!("credentials set, posting to {}", target.url))
            }
            IntegrationEvent::IntegrationDeleted => ("delete", "integration", "integration removed".into()),
        },
        // Deliveries are the process's bookkeeping, listed by iot-manager's events; alerts are
        // the devices' reports, listed by devicemonitor.
        DomainEvent::Webhook(_) | DomainEvent::Monitor(_) => return None,
    })
}
