//! The audit read model: one entry per auditable event (who, when, what, on which object),
//! indexed by object and by actor, served by the auditlogs API. Claims are bookkeeping, not
//! audit facts, and are left out.

use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::DeploymentEvent;
use fleetlog_events::devconfig::DeviceConfigEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::FilterEvent;
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::release::ReleaseEvent;
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;
use fleetlog_events::{ActorKind, DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position of the event in the log.
    pub seq: u64,
    /// When, microseconds since the epoch.
    pub time: i64,
    /// `user`, `device` or `system`.
    pub actor_type: String,
    /// Actor id.
    pub actor_id: String,
    /// Actor e-mail (users).
    pub actor_email: String,
    /// What was done: create, update, delete, accept, reject, decommission, login, logout, ...
    pub action: String,
    /// `user`, `device`, `settings` or `token`.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// Human-readable change.
    pub change: String,
    /// The event type.
    pub event_type: String,
    /// The request id behind it.
    pub request_id: String,
}

/// The projection that maintains the audit log.
pub struct AuditProjection;

fn entry_key(tenant: &str, seq: u64) -> Vec<u8> {
    format!("l/{tenant}/{seq:016x}").into_bytes()
}

fn object_key(tenant: &str, object_type: &str, object_id: &str, seq: u64) -> Vec<u8> {
    format!("o/{tenant}/{object_type}/{object_id}/{seq:016x}").into_bytes()
}

fn actor_key(tenant: &str, actor_id: &str, seq: u64) -> Vec<u8> {
    format!("a/{tenant}/{actor_id}/{seq:016x}").into_bytes()
}

/// (action, object type, change) of an event, or `None` for bookkeeping events.
fn describe(event: &DomainEvent) -> Option<(&'static str, &'static str, String)> {
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
            format!("deployment {} of {} to {} devices", spec.name, spec.artifact_name, spec.devices.len()),
        ),
        DomainEvent::Deployment(DeploymentEvent::DeploymentAborted) => {
            ("abort", "deployment", "deployment aborted".into())
        }
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
                (action, "session", format!("{kind} with device {device_id} {detail}").trim_end().to_owned())
            }
            ConnectEvent::RemoteSessionEnded { bytes, error } if error.is_empty() => {
                ("close_session", "session", format!("session ended ({bytes} bytes)"))
            }
            ConnectEvent::RemoteSessionEnded { error, .. } => {
                ("close_session", "session", format!("session failed: {error}"))
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
    })
}

impl Projection for AuditProjection {
    fn name(&self) -> &'static str {
        "audit"
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let Some((action, object_type, change)) = describe(&e.envelope.event) else { return Ok(()) };
        let env = &e.envelope;
        let tenant = env.aggregate.tenant.as_str();
        let actor_type = match env.actor.kind {
            ActorKind::User => "user",
            ActorKind::Device => "device",
            ActorKind::System => "system",
        };
        let entry = AuditEntry {
            seq: e.seq,
            time: env.occurred_at.0,
            actor_type: actor_type.into(),
            actor_id: env.actor.id.clone(),
            actor_email: env.actor.email.clone(),
            action: action.into(),
            object_type: object_type.into(),
            object_id: env.aggregate.id.clone(),
            change,
            event_type: env.event.event_type().into(),
            request_id: env.correlation_id.clone(),
        };
        w.insert(object_key(tenant, object_type, &entry.object_id, e.seq), Vec::new());
        w.insert(actor_key(tenant, &entry.actor_id, e.seq), Vec::new());
        w.insert(entry_key(tenant, e.seq), to_bytes(&entry)?);
        Ok(())
    }
}

/// Filters of an audit query (all optional; times in microseconds, inclusive).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actor id.
    pub actor_id: Option<String>,
    /// Actor e-mail.
    pub actor_email: Option<String>,
    /// Object type.
    pub object_type: Option<String>,
    /// Object id.
    pub object_id: Option<String>,
    /// Not before.
    pub after: Option<i64>,
    /// Not after.
    pub before: Option<i64>,
    /// Oldest first (default: newest first).
    pub ascending: bool,
}

/// Queries over the audit log.
pub struct AuditQueries<'a>(pub &'a ReadModel);

impl AuditQueries<'_> {
    /// Matching entries, skipping `skip`, at most `limit`, and the total number of matches.
    /// An object or actor filter reads only that index; otherwise the log is walked in order.
    pub fn search(
        &self,
        tenant: &str,
        f: &AuditFilter,
        skip: usize,
        limit: usize,
    ) -> Result<(Vec<AuditEntry>, usize), ProjectionError> {
        let tree = self.0.tree();
        let (prefix, via_index) = match (&f.object_type, &f.object_id, &f.actor_id) {
            (Some(t), Some(id), _) => (format!("o/{tenant}/{t}/{id}/"), true),
            (_, _, Some(actor)) => (format!("a/{tenant}/{actor}/"), true),
            _ => (format!("l/{tenant}/"), false),
        };
        let keys = tree.scan_prefix(&prefix).keys();
        let keys: Box<dyn Iterator<Item = sled::Result<sled::IVec>>> =
            if f.ascending { Box::new(keys) } else { Box::new(keys.rev()) };
        let (mut out, mut total) = (Vec::new(), 0usize);
        for key in keys {
            let key = key?;
            let entry: AuditEntry = if via_index {
                let seq = u64::from_str_radix(std::str::from_utf8(&key[prefix.len()..]).unwrap_or("0"), 16)
                    .unwrap_or(0);
                match tree.get(entry_key(tenant, seq))? {
                    Some(v) => from_bytes(&v)?,
                    None => continue,
                }
            } else {
                match tree.get(&key)? {
                    Some(v) => from_bytes(&v)?,
                    None => continue,
                }
            };
            let keep = f.actor_id.as_ref().is_none_or(|a| *a == entry.actor_id)
                && f.actor_email.as_ref().is_none_or(|m| *m == entry.actor_email)
                && f.object_type.as_ref().is_none_or(|t| *t == entry.object_type)
                && f.object_id.as_ref().is_none_or(|i| *i == entry.object_id)
                && f.after.is_none_or(|t| entry.time >= t)
                && f.before.is_none_or(|t| entry.time <= t);
            if keep {
                if total >= skip && out.len() < limit {
                    out.push(entry);
                }
                total += 1;
            }
        }
        Ok((out, total))
    }
}
