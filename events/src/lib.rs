//! fleetlog's domain: every aggregate as pure `decide`/`evolve` functions over its own events.
//!
//! Nothing here does I/O, reads a clock or makes ids: command handlers resolve those first and
//! put them in the command. That keeps every business rule testable with [`testing::Given`].

/// The two conversions between an aggregate's event type and [`DomainEvent`] (one variant per
/// aggregate), which the command side and the read models use.
#[macro_export]
macro_rules! domain_event {
    ($event:ty => $variant:ident) => {
        impl From<$event> for $crate::DomainEvent {
            fn from(e: $event) -> Self {
                $crate::DomainEvent::$variant(e)
            }
        }

        impl TryFrom<$crate::DomainEvent> for $event {
            type Error = $crate::DomainEvent;
            fn try_from(e: $crate::DomainEvent) -> Result<Self, $crate::DomainEvent> {
                match e {
                    $crate::DomainEvent::$variant(e) => Ok(e),
                    other => Err(other),
                }
            }
        }
    };
}

/// An event enum's type names, from its variants: `event_type()` (the name of a value, as tail,
/// audit and the `Fleetlog-Event` header show it) and [`EventNames::NAMES`] (all of them, for
/// the registry). The match it makes is exhaustive, so a variant left out does not compile.
#[macro_export]
macro_rules! event_names {
    ($event:ident { $($variant:ident),+ $(,)? }) => {
        impl $event {
            /// The event's type name.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)+
                }
            }
        }

        impl $crate::EventNames for $event {
            const NAMES: &'static [&'static str] = &[$(stringify!($variant)),+];
        }
    };
}

pub mod artifact;
pub mod claim;
pub mod connect;
pub mod deployment;
pub mod devconfig;
pub mod device;
mod envelope;
pub mod filter;
pub mod integration;
pub mod inventory;
pub mod monitor;
mod registry;
pub mod release;
pub mod settings;
pub mod testing;
pub mod token;
pub mod user;
pub mod webhook;

pub use envelope::{Actor, ActorKind, AggregateRef, DomainEvent, EventEnvelope, RecordedEvent, Timestamp};
pub use registry::{AGGREGATE_TYPES, AggregateVisitor, EVENT_TYPES, visit_aggregate};

/// The type names of an aggregate's events (made by [`event_names!`]).
pub trait EventNames {
    /// Every type name, in declaration order.
    const NAMES: &'static [&'static str];
}

/// An aggregate: a consistency boundary whose state is a fold of its own events.
///
/// `decide` holds the rules and `evolve` only applies facts; both are synchronous and pure.
///
/// ```
/// use fleetlog_events::{Aggregate, device::{Device, DeviceCommand}};
/// let state = Device::initial();
/// let refused = Device::decide(&state, &DeviceCommand::Decommission).unwrap_err();
/// assert_eq!(refused.to_string(), "device not found");
/// ```
pub trait Aggregate {
    /// Aggregate type: the subject token and the `aggregate_type` of the envelope.
    const TYPE: &'static str;
    /// The folded state.
    type State: Default + Clone + std::fmt::Debug + Send + Sync + 'static;
    /// What may be asked of the aggregate.
    type Command: std::fmt::Debug;
    /// The facts it records.
    type Event: Clone + std::fmt::Debug + PartialEq + Into<DomainEvent> + TryFrom<DomainEvent>;
    /// Why a command is refused.
    type Error: std::error::Error + PartialEq + Send + Sync + 'static;

    /// The state before any event.
    fn initial() -> Self::State {
        Self::State::default()
    }

    /// Applies the rules: the events a command produces against the current state, or why not.
    /// An empty vector means "nothing to change" (an idempotent repeat), which appends nothing.
    fn decide(state: &Self::State, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one event into the state. No rules here: events are facts that already happened.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
}
