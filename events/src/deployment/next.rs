//! Mender's rule for what `deployments/next` hands a device: an artifact of the deployment
//! that fits the device type (the one given before, if it still does), unless the device
//! already runs it. Pure, so the gateway only carries the outcome out.

/// One artifact of the deployment's artifact name.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// Artifact id.
    pub id: &'a str,
    /// Artifact name.
    pub name: &'a str,
    /// Device types it installs on.
    pub device_types: &'a [String],
}

/// What the device gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextChoice<'a> {
    /// This artifact (by id).
    Install(&'a str),
    /// The device runs it already: its part ends `already-installed`.
    AlreadyInstalled,
    /// Nothing fits the device type: its part ends `noartifact`.
    NoArtifact,
}

/// Chooses for a device of `device_type` running `installed`; `assigned` is the artifact an
/// earlier answer gave it.
pub fn choose<'a>(
    candidates: &[Candidate<'a>],
    assigned: Option<&str>,
    device_type: &str,
    installed: &str,
    force: bool,
) -> NextChoice<'a> {
    let fits = |c: &&Candidate<'a>| c.device_types.iter().any(|d| d == device_type);
    let chosen = candidates
        .iter()
        .find(|c| assigned == Some(c.id) && fits(c))
        .or_else(|| candidates.iter().find(fits));
    match chosen {
        None => NextChoice::NoArtifact,
        Some(c) if c.name == installed && !force => NextChoice::AlreadyInstalled,
        Some(c) => NextChoice::Install(c.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fitting_artifact_unless_installed() {
        let (rpi, qemu) = (vec!["rpi4".to_owned()], vec!["qemu".to_owned()]);
        let all = [
            Candidate { id: "a", name: "r2", device_types: &qemu },
            Candidate { id: "b", name: "r2", device_types: &rpi },
            Candidate { id: "c", name: "r2", device_types: &rpi },
        ];
        assert_eq!(choose(&all, None, "rpi4", "r1", false), NextChoice::Install("b"));
        assert_eq!(choose(&all, Some("c"), "rpi4", "r1", false), NextChoice::Install("c"));
        assert_eq!(choose(&all, Some("a"), "rpi4", "r1", false), NextChoice::Install("b"));
        assert_eq!(choose(&all, None, "rpi4", "r2", false), NextChoice::AlreadyInstalled);
        assert_eq!(choose(&all, None, "rpi4", "r2", true), NextChoice::Install("b"));
        assert_eq!(choose(&all, None, "x86", "r1", false), NextChoice::NoArtifact);
    }
}
