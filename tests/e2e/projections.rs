//! The projection runner on a real JetStream: read-your-writes, restarts at random points,
//! rebuild-and-swap, and shape-version rebuilds.

use std::sync::Arc;
use std::time::Duration;

use fleetlog_events::device::{Device, DeviceCommand, DeviceStatus};
use fleetlog_projections::devices::{DevicesProjection, DevicesQueries};
use fleetlog_projections::{Projection, ProjectionError, Writer};
use fleetlog_tests::{TestLog, meta, temp_db};
use rand::Rng;

use crate::support::submit;

const WAIT: Duration = Duration::from_secs(20);

/// Writes `n` devices, accepting every other one: 1.5 n events.
async fn fill(log: &TestLog, from: usize, n: usize) -> u64 {
    let commands = log.commands();
    let mut last = 0;
    for i in from..from + n {
        last = commands.execute::<Device>(&meta(), &format!("d{i}"), &submit(i)).await.unwrap().position;
        if i % 2 == 0 {
            let accept = DeviceCommand::AcceptAuthSet { auth_set_id: format!("as-{i}") };
            last = commands.execute::<Device>(&meta(), &format!("d{i}"), &accept).await.unwrap().position;
        }
    }
    last
}

fn devices() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(DevicesProjection)]
}

#[tokio::test]
async fn a_write_is_visible_once_the_models_reach_its_position() {
    let log = TestLog::new().await;
    let (_dir, db) = temp_db();
    let host = log.host(db, devices()).await;
    let out = log.commands().execute::<Device>(&meta(), "d1", &submit(1)).await.unwrap();
    assert!(host.wait_for(out.position, WAIT).await);
    let view = host.model("devices").unwrap();
    let d = DevicesQueries(&view).get("default", "d1").unwrap().expect("device visible");
    assert_eq!(d.status(), DeviceStatus::Pending);
    assert!(d.identity_data.contains("mac"));
    assert!(host.caught_up());
    host.stop().await;
}

#[tokio::test]
async fn queries_follow_status_changes_and_decommissioning() {
    let log = TestLog::new().await;
    let (_dir, db) = temp_db();
    let host = log.host(db, devices()).await;
    let last = fill(&log, 0, 10).await;
    let out = log.commands().execute::<Device>(&meta(), "d3", &DeviceCommand::Decommission).await.unwrap();
    assert!(host.wait_for(last.max(out.position), WAIT).await);
    let view = host.model("devices").unwrap();
    let q = DevicesQueries(&view);
    assert_eq!(q.count("default", None).unwrap(), 9);
    assert_eq!(q.count("default", Some(DeviceStatus::Accepted)).unwrap(), 5);
    assert_eq!(q.count("default", Some(DeviceStatus::Pending)).unwrap(), 4);
    let page = q.list("default", Some(DeviceStatus::Pending), 1, 2).unwrap();
    assert_eq!(page.len(), 2);
    assert!(page.iter().all(|d| d.status() == DeviceStatus::Pending));
    assert!(q.get("default", "d3").unwrap().is_none());
    assert_eq!(q.count("other-tenant", None).unwrap(), 0);
    host.stop().await;
}

#[tokio::test]
async fn a_runner_stopped_at_random_points_ends_identical_to_a_single_pass() {
    let log = TestLog::new().await;
    let last = fill(&log, 0, 400).await;

    let (_d1, single_db) = temp_db();
    let single = log.host(single_db, devices()).await;
    assert!(single.wait_for(last, WAIT).await);
    let expected = single.model("devices").unwrap().content_hash().unwrap();
    single.stop().await;

    let (dir, db) = temp_db();
    let mut rng = rand::rng();
    let mut db = Some(db);
    let mut restarts = 0;
    loop {
        let host = log.host(db.take().unwrap(), devices()).await;
        let model = host.model("devices").unwrap();
        // Stop after a random short while: anywhere between batches, sometimes before any.
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..3_000))).await;
        let reached = model.position();
        host.stop().await;
        restarts += 1;
        let done = reached >= last;
        let reopen = host.db().clone();
        drop(host);
        if done {
            assert_eq!(model.content_hash().unwrap(), expected, "after {restarts} restarts");
            break;
        }
        // Every third time, close and reopen the database as a process restart would.
        db = Some(if restarts % 3 == 0 {
            drop(reopen);
            drop(model);
            reopen_db(dir.path()).await
        } else {
            reopen
        });
        assert!(restarts < 2_000, "never caught up");
    }
    assert!(restarts > 1, "the test should have stopped the runner at least once");
}

#[tokio::test]
async fn a_rebuild_swaps_in_an_identical_model_and_stays_live() {
    let log = TestLog::new().await;
    let (_dir, db) = temp_db();
    let host = log.host(db, devices()).await;
    let last = fill(&log, 0, 200).await;
    assert!(host.wait_for(last, WAIT).await);
    let model = host.model("devices").unwrap();
    let before = model.content_hash().unwrap();

    // Writes go on during the rebuild; the old tree serves until the swap.
    let writer = {
        let log_commands = log.commands();
        tokio::spawn(async move {
            let mut last = 0;
            for i in 1000..1040 {
                last = log_commands
                    .execute::<Device>(&meta(), &format!("d{i}"), &submit(i))
                    .await
                    .unwrap()
                    .position;
            }
            last
        })
    };
    let calls = std::sync::atomic::AtomicU64::new(0);
    host.rebuild("devices", &|_, _| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .await
    .unwrap();
    assert!(calls.into_inner() > 0, "progress reported");
    let last = writer.await.unwrap();
    assert!(host.wait_for(last, WAIT).await, "live after the swap");
    assert_eq!(DevicesQueries(&model).count("default", None).unwrap(), 240);

    // A model built in one pass from the same log has the same bytes.
    let (_d2, db2) = temp_db();
    let fresh = log.host(db2, devices()).await;
    assert!(fresh.wait_for(last, WAIT).await);
    assert_eq!(model.content_hash().unwrap(), fresh.model("devices").unwrap().content_hash().unwrap());
    assert_ne!(before, model.content_hash().unwrap(), "new events were applied");
    assert!(matches!(host.rebuild("nope", &|_, _| {}).await, Err(ProjectionError::UnknownModel(_))));
    // Two rebuilds of one model at once: the second is refused, the first completes.
    let (first, second) =
        tokio::join!(host.rebuild("devices", &|_, _| {}), host.rebuild("devices", &|_, _| {}));
    assert!(first.is_ok() ^ second.is_ok(), "exactly one rebuild ran");
    assert!(matches!(first.err().or(second.err()), Some(ProjectionError::AlreadyRebuilding(_))));
    assert_eq!(DevicesQueries(&model).count("default", None).unwrap(), 240, "the model is intact");
    host.stop().await;
    fresh.stop().await;
}

/// The devices model under a new shape version: identical rules, different version number.
struct DevicesV2;

impl Projection for DevicesV2 {
    fn name(&self) -> &'static str {
        "devices"
    }
    fn version(&self) -> u32 {
        DevicesProjection.version() + 1
    }
    fn apply(&self, w: &mut Writer<'_>, e: &fleetlog_events::RecordedEvent) -> Result<(), ProjectionError> {
        DevicesProjection.apply(w, e)
    }
}

#[tokio::test]
async fn a_new_shape_version_rebuilds_the_model_at_start() {
    let log = TestLog::new().await;
    let (dir, db) = temp_db();
    let host = log.host(db, devices()).await;
    let last = fill(&log, 0, 50).await;
    assert!(host.wait_for(last, WAIT).await);
    let hash = host.model("devices").unwrap().content_hash().unwrap();
    host.stop().await;
    let db = host.db().clone();
    drop(host);

    let host = log.host(db, vec![Arc::new(DevicesV2)]).await;
    let model = host.model("devices").unwrap();
    // The rebuild runs in the background; the model reports caught up only after the swap.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !host.caught_up() {
        assert!(tokio::time::Instant::now() < deadline, "rebuild did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let active = host.db().open_tree("fleetlog.meta").unwrap().get("active/devices").unwrap().unwrap();
    assert_eq!(&active[..], b"rm/devices/2");
    assert_eq!(model.position(), last);
    assert_eq!(model.content_hash().unwrap(), hash);
    host.stop().await;
    drop(dir);
}

/// A batch of more writes than one sled batch takes is written in parts under a mark; a crash
/// between parts leaves the mark, and the model is then rebuilt at start, not trusted.
#[tokio::test]
async fn a_model_cut_short_between_parts_of_a_batch_is_rebuilt_at_start() {
    let log = TestLog::new().await;
    let (dir, db) = temp_db();
    let host = log.host(db, devices()).await;
    let last = fill(&log, 0, 20).await;
    assert!(host.wait_for(last, WAIT).await);
    let hash = host.model("devices").unwrap().content_hash().unwrap();
    host.stop().await;
    let db = host.db().clone();
    drop(host);
    // What a crash after the first part leaves behind: the mark and a stray write.
    let tree = db.open_tree("rm/devices/1").unwrap();
    tree.insert(b"\x00incomplete", &last.to_be_bytes()).unwrap();
    tree.insert(b"zz-half-written", b"x").unwrap();

    let host = log.host(db, devices()).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !host.caught_up() {
        assert!(tokio::time::Instant::now() < deadline, "rebuild did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let active = host.db().open_tree("fleetlog.meta").unwrap().get("active/devices").unwrap().unwrap();
    assert_eq!(&active[..], b"rm/devices/2", "rebuilt into a fresh tree");
    assert_eq!(host.model("devices").unwrap().content_hash().unwrap(), hash);
    host.stop().await;
    drop(dir);
}

/// Reopens a sled database, waiting briefly for the last references of the closed one to go.
async fn reopen_db(path: &std::path::Path) -> sled::Db {
    for _ in 0..100 {
        match sled::Config::new().path(path).open() {
            Ok(db) => return db,
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("sled database still locked after 1 s")
}

/// Counts the events it applies and records each position: applying an event twice, or
/// skipping one, shows in its content.
struct Counter;

impl Projection for Counter {
    fn name(&self) -> &'static str {
        "counter"
    }
    fn version(&self) -> u32 {
        1
    }
    fn apply(&self, w: &mut Writer<'_>, e: &fleetlog_events::RecordedEvent) -> Result<(), ProjectionError> {
        let n = w.get(b"n")?.map_or(0, |v| u64::from_be_bytes(v.as_ref().try_into().unwrap()));
        w.insert(b"n".to_vec(), (n + 1).to_be_bytes().to_vec());
        w.insert(format!("seq/{:010}", e.seq).into_bytes(), Vec::new());
        Ok(())
    }
}

fn counted(host: &fleetlog_projections::ProjectionHost) -> u64 {
    let tree = host.model("counter").unwrap().tree();
    tree.get(b"n").unwrap().map_or(0, |v| u64::from_be_bytes(v.as_ref().try_into().unwrap()))
}

/// The models share one reader from the earliest checkpoint: a model further on applies only
/// what it lacks, and a rebuild of several models in one pass gives each the same content.
#[tokio::test]
async fn models_at_different_checkpoints_share_one_reader_and_apply_each_event_once() {
    let log = TestLog::new().await;
    let both = || -> Vec<Arc<dyn Projection>> { vec![Arc::new(DevicesProjection), Arc::new(Counter)] };
    let (_dir, db) = temp_db();
    let host = log.host(db, both()).await;
    let first = fill(&log, 0, 40).await;
    assert!(host.wait_for(first, WAIT).await);
    host.stop().await;
    let db = host.db().clone();
    drop(host);

    // Only the counter runs while more is written: it ends ahead of the devices model.
    let host = log.host(db, vec![Arc::new(Counter)]).await;
    let second = fill(&log, 40, 40).await;
    assert!(host.wait_for(second, WAIT).await);
    host.stop().await;
    let db = host.db().clone();
    drop(host);

    let host = log.host(db, both()).await;
    assert_eq!(host.model("devices").unwrap().position(), first);
    let last = fill(&log, 80, 20).await;
    assert!(host.wait_for(last, WAIT).await);
    assert_eq!(counted(&host), last, "each event counted once, none skipped");
    assert_eq!(host.model("counter").unwrap().tree().scan_prefix(b"seq/").count() as u64, last);

    let (_single_dir, single_db) = temp_db();
    let single = log.host(single_db, both()).await;
    assert!(single.wait_for(last, WAIT).await);
    let expected: Vec<String> =
        ["devices", "counter"].iter().map(|m| single.model(m).unwrap().content_hash().unwrap()).collect();
    single.stop().await;
    let hashes = |h: &fleetlog_projections::ProjectionHost| -> Vec<String> {
        ["devices", "counter"].iter().map(|m| h.model(m).unwrap().content_hash().unwrap()).collect()
    };
    assert_eq!(hashes(&host), expected, "identical to a single pass");

    host.rebuild_many(&["devices", "counter"], &|_, _| {}).await.unwrap();
    assert_eq!(hashes(&host), expected, "identical after one rebuild pass for both");
    let meta = host.db().open_tree("fleetlog.meta").unwrap();
    assert_eq!(&meta.get("active/devices").unwrap().unwrap()[..], b"rm/devices/2");
    assert_eq!(&meta.get("active/counter").unwrap().unwrap()[..], b"rm/counter/2");
    // Both stay live after the swap.
    let after = fill(&log, 100, 10).await;
    assert!(host.wait_for(after, WAIT).await);
    assert_eq!(counted(&host), after);
    assert_eq!(DevicesQueries(&host.model("devices").unwrap()).count("default", None).unwrap(), 110);
    host.stop().await;
}
