//! Tail latency: from the start of an append to the event's delivery on a live tail, against
//! the append's own acknowledgement in the same loop.

use std::time::{Duration, Instant};

use fleetlog_commands::{EventStore, StoreConfig, SubjectAppend};
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope};
use fleetlog_projections::tail::{Tail, TailFilter};
use hdrhistogram::Histogram;

/// Events appended and awaited one at a time.
const EVENTS: usize = 2_000;

/// Runs the measurement and prints it.
pub async fn run(url: &str) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_TAIL".into(), prefix: "bt".into(), replicas: 1 };
    let store = EventStore::open(client.clone(), cfg.clone()).await?;
    let mut tail = Tail::open(&client, &cfg.stream, &cfg.prefix, &TailFilter::default(), None, true).await?;
    let (mut acked, mut delivered) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    for i in 0..EVENTS {
        let envelope = EventEnvelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            aggregate: AggregateRef {
                tenant: "default".into(),
                kind: "settings".into(),
                id: format!("s{i}"),
            },
            occurred_at: fleetlog_commands::now(),
            actor: Actor::system("bench"),
            command_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: String::new(),
            event: DomainEvent::Settings(SettingsEvent::SettingsSaved { json: format!("{{\"n\":{i}}}") }),
        };
        let subject = store.subject(&envelope.aggregate)?;
        let started = Instant::now();
        let events = [envelope];
        let appended = store
            .append(
                &events[0].command_id,
                &[SubjectAppend { subject, expected_last_seq: 0, events: &events }],
            )
            .await?;
        acked.record(started.elapsed().as_micros() as u64)?;
        loop {
            let got = tokio::time::timeout(Duration::from_secs(10), tail.next())
                .await?
                .ok_or_else(|| anyhow::anyhow!("tail ended"))??;
            if got.seq == appended.last_seq {
                break;
            }
        }
        delivered.record(started.elapsed().as_micros() as u64)?;
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "(e) tail latency, append start to delivery: p50 {:.2} ms, p99 {:.2} ms; the append's own ack: p50 {:.2} ms, p99 {:.2} ms  ({EVENTS} events one at a time)",
        ms(&delivered, 0.5),
        ms(&delivered, 0.99),
        ms(&acked, 0.5),
        ms(&acked, 0.99)
    );
    Ok(())
}
