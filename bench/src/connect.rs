//! Remote terminal round trip: an operator's shell frame through fleetlog (operator socket →
//! NATS → device socket) to a device that echoes it, and back — against the same frames
//! echoed by a plain local WebSocket server, measured in the same run.

use std::time::{Duration, Instant};

use fleetlog_commands::{EventStore, StoreConfig, SubjectAppend};
use fleetlog_events::device::DeviceEvent;
use fleetlog_events::{Actor, AggregateRef, DomainEvent, EventEnvelope};
use fleetlog_gateway::auth::jwt::Claims;
use fleetlog_gateway::http::connect::protomsg::{PROTO_SHELL, ProtoMsg};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ROUND_TRIPS: usize = 3000;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(url: &str, token: Option<&str>) -> anyhow::Result<Ws> {
    let mut req = url.into_client_request()?;
    if let Some(t) = token {
        req.headers_mut().insert("Authorization", format!("Bearer {t}").parse()?);
    }
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

/// Echoes every binary frame back on the same socket (a device's shell, or the baseline).
async fn echo(mut socket: Ws) {
    while let Some(Ok(m)) = socket.next().await {
        if let Message::Binary(b) = m {
            // A device answers in the session it was addressed in; the frame is reused as is.
            let Ok(mut frame) = ProtoMsg::decode(&b) else { continue };
            frame.hdr.props.clear();
            if socket.send(Message::Binary(frame.encode().into())).await.is_err() {
                break;
            }
        }
    }
}

/// Times `ROUND_TRIPS` sequential shell frames on `op`, after a warm-up.
async fn round_trips(op: &mut Ws) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new(3)?;
    let frame = ProtoMsg::new(PROTO_SHELL, "shell", "").body(b"ls -l /tmp\n".to_vec()).encode();
    for i in 0..ROUND_TRIPS + 200 {
        let t = Instant::now();
        op.send(Message::Binary(frame.clone().into())).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), op.next()).await? {
                Some(Ok(Message::Binary(_))) => break,
                Some(Ok(_)) => continue,
                other => anyhow::bail!("socket ended: {other:?}"),
            }
        }
        if i >= 200 {
            h.record(t.elapsed().as_micros() as u64)?;
        }
    }
    Ok(h)
}

/// Runs the figure and prints it.
pub async fn run(url: &str) -> anyhow::Result<()> {
    // One accepted device, admitted through the log; its token signed by the server's key.
    let client = async_nats::connect(url).await?;
    let cfg = StoreConfig { stream: "BENCH_DC".into(), prefix: "bdc".into(), replicas: 1 };
    let store = EventStore::open(client, cfg.clone()).await?;
    let envelope = |e: DeviceEvent| EventEnvelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        aggregate: AggregateRef { tenant: "default".into(), kind: "device".into(), id: "dev-1".into() },
        occurred_at: fleetlog_commands::now(),
        actor: Actor::system("bench"),
        command_id: uuid::Uuid::new_v4().to_string(),
        correlation_id: String::new(),
        event: DomainEvent::Device(e),
    };
    let events = [
        envelope(DeviceEvent::AuthSetSubmitted {
            auth_set_id: "as-1".into(),
            identity_data: "{\"mac\":\"1\"}".into(),
            pubkey: "K".into(),
        }),
        envelope(DeviceEvent::AuthSetAccepted { auth_set_id: "as-1".into() }),
    ];
    let subject = store.subject(&events[0].aggregate)?;
    let last = store
        .append("admit", &[SubjectAppend { subject, expected_last_seq: 0, events: &events }])
        .await?
        .last_seq;
    let server = crate::server::BenchServer::start(url, &cfg.stream, &cfg.prefix).await?;
    let state = server.state.clone();
    anyhow::ensure!(state.read_models.wait_for(last, Duration::from_secs(30)).await, "admitted");
    let base = format!("ws://{}", server.addr);
    let now = fleetlog_commands::now().0 / 1_000_000;
    let claims = |jti: &str, sub: &str, device: bool| Claims {
        jti: jti.into(),
        sub: sub.into(),
        iat: now,
        exp: now + 3600,
        iss: "fleetlog".into(),
        device,
        user: !device,
        tenant: String::new(),
        epoch: None,
    };
    let device_token = state.jwt.sign(&claims("as-1", "dev-1", true));
    let user_token = crate::user_token(&state, "dc@example.com").await?;

    let device = ws(&format!("{base}/api/devices/v1/deviceconnect/connect"), Some(&device_token)).await?;
    tokio::spawn(echo(device));
    // The operator may connect once the device's connection is recorded.
    let mut op = None;
    for _ in 0..100 {
        if let Ok(s) =
            ws(&format!("{base}/api/management/v1/deviceconnect/devices/dev-1/connect"), Some(&user_token))
                .await
        {
            op = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut op = op.ok_or_else(|| anyhow::anyhow!("operator socket refused"))?;
    let through = round_trips(&mut op).await?;

    // Baseline: the same frames to a local WebSocket echo server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let echo_url = format!("ws://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(s) =
                tokio_tungstenite::accept_async(tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await
            {
                tokio::spawn(echo(s));
            }
        }
    });
    let mut direct = ws(&echo_url, None).await?;
    let baseline = round_trips(&mut direct).await?;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "(o) terminal round trip through fleetlog (operator socket -> NATS -> device socket and back): p50 {:.3} ms, p99 {:.3} ms; direct local WebSocket echo p50 {:.3} ms, p99 {:.3} ms; p99 ratio {:.1}x  ({ROUND_TRIPS} sequential round trips)",
        ms(&through, 0.5),
        ms(&through, 0.99),
        ms(&baseline, 0.5),
        ms(&baseline, 0.99),
        ms(&through, 0.99) / ms(&baseline, 0.99)
    );
    server.stop().await?;
    Ok(())
}
