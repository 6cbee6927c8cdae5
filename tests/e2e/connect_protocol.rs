//! deviceconnect's relay under bad input, with WebSocket peers of our own on both sides:
//! the server names sessions (an operator cannot reach another's), frames that are not
//! msgpack or are over the device's limit end only their own session, a device that vanishes
//! ends its terminals with a stop, and unknown or disconnected devices are refused.

use std::time::Duration;

use fleetlog_gateway::http::connect::protomsg::{PROTO_CONTROL, PROTO_SHELL, ProtoMsg};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::server::Server;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket with a bearer token.
pub async fn ws(base: &str, path: &str, token: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("{}{path}", base.replace("http://", "ws://")).into_client_request().unwrap();
    req.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.map(|(s, _)| s)
}

/// The next binary frame, decoded; `None` on close or after `wait`.
pub async fn next(ws: &mut Ws, wait: Duration) -> Option<ProtoMsg> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => return Some(ProtoMsg::decode(&b).expect("a ProtoMsg")),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

pub async fn send(ws: &mut Ws, frame: &ProtoMsg) {
    ws.send(Message::Binary(frame.encode().into())).await.unwrap();
}

/// An accepted device (captured key), its token, and a connected device socket.
pub async fn connected_device(server: &Server) -> (String, String, Ws) {
    let (id, token) = server.accepted_device().await;
    let device = ws(&server.base, "/api/devices/v1/deviceconnect/connect", &token).await.unwrap();
    for _ in 0..100 {
        let (_, s) = server.get(&format!("/api/management/v1/deviceconnect/devices/{id}")).await;
        if s["status"] == "connected" {
            return (id, token, device);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("device not connected");
}

const SHORT: Duration = Duration::from_millis(300);
const LONG: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sessions_are_the_servers_and_bad_frames_end_only_their_own() {
    let server = Server::start().await;
    let (id, _token, mut device) = connected_device(&server).await;
    let path = format!("/api/management/v1/deviceconnect/devices/{id}/connect");
    let mut op1 = ws(&server.base, &path, &server.token).await.unwrap();
    let mut op2 = ws(&server.base, &path, &server.token).await.unwrap();

    // The operator's frame reaches the device with the server's session id and the user id.
    send(&mut op1, &ProtoMsg::new(PROTO_SHELL, "new", "").prop("terminal_width", 80)).await;
    let got = next(&mut device, LONG).await.expect("relayed to the device");
    let s1 = got.hdr.sid.clone();
    assert!(uuid::Uuid::parse_str(&s1).is_ok());
    assert!(!got.str_prop("user_id").unwrap_or_default().is_empty());
    send(
        &mut device,
        &ProtoMsg::new(PROTO_SHELL, "new", &s1).prop("status", 1).body(b"Shell started".to_vec()),
    )
    .await;
    let back = next(&mut op1, LONG).await.expect("the device's answer");
    assert_eq!(back.body.as_slice(), b"Shell started");
    assert!(next(&mut op2, SHORT).await.is_none(), "another session hears nothing");

    // A frame naming the other session goes out under the sender's own session.
    send(&mut op2, &ProtoMsg::new(PROTO_SHELL, "shell", &s1).body(b"id\n".to_vec())).await;
    let got = next(&mut device, LONG).await.unwrap();
    assert_ne!(got.hdr.sid, s1, "no one can write into someone else's session");

    // Not msgpack: that session ends with a clear error; the first one goes on.
    op2.send(Message::Binary(b"\xc1 definitely not msgpack".to_vec().into())).await.unwrap();
    let err = next(&mut op2, LONG).await.expect("an error frame");
    assert_eq!((err.hdr.proto, err.hdr.typ.as_str()), (PROTO_CONTROL, "error"));
    assert!(next(&mut op2, SHORT).await.is_none(), "and the socket closes");
    send(&mut op1, &ProtoMsg::new(PROTO_SHELL, "shell", "").body(b"echo still here\n".to_vec())).await;
    let got = next(&mut device, LONG).await.unwrap();
    assert_eq!((got.hdr.sid.as_str(), got.body.as_slice()), (s1.as_str(), &b"echo still here\n"[..]));

    // Over the device's 8 KiB read limit: refused before it could kill the device's socket.
    let mut op3 = ws(&server.base, &path, &server.token).await.unwrap();
    send(&mut op3, &ProtoMsg::new(PROTO_SHELL, "shell", "").body(vec![b'x'; 9000])).await;
    let err = next(&mut op3, LONG).await.expect("an error frame");
    assert_eq!(err.hdr.typ, "error");
    assert!(next(&mut device, SHORT).await.is_none(), "nothing reached the device");

    // Garbage from the device is dropped; the device stays connected.
    device.send(Message::Binary(b"garbage".to_vec().into())).await.unwrap();
    let (_, s) = server.get(&format!("/api/management/v1/deviceconnect/devices/{id}")).await;
    assert_eq!(s["status"], "connected");

    // The device vanishes mid-session: the terminal gets a stop saying so.
    drop(device);
    let stop = next(&mut op1, LONG).await.expect("a stop");
    assert_eq!((stop.hdr.proto, stop.hdr.typ.as_str()), (PROTO_SHELL, "stop"));
    assert_eq!(stop.body.as_slice(), b"device disconnected");
    for _ in 0..100 {
        let (_, s) = server.get(&format!("/api/management/v1/deviceconnect/devices/{id}")).await;
        if s["status"] == "disconnected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Now it is refused before the upgrade, as is an unknown device.
    assert!(ws(&server.base, &path, &server.token).await.is_err());
    assert!(
        ws(&server.base, "/api/management/v1/deviceconnect/devices/nope/connect", &server.token)
            .await
            .is_err()
    );
    let res = server
        .http
        .get(format!(
            "{}/api/management/v1/deviceconnect/devices/{id}/download?path=/etc/hostname",
            server.base
        ))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    // A user token cannot open the device side.
    assert!(ws(&server.base, "/api/devices/v1/deviceconnect/connect", &server.token).await.is_err());
}
