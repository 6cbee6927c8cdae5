//! nats-server restarted under a running fleetlog: it reconnects, and no acknowledged event is
//! lost or applied twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fleetlog_commands::{CommandError, StoreError};
use fleetlog_events::device::Device;
use fleetlog_projections::devices::{DevicesProjection, DevicesQueries};
use fleetlog_tests::{TestLog, meta, own_nats_server, temp_db};

use crate::support::submit;

#[tokio::test]
async fn a_restarted_nats_server_loses_no_acknowledged_event_and_applies_none_twice() {
    let store_dir = tempfile::tempdir().unwrap();
    let server = own_nats_server(None, Some(store_dir.path().to_owned()));
    let port = server.port();
    let log = TestLog::on(server.url()).await;
    let (_db_dir, db) = temp_db();
    let host = log.host(db, vec![Arc::new(DevicesProjection)]).await;

    // A writer that keeps creating devices; each command is retried with the same id until it
    // is acknowledged, as a client would after a failed request.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let commands = log.commands();
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut acked, mut failures) = (Vec::new(), 0u32);
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let m = meta();
                loop {
                    match commands.execute::<Device>(&m, &format!("d{n}"), &submit(n)).await {
                        Ok(out) => {
                            acked.push(out.position);
                            break;
                        }
                        Err(CommandError::Store(
                            StoreError::Unavailable(_) | StoreError::OutcomeUnknown(_),
                        )) => {
                            failures += 1;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("unexpected error {e:?}"),
                    }
                }
                n += 1;
            }
            (acked, failures)
        })
    };

    tokio::time::sleep(Duration::from_millis(400)).await;
    let before_restart = log.store.last_seq().await.unwrap();
    tokio::task::spawn_blocking(move || server.stop_blocking()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = store_dir.path().to_owned();
    let server = tokio::task::spawn_blocking(move || own_nats_server(Some(port), Some(dir))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, failures) = writer.await.unwrap();

    let last = log.store.last_seq().await.unwrap();
    eprintln!(
        "restart test: {before_restart} events before the restart, {last} at the end, {failures} failed tries"
    );
    assert!(before_restart > 0 && last > before_restart, "writes went on after the restart");
    assert_eq!(last as usize, acked.len(), "every acknowledged event stored, each once");
    assert!(acked.windows(2).all(|w| w[0] < w[1]));
    assert!(host.wait_for(last, Duration::from_secs(30)).await, "projection resumed after the restart");
    let model = host.model("devices").unwrap();
    let q = DevicesQueries(&model);
    assert_eq!(q.count("default", None).unwrap(), acked.len());
    // Applying any event twice would have added a second auth set to some device.
    assert!(q.list("default", None, 0, usize::MAX).unwrap().iter().all(|d| d.auth_sets.len() == 1));
    host.stop().await;
    server.stop().await;
}
