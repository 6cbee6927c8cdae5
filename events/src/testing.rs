//! A given/when/then harness for pure aggregate tests.
//!
//! ```
//! use fleetlog_events::testing::Given;
//! use fleetlog_events::device::{Device, DeviceCommand, DeviceError};
//! Given::<Device>::nothing()
//!     .when(DeviceCommand::Decommission)
//!     .then_err(DeviceError::NotFound);
//! ```

use crate::Aggregate;

/// The events that already happened to an aggregate.
pub struct Given<A: Aggregate> {
    state: A::State,
}

impl<A: Aggregate> Given<A> {
    /// A new aggregate: no events.
    pub fn nothing() -> Self {
        Given { state: A::initial() }
    }

    /// An aggregate folded from these events.
    pub fn events(events: impl IntoIterator<Item = A::Event>) -> Self {
        let state = events.into_iter().fold(A::initial(), |s, e| A::evolve(s, &e));
        Given { state }
    }

    /// The state under test (for assertions on `evolve`).
    pub fn state(&self) -> &A::State {
        &self.state
    }

    /// Decides one command against the given state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = A::decide(&self.state, &command);
        Then { result }
    }
}

/// The outcome of a command, to assert on.
pub struct Then<A: Aggregate> {
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A> {
    /// The command must produce exactly these events.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) {
        let expected: Vec<_> = expected.into_iter().collect();
        match self.result {
            Ok(events) => assert_eq!(events, expected, "unexpected events"),
            Err(e) => panic!("expected events {expected:?}, got error {e:?}"),
        }
    }

    /// The command must change nothing (an idempotent repeat).
    #[track_caller]
    pub fn then_nothing(self) {
        self.then([]);
    }

    /// The command must be refused with this error.
    #[track_caller]
    pub fn then_err(self, expected: A::Error) {
        match self.result {
            Ok(events) => panic!("expected error {expected:?}, got events {events:?}"),
            Err(e) => assert_eq!(e, expected, "unexpected error"),
        }
    }
}
