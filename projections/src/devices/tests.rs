//! Given/when/then tests of the devices read model: statuses, the status index, the accepted
//! auth-set index with its token epochs, and decommissioning.

use fleetlog_events::Actor;
use fleetlog_events::device::{AuthSetStatus, DeviceEvent, DeviceStatus};
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::user::UserEvent;

use super::{DevicesProjection, DevicesQueries};
use crate::testing::{Given, START, T};

const SECOND: i64 = 1_000_000;
const IDENTITY: &str = r#"{"mac":"00:11:22:33:44:55"}"#;

/// Device `id` presenting key `set` for the first time.
fn submitted(id: &str, set: &str) -> Given<DevicesProjection> {
    Given::new(DevicesProjection).by(Actor::device(id)).event("device", id, submit(set)).by(admin())
}

fn submit(set: &str) -> DeviceEvent {
    DeviceEvent::AuthSetSubmitted {
        auth_set_id: set.into(),
        identity_data: IDENTITY.into(),
        pubkey: format!("-----BEGIN PUBLIC KEY-----\n{set}\n-----END PUBLIC KEY-----\n"),
    }
}

fn accept(set: &str) -> DeviceEvent {
    DeviceEvent::AuthSetAccepted { auth_set_id: set.into() }
}

fn admin() -> Actor {
    Actor::user("u-admin", "admin@example.com")
}

#[test]
fn a_submitted_device_is_pending_with_its_identity_and_key() {
    submitted("d1", "as1").then(|m| {
        let q = DevicesQueries(m);
        let d = q.get(T, "d1").unwrap().expect("device");
        assert_eq!(d.identity_data, IDENTITY);
        assert_eq!(d.status(), DeviceStatus::Pending);
        assert_eq!(d.auth_sets.len(), 1);
        assert_eq!(d.auth_sets[0].id, "as1");
        assert!(d.auth_sets[0].pubkey.contains("as1"));
        assert_eq!((d.created_ts, d.updated_ts), (START, START));
        assert_eq!(q.count(T, Some(DeviceStatus::Pending)).unwrap(), 1);
        assert_eq!(q.count(T, Some(DeviceStatus::Accepted)).unwrap(), 0);
        assert_eq!(q.count(T, None).unwrap(), 1);
        assert!(!q.token_valid(T, "d1", "as1", Some(1), START / SECOND).unwrap(), "not accepted yet");
        assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None);
    });
}

#[test]
fn an_accepted_device_moves_index_and_gets_good_tokens_from_its_admission_on() {
    submitted("d1", "as1").when("device", "d1", accept("as1")).then(|m| {
        let q = DevicesQueries(m);
        let d = q.get(T, "d1").unwrap().expect("device");
        assert_eq!(d.status(), DeviceStatus::Accepted);
        assert_eq!(d.auth_sets[0].token_epoch, 2, "the accept's log position");
        assert_eq!(d.updated_ts, START + SECOND);
        assert_eq!(q.count(T, Some(DeviceStatus::Pending)).unwrap(), 0);
        let accepted = q.list(T, Some(DeviceStatus::Accepted), 0, 10).unwrap();
        assert_eq!(accepted.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["d1"]);
        assert_eq!(q.device_of_accepted_set(T, "as1").unwrap().as_deref(), Some("d1"));
        assert!(q.token_valid(T, "d1", "as1", Some(2), 0).unwrap());
        assert!(!q.token_valid(T, "d1", "as1", Some(1), 0).unwrap(), "issued before the admission");
        assert!(!q.token_valid(T, "d2", "as1", Some(2), 0).unwrap(), "another device's set");
        // Tokens of earlier versions carry only their second.
        let accepted_at = (START + SECOND) / SECOND;
        assert!(q.token_valid(T, "d1", "as1", None, accepted_at).unwrap());
        assert!(!q.token_valid(T, "d1", "as1", None, accepted_at - 1).unwrap());
    });
}

#[test]
fn a_rejected_device_loses_its_tokens() {
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .when("device", "d1", DeviceEvent::AuthSetRejected { auth_set_id: "as1".into() })
        .then(|m| {
            let q = DevicesQueries(m);
            assert_eq!(q.get(T, "d1").unwrap().unwrap().status(), DeviceStatus::Rejected);
            assert_eq!(q.count(T, Some(DeviceStatus::Rejected)).unwrap(), 1);
            assert_eq!(q.count(T, Some(DeviceStatus::Accepted)).unwrap(), 0);
            assert!(!q.token_valid(T, "d1", "as1", Some(2), 0).unwrap());
            assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None);
        });
}

#[test]
fn revoking_tokens_refuses_those_issued_before_and_keeps_the_device_accepted() {
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .when("device", "d1", DeviceEvent::DeviceTokensRevoked { auth_set_id: "as1".into() })
        .then(|m| {
            let q = DevicesQueries(m);
            let d = q.get(T, "d1").unwrap().unwrap();
            assert_eq!(d.status(), DeviceStatus::Accepted);
            assert_eq!(d.auth_sets[0].token_epoch, 3);
            assert!(!q.token_valid(T, "d1", "as1", Some(2), 0).unwrap(), "issued before the revoke");
            assert!(q.token_valid(T, "d1", "as1", Some(3), 0).unwrap(), "issued after it");
            // Without an epoch the whole second of the revoke is refused.
            let revoked_at = (START + 2 * SECOND) / SECOND;
            assert_eq!(d.auth_sets[0].tokens_revoked_before, revoked_at + 1);
            assert!(!q.token_valid(T, "d1", "as1", None, revoked_at).unwrap());
            assert!(q.token_valid(T, "d1", "as1", None, revoked_at + 1).unwrap());
        });
}

#[test]
fn a_decommissioned_device_is_gone_from_every_index() {
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .when("device", "d1", DeviceEvent::DeviceDecommissioned)
        .then(|m| {
            let q = DevicesQueries(m);
            assert_eq!(q.get(T, "d1").unwrap(), None);
            assert_eq!(q.count(T, None).unwrap(), 0);
            assert_eq!(q.count(T, Some(DeviceStatus::Accepted)).unwrap(), 0);
            assert!(q.list(T, Some(DeviceStatus::Accepted), 0, 10).unwrap().is_empty());
            assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None);
            assert!(!q.token_valid(T, "d1", "as1", Some(2), 0).unwrap());
        });
}

#[test]
fn a_preauthorized_device_is_listed_as_preauthorized() {
    let preauthorized = DeviceEvent::DevicePreauthorized {
        auth_set_id: "as1".into(),
        identity_data: IDENTITY.into(),
        pubkey: "key".into(),
    };
    Given::new(DevicesProjection).when("device", "d1", preauthorized).then(|m| {
        let q = DevicesQueries(m);
        let d = q.get(T, "d1").unwrap().expect("device");
        assert_eq!(d.status(), DeviceStatus::Preauthorized);
        assert_eq!(d.auth_sets[0].status, AuthSetStatus::Preauthorized);
        assert_eq!(q.count(T, Some(DeviceStatus::Preauthorized)).unwrap(), 1);
        assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None);
    });
}

#[test]
fn a_second_key_stays_pending_beside_the_accepted_one_until_that_is_dismissed() {
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .by(Actor::device("d1"))
        .event("device", "d1", submit("as2"))
        .by(admin())
        .when("device", "d1", DeviceEvent::AuthSetDismissed { auth_set_id: "as1".into() })
        .then(|m| {
            let q = DevicesQueries(m);
            let d = q.get(T, "d1").unwrap().unwrap();
            assert_eq!(
                d.auth_sets.iter().map(|a| (a.id.as_str(), a.status)).collect::<Vec<_>>(),
                [("as2", AuthSetStatus::Pending)]
            );
            assert_eq!(d.status(), DeviceStatus::Pending);
            assert_eq!(d.created_ts, START, "a second key does not re-create the device");
            assert_eq!(q.count(T, Some(DeviceStatus::Pending)).unwrap(), 1);
            assert_eq!(q.count(T, Some(DeviceStatus::Accepted)).unwrap(), 0);
            assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None);
        });
}

#[test]
fn a_set_put_back_to_pending_makes_the_device_pending() {
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .when("device", "d1", DeviceEvent::AuthSetPending { auth_set_id: "as1".into() })
        .then(|m| {
            let q = DevicesQueries(m);
            assert_eq!(q.get(T, "d1").unwrap().unwrap().status(), DeviceStatus::Pending);
            assert_eq!(q.count(T, Some(DeviceStatus::Pending)).unwrap(), 1);
            assert!(!q.token_valid(T, "d1", "as1", Some(2), 0).unwrap());
        });
}

#[test]
fn a_decommissioned_device_preauthorized_again_starts_a_new_life() {
    let preauthorized = DeviceEvent::DevicePreauthorized {
        auth_set_id: "as2".into(),
        identity_data: IDENTITY.into(),
        pubkey: "key2".into(),
    };
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .event("device", "d1", DeviceEvent::DeviceDecommissioned)
        .when("device", "d1", preauthorized)
        .then(|m| {
            let q = DevicesQueries(m);
            let d = q.get(T, "d1").unwrap().expect("device");
            assert_eq!(d.auth_sets.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["as2"]);
            assert_eq!(d.created_ts, START + 3 * SECOND);
            assert_eq!(q.count(T, None).unwrap(), 1);
            assert_eq!(q.count(T, Some(DeviceStatus::Preauthorized)).unwrap(), 1);
            assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None, "the old admission is gone");
        });
}

#[test]
fn events_of_a_device_never_created_change_nothing() {
    Given::new(DevicesProjection).when("device", "ghost", accept("as1")).then(|m| {
        let q = DevicesQueries(m);
        assert_eq!(q.get(T, "ghost").unwrap(), None);
        assert_eq!(q.count(T, None).unwrap(), 0);
        assert_eq!(q.device_of_accepted_set(T, "as1").unwrap(), None);
    });
}

#[test]
fn listing_pages_in_id_order() {
    submitted("d3", "as3")
        .by(Actor::device("d1"))
        .event("device", "d1", submit("as1"))
        .by(Actor::device("d2"))
        .event("device", "d2", submit("as2"))
        .then(|m| {
            let q = DevicesQueries(m);
            let ids = |v: Vec<super::DeviceView>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
            assert_eq!(ids(q.list(T, None, 0, 10).unwrap()), ["d1", "d2", "d3"]);
            assert_eq!(ids(q.list(T, Some(DeviceStatus::Pending), 1, 1).unwrap()), ["d2"]);
            assert!(q.list("other-tenant", None, 0, 10).unwrap().is_empty());
        });
}

/// A search over several statuses pages through their union in id order, as a filter over the
/// whole list would, and a duplicated status counts once.
#[test]
fn listing_several_statuses_pages_through_their_union_in_id_order() {
    let mut given = Given::new(DevicesProjection);
    for i in 0..12 {
        let (id, set) = (format!("d{i:02}"), format!("as{i}"));
        given = given.by(Actor::device(&id)).event("device", &id, submit(&set)).by(admin());
        match i % 3 {
            0 => given = given.event("device", &id, accept(&set)),
            1 => given = given.event("device", &id, DeviceEvent::AuthSetRejected { auth_set_id: set }),
            _ => {}
        }
    }
    given.then(|m| {
        let q = DevicesQueries(m);
        let ids = |v: Vec<super::DeviceView>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
        let wanted = [DeviceStatus::Accepted, DeviceStatus::Pending, DeviceStatus::Accepted];
        let union: Vec<_> = ids(q.list(T, None, 0, 100).unwrap())
            .into_iter()
            .filter(|id| id[1..].parse::<usize>().unwrap() % 3 != 1)
            .collect();
        assert_eq!(union.len(), 8);
        for (skip, limit) in [(0, 3), (3, 3), (6, 3), (0, 100), (7, 5), (8, 2)] {
            let end = (skip + limit).min(union.len());
            assert_eq!(
                ids(q.list_of(T, &wanted, skip, limit).unwrap()),
                union[skip.min(end)..end],
                "{skip}+{limit}"
            );
        }
        assert_eq!(ids(q.list_of(T, &[DeviceStatus::Rejected], 1, 2).unwrap()), ["d04", "d07"]);
        assert_eq!(q.list_of(T, &[], 0, 100).unwrap().len(), 12);
    });
}

fn history() -> Given<DevicesProjection> {
    submitted("d1", "as1")
        .event("device", "d1", accept("as1"))
        .by(Actor::device("d1"))
        .event("device", "d1", submit("as2"))
        .by(admin())
        .event("device", "d1", accept("as2"))
        .event("device", "d1", DeviceEvent::AuthSetRejected { auth_set_id: "as1".into() })
        .event("device", "d1", DeviceEvent::DeviceTokensRevoked { auth_set_id: "as2".into() })
        .event("device", "d1", DeviceEvent::AuthSetDismissed { auth_set_id: "as1".into() })
        .by(Actor::device("d2"))
        .event("device", "d2", submit("as3"))
        .by(admin())
        .event("device", "d2", DeviceEvent::DeviceDecommissioned)
}

#[test]
fn replaying_the_same_events_gives_the_same_bytes() {
    history().assert_deterministic();
}

#[test]
fn events_of_other_aggregates_are_ignored() {
    let report = InventoryEvent::InventoryReported { attributes: Default::default() };
    history().assert_ignores("inventory", "d1", report);
    history().assert_ignores("user", "d1", UserEvent::UserDeleted);
}
