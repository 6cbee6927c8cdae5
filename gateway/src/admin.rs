//! `fleetlog admin ...`: one-off tasks against the log. They reach the nats-server of a `serve`
//! running on the same data dir, or start the embedded one for their own duration.

use anyhow::Context;
use fleetlog_commands::app::Caller;
use fleetlog_commands::{CommandService, EventStore};

use crate::app::users;
use crate::server::Nats;
use crate::settings::ConnectionArgs;

/// Creates a user; returns its id.
pub async fn create_user(conn: &ConnectionArgs, email: &str, password: &str) -> anyhow::Result<String> {
    let nats = Nats::connect(conn).await?;
    let result = async {
        let store = EventStore::open(nats.client.clone(), conn.store_config())
            .await
            .context("opening the event stream")?;
        let caller = Caller::system(crate::DEFAULT_TENANT, "fleetlog admin");
        let id = uuid::Uuid::new_v4().to_string();
        let outcome = users::create_user(&CommandService::new(store), &caller, &id, email, password)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // Return only once a running server can log the user in.
        crate::rebuild_rpc::wait_until_served(&nats.client, &conn.data_dir, &conn.stream, outcome.position)
            .await?;
        anyhow::Ok(id)
    }
    .await;
    nats.close().await;
    result
}
