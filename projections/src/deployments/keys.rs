//! Key layout of the deployments model. Times are 20-digit zero-padded microseconds so that
//! keys sort by creation.

fn ts(at: i64) -> String {
    format!("{:020}", at.max(0))
}

/// An artifact.
pub fn artifact_key(t: &str, id: &str) -> Vec<u8> {
    format!("A/{t}/{id}").into_bytes()
}

/// Artifacts by name: `N/<t>/<name>\0<id>`.
pub fn artifact_name_key(t: &str, name: &str, id: &str) -> Vec<u8> {
    format!("N/{t}/{name}\0{id}").into_bytes()
}

/// Prefix of the artifacts of one name.
pub fn artifact_name_prefix(t: &str, name: &str) -> Vec<u8> {
    format!("N/{t}/{name}\0").into_bytes()
}

/// A deployment.
pub fn deployment_key(t: &str, id: &str) -> Vec<u8> {
    format!("D/{t}/{id}").into_bytes()
}

/// Deployments in creation order.
pub fn created_key(t: &str, at: i64, id: &str) -> Vec<u8> {
    format!("C/{t}/{}{id}", ts(at)).into_bytes()
}

/// Prefix of [`created_key`]s.
pub fn created_prefix(t: &str) -> Vec<u8> {
    format!("C/{t}/").into_bytes()
}

/// Unfinished deployments by artifact name (artifact deletion is refused while one exists).
pub fn by_artifact_key(t: &str, name: &str, id: &str) -> Vec<u8> {
    format!("U/{t}/{name}\0{id}").into_bytes()
}

/// Prefix of [`by_artifact_key`]s of one name.
pub fn by_artifact_prefix(t: &str, name: &str) -> Vec<u8> {
    format!("U/{t}/{name}\0").into_bytes()
}

/// One device's part in one deployment.
pub fn part_key(t: &str, dep: &str, device: &str) -> Vec<u8> {
    format!("E/{t}/{dep}/{device}").into_bytes()
}

/// Prefix of a deployment's parts.
pub fn part_prefix(t: &str, dep: &str) -> Vec<u8> {
    format!("E/{t}/{dep}/").into_bytes()
}

/// (deployment, device) of a part key.
pub fn part_of_key(k: &[u8], t: &str) -> Option<(String, String)> {
    let rest = std::str::from_utf8(k).ok()?.strip_prefix(&format!("E/{t}/"))?;
    let (dep, device) = rest.split_once('/')?;
    Some((dep.to_owned(), device.to_owned()))
}

/// A device's log in a deployment.
pub fn log_key(t: &str, dep: &str, device: &str) -> Vec<u8> {
    format!("L/{t}/{dep}/{device}").into_bytes()
}

/// A device's deployments, oldest first.
pub fn history_key(t: &str, device: &str, at: i64, dep: &str) -> Vec<u8> {
    format!("H/{t}/{device}/{}{dep}", ts(at)).into_bytes()
}

/// Prefix of a device's [`history_key`]s.
pub fn history_prefix(t: &str, device: &str) -> Vec<u8> {
    format!("H/{t}/{device}/").into_bytes()
}

/// A device's unfinished deployments, oldest first: the first one is what `next` serves.
pub fn active_key(t: &str, device: &str, at: i64, dep: &str) -> Vec<u8> {
    format!("P/{t}/{device}/{}{dep}", ts(at)).into_bytes()
}

/// Prefix of a device's [`active_key`]s.
pub fn active_prefix(t: &str, device: &str) -> Vec<u8> {
    format!("P/{t}/{device}/").into_bytes()
}

/// The deployment id at the end of a key made by [`active_key`] or [`history_key`].
pub fn dep_of_timed_key(k: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(k).ok()?;
    let last = s.rsplit('/').next()?;
    last.get(20..)
}

/// (deployment, device) of an active key of `device`.
pub fn active_of_key(k: &[u8], _t: &str, device: &str) -> Option<(String, String)> {
    Some((dep_of_timed_key(k)?.to_owned(), device.to_owned()))
}

/// An unfinished deployment with phases or a failure limit: what the rollout scheduler watches.
pub fn rollout_key(t: &str, id: &str) -> Vec<u8> {
    format!("R/{t}/{id}").into_bytes()
}

/// Prefix of every tenant's [`rollout_key`]s.
pub const ROLLOUT_PREFIX: &[u8] = b"R/";

/// (tenant, deployment) of a [`rollout_key`].
pub fn rollout_of_key(k: &[u8]) -> Option<(String, String)> {
    let (t, id) = std::str::from_utf8(k).ok()?.strip_prefix("R/")?.split_once('/')?;
    Some((t.to_owned(), id.to_owned()))
}

/// An unfinished dynamic deployment, oldest first: what a polling device may join.
pub fn dynamic_key(t: &str, at: i64, id: &str) -> Vec<u8> {
    format!("Y/{t}/{}{id}", ts(at)).into_bytes()
}

/// Prefix of [`dynamic_key`]s.
pub fn dynamic_prefix(t: &str) -> Vec<u8> {
    format!("Y/{t}/").into_bytes()
}
