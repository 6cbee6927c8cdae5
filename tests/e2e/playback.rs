//! Session playback: an unknown session is 404; a known one opens a socket that says, in a
//! control error frame, that fleetlog keeps no terminal output, and closes.

use std::time::Duration;

use fleetlog_gateway::http::connect::protomsg::{PROTO_CONTROL, PROTO_SHELL, ProtoMsg};

use crate::connect_protocol::{connected_device, next, send, ws};
use crate::server::Server;

#[tokio::test]
async fn playback_of_a_known_session_says_nothing_is_recorded_and_unknown_is_404() {
    let server = Server::start().await;
    let unknown = "/api/management/v1/deviceconnect/sessions/0193c5b2-7d2e-7c8a-9f00-5e1f0c0ffee0/playback";
    let (status, body) = server.get(unknown).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "session not found");

    let (id, _token, mut device) = connected_device(&server).await;
    let path = format!("/api/management/v1/deviceconnect/devices/{id}/connect");
    let mut op = ws(&server.base, &path, &server.token).await.unwrap();
    send(&mut op, &ProtoMsg::new(PROTO_SHELL, "new", "").prop("terminal_width", 80)).await;
    let sid = next(&mut device, Duration::from_secs(5)).await.expect("relayed").hdr.sid;

    let playback = format!("/api/management/v1/deviceconnect/sessions/{sid}/playback");
    let mut frame = None;
    for _ in 0..100 {
        if let Ok(mut player) = ws(&server.base, &playback, &server.token).await {
            frame = next(&mut player, Duration::from_secs(5)).await;
            break;
        }
        // The session's start event reaches the read model shortly after the first frame.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let frame = frame.expect("a control frame on the playback socket");
    assert_eq!(
        (frame.hdr.proto, frame.hdr.typ.as_str(), frame.hdr.sid.as_str()),
        (PROTO_CONTROL, "error", sid.as_str())
    );
    let text = String::from_utf8_lossy(&frame.body);
    assert!(text.contains("does not record terminal output"), "{text}");

    // Without a token: 401, even for a known session.
    let res = server.http.get(format!("{}{playback}", server.base)).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
