//! Reaching the log's NATS: an external server or cluster (`--nats-url`, one URL or the
//! nodes' URLs comma-separated), the one a data dir records, or the embedded nats-server.

use std::time::Duration;

use anyhow::Context;

use crate::nats_server::{NatsServer, NatsServerConfig};
use crate::settings::ConnectionArgs;

/// NATS as reached by a subcommand: a client, and the embedded server if we started one.
pub struct Nats {
    /// The connection.
    pub client: async_nats::Client,
    /// The embedded server, when no `--nats-url` was given.
    pub embedded: Option<NatsServer>,
    /// The external server's URL (`--nats-url`, or the one the data dir records).
    pub external_url: Option<String>,
}

/// File in the data dir naming the NATS server of the log the data dir belongs to: the embedded
/// server's URL while `serve` runs (removed when it stops), or an external `--nats-url` with a
/// second line `external` (kept: the data dir's read models are of that log). Subcommands
/// without `--nats-url` use it, so `fleetlog admin` reaches the log that `serve` uses.
pub(crate) const NATS_URL_FILE: &str = "nats.url";

/// Writes `NATS_URL_FILE` (mode 0600: a URL may carry credentials).
pub(crate) fn record_nats_url(data_dir: &std::path::Path, url: &str, external: bool) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = if external { format!("{url}\nexternal\n") } else { url.to_owned() };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(data_dir.join(NATS_URL_FILE))?;
    file.write_all(text.as_bytes())
}

/// URLs (one, or a comma-separated list) without their user information, for messages.
fn redacted(urls: &str) -> String {
    let one = |url: &str| match url.split_once("://").and_then(|(s, rest)| Some((s, rest.split_once('@')?.1)))
    {
        Some((scheme, host)) => format!("{scheme}://***@{host}"),
        None => url.to_owned(),
    };
    urls.split(',').map(|u| one(u.trim())).collect::<Vec<_>>().join(",")
}

impl Nats {
    /// Connects to `--nats-url`, to the NATS server the data dir records (an external one, or
    /// the embedded server of a `serve` running on it), or starts the embedded server.
    pub async fn connect(conn: &ConnectionArgs) -> anyhow::Result<Nats> {
        std::fs::create_dir_all(&conn.data_dir)
            .with_context(|| format!("creating {}", conn.data_dir.display()))?;
        let path = conn.data_dir.join(NATS_URL_FILE);
        let recorded = std::fs::read_to_string(&path).ok();
        let recorded = recorded.as_deref().and_then(|text| {
            let mut lines = text.lines().map(str::trim);
            let url = lines.next().filter(|u| !u.is_empty())?.to_owned();
            Some((url, lines.next() == Some("external")))
        });
        if let Some(url) = &conn.nats_url {
            let client =
                connect(url).await.with_context(|| format!("connecting to NATS at {}", redacted(url)))?;
            return Ok(Nats { client, embedded: None, external_url: Some(url.clone()) });
        }
        if let Some((url, external)) = recorded {
            match connect(&url).await {
                Ok(client) => {
                    let external_url = external.then_some(url);
                    return Ok(Nats { client, embedded: None, external_url });
                }
                // Starting a private server here would write into a log nobody reads.
                Err(e) if external => anyhow::bail!(
                    "this data dir belongs to the log on NATS at {} ({} says so), which is not reachable: {e}; \
                     pass --nats-url to use another server",
                    redacted(&url),
                    path.display()
                ),
                // A `serve` with the embedded server ran here and is gone: start it ourselves.
                Err(_) => {}
            }
        }
        let cfg = NatsServerConfig {
            binary: conn.nats_server_bin.clone(),
            dir: conn.data_dir.join("nats"),
            port: None,
            remove_dir_on_exit: false,
        };
        let server = NatsServer::start(&cfg).await?;
        let url = server.url().to_owned();
        let client = connect(&url).await.with_context(|| format!("connecting to NATS at {url}"))?;
        Ok(Nats { client, embedded: Some(server), external_url: None })
    }
}

impl Nats {
    /// Flushes the connection and stops the embedded server, if this process started one.
    pub async fn close(self) {
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "flushing NATS");
        }
        if let Some(server) = self.embedded {
            server.stop().await;
        }
    }
}

/// Connects to one NATS URL or to a cluster given as a comma-separated list of its nodes' URLs
/// (the client then fails over between them).
async fn connect(urls: &str) -> anyhow::Result<async_nats::Client> {
    let addrs = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            u.parse::<async_nats::ServerAddr>().with_context(|| format!("invalid NATS URL {}", redacted(u)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!addrs.is_empty(), "no NATS URL given");
    Ok(async_nats::ConnectOptions::new()
        .name("fleetlog")
        .connection_timeout(Duration::from_secs(5))
        // Once connected, never give up: the log may restart or fail over under us.
        .max_reconnects(None)
        .connect(addrs)
        .await?)
}
