//! The event store on a real JetStream: optimistic concurrency, idempotent retries, atomic
//! multi-subject appends.

use fleetlog_commands::{CommandError, StoreError, SubjectAppend};
use fleetlog_events::device::{Device, DeviceCommand, DeviceError, DeviceEvent};
use fleetlog_events::{AggregateRef, device::DeviceStatus};
use fleetlog_tests::{TestLog, meta};

use crate::support::{device_event, submit, submitted};

fn device(id: &str) -> AggregateRef {
    AggregateRef { tenant: "default".into(), kind: "device".into(), id: id.into() }
}

#[tokio::test]
async fn of_concurrent_appends_to_one_aggregate_exactly_one_wins() {
    let log = TestLog::new().await;
    let subject = log.store.subject(&device("d1")).unwrap();
    let racers = (0..8).map(|n| {
        let store = log.store.clone();
        let subject = subject.clone();
        tokio::spawn(async move {
            let m = meta();
            let events = [device_event(&m, "d1", submitted(n))];
            store
                .append(&m.command_id, &[SubjectAppend { subject, expected_last_seq: 0, events: &events }])
                .await
        })
    });
    let results: Vec<_> = futures::future::join_all(racers).await.into_iter().map(|r| r.unwrap()).collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results.iter().filter(|r| matches!(r, Err(StoreError::Conflict { .. }))).count();
    assert_eq!((wins, conflicts), (1, 7), "{results:?}");
    assert_eq!(log.store.load(&subject).await.unwrap().len(), 1);
}

#[tokio::test]
async fn concurrent_commands_are_decided_again_and_both_land_in_order() {
    let log = TestLog::new().await;
    let commands = log.commands();
    commands.execute::<Device>(&meta(), "d1", &submit(1)).await.unwrap();
    let accept = DeviceCommand::AcceptAuthSet { auth_set_id: "as-1".into() };
    let second_key = DeviceCommand::SubmitAuthSet {
        auth_set_id: "as-2".into(),
        identity_data: match submit(1) {
            DeviceCommand::SubmitAuthSet { identity_data, .. } => identity_data,
            _ => unreachable!(),
        },
        pubkey: "OTHER".into(),
    };
    let (m1, m2) = (meta(), meta());
    let (a, b) = tokio::join!(
        commands.execute::<Device>(&m1, "d1", &accept),
        commands.execute::<Device>(&m2, "d1", &second_key)
    );
    assert_eq!(a.unwrap().appended + b.unwrap().appended, 2);
    let history = log.store.load(&log.store.subject(&device("d1")).unwrap()).await.unwrap();
    assert_eq!(history.len(), 3);
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn a_retried_command_is_stored_once() {
    let log = TestLog::new().await;
    let commands = log.commands();
    let m = meta();
    let first = commands.execute::<Device>(&m, "d1", &submit(1)).await.unwrap();
    assert_eq!((first.appended, first.duplicate), (1, false));
    // The same command again (a client retry after a lost answer), sequentially and concurrently.
    let again = commands.execute::<Device>(&m, "d1", &submit(1)).await.unwrap();
    assert_eq!((again.appended, again.duplicate, again.position), (0, true, first.position));
    let cmd = submit(1);
    let retries = (0..5).map(|_| commands.execute::<Device>(&m, "d1", &cmd));
    for r in futures::future::join_all(retries).await {
        assert!(r.unwrap().duplicate);
    }
    assert_eq!(log.store.last_seq().await.unwrap(), 1);
}

#[tokio::test]
async fn concurrent_first_tries_of_one_command_store_it_once() {
    let log = TestLog::new().await;
    let commands = log.commands();
    let m = meta();
    let cmd = submit(9);
    let tries = (0..6).map(|_| commands.execute::<Device>(&m, "d9", &cmd));
    let outcomes: Vec<_> = futures::future::join_all(tries).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(outcomes.iter().filter(|o| o.appended == 1).count(), 1, "{outcomes:?}");
    assert_eq!(log.store.last_seq().await.unwrap(), 1);
}

#[tokio::test]
async fn a_rejected_command_stores_nothing() {
    let log = TestLog::new().await;
    let err =
        log.commands().execute::<Device>(&meta(), "ghost", &DeviceCommand::Decommission).await.unwrap_err();
    assert!(matches!(err, CommandError::Rejected(DeviceError::NotFound)));
    assert_eq!(log.store.last_seq().await.unwrap(), 0);
}

#[tokio::test]
async fn a_command_with_several_events_is_one_atomic_batch() {
    let log = TestLog::new().await;
    let commands = log.commands();
    for cmd in [
        submit(1),
        DeviceCommand::AcceptAuthSet { auth_set_id: "as-1".into() },
        DeviceCommand::SubmitAuthSet {
            auth_set_id: "as-2".into(),
            identity_data: r#"{"mac":"02:00:00:00:00:01"}"#.into(),
            pubkey: "K2".into(),
        },
    ] {
        commands.execute::<Device>(&meta(), "d1", &cmd).await.unwrap();
    }
    // Accepting the second key rejects the first: two events, one append.
    let out = commands
        .execute::<Device>(&meta(), "d1", &DeviceCommand::AcceptAuthSet { auth_set_id: "as-2".into() })
        .await
        .unwrap();
    assert_eq!((out.appended, out.position), (2, 5));
    let history = log.store.load(&log.store.subject(&device("d1")).unwrap()).await.unwrap();
    let last: Vec<_> = history[3..].iter().map(|r| r.envelope.event.event_type()).collect();
    assert_eq!(last, ["AuthSetRejected", "AuthSetAccepted"]);
}

#[tokio::test]
async fn a_multi_subject_append_is_all_or_nothing() {
    let log = TestLog::new().await;
    let m = meta();
    let claim = log.store.subject(&AggregateRef {
        tenant: "default".into(),
        kind: "claim".into(),
        id: "mac-1".into(),
    });
    let (claim, d1, d2) = (
        claim.unwrap(),
        log.store.subject(&device("d1")).unwrap(),
        log.store.subject(&device("d2")).unwrap(),
    );
    let e1 = [device_event(&m, "d1", submitted(1))];
    let c1 = [device_event(&m, "claim", submitted(1))];
    let ok = log
        .store
        .append(
            &m.command_id,
            &[
                SubjectAppend { subject: claim.clone(), expected_last_seq: 0, events: &c1 },
                SubjectAppend { subject: d1.clone(), expected_last_seq: 0, events: &e1 },
            ],
        )
        .await
        .unwrap();
    assert_eq!(ok.last_seq, 2);
    // A second device claiming the same key: the claim conflicts, so d2 gets nothing either.
    let m2 = meta();
    let e2 = [device_event(&m2, "d2", submitted(2))];
    let c2 = [device_event(&m2, "claim", submitted(2))];
    let err = log
        .store
        .append(
            &m2.command_id,
            &[
                SubjectAppend { subject: d2.clone(), expected_last_seq: 0, events: &e2 },
                SubjectAppend { subject: claim.clone(), expected_last_seq: 0, events: &c2 },
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    assert!(log.store.load(&d2).await.unwrap().is_empty());
    assert_eq!(log.store.last_seq().await.unwrap(), 2);
}

#[tokio::test]
async fn subject_tokens_are_checked() {
    let log = TestLog::new().await;
    for bad in ["", "a.b", "a*", ">", "a b"] {
        assert!(matches!(log.store.subject(&device(bad)), Err(StoreError::InvalidToken(_))), "{bad:?}");
    }
    let err = log.commands().execute::<Device>(&meta(), "a.b", &submit(1)).await.unwrap_err();
    assert!(matches!(err, CommandError::Store(StoreError::InvalidToken(_))));
}

#[tokio::test]
async fn loading_folds_the_history_in_order() {
    let log = TestLog::new().await;
    let commands = log.commands();
    commands.execute::<Device>(&meta(), "d1", &submit(1)).await.unwrap();
    commands.execute::<Device>(&meta(), "d2", &submit(2)).await.unwrap();
    commands
        .execute::<Device>(&meta(), "d1", &DeviceCommand::AcceptAuthSet { auth_set_id: "as-1".into() })
        .await
        .unwrap();
    let history = log.store.load(&log.store.subject(&device("d1")).unwrap()).await.unwrap();
    assert_eq!(history.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 3]);
    let state = history.iter().fold(fleetlog_events::device::DeviceState::default(), |s, r| {
        let fleetlog_events::DomainEvent::Device(e) = &r.envelope.event else {
            unreachable!("device subject")
        };
        <Device as fleetlog_events::Aggregate>::evolve(s, e)
    });
    assert_eq!(state.status(), DeviceStatus::Accepted);
    assert!(matches!(
        history[1].envelope.event,
        fleetlog_events::DomainEvent::Device(DeviceEvent::AuthSetAccepted { .. })
    ));
}
