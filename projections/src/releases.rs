//! The releases read model: per release name its artifacts (size, update types, device
//! types), its notes and tags from the release aggregate, a tag index for `?tag=` and
//! `releases/all/tags`, the tenant's storage usage (the sum of its artifacts' sizes), and the
//! pending direct uploads (for their completion and for the sweeper that expires them).

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::release::ReleaseEvent;
use fleetlog_events::{DomainEvent, RecordedEvent};
use serde::{Deserialize, Serialize};

use crate::{Projection, ProjectionError, ReadModel, Writer, from_bytes, to_bytes};

/// What a release shows of one of its artifacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseArtifact {
    /// Size in bytes.
    pub size: u64,
    /// Update types of its payloads (`rootfs-image`, `single-file`, ...).
    pub update_types: Vec<String>,
    /// Device types it installs on.
    pub device_types: Vec<String>,
}

/// A release: the artifacts sharing a name, with the operator's notes and tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseView {
    /// The release name.
    pub name: String,
    /// Its artifacts by id.
    pub artifacts: BTreeMap<String, ReleaseArtifact>,
    /// Release notes.
    pub notes: String,
    /// Tags, lower-case, sorted.
    pub tags: Vec<String>,
    /// Last change, microseconds since the epoch.
    pub modified_ts: i64,
}

/// The projection that maintains the releases model.
pub struct ReleasesProjection;

fn release_key(t: &str, name: &str) -> Vec<u8> {
    format!("r/{t}/{name}").into_bytes()
}

/// `g/<t>/<tag>\0<release>`: a tag in use on a release.
fn tag_key(t: &str, tag: &str, name: &str) -> Vec<u8> {
    format!("g/{t}/{tag}\0{name}").into_bytes()
}

/// An artifact's release name and size (artifact events carry neither after the upload).
fn artifact_key(t: &str, id: &str) -> Vec<u8> {
    format!("a/{t}/{id}").into_bytes()
}

/// A pending direct upload: its storage key and deadline.
fn pending_key(t: &str, id: &str) -> Vec<u8> {
    format!("p/{t}/{id}").into_bytes()
}

fn usage_key(t: &str) -> Vec<u8> {
    format!("u/{t}").into_bytes()
}

fn load<T: Default + serde::de::DeserializeOwned>(w: &Writer<'_>, key: &[u8]) -> Result<T, ProjectionError> {
    Ok(w.get(key)?.map(|v| from_bytes(&v)).transpose()?.unwrap_or_default())
}

/// The update types named in Mender's Artifact JSON (`updates[].type_info.type`).
fn update_types(meta_json: &str) -> Vec<String> {
    let meta: serde_json::Value = serde_json::from_str(meta_json).unwrap_or_default();
    let types: BTreeSet<String> = meta["updates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["type_info"]["type"].as_str().map(str::to_owned))
        .collect();
    types.into_iter().collect()
}

/// Stores a release, or removes it once it has neither artifacts nor metadata.
fn save(w: &mut Writer<'_>, t: &str, view: &ReleaseView) -> Result<(), ProjectionError> {
    let key = release_key(t, &view.name);
    if view.artifacts.is_empty() && view.notes.is_empty() && view.tags.is_empty() {
        return w.remove(key);
    }
    w.insert(key, to_bytes(view)?);
    Ok(())
}

fn set_tags(
    w: &mut Writer<'_>,
    t: &str,
    view: &mut ReleaseView,
    tags: &[String],
) -> Result<(), ProjectionError> {
    for old in &view.tags {
        w.remove(tag_key(t, old, &view.name))?;
    }
    for new in tags {
        w.insert(tag_key(t, new, &view.name), Vec::new());
    }
    view.tags = tags.to_vec();
    Ok(())
}

impl Projection for ReleasesProjection {
    fn name(&self) -> &'static str {
        crate::Model::Releases.name()
    }

    fn version(&self) -> u32 {
        1
    }

    fn apply(&self, w: &mut Writer<'_>, e: &RecordedEvent) -> Result<(), ProjectionError> {
        let env = &e.envelope;
        let (t, id, at) = (env.aggregate.tenant.as_str(), env.aggregate.id.as_str(), env.occurred_at.0);
        match &env.event {
            DomainEvent::Artifact(ArtifactEvent::ArtifactUploadRequested { storage_key, expires_at }) => {
                w.insert(pending_key(t, id), to_bytes(&(storage_key, expires_at))?);
            }
            DomainEvent::Artifact(ArtifactEvent::ArtifactUploadAbandoned { .. }) => {
                w.remove(pending_key(t, id))?
            }
            DomainEvent::Artifact(ArtifactEvent::ArtifactUploaded { info }) => {
                w.remove(pending_key(t, id))?;
                let mut view: ReleaseView = load(w, &release_key(t, &info.name))?;
                view.name.clone_from(&info.name);
                let artifact = ReleaseArtifact {
                    size: info.size,
                    update_types: update_types(&info.meta_json),
                    device_types: info.device_types.clone(),
                };
                view.artifacts.insert(id.to_owned(), artifact);
                view.modified_ts = at;
                save(w, t, &view)?;
                w.insert(artifact_key(t, id), to_bytes(&(info.name.clone(), info.size))?);
                let usage: u64 = load(w, &usage_key(t))?;
                w.insert(usage_key(t), to_bytes(&(usage + info.size))?);
            }
            DomainEvent::Artifact(ArtifactEvent::ArtifactDeleted) => {
                let Some((name, size)) =
                    w.get(&artifact_key(t, id))?.map(|v| from_bytes::<(String, u64)>(&v)).transpose()?
                else {
                    return Ok(());
                };
                let mut view: ReleaseView = load(w, &release_key(t, &name))?;
                view.artifacts.remove(id);
                view.modified_ts = at;
                save(w, t, &view)?;
                w.remove(artifact_key(t, id))?;
                let usage: u64 = load(w, &usage_key(t))?;
                w.insert(usage_key(t), to_bytes(&usage.saturating_sub(size))?);
            }
            DomainEvent::Release(r) => {
                let name = match r {
                    ReleaseEvent::ReleaseNotesSet { name, .. }
                    | ReleaseEvent::ReleaseTagsSet { name, .. }
                    | ReleaseEvent::ReleaseDeleted { name } => name,
                };
                let mut view: ReleaseView = load(w, &release_key(t, name))?;
                view.name.clone_from(name);
                match r {
                    ReleaseEvent::ReleaseNotesSet { notes, .. } => view.notes.clone_from(notes),
                    ReleaseEvent::ReleaseTagsSet { tags, .. } => set_tags(w, t, &mut view, tags)?,
                    ReleaseEvent::ReleaseDeleted { .. } => {
                        set_tags(w, t, &mut view, &[])?;
                        view.notes.clear();
                    }
                }
                view.modified_ts = at;
                save(w, t, &view)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Queries over the releases model.
pub struct ReleasesQueries<'a>(pub &'a ReadModel);

impl ReleasesQueries<'_> {
    /// One release, if it has artifacts.
    pub fn release(&self, t: &str, name: &str) -> Result<Option<ReleaseView>, ProjectionError> {
        let view: Option<ReleaseView> =
            self.0.tree().get(release_key(t, name))?.map(|v| from_bytes(&v)).transpose()?;
        Ok(view.filter(|v| !v.artifacts.is_empty()))
    }

    /// Every release that has artifacts, by name.
    pub fn releases(&self, t: &str) -> Result<Vec<ReleaseView>, ProjectionError> {
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(format!("r/{t}/")) {
            let view: ReleaseView = from_bytes(&kv?.1)?;
            if !view.artifacts.is_empty() {
                out.push(view);
            }
        }
        Ok(out)
    }

    /// Every tag in use, sorted.
    pub fn tags(&self, t: &str) -> Result<Vec<String>, ProjectionError> {
        let prefix = format!("g/{t}/");
        let mut tags = BTreeSet::new();
        for k in self.0.tree().scan_prefix(&prefix).keys() {
            let k = k?;
            let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some((tag, _)) = rest.split_once('\0') {
                tags.insert(tag.to_owned());
            }
        }
        Ok(tags.into_iter().collect())
    }

    /// Every update type of every release's artifacts, sorted.
    pub fn update_types(&self, t: &str) -> Result<Vec<String>, ProjectionError> {
        let types: BTreeSet<String> = self
            .releases(t)?
            .into_iter()
            .flat_map(|r| r.artifacts.into_values().flat_map(|a| a.update_types))
            .collect();
        Ok(types.into_iter().collect())
    }

    /// A pending direct upload: (storage key, deadline in microseconds).
    pub fn pending_upload(&self, t: &str, id: &str) -> Result<Option<(String, i64)>, ProjectionError> {
        self.0.tree().get(pending_key(t, id))?.map(|v| from_bytes(&v)).transpose()
    }

    /// Every pending direct upload: (id, storage key, deadline in microseconds).
    pub fn pending_uploads(&self, t: &str) -> Result<Vec<(String, String, i64)>, ProjectionError> {
        let prefix = format!("p/{t}/");
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(&prefix) {
            let (k, v) = kv?;
            let (key, expires): (String, i64) = from_bytes(&v)?;
            out.push((String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), key, expires));
        }
        Ok(out)
    }

    /// Bytes of every stored artifact.
    pub fn usage(&self, t: &str) -> Result<u64, ProjectionError> {
        Ok(self.0.tree().get(usage_key(t))?.map(|v| from_bytes(&v)).transpose()?.unwrap_or(0))
    }
}
