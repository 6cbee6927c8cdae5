//! The part of the fleet that is appended to the log directly: for each device, the events the
//! real onboarding would have recorded (identity claim, auth set submitted by the device and
//! accepted by an operator, first 20-attribute inventory report), with a real Ed25519 public key
//! derived from the fleet's seed, so that any of these devices can later authenticate over HTTP.

use std::time::Instant;

use fleetlog_commands::{EventStore, SubjectAppend};
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::{Actor, DomainEvent, EventEnvelope};
use futures::{StreamExt, TryStreamExt};

use crate::inventory_model::{envelope, uptime_changed};
use crate::simulator::Seed;

/// Devices per atomic batch: four messages each, and a batch holds at most 1000.
const PER_BATCH: u32 = 200;
/// Batches in flight (each is one fsync on the nats-server).
const IN_FLIGHT: usize = 4;
/// Events appended per device.
pub const EVENTS_PER_DEVICE: u64 = 4;

/// Device `i`'s id: UUID-shaped (36 characters, as fleetlog assigns) and derived from the index,
/// so the bench needs no table of a million ids.
pub fn device_id(i: u32) -> String {
    crate::inventory_model::device_id(i as usize)
}

fn auth_set_id(i: u32) -> String {
    format!("{i:08x}-a5e7-4000-8000-{i:012x}")
}

/// One device's events, on three new subjects: its identity claim, its device (submitted,
/// accepted) and its inventory (first report) — what the HTTP flow records for it.
fn device_events(seed: &Seed, i: u32) -> anyhow::Result<[Vec<EventEnvelope>; 3]> {
    let id = device_id(i);
    let (mac, pem) = seed.identity(i);
    // Stored as the server stores them, so the device's own auth request matches its auth set.
    let identity =
        fleetlog_events::device::canonical_identity(&serde_json::json!({ "mac": mac }).to_string())
            .ok_or_else(|| anyhow::anyhow!("identity"))?;
    let pubkey = fleetlog_commands::auth::signature::parse_public_key(&pem)?.to_canonical_pem();
    let claim = fleetlog_commands::app::claim_id("identity", &identity);
    let set = auth_set_id(i);
    let taken = ClaimEvent::ClaimTaken { holder: id.clone() };
    let submitted =
        DeviceEvent::AuthSetSubmitted { auth_set_id: set.clone(), identity_data: identity, pubkey };
    let accepted = DeviceEvent::AuthSetAccepted { auth_set_id: set };
    let report =
        InventoryEvent::InventoryChanged { set: crate::inventory::attributes(i as usize), removed: vec![] };
    let operator = Actor::user("scale-operator", "operator@example.com");
    Ok([
        vec![envelope("claim", &claim, Actor::device(&id), DomainEvent::Claim(taken))],
        vec![
            envelope("device", &id, Actor::device(&id), DomainEvent::Device(submitted)),
            envelope("device", &id, operator, DomainEvent::Device(accepted)),
        ],
        vec![envelope("inventory", &id, Actor::device(&id), DomainEvent::Inventory(report))],
    ])
}

/// Appends devices `from..to` of `seed`. Answers the last position and, for every device `i`
/// with `i % 10 == probe_class`, its inventory subject's position (index `(i - from) / 10`):
/// the guard a later append on that subject needs.
pub async fn fill(
    store: &EventStore,
    seed: &Seed,
    from: u32,
    to: u32,
    probe_class: u32,
) -> anyhow::Result<(u64, Vec<(u32, u64)>)> {
    let batches = (from..to).step_by(PER_BATCH as usize).map(|start| {
        let end = (start + PER_BATCH).min(to);
        let seed = *seed;
        async move {
            // Deriving keys is CPU work: off the async threads.
            let events = tokio::task::spawn_blocking(move || {
                (start..end).map(|i| device_events(&seed, i)).collect::<anyhow::Result<Vec<_>>>()
            })
            .await??;
            let appends: Vec<SubjectAppend<'_>> = events
                .iter()
                .flat_map(|d| d.iter())
                .map(|evs| SubjectAppend {
                    subject: store.subject(&evs[0].aggregate).expect("bench subjects are valid"),
                    expected_last_seq: 0,
                    events: evs,
                })
                .collect();
            let last = store.append(&uuid::Uuid::new_v4().to_string(), &appends).await?.last_seq;
            // A batch's messages take consecutive positions in order: 4 per device, the
            // inventory report last.
            let first = last + 1 - 4 * u64::from(end - start);
            let probes: Vec<(u32, u64)> = (start..end)
                .filter(|i| i % 10 == probe_class)
                .map(|i| (i, first + 4 * u64::from(i - start) + 3))
                .collect();
            anyhow::Ok((last, probes))
        }
    });
    let mut results = futures::stream::iter(batches).buffer_unordered(IN_FLIGHT);
    let (mut last, mut probes) = (0, Vec::new());
    let started = Instant::now();
    let mut done = 0u64;
    while let Some((l, p)) = results.try_next().await? {
        last = last.max(l);
        probes.extend(p);
        done += 1;
        if done.is_multiple_of(500) {
            println!(
                "      ... {} devices appended in {:.0} s",
                done * u64::from(PER_BATCH),
                started.elapsed().as_secs_f64()
            );
        }
    }
    probes.sort_unstable();
    Ok((last, probes))
}

/// Appends one steady-state report per probe device (uptime changed: the `InventoryChanged` the
/// command side appends once it has diffed a periodic report), guarded by each subject's
/// position, in atomic batches of 1000. Answers the last position.
pub async fn one_attribute_reports(store: &EventStore, probes: &[(u32, u64)]) -> anyhow::Result<u64> {
    let batches = probes.chunks(1000).map(|chunk| async move {
        let events: Vec<Vec<EventEnvelope>> = chunk
            .iter()
            .map(|&(i, _)| vec![uptime_changed(&device_id(i), f64::from(i) + 2_000_000.0)])
            .collect();
        let appends: Vec<SubjectAppend<'_>> = events
            .iter()
            .zip(chunk)
            .map(|(evs, &(_, seq))| SubjectAppend {
                subject: store.subject(&evs[0].aggregate).expect("bench subjects are valid"),
                expected_last_seq: seq,
                events: evs,
            })
            .collect();
        anyhow::Ok(store.append(&uuid::Uuid::new_v4().to_string(), &appends).await?.last_seq)
    });
    futures::stream::iter(batches)
        .buffer_unordered(IN_FLIGHT)
        .try_fold(0, |a, b| async move { Ok(a.max(b)) })
        .await
}
