//! Given/when/then tests of the devicemonitor read model: alerts newest first, the latest per
//! check, the fleet's devices with open CRITICAL alerts, configuration.

use fleetlog_events::device::DeviceEvent;
use fleetlog_events::monitor::{Alert, MonitorEvent};
use fleetlog_events::{Actor, Timestamp};

use super::{MonitorProjection, MonitorQueries};
use crate::testing::{Given, T};

fn raised(name: &str, level: &str) -> MonitorEvent {
    MonitorEvent::AlertRaised {
        alert: Alert {
            name: name.into(),
            level: level.into(),
            subject_name: name.into(),
            subject_type: "service".into(),
            subject_status: if level == "OK" { "running" } else { "not-running" }.into(),
            details_json: "{}".into(),
            timestamp: Timestamp(1),
        },
    }
}

fn alerts() -> Given<MonitorProjection> {
    Given::new(MonitorProjection)
        .by(Actor::device("d1"))
        .event("monitor", "d1", raised("sshd", "CRITICAL"))
        .event("monitor", "d1", raised("disk", "CRITICAL"))
        .event("monitor", "d2", raised("sshd", "CRITICAL"))
}

#[test]
fn alerts_list_newest_first_with_the_latest_per_check() {
    let given = alerts().when("monitor", "d1", raised("sshd", "OK"));
    given.assert_deterministic();
    given.then(|m| {
        let q = MonitorQueries(m);
        let names: Vec<(String, String)> =
            q.alerts(T, "d1", 0, 10).unwrap().into_iter().map(|a| (a.alert.name, a.alert.level)).collect();
        assert_eq!(
            names,
            [
                ("sshd".into(), "OK".into()),
                ("disk".into(), "CRITICAL".into()),
                ("sshd".into(), "CRITICAL".into())
            ]
        );
        assert_eq!(q.alerts(T, "d1", 1, 1).unwrap()[0].alert.name, "disk");
        let latest: Vec<String> = q.latest(T, "d1").unwrap().into_iter().map(|a| a.alert.level).collect();
        assert_eq!(latest, ["CRITICAL", "OK"], "disk, then sshd");
        let s = q.summary(T, "d1").unwrap().unwrap();
        assert_eq!((s.open_critical(), s.total), (1, 3));
    });
}

#[test]
fn the_fleet_list_holds_devices_with_open_critical_alerts() {
    alerts()
        .event("monitor", "d2", raised("sshd", "OK"))
        .when("monitor", "d1", MonitorEvent::MonitorConfigSet { config_json: r#"{"checks":[]}"#.into() })
        .then(|m| {
            let q = MonitorQueries(m);
            let ids: Vec<String> = q.alerting(T).unwrap().into_iter().map(|s| s.device_id).collect();
            assert_eq!(ids, ["d1"]);
            assert_eq!(q.config(T, "d1").unwrap().as_deref(), Some(r#"{"checks":[]}"#));
        });
    alerts().when("device", "d2", DeviceEvent::DeviceDecommissioned).then(|m| {
        let ids: Vec<String> =
            MonitorQueries(m).alerting(T).unwrap().into_iter().map(|s| s.device_id).collect();
        assert_eq!(ids, ["d1"], "a decommissioned device leaves the list");
    });
}

/// The inventory's `monitor` scope carries the counts, so inventory search can filter on them.
#[test]
fn the_inventory_monitor_scope_counts_open_critical_checks_and_is_searchable() {
    use fleetlog_events::inventory::AttrValue;

    use fleetlog_events::filter::FilterTerm;

    use crate::inventory::predicate::Predicate;
    use crate::inventory::search::search;
    use crate::inventory::{InventoryProjection, InventoryQueries};
    let submit = |id: &str| DeviceEvent::AuthSetSubmitted {
        auth_set_id: format!("as-{id}"),
        identity_data: format!(r#"{{"mac":"{id}"}}"#),
        pubkey: "k".into(),
    };
    Given::new(InventoryProjection)
        .by(Actor::device("d1"))
        .event("device", "d1", submit("d1"))
        .by(Actor::device("d2"))
        .event("device", "d2", submit("d2"))
        .by(Actor::device("d1"))
        .event("monitor", "d1", raised("sshd", "CRITICAL"))
        .event("monitor", "d1", raised("disk", "CRITICAL"))
        .when("monitor", "d1", raised("disk", "OK"))
        .then(|m| {
            let q = InventoryQueries(m);
            let d1 = q.get(T, "d1").unwrap().unwrap();
            assert_eq!(d1.lookup("monitor", "alerts"), Some(AttrValue::Number(1.0)));
            assert_eq!(d1.lookup("monitor", "alert_count"), Some(AttrValue::Number(3.0)));
            assert!(d1.entries().iter().any(|(scope, name, _)| *scope == "monitor" && name == "alerts"));
            assert_eq!(q.get(T, "d2").unwrap().unwrap().lookup("monitor", "alerts"), None);
            let term = FilterTerm {
                scope: "monitor".into(),
                attribute: "alerts".into(),
                op: "$gt".into(),
                value_json: "0".into(),
            };
            let found = search(&q, T, &[Predicate::parse(&term).unwrap()], &[], 0, 10).unwrap();
            let ids: Vec<String> = found.page.into_iter().map(|d| d.id).collect();
            assert_eq!(ids, ["d1"]);
        });
}
