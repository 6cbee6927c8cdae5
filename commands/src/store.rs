//! The event store: one JetStream stream holds every event, one subject per aggregate.
//!
//! Subjects are `<prefix>.<tenant>.<aggregate_type>.<aggregate_id>`. Every append is guarded by
//! `Nats-Expected-Last-Subject-Sequence`; appends that touch several events or subjects go out
//! as one atomic batch, so they are stored all together or not at all.

use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use fleetlog_events::{AggregateRef, EventEnvelope, RecordedEvent};
use serde::Deserialize;

use crate::error::StoreError;
use crate::limits::check_token;

/// Where the log lives.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Stream name.
    pub stream: String,
    /// First subject token; the stream captures `<prefix>.>`.
    pub prefix: String,
    /// JetStream replicas (1 embedded, 3 in a cluster).
    pub replicas: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { stream: "FLEETLOG".into(), prefix: "fleetlog".into(), replicas: 1 }
    }
}

/// Events to store on one subject, guarded by the subject's last sequence (0 = must be new).
#[derive(Debug)]
pub struct SubjectAppend<'a> {
    /// Full subject, from [`EventStore::subject`].
    pub subject: String,
    /// Stream sequence of the subject's last event as loaded, or 0 if it had none.
    pub expected_last_seq: u64,
    /// The events, in order.
    pub events: &'a [EventEnvelope],
}

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Stream sequence of the last event written.
    pub last_seq: u64,
}

/// The JetStream-backed event store. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    client: async_nats::Client,
    stream: stream::Stream,
    cfg: StoreConfig,
}

#[derive(Deserialize)]
struct PubAck {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    duplicate: bool,
    error: Option<JetStreamError>,
}

/// The error JetStream's API puts in an answer.
#[derive(Deserialize)]
struct JetStreamError {
    code: u16,
    #[serde(default)]
    err_code: u32,
    #[serde(default)]
    description: String,
}

// JetStream error codes we act on.
const WRONG_LAST_SEQUENCE: u32 = 10071;
const BATCH_WRONG_LAST_SEQUENCE: u32 = 10164;
const BATCH_DUPLICATE_MSG_ID: u32 = 10201;

impl EventStore {
    /// Creates the stream, or brings an existing one to the configuration this build needs.
    /// Safe to call from every replica at every start.
    pub async fn open(client: async_nats::Client, cfg: StoreConfig) -> Result<Self, StoreError> {
        let js = jetstream::new(client.clone());
        let wanted = stream::Config {
            name: cfg.stream.clone(),
            subjects: vec![format!("{}.>", cfg.prefix)],
            storage: stream::StorageType::File,
            num_replicas: cfg.replicas,
            allow_atomic_publish: true,
            allow_direct: true,
            // The log is the audit trail: nobody may delete or purge it through the API.
            deny_delete: true,
            deny_purge: true,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let mut stream = js.get_or_create_stream(wanted.clone()).await.map_err(unavailable)?;
        let have = stream.info().await.map_err(unavailable)?.config.clone();
        let differs = have.subjects != wanted.subjects
            || have.num_replicas != wanted.num_replicas
            || !have.allow_atomic_publish
            || !have.allow_direct;
        if differs {
            tracing::info!(stream = %cfg.stream, "updating stream configuration");
            js.update_stream(wanted).await.map_err(unavailable)?;
            stream = js.get_stream(&cfg.stream).await.map_err(unavailable)?;
        }
        Ok(EventStore { client, stream, cfg })
    }

    /// The configuration in use.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// The stream (for process managers' durable consumers).
    pub fn stream(&self) -> &stream::Stream {
        &self.stream
    }

    /// The NATS client (for projections and health checks sharing the connection).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The subject of one aggregate.
    pub fn subject(&self, agg: &AggregateRef) -> Result<String, StoreError> {
        Ok(format!(
            "{}.{}.{}.{}",
            self.cfg.prefix,
            check_token(&agg.tenant)?,
            check_token(&agg.kind)?,
            check_token(&agg.id)?
        ))
    }

    /// The stream's last sequence: the position of the newest event (0 when empty).
    pub async fn last_seq(&self) -> Result<u64, StoreError> {
        let mut stream = self.stream.clone();
        Ok(stream.info().await.map_err(unavailable)?.state.last_sequence)
    }

    /// Every event of one subject, in order.
    pub async fn load(&self, subject: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        self.load_after(subject, 0).await
    }

    /// The events of one subject after stream sequence `after`, in order.
    pub async fn load_after(&self, subject: &str, after: u64) -> Result<Vec<RecordedEvent>, StoreError> {
        use async_nats::jetstream::stream::DirectGetErrorKind as K;
        let mut out = Vec::new();
        let mut next = after + 1;
        loop {
            match self.stream.direct_get_next_for_subject(subject, Some(next)).await {
                Ok(msg) => {
                    let seq = msg.sequence;
                    let envelope = fleetlog_schemas::decode(&msg.payload)
                        .map_err(|source| StoreError::Decode { seq, source })?;
                    out.push(RecordedEvent { seq, envelope });
                    next = seq + 1;
                }
                Err(e) if matches!(e.kind(), K::NotFound) => return Ok(out),
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    /// Appends events to one or more subjects, all or nothing. Each subject is guarded by its
    /// expected last sequence; `command_id` makes each message's `Nats-Msg-Id`.
    pub async fn append(
        &self,
        command_id: &str,
        appends: &[SubjectAppend<'_>],
    ) -> Result<Appended, StoreError> {
        let started = Instant::now();
        let total: usize = appends.iter().map(|a| a.events.len()).sum();
        let result = match total {
            0 => {
                return Err(StoreError::Server {
                    code: 400,
                    err_code: 0,
                    description: "empty append".into(),
                });
            }
            1 => self.append_one(command_id, appends).await,
            _ => self.append_batch(command_id, appends, total).await,
        };
        metrics::histogram!("fleetlog_append_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    async fn append_one(
        &self,
        command_id: &str,
        appends: &[SubjectAppend<'_>],
    ) -> Result<Appended, StoreError> {
        let a = appends.iter().find(|a| !a.events.is_empty()).expect("one event");
        let headers = headers(command_id, 0, &a.events[0], Some(a.expected_last_seq));
        let payload = self.fits(fleetlog_schemas::encode(&a.events[0]))?;
        let reply = self
            .client
            .request_with_headers(a.subject.clone(), headers, payload)
            .await
            .map_err(StoreError::from)?;
        parse_ack(&reply.payload, &a.subject)
    }

    async fn append_batch(
        &self,
        command_id: &str,
        appends: &[SubjectAppend<'_>],
        total: usize,
    ) -> Result<Appended, StoreError> {
        // Every message must fit before the first goes out: a batch is all or nothing.
        let payloads = appends
            .iter()
            .flat_map(|a| a.events.iter())
            .map(|e| self.fits(fleetlog_schemas::encode(e)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut payloads = payloads.into_iter();
        let batch_id = uuid::Uuid::new_v4().simple().to_string();
        let mut n = 0usize;
        for a in appends {
            for (i, event) in a.events.iter().enumerate() {
                n += 1;
                // The server checks the expected sequence against the stream before the batch,
                // so only the first message of each subject carries it.
                let expected = (i == 0).then_some(a.expected_last_seq);
                let mut h = headers(command_id, n - 1, event, expected);
                h.insert("Nats-Batch-Id", batch_id.as_str());
                h.insert("Nats-Batch-Sequence", n.to_string().as_str());
                let payload = payloads.next().expect("one payload per event");
                if n == total {
                    h.insert("Nats-Batch-Commit", "1");
                    let reply = self
                        .client
                        .request_with_headers(a.subject.clone(), h, payload)
                        .await
                        .map_err(StoreError::from)?;
                    return parse_ack(&reply.payload, &a.subject);
                }
                self.client.publish_with_headers(a.subject.clone(), h, payload).await.map_err(unavailable)?;
            }
        }
        unreachable!("the commit message returns")
    }

    /// The payload, if it fits in one message of the server's `max_payload` (learnt from the
    /// server's `INFO`); see [`crate::limits::fits`].
    fn fits(&self, payload: Vec<u8>) -> Result<Bytes, StoreError> {
        crate::limits::fits(payload.len(), self.client.max_payload())?;
        Ok(Bytes::from(payload))
    }
}

/// Headers of one stored event: dedup id, concurrency guard, and the event type so that
/// other tools can filter without decoding.
fn headers(command_id: &str, index: usize, event: &EventEnvelope, expected: Option<u64>) -> HeaderMap {
    let mut h = HeaderMap::new();
    let msg_id = if index == 0 { command_id.to_owned() } else { format!("{command_id}:{index}") };
    h.insert("Nats-Msg-Id", msg_id.as_str());
    if let Some(seq) = expected {
        h.insert("Nats-Expected-Last-Subject-Sequence", seq.to_string().as_str());
    }
    h.insert("Fleetlog-Event", event.event.event_type());
    h
}

fn parse_ack(payload: &[u8], subject: &str) -> Result<Appended, StoreError> {
    let ack: PubAck = serde_json::from_slice(payload)
        .map_err(|e| StoreError::Unavailable(format!("unreadable ack: {e}")))?;
    match ack.error {
        None if ack.duplicate => Err(StoreError::Duplicate),
        None => Ok(Appended { last_seq: ack.seq }),
        Some(e) => Err(match e.err_code {
            WRONG_LAST_SEQUENCE | BATCH_WRONG_LAST_SEQUENCE => {
                StoreError::Conflict { subject: subject.to_owned() }
            }
            BATCH_DUPLICATE_MSG_ID => StoreError::Duplicate,
            err_code => StoreError::Server { code: e.code, err_code, description: e.description },
        }),
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
