//! Onboarding without an atomic batch per device: the identity claim is one guarded append and
//! the device's first event another. One device per identity under concurrent first requests,
//! and a claim whose device never landed (a crash between the two) is completed, not doubled.

use fleetlog_commands::{CommandError, envelope, fold};
use fleetlog_events::claim::{Claim, ClaimEvent};
use fleetlog_events::device::Device;
use fleetlog_events::{AggregateRef, DomainEvent};
use fleetlog_tests::{TestLog, meta};
use serde_json::Value;

use crate::server::{Server, captured};
use crate::support::submit;

fn claim_ref(claim_id: &str) -> AggregateRef {
    AggregateRef { tenant: "default".into(), kind: "claim".into(), id: claim_id.into() }
}

/// The identity claim id of a captured auth request's body.
fn identity_claim(body: &str) -> String {
    let request: Value = serde_json::from_str(body).unwrap();
    let identity =
        fleetlog_gateway::app::devices::canonical_identity(request["id_data"].as_str().unwrap()).unwrap();
    fleetlog_gateway::app::claim_id("identity", &identity)
}

#[tokio::test]
async fn concurrent_claim_first_creations_of_one_value_make_one_aggregate() {
    let log = TestLog::new().await;
    let racers = (0..12).map(|n| {
        let commands = log.commands();
        tokio::spawn(async move {
            let fresh = format!("dev-{n}");
            match commands.execute_claim_first::<Device>(&meta(), &fresh, &submit(1), "mac-1").await {
                Ok(_) => fresh,
                // What an auth request does: join the holder.
                Err(CommandError::Taken { holder }) => {
                    commands.execute::<Device>(&meta(), &holder, &submit(1)).await.unwrap();
                    holder
                }
                Err(e) => panic!("{e:?}"),
            }
        })
    });
    let joined: Vec<String> =
        futures::future::join_all(racers).await.into_iter().map(|r| r.unwrap()).collect();
    assert!(joined.iter().all(|d| *d == joined[0]), "{joined:?}");
    let claim = log.store.load(&log.store.subject(&claim_ref("mac-1")).unwrap()).await.unwrap();
    assert_eq!(claim.len(), 1, "one ClaimTaken");
    assert_eq!(fold::<Claim>(&claim).unwrap().0.holder.as_deref(), Some(joined[0].as_str()));
    for n in 0..12 {
        let agg = AggregateRef { tenant: "default".into(), kind: "device".into(), id: format!("dev-{n}") };
        let events = log.store.load(&log.store.subject(&agg).unwrap()).await.unwrap();
        let expected = usize::from(joined[0] == format!("dev-{n}"));
        assert_eq!(events.len(), expected, "dev-{n}: only the holder has events (one submission)");
    }
}

#[tokio::test]
async fn many_concurrent_first_requests_of_several_identities_make_one_device_each() {
    let server = Server::start().await;
    let requests = captured();
    let tries =
        requests.iter().flat_map(|(body, signature)| (0..8).map(|_| server.auth_request(body, signature)));
    for (status, text) in futures::future::join_all(tries).await {
        assert_eq!(status, 401, "{text}");
    }
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), requests.len(), "{devices:?}");
    let store = server.state.store();
    for device in devices {
        assert_eq!(device["auth_sets"].as_array().unwrap().len(), 1);
        let body = &requests
            .iter()
            .find(|(b, _)| b.contains(device["identity_data"]["mac"].as_str().unwrap()))
            .unwrap()
            .0;
        let claim = store.load(&store.subject(&claim_ref(&identity_claim(body))).unwrap()).await.unwrap();
        assert_eq!(claim.len(), 1, "one ClaimTaken per identity");
        assert_eq!(fold::<Claim>(&claim).unwrap().0.holder.as_deref(), device["id"].as_str());
    }
}

/// Appends a claim for `holder` as a crash right after the claim would leave it.
async fn half_created(server: &Server, body: &str, holder: &str) {
    let store = server.state.store();
    let agg = claim_ref(&identity_claim(body));
    let m = meta();
    let event = envelope(&m, &agg, DomainEvent::Claim(ClaimEvent::ClaimTaken { holder: holder.into() }));
    let append = fleetlog_commands::SubjectAppend {
        subject: store.subject(&agg).unwrap(),
        expected_last_seq: 0,
        events: &[event],
    };
    store.append(&m.command_id, &[append]).await.unwrap();
}

#[tokio::test]
async fn a_claim_whose_device_never_landed_is_completed_by_the_next_request() {
    let server = Server::start().await;
    let (body, signature) = captured().remove(0);
    let holder = uuid::Uuid::new_v4().to_string();
    half_created(&server, &body, &holder).await;
    // Nothing to see yet: the device has no events.
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    assert!(devices.as_array().unwrap().is_empty(), "{devices:?}");

    // A preauthorization of that identity finds it held, and does not take it over.
    let request: Value = serde_json::from_str(&body).unwrap();
    let identity: Value = serde_json::from_str(request["id_data"].as_str().unwrap()).unwrap();
    let preauth = serde_json::json!({ "identity_data": identity, "pubkey": request["pubkey"] });
    let url = format!("{}/api/management/v2/devauth/devices", server.base);
    let res = server.http.post(&url).bearer_auth(&server.token).json(&preauth).send().await.unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], holder.as_str());

    // The device's next auth request creates it under the id its claim names.
    let tries = (0..4).map(|_| server.auth_request(&body, &signature));
    for (status, _) in futures::future::join_all(tries).await {
        assert_eq!(status, 401);
    }
    let (_, devices) = server.get("/api/management/v2/devauth/devices").await;
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["id"], holder.as_str());
    assert_eq!(devices[0]["status"], "pending");
    assert_eq!(devices[0]["auth_sets"].as_array().unwrap().len(), 1);
}
