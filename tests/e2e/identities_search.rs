//! `POST /api/management/v2alpha1/inventory/identities/search` (mender-server main): prefix
//! search over identity attributes, the device id and `tags/name`; and the device list's
//! `POST /api/management/v2/devauth/devices/search` paged over several statuses.

use reqwest::Method;
use serde_json::json;

use crate::server::Server;

const PATH: &str = "/api/management/v2alpha1/inventory/identities/search";

#[tokio::test]
async fn identities_search_matches_prefixes_of_identity_id_and_tag_name() {
    let server = Server::start().await;
    let (id, _token) = server.accepted_device().await;

    // The captured device's identity is mac 02:00:00:00:00:01.
    let body = json!({"scope": "identity", "name": "mac", "value_prefix": "02:00:00"});
    let (status, headers, found) = server.send(Method::POST, PATH, Some(body)).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(headers["x-total-count"], "1");
    assert_eq!(found[0]["id"], id.as_str());

    // Regex characters in the prefix are literal: "02.00" matches nothing.
    let body = json!({"scope": "identity", "name": "mac", "value_prefix": "02.00"});
    let (_, headers, found) = server.send(Method::POST, PATH, Some(body)).await;
    assert_eq!(headers["x-total-count"], "0", "{found}");

    // The system-assigned id, under scope identity, with only the selected attributes.
    let body = json!({"scope": "identity", "name": "id", "value_prefix": &id[..8],
        "attributes": [{"scope": "identity", "attribute": "mac"}]});
    let (status, _, found) = server.send(Method::POST, PATH, Some(body)).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found[0]["id"], id.as_str());
    let attrs = found[0]["attributes"].as_array().unwrap();
    assert_eq!(attrs.len(), 1, "{found}");
    assert_eq!(attrs[0]["name"], "mac");

    // tags/name once the device is named.
    let tags = json!([{"name": "name", "value": "kitchen-sensor"}]);
    let path = format!("/api/management/v1/inventory/devices/{id}/tags");
    let (status, _, body) = server.send(Method::PUT, &path, Some(tags)).await;
    assert!(status.is_success(), "{status} {body}");
    let body = json!({"scope": "tags", "name": "name", "value_prefix": "kitchen"});
    let (_, headers, found) = server.send(Method::POST, PATH, Some(body)).await;
    assert_eq!(headers["x-total-count"], "1", "{found}");

    // Bad input: an unknown scope, tags other than name, a missing field, per_page over 500.
    for bad in [
        json!({"scope": "inventory", "name": "mac", "value_prefix": "02"}),
        json!({"scope": "tags", "name": "colour", "value_prefix": "r"}),
        json!({"scope": "identity", "name": "mac"}),
        json!({"scope": "identity", "name": "mac", "value_prefix": "02", "per_page": 501}),
    ] {
        let (status, _, body) = server.send(Method::POST, PATH, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert!(body["error"].is_string(), "{body}");
    }
}

/// The GUI's device list searches by several statuses at once: the pages run through their
/// union in id order, with a `Link` to the next page only while there is one.
#[tokio::test]
async fn the_devauth_search_pages_through_several_statuses_in_id_order() {
    let server = Server::start().await;
    let all = server.with_captured_devices().await;
    let ids: Vec<&str> = all.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    let set = all[1]["auth_sets"][0]["id"].as_str().unwrap();
    assert_eq!(server.set_status(ids[1], set, "accepted").await, 204);

    let search = "/api/management/v2/devauth/devices/search";
    let page = |n: usize, statuses: serde_json::Value| {
        let server = &server;
        async move {
            let path = format!("{search}?page={n}&per_page=2");
            let (status, headers, body) =
                server.send(Method::POST, &path, Some(json!({ "status": statuses }))).await;
            assert_eq!(status, 200, "{body}");
            let link: Vec<&str> = headers.get_all("link").iter().map(|v| v.to_str().unwrap()).collect();
            let found: Vec<String> =
                body.as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
            (found, link.iter().any(|l| l.contains("rel=\"next\"")))
        }
    };
    let both = json!(["pending", "accepted", "pending"]);
    assert_eq!(page(1, both.clone()).await, (vec![ids[0].to_owned(), ids[1].to_owned()], true));
    assert_eq!(page(2, both.clone()).await, (vec![ids[2].to_owned()], false));
    assert_eq!(page(3, both).await, (vec![], false));
    assert_eq!(page(1, json!("accepted")).await, (vec![ids[1].to_owned()], false));
    assert_eq!(page(1, json!(["rejected", "noauth"])).await, (vec![], false));
}
