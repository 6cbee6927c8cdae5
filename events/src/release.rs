//! Releases (Mender's v2 releases): the artifacts sharing a name form a release; what an
//! operator adds to it — notes and tags — lives here. The aggregate id is derived from the
//! name by the caller (a bounded digest, so a name never reaches a subject); every event
//! carries the name itself.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The release aggregate.
pub struct Release;

/// Longest release notes, in characters (Mender: 1024).
pub const MAX_NOTES: usize = 1024;
/// Most tags on one release (Mender: 20).
pub const MAX_TAGS: usize = 20;
/// Most distinct tags over all releases (Mender: 100).
pub const MAX_UNIQUE_TAGS: usize = 100;
/// Longest tag, in bytes (Mender: 1024).
pub const MAX_TAG_LEN: usize = 1024;

/// A release's operator-set metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseState {
    /// The release name (empty before the first event).
    pub name: String,
    /// Release notes.
    pub notes: String,
    /// Tags, lower-case, sorted, distinct.
    pub tags: Vec<String>,
}

/// What may be asked of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseCommand {
    /// Replace the notes.
    SetNotes {
        /// The release name.
        name: String,
        /// The new notes.
        notes: String,
    },
    /// Replace the tags.
    SetTags {
        /// The release name.
        name: String,
        /// The tags as the client sent them (normalised here).
        tags: Vec<String>,
        /// Distinct tags of every other release now (resolved by the caller).
        tags_elsewhere: BTreeSet<String>,
    },
    /// Forget the metadata: the release's last artifact is gone.
    Delete {
        /// The release name.
        name: String,
    },
}

/// The facts recorded about a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ReleaseEvent {
    /// The notes changed.
    ReleaseNotesSet {
        /// The release name.
        name: String,
        /// The new notes.
        notes: String,
    },
    /// The tags were replaced.
    ReleaseTagsSet {
        /// The release name.
        name: String,
        /// The new tags (lower-case, sorted, distinct).
        tags: Vec<String>,
    },
    /// The release was deleted with its artifacts; its notes and tags are gone.
    ReleaseDeleted {
        /// The release name.
        name: String,
    },
}

crate::event_names!(ReleaseEvent { ReleaseNotesSet, ReleaseTagsSet, ReleaseDeleted });

crate::domain_event!(ReleaseEvent => Release);

/// Why a release command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// The notes are too long.
    #[error("release notes must be at most {MAX_NOTES} characters")]
    NotesTooLong,
    /// Too many tags on the release.
    #[error("the total number of tags per release exceeds the maximum of {MAX_TAGS}")]
    TooManyTags,
    /// A tag is empty, too long, or has characters other than letters, digits, `_`, `.`, `-`.
    #[error("invalid tag {0:?}: tags are 1..1024 letters, digits, underscores, periods and hyphens")]
    InvalidTag(String),
    /// Too many distinct tags over all releases.
    #[error("the total number of unique tags has been exceeded")]
    TooManyUniqueTags,
}

/// Mender's tag form: lower-case, sorted, without repeats.
pub fn normalize_tags(tags: &[String]) -> Vec<String> {
    let set: BTreeSet<String> = tags.iter().map(|t| t.to_lowercase()).collect();
    set.into_iter().collect()
}

fn valid_tag(tag: &str) -> bool {
    (1..=MAX_TAG_LEN).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl Aggregate for Release {
    const TYPE: &'static str = "release";
    type State = ReleaseState;
    type Command = ReleaseCommand;
    type Event = ReleaseEvent;
    type Error = ReleaseError;

    fn decide(state: &ReleaseState, command: &ReleaseCommand) -> Result<Vec<ReleaseEvent>, ReleaseError> {
        match command {
            ReleaseCommand::SetNotes { name, notes } => {
                if notes.chars().count() > MAX_NOTES {
                    return Err(ReleaseError::NotesTooLong);
                }
                if *notes == state.notes {
                    return Ok(vec![]);
                }
                Ok(vec![ReleaseEvent::ReleaseNotesSet { name: name.clone(), notes: notes.clone() }])
            }
            ReleaseCommand::SetTags { name, tags, tags_elsewhere } => {
                if let Some(bad) = tags.iter().find(|t| !valid_tag(t)) {
                    return Err(ReleaseError::InvalidTag(bad.chars().take(64).collect()));
                }
                let tags = normalize_tags(tags);
                if tags.len() > MAX_TAGS {
                    return Err(ReleaseError::TooManyTags);
                }
                let unique = tags_elsewhere.iter().chain(&tags).collect::<BTreeSet<_>>().len();
                if unique > MAX_UNIQUE_TAGS {
                    return Err(ReleaseError::TooManyUniqueTags);
                }
                if tags == state.tags {
                    return Ok(vec![]);
                }
                Ok(vec![ReleaseEvent::ReleaseTagsSet { name: name.clone(), tags }])
            }
            ReleaseCommand::Delete { name } => {
                if state.notes.is_empty() && state.tags.is_empty() {
                    return Ok(vec![]);
                }
                Ok(vec![ReleaseEvent::ReleaseDeleted { name: name.clone() }])
            }
        }
    }

    fn evolve(mut state: ReleaseState, event: &ReleaseEvent) -> ReleaseState {
        match event {
            ReleaseEvent::ReleaseNotesSet { name, notes } => {
                state.name.clone_from(name);
                state.notes.clone_from(notes);
            }
            ReleaseEvent::ReleaseTagsSet { name, tags } => {
                state.name.clone_from(name);
                state.tags.clone_from(tags);
            }
            ReleaseEvent::ReleaseDeleted { name } => {
                state = ReleaseState { name: name.clone(), ..Default::default() };
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn set_tags(tags: &[&str], elsewhere: &[&str]) -> ReleaseCommand {
        ReleaseCommand::SetTags {
            name: "r1".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            tags_elsewhere: elsewhere.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn tags_are_lowercased_deduplicated_and_repeats_append_nothing() {
        let set =
            ReleaseEvent::ReleaseTagsSet { name: "r1".into(), tags: vec!["beta".into(), "prod".into()] };
        Given::<Release>::nothing().when(set_tags(&["Prod", "beta", "prod"], &[])).then([set.clone()]);
        Given::<Release>::events([set]).when(set_tags(&["beta", "PROD"], &[])).then_nothing();
    }

    #[test]
    fn tags_are_limited_per_release_in_total_and_in_form() {
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        Given::<Release>::nothing().when(set_tags(&many, &[])).then_err(ReleaseError::TooManyTags);
        Given::<Release>::nothing()
            .when(set_tags(&["a b"], &[]))
            .then_err(ReleaseError::InvalidTag("a b".into()));
        Given::<Release>::nothing()
            .when(set_tags(&[""], &[]))
            .then_err(ReleaseError::InvalidTag(String::new()));
        let others: Vec<String> = (0..100).map(|i| format!("o{i}")).collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        Given::<Release>::nothing()
            .when(set_tags(&["new"], &others))
            .then_err(ReleaseError::TooManyUniqueTags);
        // A tag already used elsewhere does not count twice.
        Given::<Release>::nothing()
            .when(set_tags(&["o1"], &others))
            .then([ReleaseEvent::ReleaseTagsSet { name: "r1".into(), tags: vec!["o1".into()] }]);
    }

    #[test]
    fn notes_are_limited_and_deletion_forgets_everything() {
        let notes = |n: &str| ReleaseCommand::SetNotes { name: "r1".into(), notes: n.into() };
        Given::<Release>::nothing().when(notes(&"n".repeat(1025))).then_err(ReleaseError::NotesTooLong);
        let set = ReleaseEvent::ReleaseNotesSet { name: "r1".into(), notes: "fixes".into() };
        Given::<Release>::nothing().when(notes("fixes")).then([set.clone()]);
        Given::<Release>::events([set.clone()]).when(notes("fixes")).then_nothing();
        let delete = ReleaseCommand::Delete { name: "r1".into() };
        Given::<Release>::nothing().when(delete.clone()).then_nothing();
        let deleted = ReleaseEvent::ReleaseDeleted { name: "r1".into() };
        Given::<Release>::events([set.clone()]).when(delete).then([deleted.clone()]);
        let after = Given::<Release>::events([set, deleted]);
        assert_eq!(after.state(), &ReleaseState { name: "r1".into(), ..Default::default() });
    }
}
