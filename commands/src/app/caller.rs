//! Who calls the application layer: tenant, actor and request id, built once by the
//! transport's authentication (a user's or device's token, or a system component).

use fleetlog_events::Actor;
use sha2::{Digest as _, Sha256};

use crate::CommandMeta;

/// The caller of an application function. The tenant travels with it, so nothing below the
/// transport assumes one.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant acted in.
    pub tenant: String,
    /// Who acts (a user, a device, a system component).
    pub actor: Actor,
    /// The request id (`X-MEN-RequestID`), recorded as each event's correlation id.
    pub request_id: String,
    /// A command id fixed by an idempotency key, so that a retry is recognised; `None` for a
    /// fresh one per command.
    pub command_id: Option<String>,
}

impl Caller {
    /// A user of `tenant`.
    pub fn user(tenant: &str, id: &str, email: &str, request_id: &str) -> Caller {
        Caller::new(tenant, Actor::user(id, email), request_id)
    }

    /// A device of `tenant`.
    pub fn device(tenant: &str, id: &str, request_id: &str) -> Caller {
        Caller::new(tenant, Actor::device(id), request_id)
    }

    /// A component of the server itself (a sweeper, a process manager, the CLI).
    pub fn system(tenant: &str, component: &str) -> Caller {
        Caller::new(tenant, Actor::system(component), "")
    }

    fn new(tenant: &str, actor: Actor, request_id: &str) -> Caller {
        Caller { tenant: tenant.to_owned(), actor, request_id: request_id.to_owned(), command_id: None }
    }

    /// Metadata for one command run on this caller's behalf (the clock read here).
    pub fn meta(&self) -> CommandMeta {
        let mut meta = CommandMeta::new(&self.tenant, self.actor.clone(), &self.request_id);
        if let Some(id) = &self.command_id {
            meta.command_id = id.clone();
        }
        meta
    }

    /// For a creating request: the new object's id and the caller to run its command as. With
    /// an idempotency key both derive from (tenant, actor, `what`, key), so a retry names the
    /// same object and the same command, which the command loop stores at most once.
    pub fn creating(&self, what: &str, key: Option<&str>) -> (Caller, String) {
        let Some(key) = key else { return (self.clone(), uuid::Uuid::new_v4().to_string()) };
        // Length-prefixed fields: no two (tenant, actor, what, key) name the same request.
        let name: String = [self.tenant.as_str(), self.actor.id.as_str(), what, key]
            .iter()
            .map(|f| format!("{}:{f};", f.len()))
            .collect();
        let caller = Caller { command_id: Some(derived("command", &name)), ..self.clone() };
        (caller, derived("object", &name))
    }
}

/// A device caller borrowed from its verified token, for the polling path: nothing is
/// allocated unless a command runs ([`DeviceCaller::caller`]).
#[derive(Debug, Clone, Copy)]
pub struct DeviceCaller<'a> {
    /// The device's tenant.
    pub tenant: &'a str,
    /// The device id.
    pub device: &'a str,
    /// The request id.
    pub request_id: &'a str,
}

impl DeviceCaller<'_> {
    /// The owned caller, for a command.
    pub fn caller(&self) -> Caller {
        Caller::device(self.tenant, self.device, self.request_id)
    }
}

fn derived(purpose: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("fleetlog idempotency {purpose} {name}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idempotency_key_names_one_object_and_one_command_per_caller() {
        let a = Caller::user("default", "u1", "a@b.co", "r1");
        let (first, id1) = a.creating("deployment", Some("k"));
        let (again, id2) = Caller::user("default", "u1", "a@b.co", "r2").creating("deployment", Some("k"));
        assert_eq!(id1, id2);
        assert_eq!(first.meta().command_id, again.meta().command_id);
        let (_, other_user) = Caller::user("default", "u2", "c@d.co", "r1").creating("deployment", Some("k"));
        let (_, other_kind) = a.creating("filter", Some("k"));
        assert!(other_user != id1 && other_kind != id1);
        let (plain, fresh) = a.creating("deployment", None);
        assert!(plain.command_id.is_none() && fresh != id1);
    }
}
