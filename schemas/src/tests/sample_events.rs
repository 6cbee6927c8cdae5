//! Sample events added after the first schema, one of each type, appended to the samples in
//! order so that earlier fixture entries keep their ids.

use fleetlog_events::DomainEvent;

/// Events added after the first schema; appended so that earlier fixture entries keep their ids.
pub(super) fn later_events() -> Vec<DomainEvent> {
    use fleetlog_events::filter::{FilterEvent, FilterTerm};
    use fleetlog_events::inventory::{InventoryEvent, Tag};
    vec![
        DomainEvent::Inventory(InventoryEvent::InventoryTagsSet {
            tags: [("location".to_owned(), Tag { value: "de".into(), description: "region".into() })]
                .into_iter()
                .collect(),
            etag: "0192d0f4-0000-7000-8000-00000000e7a9".into(),
        }),
        DomainEvent::Inventory(InventoryEvent::InventoryGroupAssigned { group: "prod".into() }),
        DomainEvent::Inventory(InventoryEvent::InventoryGroupUnassigned { group: "prod".into() }),
        DomainEvent::Inventory(InventoryEvent::InventoryDeleted),
        DomainEvent::Filter(FilterEvent::FilterCreated {
            name: "rpis".into(),
            terms: vec![FilterTerm {
                scope: "inventory".into(),
                attribute: "device_type".into(),
                op: "$eq".into(),
                value_json: "\"raspberrypi4\"".into(),
            }],
        }),
        DomainEvent::Filter(FilterEvent::FilterDeleted),
    ]
    .into_iter()
    .chain(deployment_events())
    .collect()
}

fn deployment_events() -> Vec<DomainEvent> {
    use fleetlog_events::artifact::{ArtifactEvent, ArtifactInfo};
    use fleetlog_events::deployment::device::DeviceDeploymentEvent as D;
    use fleetlog_events::deployment::{DeploymentEvent, DeploymentSpec, DeviceDeploymentStatus};
    vec![
        DomainEvent::Artifact(ArtifactEvent::ArtifactUploaded {
            info: ArtifactInfo {
                name: "release-2".into(),
                description: "fix".into(),
                device_types: vec!["raspberrypi4".into()],
                meta_json: "{\"signed\":false}".into(),
                size: 5120,
                storage_key: "artifacts/default/0192".into(),
            },
        }),
        DomainEvent::Artifact(ArtifactEvent::ArtifactDescriptionChanged { description: "better".into() }),
        DomainEvent::Artifact(ArtifactEvent::ArtifactDeleted),
        DomainEvent::Deployment(DeploymentEvent::DeploymentCreated {
            spec: DeploymentSpec {
                name: "fix-1".into(),
                artifact_name: "release-2".into(),
                devices: vec!["dev-1".into(), "dev-2".into()],
                retries: 1,
                force_installation: false,
                target: "group:prod".into(),
                configuration: None,
                ..Default::default()
            },
        }),
        DomainEvent::Deployment(DeploymentEvent::DeploymentAborted),
        DomainEvent::DeviceDeployment(D::DeviceDeploymentAssigned { artifact_id: "a1".into() }),
        DomainEvent::DeviceDeployment(D::DeviceDeploymentStatusChanged {
            status: DeviceDeploymentStatus::AlreadyInstalled,
            substate: "x".into(),
        }),
        DomainEvent::DeviceDeployment(D::DeviceDeploymentRetried { attempt: 1 }),
        DomainEvent::DeviceDeployment(D::DeviceDeploymentLogSaved { messages_json: "[]".into() }),
    ]
    .into_iter()
    .chain(connect_events())
    .collect()
}

fn connect_events() -> Vec<DomainEvent> {
    use fleetlog_events::connect::ConnectEvent as C;
    use fleetlog_events::devconfig::DeviceConfigEvent as K;
    let config = || [("timezone".to_owned(), "UTC".to_owned())].into_iter().collect();
    vec![
        DomainEvent::DeviceConfig(K::DeviceConfigSet { configuration: config() }),
        DomainEvent::DeviceConfig(K::DeviceConfigReported { configuration: config() }),
        DomainEvent::DeviceConfig(K::DeviceConfigDeployed { deployment_id: "dep-1".into() }),
        DomainEvent::Connect(C::DeviceConnected { connection_id: "c1".into() }),
        DomainEvent::Connect(C::DeviceDisconnected { connection_id: "c1".into() }),
        DomainEvent::Connect(C::RemoteSessionStarted {
            device_id: "dev-1".into(),
            kind: "file-upload".into(),
            detail: "/tmp/x".into(),
        }),
        DomainEvent::Connect(C::RemoteSessionEnded { bytes: 12, error: String::new() }),
        DomainEvent::Deployment(fleetlog_events::deployment::DeploymentEvent::DeploymentCreated {
            spec: fleetlog_events::deployment::DeploymentSpec {
                name: "configuration".into(),
                artifact_name: "configuration-dep-2".into(),
                devices: vec!["dev-1".into()],
                target: "devices".into(),
                configuration: Some(config()),
                ..Default::default()
            },
        }),
        DomainEvent::Inventory(fleetlog_events::inventory::InventoryEvent::InventoryChanged {
            set: [("mem_kb".to_owned(), fleetlog_events::inventory::AttrValue::Number(2048.0))]
                .into_iter()
                .collect(),
            removed: vec!["ipv4".into()],
        }),
    ]
    .into_iter()
    .chain(release_events())
    .chain(integration_events())
    .chain(monitor_events())
    .chain(rollout_events())
    .collect()
}

/// Releases' notes and tags, and resetting a device's deployment history.
fn release_events() -> Vec<DomainEvent> {
    use fleetlog_events::deployment::device::DeviceDeploymentEvent as D;
    use fleetlog_events::release::ReleaseEvent as R;
    vec![
        DomainEvent::Release(R::ReleaseNotesSet { name: "release-2".into(), notes: "security fixes".into() }),
        DomainEvent::Release(R::ReleaseTagsSet {
            name: "release-2".into(),
            tags: vec!["beta".into(), "rpi".into()],
        }),
        DomainEvent::Release(R::ReleaseDeleted { name: "release-2".into() }),
        DomainEvent::DeviceDeployment(D::DeviceDeploymentDeleted),
        DomainEvent::Artifact(fleetlog_events::artifact::ArtifactEvent::ArtifactUploadRequested {
            storage_key: "artifacts/default/0193.mender".into(),
            expires_at: 1_764_000_900_000_000,
        }),
        DomainEvent::Artifact(fleetlog_events::artifact::ArtifactEvent::ArtifactUploadAbandoned {
            reason: "expired".into(),
        }),
    ]
}

/// iot-manager integrations and webhook delivery outcomes (issue 15).
fn integration_events() -> Vec<DomainEvent> {
    use fleetlog_events::integration::{IntegrationEvent as I, Secret, WebhookTarget};
    use fleetlog_events::webhook::{Delivery, WebhookEventEvent as W};
    let target = |url: &str| WebhookTarget { url: url.into(), secret: Secret("c0ffee".into()) };
    vec![
        DomainEvent::Integration(I::IntegrationCreated {
            provider: "webhook".into(),
            description: "fleet hooks".into(),
            target: target("http://127.0.0.1:9000/hook"),
            event_types: vec![],
        }),
        DomainEvent::Integration(I::IntegrationCredentialsSet {
            target: target("https://hooks.example.com/x"),
        }),
        DomainEvent::Integration(I::IntegrationDeleted),
        DomainEvent::Webhook(W::WebhookDeliveryRecorded {
            delivery: Delivery {
                integration_id: "0193a5e0-0000-7000-8000-000000000001".into(),
                event_type: "device-status-changed".into(),
                data_json: r#"{"id":"dev-1","status":"accepted"}"#.into(),
                event_time: fleetlog_events::Timestamp(1_764_000_000_000_000),
                success: false,
                status_code: 503,
                error: "503 Service Unavailable".into(),
                attempts: 7,
            },
        }),
    ]
}

/// Device monitors' alerts and configuration (issue 15).
fn monitor_events() -> Vec<DomainEvent> {
    use fleetlog_events::monitor::{Alert, MonitorEvent as M};
    vec![
        DomainEvent::Monitor(M::AlertRaised {
            alert: Alert {
                name: "sshd".into(),
                level: "CRITICAL".into(),
                subject_name: "sshd".into(),
                subject_type: "service".into(),
                subject_status: "not-running".into(),
                details_json: r#"{"description":"sshd is not running"}"#.into(),
                timestamp: fleetlog_events::Timestamp(1_764_000_000_500_000),
            },
        }),
        DomainEvent::Monitor(M::MonitorConfigSet { config_json: r#"{"checks":[{"name":"sshd"}]}"#.into() }),
    ]
}

/// Rollout controls (issue 18): a phased, dynamic deployment with a failure limit and an
/// update control map, and the events that start, pause, resume and change it.
fn rollout_events() -> Vec<DomainEvent> {
    use fleetlog_events::deployment::rollout::{
        ControlAction, ControlMap, ControlState, ControlStep, FailureLimit, Phase,
    };
    use fleetlog_events::deployment::{DeploymentEvent as E, DeploymentSpec, DynamicTarget};
    let step = ControlStep {
        action: Some(ControlAction::Pause),
        on_map_expire: Some(ControlAction::Fail),
        on_action_executed: Some(ControlAction::Continue),
    };
    let map = ControlMap { priority: 2, states: [(ControlState::Reboot, step)].into_iter().collect() };
    let term = fleetlog_events::filter::FilterTerm {
        scope: "inventory".into(),
        attribute: "device_type".into(),
        op: "$eq".into(),
        value_json: "\"rpi4\"".into(),
    };
    let spec = DeploymentSpec {
        name: "canary".into(),
        artifact_name: "release-3".into(),
        devices: vec!["dev-2".into(), "dev-1".into()],
        retries: 0,
        force_installation: true,
        target: "filter:f1".into(),
        configuration: None,
        phases: vec![
            Phase { batch_size: 50, start_ts: 1_764_000_000_000_000, device_count: 1 },
            Phase { batch_size: 50, start_ts: 1_764_000_360_000_000, device_count: 1 },
        ],
        failure_limit: Some(FailureLimit { max_failure_rate: 20, min_devices: 5 }),
        update_control_map: Some(map.clone()),
        dynamic: Some(DynamicTarget { filter: vec![term], max_devices: Some(40) }),
        total_devices: 3,
    };
    [
        E::DeploymentCreated { spec },
        E::DeploymentPhaseStarted { phase: 1 },
        E::DeploymentPaused { reason: "failure rate 40% is over the limit of 20%".into() },
        E::DeploymentResumed,
        E::DeploymentControlMapUpdated { map },
        E::DeploymentDeviceAdded { device: "dev-3".into() },
        E::DeploymentDevicesListed { devices: vec!["dev-4".into()] },
    ]
    .into_iter()
    .map(DomainEvent::Deployment)
    .collect()
}
