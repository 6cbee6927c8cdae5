//! Device configuration through the management and device APIs, and (with the real
//! mender-connect) remote terminal, file transfer and port forwarding.

use reqwest::Method;
use serde_json::json;

use crate::server::Server;

#[tokio::test]
async fn a_configuration_set_by_an_operator_is_read_by_the_device() {
    let server = Server::start().await;
    let (id, token) = server.accepted_device().await;

    let path = format!("/api/management/v1/deviceconfig/configurations/device/{id}");
    let wanted = json!({ "timezone": "Europe/Oslo", "ntp": "pool.example" });
    assert_eq!(server.send(Method::PUT, &path, Some(wanted.clone())).await.0, 204);
    let device_url = format!("{}/api/devices/v1/deviceconfig/configuration", server.base);
    let got: serde_json::Value =
        server.http.get(&device_url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, wanted);

    // The device reports what it applied; the operator sees both.
    let applied = json!({ "timezone": "Europe/Oslo" });
    let res = server.http.put(&device_url).bearer_auth(&token).json(&applied).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let (_, _, config) = server.send(Method::GET, &path, None).await;
    assert_eq!(config["configured"], wanted);
    assert_eq!(config["reported"], applied);
    assert!(config["reported_ts"].is_string() && config["updated_ts"].is_string());

    // Setting the same again records nothing; bad values record nothing either.
    let before = server.state.store().last_seq().await.unwrap();
    assert_eq!(server.send(Method::PUT, &path, Some(wanted.clone())).await.0, 204);
    assert_eq!(server.send(Method::PUT, &path, Some(json!({ "n": 1 }))).await.0, 400);
    assert_eq!(server.send(Method::PUT, &path, Some(json!(["x"]))).await.0, 400);
    let many: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(server.send(Method::PUT, &path, Some(serde_json::Value::Object(many))).await.0, 400);
    assert_eq!(server.state.store().last_seq().await.unwrap(), before);
    // Deployed: the device gets a generated mender-configure artifact carrying it.
    let (status, _, deployed) = server.send(Method::POST, &format!("{path}/deploy"), Some(json!({}))).await;
    assert_eq!(status, 200, "{deployed}");
    let dep = deployed["deployment_id"].as_str().unwrap().to_owned();
    let next_url = format!("{}/api/devices/v1/deployments/device/deployments/next", server.base);
    let provides = json!({ "artifact_name": "factory-image", "device_type": "raspberrypi4" });
    let res = server.http.post(&next_url).bearer_auth(&token).json(&provides).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let next: serde_json::Value = res.json().await.unwrap();
    assert_eq!(next["id"], json!(dep));
    assert_eq!(next["artifact"]["artifact_name"], json!(format!("configuration-{dep}")));
    let bytes = reqwest::get(next["artifact"]["source"]["uri"].as_str().unwrap())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let meta = fleetlog_artifact::parse_reader(&bytes[..], Default::default()).unwrap();
    assert_eq!(meta.updates[0].type_info.kind.as_deref(), Some("mender-configure"));
    assert_eq!(serde_json::to_value(&meta.updates[0].meta_data).unwrap(), wanted);
    let status_url = format!("{}/api/devices/v1/deployments/device/deployments/{dep}/status", server.base);
    for s in ["downloading", "installing", "success"] {
        let res = server
            .http
            .put(&status_url)
            .bearer_auth(&token)
            .json(&json!({ "status": s }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    let (_, _, d) =
        server.send(Method::GET, &format!("/api/management/v1/deployments/deployments/{dep}"), None).await;
    assert_eq!((d["type"].clone(), d["status"].clone()), (json!("configuration"), json!("finished")));
    let (_, _, config) = server.send(Method::GET, &path, None).await;
    assert_eq!(config["deployment_id"], json!(dep));

    let unknown = "/api/management/v1/deviceconfig/configurations/device/nope";
    assert_eq!(server.send(Method::PUT, unknown, Some(json!({}))).await.0, 404);
    // A user token on the device route, and a device token on the management one.
    assert_eq!(server.http.get(&device_url).bearer_auth(&server.token).send().await.unwrap().status(), 401);
    let res = server.http.get(format!("{}{path}", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn the_real_mender_connect_connects_and_its_state_shows_in_inventory() {
    if !crate::mender_client::clients_available() {
        return;
    }
    let server = Server::start().await;
    let device = crate::connect_env::connect_real_device(&server, &server.base, "02:fe:00:00:02:01").await;
    let (_, doc) = server.get(&format!("/api/management/v1/inventory/devices/{}", device.id)).await;
    let status =
        doc["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "connection_status").cloned();
    assert_eq!(status.unwrap()["value"], "connected");
    drop(device);
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, status) = server
            .get(&format!("/api/management/v1/deviceconnect/devices/{}", doc["id"].as_str().unwrap()))
            .await;
        last = status["status"].clone();
        if last == "disconnected" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last, "disconnected");
}

/// Runs a shell line with mender-cli's home; returns (success, stdout + stderr).
async fn shell(cli: &crate::mender_update::Cli, line: &str) -> (bool, String) {
    let run = tokio::process::Command::new("sh").arg("-c").arg(line).env("HOME", cli.home.path()).output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(90), run)
        .await
        .expect("command finished")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("$ {line}\n{text}");
    (out.status.success(), text)
}

#[tokio::test]
async fn mender_cli_reaches_the_real_device_across_two_replicas() {
    if !crate::mender_client::clients_available() {
        return;
    }
    let server = Server::start().await;
    // The device connects to a second replica; the operator talks to the first.
    let (replica, _stop, _dir) = server.replica().await;
    let device = crate::connect_env::connect_real_device(&server, &replica, "02:fe:00:00:02:02").await;
    let cli = crate::mender_update::Cli::new(&server).await;
    let base = &cli.base;
    let id = &device.id;

    // A terminal: a command runs on the device and its output comes back.
    let (ok, out) = shell(
        &cli,
        &format!(
            "printf 'echo fleetlog-$((6*7))\\nexit\\n' | timeout 30 mender-cli --server {base} terminal {id}"
        ),
    )
    .await;
    let connect_log = std::fs::read_to_string(device.device.path("connect.log")).unwrap_or_default();
    assert!(ok, "{out}\n--- mender-connect:\n{connect_log}");
    assert!(out.contains("fleetlog-42"), "{out}");

    // Files both ways.
    let work = tempfile::tempdir().unwrap();
    let remote_dir = tempfile::tempdir().unwrap();
    let local = work.path().join("up.txt");
    let payload: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&local, &payload).unwrap();
    let remote = remote_dir.path().join("copied.txt");
    let (ok, out) =
        shell(&cli, &format!("mender-cli --server {base} cp {} {id}:{}", local.display(), remote.display()))
            .await;
    assert!(ok, "{out}");
    assert_eq!(std::fs::read_to_string(&remote).unwrap(), payload, "uploaded through fleetlog");
    let back = work.path().join("down.txt");
    let (ok, out) =
        shell(&cli, &format!("mender-cli --server {base} cp {id}:{} {}", remote.display(), back.display()))
            .await;
    assert!(ok, "{out}");
    assert_eq!(std::fs::read_to_string(&back).unwrap(), payload, "downloaded through fleetlog");
    let (ok, out) = shell(
        &cli,
        &format!("mender-cli --server {base} cp {id}:/nonexistent/x {}", work.path().join("x").display()),
    )
    .await;
    assert!(!ok && out.contains("no such file"), "{out}");

    // Port forwarding to a small server on the device's side.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let local_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let mut forward = tokio::process::Command::new("mender-cli")
        .args(["--server", base, "port-forward", id, &format!("{local_port}:{echo_port}")])
        .env("HOME", cli.home.path())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(s) = tokio::net::TcpStream::connect(("127.0.0.1", local_port)).await {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut stream = stream.expect("mender-cli listens");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(b"through the tunnel").await.unwrap();
    let mut got = [0u8; 18];
    tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_exact(&mut got))
        .await
        .expect("echo")
        .unwrap();
    assert_eq!(&got, b"through the tunnel");
    drop(stream);
    let _ = forward.kill().await;

    // The device refuses: a path it cannot write, a port nobody listens on. Clear errors,
    // and the device stays connected for the next session.
    let (ok, out) =
        shell(&cli, &format!("mender-cli --server {base} cp {} {id}:/nonexistent-dir/x", local.display()))
            .await;
    assert!(!ok && out.contains("no such file or directory"), "{out}");
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let path = format!("/api/management/v1/deviceconnect/devices/{id}/connect");
    let mut op = crate::connect_protocol::ws(&server.base, &path, &server.token).await.unwrap();
    #[derive(serde::Serialize)]
    struct Open {
        versions: Vec<i32>,
    }
    #[derive(serde::Serialize)]
    struct New<'a> {
        remote_host: &'a str,
        remote_port: u16,
        protocol: &'a str,
    }
    use fleetlog_gateway::http::connect::protomsg::{
        PROTO_CONTROL, PROTO_PORT_FORWARD, ProtoMsg, encode_body,
    };
    let open = ProtoMsg::new(PROTO_CONTROL, "open", "").body(encode_body(&Open { versions: vec![1] }));
    crate::connect_protocol::send(&mut op, &open).await;
    let accept =
        crate::connect_protocol::next(&mut op, std::time::Duration::from_secs(10)).await.expect("accept");
    assert_eq!(accept.hdr.typ, "accept");
    let new = ProtoMsg::new(PROTO_PORT_FORWARD, "new", "")
        .prop("connection_id", "c1")
        .body(encode_body(&New { remote_host: "127.0.0.1", remote_port: closed, protocol: "tcp" }));
    crate::connect_protocol::send(&mut op, &new).await;
    let refused =
        crate::connect_protocol::next(&mut op, std::time::Duration::from_secs(10)).await.expect("an answer");
    assert_eq!(refused.hdr.typ, "error");
    assert!(String::from_utf8_lossy(&refused.body).contains("connection refused"), "{refused:?}");
    drop(op);
    let (_, status) = server.get(&format!("/api/management/v1/deviceconnect/devices/{id}")).await;
    assert_eq!(status["status"], "connected");

    // Who did what is in the audit log, on the device as in Mender; the bytes are not.
    let path = format!("/api/management/v1/auditlogs/logs?object_type=device&object_id={id}&per_page=50");
    let (_, log) = server.get(&path).await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for want in ["open_terminal", "upload_file", "download_file", "open_portforward"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(actions.iter().any(|a| a.starts_with("close_")), "a closed session in {actions:?}");
}
