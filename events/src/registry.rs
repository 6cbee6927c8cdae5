//! The one list of aggregates. Each line names an aggregate and the [`DomainEvent`] variant
//! its events travel in; from it come the type list ([`AGGREGATE_TYPES`]), the event type names
//! ([`EVENT_TYPES`]) and the dispatch from a type name to the aggregate's own code
//! ([`visit_aggregate`], used by object history). A new aggregate is one more line.

use std::sync::LazyLock;

use serde::Serialize;

use crate::{Aggregate, DomainEvent, EventNames};

/// Something done with one aggregate, chosen by its type name at run time.
pub trait AggregateVisitor {
    /// What it gives back.
    type Output;
    /// Does it with aggregate `A`.
    fn visit<A: Aggregate>(self) -> Self::Output
    where
        A::State: Serialize;
}

macro_rules! registry {
    ($($variant:ident => $aggregate:ty,)+) => {
        /// Every aggregate type, as subjects and envelopes name them.
        pub const AGGREGATE_TYPES: &[&str] = &[$(<$aggregate as Aggregate>::TYPE),+];

        /// Runs `visitor` with the aggregate whose type is `kind`; `None` for an unknown type.
        pub fn visit_aggregate<V: AggregateVisitor>(kind: &str, visitor: V) -> Option<V::Output> {
            $(
                if kind == <$aggregate as Aggregate>::TYPE {
                    return Some(visitor.visit::<$aggregate>());
                }
            )+
            None
        }

        fn event_names() -> Vec<&'static str> {
            let mut names: Vec<&'static str> = Vec::new();
            $(
                for name in <<$aggregate as Aggregate>::Event as EventNames>::NAMES {
                    // Two aggregates may share one event enum (connections and sessions).
                    if !names.contains(name) {
                        names.push(name);
                    }
                }
            )+
            names
        }

        // Each aggregate's events are the payload of the variant named beside it ...
        $(const _: fn(<$aggregate as Aggregate>::Event) -> DomainEvent = DomainEvent::$variant;)+

        /// ... and every variant has a line: leaving one out makes this match non-exhaustive.
        #[allow(unreachable_patterns, dead_code)]
        fn every_variant_is_registered(event: &DomainEvent) {
            match event {
                $(DomainEvent::$variant(_) => {})+
            }
        }
    };
}

registry! {
    Device => crate::device::Device,
    User => crate::user::User,
    Settings => crate::settings::Settings,
    Inventory => crate::inventory::Inventory,
    Filter => crate::filter::SavedFilter,
    Artifact => crate::artifact::Artifact,
    Deployment => crate::deployment::Deployment,
    DeviceDeployment => crate::deployment::device::DeviceDeployment,
    DeviceConfig => crate::devconfig::DeviceConfig,
    Connect => crate::connect::Connection,
    Connect => crate::connect::RemoteSession,
    Claim => crate::claim::Claim,
    Release => crate::release::Release,
    Integration => crate::integration::Integration,
    Webhook => crate::webhook::WebhookEvent,
    Monitor => crate::monitor::DeviceMonitor,
}

/// Every event type name, as [`DomainEvent::event_type`] returns them (for filters that must
/// reject unknown names), in the registry's order.
pub static EVENT_TYPES: LazyLock<Vec<&'static str>> = LazyLock::new(event_names);

#[cfg(test)]
mod tests {
    use super::*;

    struct TypeOf;

    impl AggregateVisitor for TypeOf {
        type Output = &'static str;
        fn visit<A: Aggregate>(self) -> &'static str {
            A::TYPE
        }
    }

    #[test]
    fn every_aggregate_is_registered_once_and_dispatches_to_itself() {
        let all = [
            crate::device::Device::TYPE,
            crate::user::User::TYPE,
            crate::claim::Claim::TYPE,
            crate::settings::Settings::TYPE,
            crate::inventory::Inventory::TYPE,
            crate::filter::SavedFilter::TYPE,
            crate::artifact::Artifact::TYPE,
            crate::deployment::Deployment::TYPE,
            crate::deployment::device::DeviceDeployment::TYPE,
            crate::devconfig::DeviceConfig::TYPE,
            crate::connect::Connection::TYPE,
            crate::connect::RemoteSession::TYPE,
            crate::release::Release::TYPE,
            crate::integration::Integration::TYPE,
            crate::webhook::WebhookEvent::TYPE,
            crate::monitor::DeviceMonitor::TYPE,
        ];
        assert_eq!(AGGREGATE_TYPES.len(), all.len());
        for kind in all {
            assert!(AGGREGATE_TYPES.contains(&kind), "{kind} registered");
            assert_eq!(visit_aggregate(kind, TypeOf), Some(kind));
        }
        assert_eq!(visit_aggregate("nonsense", TypeOf), None);
    }

    #[test]
    fn event_type_names_are_unique_and_name_their_variants() {
        let mut names = EVENT_TYPES.clone();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EVENT_TYPES.len());
        assert!(EVENT_TYPES.contains(&"DeploymentCreated") && EVENT_TYPES.contains(&"RemoteSessionEnded"));
        let _ = every_variant_is_registered;
    }
}
