//! (a) The append path — envelope encoding, concurrency guard, dedup id, ack parsing — against
//! a raw async-nats JetStream publish of the same payload and headers.

use std::time::Instant;

use async_nats::HeaderMap;
use bytes::Bytes;
use fleetlog_commands::{EventStore, StoreConfig, SubjectAppend};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope};
use futures::StreamExt;

/// Appends in flight at once, on both sides.
const IN_FLIGHT: usize = 64;
/// Appends per round and side.
const PER_ROUND: usize = 4_000;
/// Rounds, alternating sides so that drift hits both alike.
const ROUNDS: usize = 5;

fn event(i: usize) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate: AggregateRef { tenant: "default".into(), kind: "device".into(), id: format!("d{i}") },
        occurred_at: fleetlog_commands::now(),
        actor: Actor::system("bench"),
        command_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: String::new(),
        event: DomainEvent::Device(DeviceEvent::AuthSetSubmitted {
            auth_set_id: uuid::Uuid::new_v4().to_string(),
            identity_data: format!(
                r#"{{"mac":"02:00:00:{:02x}:{:02x}:{:02x}"}}"#,
                i >> 16 & 255,
                i >> 8 & 255,
                i & 255
            ),
            pubkey: "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAbench\n-----END PUBLIC KEY-----\n".into(),
        }),
    }
}

async fn fleetlog_round(store: &EventStore, round: usize) -> f64 {
    let started = Instant::now();
    futures::stream::iter(0..PER_ROUND)
        .for_each_concurrent(IN_FLIGHT, |i| async move {
            let e = [event(round * PER_ROUND + i)];
            let subject = store.subject(&e[0].aggregate).unwrap();
            store
                .append(&e[0].command_id, &[SubjectAppend { subject, expected_last_seq: 0, events: &e }])
                .await
                .unwrap();
        })
        .await;
    PER_ROUND as f64 / started.elapsed().as_secs_f64()
}

/// Guarded publishes per second straight through async-nats: `PER_ROUND` new subjects under
/// `prefix`, `IN_FLIGHT` at a time (the log's own ceiling on this machine, now).
pub(crate) async fn raw_round(js: &async_nats::jetstream::Context, prefix: &str, round: usize) -> f64 {
    // The same bytes and headers, prepared outside the timed loop's per-message work only as
    // far as the raw client itself would need them.
    let started = Instant::now();
    futures::stream::iter(0..PER_ROUND)
        .for_each_concurrent(IN_FLIGHT, |i| async move {
            let e = event(round * PER_ROUND + i);
            let payload = Bytes::from(fleetlog_schemas::encode(&e));
            let mut h = HeaderMap::new();
            h.insert("Nats-Msg-Id", e.command_id.as_str());
            h.insert("Nats-Expected-Last-Subject-Sequence", "0");
            h.insert("Fleetlog-Event", "AuthSetSubmitted");
            let subject = format!("{prefix}.default.device.d{}", round * PER_ROUND + i);
            js.publish_with_headers(subject, h, payload).await.unwrap().await.unwrap();
        })
        .await;
    PER_ROUND as f64 / started.elapsed().as_secs_f64()
}

/// Runs the comparison and prints it.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let store = EventStore::open(
        client.clone(),
        StoreConfig { stream: "BENCH_A".into(), prefix: "ba".into(), replicas: 1 },
    )
    .await?;
    let raw = EventStore::open(
        client.clone(),
        StoreConfig { stream: "BENCH_RAW".into(), prefix: "br".into(), replicas: 1 },
    )
    .await?;
    drop(raw);
    let js = async_nats::jetstream::new(client);
    // Warm up both paths (connections, file creation).
    fleetlog_round(&store, 1000).await;
    raw_round(&js, "br", 1000).await;
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        base.push(raw_round(&js, "br", round).await);
        ours.push(fleetlog_round(&store, round).await);
    }
    let (ours, base) = (crate::median(ours), crate::median(base));
    println!(
        "(a) append path: fleetlog {ours:.0}/s vs raw async-nats publish {base:.0}/s = {:.2}x  (goal >= 0.80x; {IN_FLIGHT} in flight, median of {ROUNDS} rounds of {PER_ROUND})",
        ours / base
    );
    Ok(())
}
