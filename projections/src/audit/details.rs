//! Mender's type-specific object details of audit entries (`object.user.email`,
//! `object.deployment.{name, artifact_name}`, `object.artifact.{...}`,
//! `object.device.identity_data`), taken from earlier events of the same object and kept in
//! the audit model itself, so that a rebuild from the log gives the same entries. Remote-access
//! sessions are put on their device, with Mender's action names.

use fleetlog_events::DomainEvent;
use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::connect::ConnectEvent;
use fleetlog_events::deployment::DeploymentEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::user::UserEvent;
use serde_json::{Value, json};

use crate::{ProjectionError, Writer};

/// The object an entry is about.
pub(super) struct Object {
    /// Its id.
    pub id: String,
    /// The entry's action (a closed session's is named after its kind).
    pub action: String,
    /// The details as JSON text, or empty.
    pub details: String,
}

fn key(kind: &str, tenant: &str, id: &str) -> Vec<u8> {
    format!("x/{kind}/{tenant}/{id}").into_bytes()
}

fn get(w: &Writer<'_>, kind: &str, tenant: &str, id: &str) -> Result<Option<String>, ProjectionError> {
    Ok(w.get(&key(kind, tenant, id))?.map(|v| String::from_utf8_lossy(&v).into_owned()))
}

/// Keeps what later entries need from an event of aggregate `id`.
pub(super) fn remember(
    w: &mut Writer<'_>,
    tenant: &str,
    id: &str,
    event: &DomainEvent,
) -> Result<(), ProjectionError> {
    let (kind, value) = match event {
        DomainEvent::User(UserEvent::UserCreated { email, .. } | UserEvent::UserEmailChanged { email }) => {
            ("user", email.clone())
        }
        DomainEvent::Device(
            DeviceEvent::AuthSetSubmitted { identity_data, .. }
            | DeviceEvent::DevicePreauthorized { identity_data, .. },
        ) => ("device", identity_data.clone()),
        DomainEvent::Deployment(DeploymentEvent::DeploymentCreated { spec }) => {
            ("deployment", json!({ "name": spec.name, "artifact_name": spec.artifact_name }).to_string())
        }
        DomainEvent::Artifact(ArtifactEvent::ArtifactUploaded { info }) => {
            let artifact = json!({
                "id": id,
                "name": info.name,
                "description": info.description,
                "device_types_compatible": info.device_types,
                "size": info.size,
            });
            ("artifact", artifact.to_string())
        }
        DomainEvent::Artifact(ArtifactEvent::ArtifactDescriptionChanged { description }) => {
            let Some(old) = get(w, "artifact", tenant, id)? else { return Ok(()) };
            let mut artifact: Value = serde_json::from_str(&old).unwrap_or_else(|_| json!({}));
            artifact["description"] = json!(description);
            ("artifact", artifact.to_string())
        }
        DomainEvent::Connect(ConnectEvent::RemoteSessionStarted { device_id, kind, .. }) => {
            ("session", format!("{kind}\n{device_id}"))
        }
        _ => return Ok(()),
    };
    w.insert(key(kind, tenant, id), value.into_bytes());
    Ok(())
}

/// The object of an entry described as (`action`, `object_type`) for an event of aggregate
/// `aggregate`: its id and details.
pub(super) fn object(
    w: &Writer<'_>,
    tenant: &str,
    aggregate: &str,
    object_type: &str,
    action: &str,
    event: &DomainEvent,
) -> Result<Object, ProjectionError> {
    let (id, action) = match event {
        DomainEvent::Connect(ConnectEvent::RemoteSessionStarted { device_id, .. }) => {
            (device_id.clone(), action.to_owned())
        }
        DomainEvent::Connect(ConnectEvent::RemoteSessionEnded { .. }) => {
            let session = get(w, "session", tenant, aggregate)?.unwrap_or_default();
            let (kind, device) = session.split_once('\n').unwrap_or(("", aggregate));
            let action = match kind {
                "terminal" => "close_terminal",
                "port-forward" => "close_portforward",
                _ => action,
            };
            (device.to_owned(), action.to_owned())
        }
        _ => (aggregate.to_owned(), action.to_owned()),
    };
    let details = match object_type {
        "user" => get(w, "user", tenant, &id)?.map(|email| json!({ "email": email })),
        "deployment" | "artifact" => {
            get(w, object_type, tenant, &id)?.and_then(|text| serde_json::from_str::<Value>(&text).ok())
        }
        "device" => get(w, "device", tenant, &id)?.map(|identity| {
            // Stored as the device sent it: a JSON object as text.
            let identity = serde_json::from_str::<Value>(&identity).unwrap_or(Value::String(identity));
            json!({ "identity_data": identity })
        }),
        _ => None,
    };
    Ok(Object { id, action, details: details.map(|d| d.to_string()).unwrap_or_default() })
}
