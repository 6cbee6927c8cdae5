//! The read models as a type: queries name the model they read with [`Model`], so a misspelt
//! model is a compile error rather than a 500, and each projection takes its name from here.

/// One of fleetlog's read models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// Devices and their auth sets (deviceauth).
    Devices,
    /// Users and their tokens (useradm).
    Users,
    /// The audit log.
    Audit,
    /// Device inventories, groups, saved filters and the attribute index.
    Inventory,
    /// Deployments and each device's part.
    Deployments,
    /// Remote access: connections, sessions, device configuration.
    Remote,
    /// Releases: notes, tags, types in use.
    Releases,
    /// iot-manager: integrations and webhook events with their delivery outcomes.
    Integrations,
    /// devicemonitor: device alerts and monitor configuration.
    Monitor,
}

impl Model {
    /// Every model.
    pub const ALL: [Model; 9] = [
        Model::Devices,
        Model::Users,
        Model::Audit,
        Model::Inventory,
        Model::Deployments,
        Model::Remote,
        Model::Releases,
        Model::Integrations,
        Model::Monitor,
    ];

    /// The stable name: the sled tree prefix, the metric label and `fleetlog replay --model`.
    pub const fn name(self) -> &'static str {
        match self {
            Model::Devices => "devices",
            Model::Users => "users",
            Model::Audit => "audit",
            Model::Inventory => "inventory",
            Model::Deployments => "deployments",
            Model::Remote => "remote",
            Model::Releases => "releases",
            Model::Integrations => "integrations",
            Model::Monitor => "monitor",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Model;

    #[test]
    fn model_names_are_distinct() {
        let mut names: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Model::ALL.len());
    }
}
