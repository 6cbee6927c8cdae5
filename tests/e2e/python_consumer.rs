//! A consumer that is not Rust (Python: nats-py and classes generated from `schemas/proto`)
//! tails the stream and decodes every event type.

use fleetlog_commands::SubjectAppend;
use fleetlog_events::artifact::ArtifactEvent;
use fleetlog_events::claim::ClaimEvent;
use fleetlog_events::connect::ConnectEvent as C;
use fleetlog_events::deployment::device::DeviceDeploymentEvent as D;
use fleetlog_events::deployment::{DeploymentEvent, DeviceDeploymentStatus};
use fleetlog_events::devconfig::DeviceConfigEvent as K;
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::filter::FilterEvent;
use fleetlog_events::integration::IntegrationEvent as I;
use fleetlog_events::inventory::InventoryEvent;
use fleetlog_events::release::ReleaseEvent as R;
use fleetlog_events::settings::SettingsEvent;
use fleetlog_events::user::UserEvent;
use fleetlog_events::{AggregateRef, DomainEvent, EVENT_TYPES};
use fleetlog_tests::{TestLog, meta, shared_nats_url};
use serde_json::Value;

/// One event of every type, with the aggregate type it belongs to.
fn one_of_each() -> Vec<(&'static str, DomainEvent)> {
    let set = || "as1".to_owned();
    let device = |e| ("device", DomainEvent::Device(e));
    let user = |e| ("user", DomainEvent::User(e));
    let inventory = |e| ("inventory", DomainEvent::Inventory(e));
    let part = |e| ("devdeployment", DomainEvent::DeviceDeployment(e));
    vec![
        device(DeviceEvent::AuthSetSubmitted {
            auth_set_id: set(),
            identity_data: "{\"mac\":\"1\"}".into(),
            pubkey: "K".into(),
        }),
        device(DeviceEvent::AuthSetAccepted { auth_set_id: set() }),
        device(DeviceEvent::AuthSetRejected { auth_set_id: set() }),
        device(DeviceEvent::DeviceDecommissioned),
        device(DeviceEvent::DevicePreauthorized {
            auth_set_id: set(),
            identity_data: "{\"mac\":\"2\"}".into(),
            pubkey: "K".into(),
        }),
        device(DeviceEvent::AuthSetPending { auth_set_id: set() }),
        device(DeviceEvent::AuthSetDismissed { auth_set_id: set() }),
        device(DeviceEvent::DeviceTokensRevoked { auth_set_id: set() }),
        user(UserEvent::UserCreated { email: "p@example.com".into(), password_hash: "h".into() }),
        user(UserEvent::UserPasswordChanged { password_hash: "h2".into() }),
        user(UserEvent::UserEmailChanged { email: "q@example.com".into() }),
        user(UserEvent::UserDeleted),
        user(UserEvent::UserTokenIssued { jti: "t".into(), name: String::new(), exp: 1 }),
        user(UserEvent::UserTokenRevoked { jti: "t".into() }),
        ("settings", DomainEvent::Settings(SettingsEvent::SettingsSaved { json: "{}".into() })),
        (
            "inventory",
            DomainEvent::Inventory(fleetlog_events::inventory::InventoryEvent::InventoryReported {
                attributes: [(
                    "device_type".to_owned(),
                    fleetlog_events::inventory::AttrValue::Text("x".into()),
                )]
                .into_iter()
                .collect(),
            }),
        ),
        inventory(InventoryEvent::InventoryTagsSet { tags: Default::default(), etag: "e".into() }),
        inventory(InventoryEvent::InventoryGroupAssigned { group: "g".into() }),
        inventory(InventoryEvent::InventoryGroupUnassigned { group: "g".into() }),
        inventory(InventoryEvent::InventoryDeleted),
        inventory(InventoryEvent::InventoryChanged { set: Default::default(), removed: vec!["a".into()] }),
        ("filter", DomainEvent::Filter(FilterEvent::FilterCreated { name: "f".into(), terms: Vec::new() })),
        ("filter", DomainEvent::Filter(FilterEvent::FilterDeleted)),
        ("artifact", DomainEvent::Artifact(ArtifactEvent::ArtifactUploaded { info: Default::default() })),
        (
            "artifact",
            DomainEvent::Artifact(ArtifactEvent::ArtifactDescriptionChanged { description: "d".into() }),
        ),
        ("artifact", DomainEvent::Artifact(ArtifactEvent::ArtifactDeleted)),
        (
            "deployment",
            DomainEvent::Deployment(DeploymentEvent::DeploymentCreated { spec: Default::default() }),
        ),
        ("deployment", DomainEvent::Deployment(DeploymentEvent::DeploymentAborted)),
        ("deployment", DomainEvent::Deployment(DeploymentEvent::DeploymentPhaseStarted { phase: 1 })),
        ("deployment", DomainEvent::Deployment(DeploymentEvent::DeploymentPaused { reason: "r".into() })),
        ("deployment", DomainEvent::Deployment(DeploymentEvent::DeploymentResumed)),
        (
            "deployment",
            DomainEvent::Deployment(DeploymentEvent::DeploymentControlMapUpdated { map: Default::default() }),
        ),
        (
            "deployment",
            DomainEvent::Deployment(DeploymentEvent::DeploymentDeviceAdded { device: "d".into() }),
        ),
        (
            "deployment",
            DomainEvent::Deployment(DeploymentEvent::DeploymentDevicesListed { devices: vec!["d".into()] }),
        ),
        part(D::DeviceDeploymentAssigned { artifact_id: "a".into() }),
        part(D::DeviceDeploymentStatusChanged {
            status: DeviceDeploymentStatus::Success,
            substate: String::new(),
        }),
        part(D::DeviceDeploymentRetried { attempt: 1 }),
        part(D::DeviceDeploymentLogSaved { messages_json: "[]".into() }),
        part(D::DeviceDeploymentDeleted),
        ("devconfig", DomainEvent::DeviceConfig(K::DeviceConfigSet { configuration: Default::default() })),
        (
            "devconfig",
            DomainEvent::DeviceConfig(K::DeviceConfigReported { configuration: Default::default() }),
        ),
        ("devconfig", DomainEvent::DeviceConfig(K::DeviceConfigDeployed { deployment_id: "d".into() })),
        ("connection", DomainEvent::Connect(C::DeviceConnected { connection_id: "c".into() })),
        ("connection", DomainEvent::Connect(C::DeviceDisconnected { connection_id: "c".into() })),
        (
            "rsession",
            DomainEvent::Connect(C::RemoteSessionStarted {
                device_id: "d".into(),
                kind: "terminal".into(),
                detail: String::new(),
            }),
        ),
        ("rsession", DomainEvent::Connect(C::RemoteSessionEnded { bytes: 0, error: String::new() })),
        ("claim", DomainEvent::Claim(ClaimEvent::ClaimTaken { holder: "u".into() })),
        ("claim", DomainEvent::Claim(ClaimEvent::ClaimReleased { holder: "u".into() })),
        ("release", DomainEvent::Release(R::ReleaseNotesSet { name: "r".into(), notes: "n".into() })),
        ("release", DomainEvent::Release(R::ReleaseTagsSet { name: "r".into(), tags: vec!["t".into()] })),
        ("release", DomainEvent::Release(R::ReleaseDeleted { name: "r".into() })),
        (
            "artifact",
            DomainEvent::Artifact(ArtifactEvent::ArtifactUploadRequested {
                storage_key: "k".into(),
                expires_at: 1,
            }),
        ),
        (
            "artifact",
            DomainEvent::Artifact(ArtifactEvent::ArtifactUploadAbandoned { reason: "expired".into() }),
        ),
        (
            "integration",
            DomainEvent::Integration(I::IntegrationCreated {
                provider: "webhook".into(),
                description: String::new(),
                target: Default::default(),
                event_types: vec!["device-alert".into()],
            }),
        ),
        (
            "integration",
            DomainEvent::Integration(I::IntegrationCredentialsSet { target: Default::default() }),
        ),
        ("integration", DomainEvent::Integration(I::IntegrationDeleted)),
        (
            "webhook-event",
            DomainEvent::Webhook(fleetlog_events::webhook::WebhookEventEvent::WebhookDeliveryRecorded {
                delivery: Default::default(),
            }),
        ),
        (
            "monitor",
            DomainEvent::Monitor(fleetlog_events::monitor::MonitorEvent::AlertRaised {
                alert: Default::default(),
            }),
        ),
        (
            "monitor",
            DomainEvent::Monitor(fleetlog_events::monitor::MonitorEvent::MonitorConfigSet {
                config_json: "{}".into(),
            }),
        ),
    ]
}

#[tokio::test]
async fn a_python_consumer_tails_the_stream_and_decodes_every_event_type() {
    let Some(python) = std::env::var_os("FLEETLOG_PYTHON").filter(|p| std::path::Path::new(p).exists())
    else {
        assert!(std::env::var_os("FLEETLOG_REQUIRE_MENDER").is_none(), "make test sets FLEETLOG_PYTHON");
        eprintln!("SKIP: FLEETLOG_PYTHON not set (make setup installs it)");
        return;
    };
    let log = TestLog::new().await;
    let events = one_of_each();
    assert_eq!(events.len(), EVENT_TYPES.len(), "one of each type");
    for (i, (kind, event)) in events.iter().enumerate() {
        let m = meta();
        let agg = AggregateRef { tenant: "default".into(), kind: (*kind).into(), id: format!("x{i}") };
        let envelopes = [fleetlog_commands::envelope(&m, &agg, event.clone())];
        let subject = log.store.subject(&agg).unwrap();
        let append = SubjectAppend { subject, expected_last_seq: 0, events: &envelopes };
        log.store.append(&m.command_id, &[append]).await.unwrap();
    }
    let cfg = log.store.config();
    let proto_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/proto");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/tail_consumer.py");
    let out = tokio::process::Command::new(python)
        .args([script, shared_nats_url(), &cfg.stream, &cfg.prefix, &events.len().to_string(), proto_dir])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "python consumer failed: {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let decoded = summary["events"].as_array().unwrap();
    let types: Vec<&str> = decoded.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let appended: Vec<&str> = events.iter().map(|(_, e)| e.event_type()).collect();
    assert_eq!(types, appended, "every event decoded in order, by the name of its message");
    let mut distinct = appended.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut all = EVENT_TYPES.clone();
    all.sort_unstable();
    assert_eq!(distinct, all, "one of each type");
    for (e, (kind, _)) in decoded.iter().zip(&events) {
        assert_eq!(e["header"], e["type"], "the Fleetlog-Event header names the event");
        assert_eq!(e["aggregate"], *kind);
    }
}
