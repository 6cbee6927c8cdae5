//! The audit read model: one entry per auditable event (who, when, what, on which object, with
//! the object's details as Mender's auditlogs show them), indexed by object and by actor,
//! served by the auditlogs API. Claims are bookkeeping, not audit facts, and are left out.

mod describe;
mod details;
#[cfg(test)]
mod tests;

use fleetlog_events::{ActorKind, RecordedEvent};
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
    /// `user`, `device`, `deployment`, `artifact`, `settings`, `token`, `inventory`, `filter`.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// Mender's type-specific object details as JSON text (`{"email"}` of a user, `{"name",
    /// "artifact_name"}` of a deployment, `{"id", "name", ...}` of an artifact,
    /// `{"identity_data"}` of a device), or empty when the type has none.
    #[serde(default)]
    pub object_details: String,
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

impl Projection for AuditProjection {
    fn name(&self) -> &'static str {
        crate::Model::Audit.name()
    }

    fn version(&self) -> u32 {
        // 2: object details, remote sessions on their device.
        2
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let env = &e.envelope;
        let tenant = env.aggregate.tenant.as_str();
        // What later entries need to know (a user's e-mail, a session's device, ...) is kept
        // first, so that an event can describe its own object too.
        details::remember(w, tenant, &env.aggregate.id, &env.event)?;
        let Some((action, object_type, change)) = describe::describe(&env.event) else { return Ok(()) };
        let object = details::object(w, tenant, &env.aggregate.id, object_type, action, &env.event)?;
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
            action: object.action,
            object_type: object_type.into(),
            object_id: object.id,
            object_details: object.details,
            change,
            event_type: env.event.event_type().into(),
            request_id: env.correlation_id.clone(),
        };
        w.insert(object_key(tenant, &entry.object_type, &entry.object_id, e.seq), Vec::new());
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
