//! Saved inventory filters (Mender's v2 filters resource): a named list of filter terms,
//! which is also how a group can be dynamic. Names are unique per tenant (a claim).

use serde::{Deserialize, Serialize};

use crate::Aggregate;

/// The saved-filter aggregate.
pub struct SavedFilter;

/// One term, as the client sent it; the operand stays JSON text so that the event does not
/// depend on a JSON library's types. The gateway checks terms before saving them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterTerm {
    /// `identity`, `inventory`, `system` or `tags`.
    pub scope: String,
    /// Attribute name.
    pub attribute: String,
    /// Operator, e.g. `$eq`.
    pub op: String,
    /// Operand, JSON text.
    pub value_json: String,
}

/// A saved filter's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FilterState {
    /// Created and not deleted.
    pub live: bool,
    /// Its name.
    pub name: String,
    /// Its terms.
    pub terms: Vec<FilterTerm>,
}

/// What may be asked of a saved filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterCommand {
    /// Save a new filter.
    Create {
        /// Its name.
        name: String,
        /// Its terms (at least one).
        terms: Vec<FilterTerm>,
    },
    /// Delete it.
    Delete,
}

/// The facts recorded about a saved filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FilterEvent {
    /// A filter was saved.
    FilterCreated {
        /// Its name.
        name: String,
        /// Its terms.
        terms: Vec<FilterTerm>,
    },
    /// It was deleted.
    FilterDeleted,
}

crate::event_names!(FilterEvent { FilterCreated, FilterDeleted });

crate::domain_event!(FilterEvent => Filter);

/// Why a filter command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The id is taken.
    #[error("filter already exists")]
    AlreadyExists,
    /// No such filter.
    #[error("filter not found")]
    NotFound,
    /// Empty or overlong name.
    #[error("filter name must be 1 to 1024 characters")]
    InvalidName,
    /// No terms, or too many.
    #[error("a filter needs 1 to 100 terms")]
    InvalidTerms,
}

impl Aggregate for SavedFilter {
    const TYPE: &'static str = "filter";
    type State = FilterState;
    type Command = FilterCommand;
    type Event = FilterEvent;
    type Error = FilterError;

    fn decide(state: &FilterState, command: &FilterCommand) -> Result<Vec<FilterEvent>, FilterError> {
        match command {
            FilterCommand::Create { name, terms } => {
                if state.live || !state.name.is_empty() {
                    return Err(FilterError::AlreadyExists);
                }
                if name.trim().is_empty() || name.chars().count() > 1024 {
                    return Err(FilterError::InvalidName);
                }
                if terms.is_empty() || terms.len() > 100 {
                    return Err(FilterError::InvalidTerms);
                }
                Ok(vec![FilterEvent::FilterCreated { name: name.clone(), terms: terms.clone() }])
            }
            FilterCommand::Delete if state.live => Ok(vec![FilterEvent::FilterDeleted]),
            FilterCommand::Delete => Err(FilterError::NotFound),
        }
    }

    fn evolve(mut state: FilterState, event: &FilterEvent) -> FilterState {
        match event {
            FilterEvent::FilterCreated { name, terms } => {
                state = FilterState { live: true, name: name.clone(), terms: terms.clone() }
            }
            FilterEvent::FilterDeleted => state.live = false,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Given;

    fn term() -> FilterTerm {
        FilterTerm {
            scope: "inventory".into(),
            attribute: "device_type".into(),
            op: "$eq".into(),
            value_json: "\"rpi4\"".into(),
        }
    }

    #[test]
    fn a_filter_is_created_once_and_deleted_once() {
        let create = FilterCommand::Create { name: "rpis".into(), terms: vec![term()] };
        let created = FilterEvent::FilterCreated { name: "rpis".into(), terms: vec![term()] };
        Given::<SavedFilter>::nothing().when(create.clone()).then([created.clone()]);
        Given::<SavedFilter>::events([created.clone()]).when(create).then_err(FilterError::AlreadyExists);
        Given::<SavedFilter>::events([created.clone()])
            .when(FilterCommand::Delete)
            .then([FilterEvent::FilterDeleted]);
        Given::<SavedFilter>::events([created, FilterEvent::FilterDeleted])
            .when(FilterCommand::Delete)
            .then_err(FilterError::NotFound);
    }

    #[test]
    fn names_and_terms_are_checked() {
        let create = |name: &str, terms: Vec<FilterTerm>| FilterCommand::Create { name: name.into(), terms };
        Given::<SavedFilter>::nothing().when(create(" ", vec![term()])).then_err(FilterError::InvalidName);
        Given::<SavedFilter>::nothing().when(create("x", vec![])).then_err(FilterError::InvalidTerms);
    }
}
