//! Snapshots on a real JetStream: an inventory with a long history loads from its snapshot and
//! a short tail, to the same state as a full replay; a snapshot that cannot be trusted (corrupt,
//! or not matching the log) is ignored and the aggregate replayed.

use std::collections::BTreeMap;

use async_nats::jetstream;
use fleetlog_commands::{CommandService, fold, snapshot};
use fleetlog_events::AggregateRef;
use fleetlog_events::inventory::{AttrValue, Inventory, InventoryCommand};
use fleetlog_tests::{TestLog, meta};

/// Reports in the long history: several snapshot intervals and a tail.
const REPORTS: usize = 150;

fn report(n: usize) -> InventoryCommand {
    let attributes = BTreeMap::from([
        ("uptime".to_owned(), AttrValue::Number(n as f64)),
        (format!("seen-{}", n % 5), AttrValue::Text(format!("report {n}"))),
    ]);
    InventoryCommand::Report { attributes, replace: n.is_multiple_of(7) }
}

fn subject(log: &TestLog, id: &str) -> String {
    let agg = AggregateRef { tenant: "default".into(), kind: "inventory".into(), id: id.into() };
    log.store.subject(&agg).unwrap()
}

/// `REPORTS` reports on inventory `id`, each changing something; returns the last command's meta.
async fn long_history(commands: &CommandService, id: &str) -> fleetlog_commands::CommandMeta {
    let mut last = meta();
    for n in 0..REPORTS {
        last = meta();
        let out = commands.execute::<Inventory>(&last, id, &report(n)).await.unwrap();
        assert_eq!(out.appended, 1, "report {n} changes the uptime");
    }
    last
}

/// The state and position of a full replay of the subject, as the reference.
async fn replayed(log: &TestLog, id: &str) -> (fleetlog_events::inventory::InventoryState, u64, usize) {
    let history = log.store.load(&subject(log, id)).await.unwrap();
    let (state, last) = fold::<Inventory>(&history).unwrap();
    (state, last, history.len())
}

#[tokio::test]
async fn a_long_inventory_history_loads_from_its_snapshot_and_equals_a_full_replay() {
    let log = TestLog::new().await;
    let last = long_history(&log.commands(), "d1").await;
    let (state, last_seq, events) = replayed(&log, "d1").await;
    assert_eq!(events, REPORTS);

    // Another process (nothing cached) loads it.
    let every = snapshot::policy("inventory").unwrap().every;
    let fresh = log.commands();
    let loaded = fresh.load::<Inventory>("default", "d1").await.unwrap();
    assert!(loaded.from_snapshot.is_some(), "a snapshot was written along the way");
    assert!(loaded.replayed < every, "read {} events after the snapshot", loaded.replayed);
    assert_eq!((loaded.state, loaded.last_seq), (state.clone(), last_seq));

    // Deciding on it works, and a retry of the newest command is still a repeat.
    let again = fresh.execute::<Inventory>(&last, "d1", &report(REPORTS - 1)).await.unwrap();
    assert!(again.duplicate, "{again:?}");
    let next = fresh.execute::<Inventory>(&meta(), "d1", &report(REPORTS)).await.unwrap();
    assert_eq!(next.appended, 1);
    let (state, last_seq, _) = replayed(&log, "d1").await;
    let loaded = log.commands().load::<Inventory>("default", "d1").await.unwrap();
    assert_eq!((loaded.state, loaded.last_seq), (state, last_seq));
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_trusted_is_ignored_and_the_history_replayed() {
    let log = TestLog::new().await;
    long_history(&log.commands(), "d1").await;
    long_history(&log.commands(), "d2").await;
    let js = jetstream::new(log.client.clone());
    let bucket = js.get_key_value(snapshot::bucket(&log.store.config().stream)).await.unwrap();
    let (k1, k2) = (snapshot::key(&subject(&log, "d1")), snapshot::key(&subject(&log, "d2")));

    // Corrupt bytes.
    bucket.put(&k1, "not a snapshot".into()).await.unwrap();
    let loaded = log.commands().load::<Inventory>("default", "d1").await.unwrap();
    let (state, last_seq, events) = replayed(&log, "d1").await;
    assert_eq!((loaded.from_snapshot, loaded.replayed), (None, events));
    assert_eq!((loaded.state, loaded.last_seq), (state, last_seq));
    // That replay wrote a good one again.
    let loaded = log.commands().load::<Inventory>("default", "d1").await.unwrap();
    assert_eq!((loaded.from_snapshot, loaded.replayed), (Some(last_seq), 0));

    // A well-formed snapshot that does not match the log: d2's under d1's key.
    let d2 = bucket.get(&k2).await.unwrap().expect("d2 has a snapshot");
    bucket.put(&k1, d2).await.unwrap();
    let loaded = log.commands().load::<Inventory>("default", "d1").await.unwrap();
    let (state, last_seq, events) = replayed(&log, "d1").await;
    assert_eq!((loaded.from_snapshot, loaded.replayed), (None, events));
    assert_eq!((loaded.state, loaded.last_seq), (state, last_seq));
}
