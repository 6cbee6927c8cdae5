//! Reads over the deployments model.

use super::keys::*;
use super::{ArtifactView, DeploymentView, DeviceDeploymentView};
use crate::{ProjectionError, ReadModel, from_bytes};

/// Queries over the deployments read model.
pub struct DeploymentsQueries<'a>(pub &'a ReadModel);

impl DeploymentsQueries<'_> {
    fn one<T: serde::de::DeserializeOwned>(&self, key: Vec<u8>) -> Result<Option<T>, ProjectionError> {
        self.0.tree().get(key)?.map(|v| from_bytes(&v)).transpose()
    }

    /// One artifact.
    pub fn artifact(&self, t: &str, id: &str) -> Result<Option<ArtifactView>, ProjectionError> {
        self.one(artifact_key(t, id))
    }

    /// Every artifact, by id.
    pub fn artifacts(&self, t: &str) -> Result<Vec<ArtifactView>, ProjectionError> {
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(format!("A/{t}/")) {
            out.push(from_bytes(&kv?.1)?);
        }
        Ok(out)
    }

    /// The artifacts named `name` (a release).
    pub fn artifacts_named(&self, t: &str, name: &str) -> Result<Vec<ArtifactView>, ProjectionError> {
        let prefix = artifact_name_prefix(t, name);
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(&prefix).keys() {
            let k = k?;
            let id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(a) = self.artifact(t, &id)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// How many unfinished deployments deploy artifact name `name`.
    pub fn active_deployments_of(&self, t: &str, name: &str) -> Result<usize, ProjectionError> {
        Ok(self.0.tree().scan_prefix(by_artifact_prefix(t, name)).count())
    }

    /// The ids of the unfinished deployments that deploy artifact name `name`.
    pub fn active_deployment_ids_of(&self, t: &str, name: &str) -> Result<Vec<String>, ProjectionError> {
        let prefix = by_artifact_prefix(t, name);
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(&prefix).keys() {
            out.push(String::from_utf8_lossy(&k?[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    /// One deployment.
    pub fn deployment(&self, t: &str, id: &str) -> Result<Option<DeploymentView>, ProjectionError> {
        self.one(deployment_key(t, id))
    }

    /// Every deployment, newest first.
    pub fn deployments(&self, t: &str) -> Result<Vec<DeploymentView>, ProjectionError> {
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(created_prefix(t)).keys().rev() {
            let k = k?;
            let id = String::from_utf8_lossy(&k[created_prefix(t).len() + 20..]).into_owned();
            if let Some(d) = self.deployment(t, &id)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// One device's part in one deployment.
    pub fn part(
        &self,
        t: &str,
        dep: &str,
        device: &str,
    ) -> Result<Option<DeviceDeploymentView>, ProjectionError> {
        self.one(part_key(t, dep, device))
    }

    /// Every device's part in a deployment, by device id.
    pub fn parts(&self, t: &str, dep: &str) -> Result<Vec<DeviceDeploymentView>, ProjectionError> {
        let mut out = Vec::new();
        for kv in self.0.tree().scan_prefix(part_prefix(t, dep)) {
            out.push(from_bytes(&kv?.1)?);
        }
        Ok(out)
    }

    /// A device's uploaded log in a deployment (JSON array text).
    pub fn log(&self, t: &str, dep: &str, device: &str) -> Result<Option<String>, ProjectionError> {
        Ok(self.0.tree().get(log_key(t, dep, device))?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// A device's parts in every deployment, newest first.
    pub fn history(&self, t: &str, device: &str) -> Result<Vec<DeviceDeploymentView>, ProjectionError> {
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(history_prefix(t, device)).keys().rev() {
            let k = k?;
            if let Some(dep) = dep_of_timed_key(&k)
                && let Some(p) = self.part(t, dep, device)?
            {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The oldest unfinished deployment of a device: what `deployments/next` serves. One seek.
    pub fn next_for(&self, t: &str, device: &str) -> Result<Option<String>, ProjectionError> {
        let Some(k) = self.0.tree().scan_prefix(active_prefix(t, device)).keys().next() else {
            return Ok(None);
        };
        Ok(dep_of_timed_key(&k?).map(str::to_owned))
    }

    /// A device's unfinished deployments, oldest first (`next` serves the first it may have).
    pub fn active_for(&self, t: &str, device: &str) -> Result<Vec<String>, ProjectionError> {
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(active_prefix(t, device)).keys() {
            out.extend(dep_of_timed_key(&k?).map(str::to_owned));
        }
        Ok(out)
    }

    /// Every tenant's unfinished deployments with phases or a failure limit: (tenant, id).
    pub fn rollouts(&self) -> Result<Vec<(String, String)>, ProjectionError> {
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(ROLLOUT_PREFIX).keys() {
            out.extend(rollout_of_key(&k?));
        }
        Ok(out)
    }

    /// A tenant's unfinished dynamic deployments, oldest first.
    pub fn dynamic_deployments(&self, t: &str) -> Result<Vec<String>, ProjectionError> {
        let mut out = Vec::new();
        for k in self.0.tree().scan_prefix(dynamic_prefix(t)).keys() {
            out.extend(dep_of_timed_key(&k?).map(str::to_owned));
        }
        Ok(out)
    }
}
