//! The application layer: what the gateway's handlers, the CLI and process managers call. One
//! module per aggregate area lists that area's commands (ids, clock and hashing resolved, then
//! run through [`App::execute`], which waits for read-your-writes) and its queries over the read
//! models. It knows no transport: errors are [`AppError`], the caller is a [`Caller`]; rules
//! stay in `fleetlog-events`.

pub mod artifacts;
pub mod caller;
pub mod connect;
pub mod deployments;
pub mod devconfig;
pub mod devices;
pub mod direct_upload;
mod error;
pub mod filters;
pub mod history;
pub mod integrations;
pub mod inventory;
pub mod monitor;
pub mod processes;
pub mod releases;
pub mod rollouts;
pub mod settings;
pub mod users;

use std::sync::Arc;
use std::time::Duration;

use fleetlog_events::Aggregate;
use fleetlog_projections::{Model, ProjectionHost, ReadModel};
use sha2::{Digest, Sha256};

use crate::{ClaimOp, CommandService, EventStore, Outcome};
pub use caller::{Caller, DeviceCaller};
pub use error::AppError;

/// The tenant of a single-tenant installation (Mender OSS has no tenants): the one a
/// [`Caller`] carries until tenant tokens select another.
pub const DEFAULT_TENANT: &str = "default";

/// What the application reaches: the command side, the read models, storage and keys.
pub struct App {
    /// Runs commands; private so that every command goes through [`App::execute`] and friends.
    commands: CommandService,
    /// The local read models.
    pub read_models: Arc<ProjectionHost>,
    /// How long a write waits for the read models to show it.
    pub read_your_writes: Duration,
    /// Signs and verifies user and device tokens.
    pub jwt: Arc<crate::auth::jwt::JwtKeys>,
    /// Device tokens whose signature was already verified.
    pub device_tokens: Arc<crate::auth::cache::TokenCache>,
    /// Where artifacts are stored.
    pub storage: fleetlog_storage::Store,
    /// Signs links to generated configuration artifacts.
    pub config_links: Arc<fleetlog_storage::LinkSigner>,
    /// Largest artifact an upload may send, in bytes.
    pub max_artifact_bytes: u64,
    /// Which device keys are accepted (`--min-rsa-bits`, `--allow-ecdsa-p224`).
    pub key_policy: crate::auth::signature::KeyPolicy,
    /// How long a direct upload may take before it is abandoned.
    pub direct_upload_expiry: Duration,
    /// Webhook deliveries' guards and retries.
    pub webhooks: processes::WebhookSettings,
    /// The process managers' progress.
    pub processes: Arc<processes::ProcessStatus>,
}

/// The parts of an [`App`] that are settings rather than services.
pub struct AppSettings {
    /// How long a write waits for the read models to show it.
    pub read_your_writes: Duration,
    /// Largest artifact an upload may send, in bytes.
    pub max_artifact_bytes: u64,
    /// Which device keys are accepted.
    pub key_policy: crate::auth::signature::KeyPolicy,
    /// How long a direct upload may take before it is abandoned.
    pub direct_upload_expiry: Duration,
    /// Webhook deliveries' guards and retries.
    pub webhooks: processes::WebhookSettings,
}

impl App {
    /// Assembles the application.
    pub fn new(
        commands: CommandService,
        read_models: Arc<ProjectionHost>,
        jwt: Arc<crate::auth::jwt::JwtKeys>,
        storage: fleetlog_storage::Store,
        config_links: Arc<fleetlog_storage::LinkSigner>,
        settings: AppSettings,
    ) -> App {
        App {
            commands,
            read_models,
            read_your_writes: settings.read_your_writes,
            jwt,
            device_tokens: Arc::new(crate::auth::cache::TokenCache::default()),
            storage,
            config_links,
            max_artifact_bytes: settings.max_artifact_bytes,
            key_policy: settings.key_policy,
            direct_upload_expiry: settings.direct_upload_expiry,
            webhooks: settings.webhooks,
            processes: Arc::default(),
        }
    }

    /// The event store (reading the log: history, tails, health).
    pub fn store(&self) -> &EventStore {
        self.commands.store()
    }

    /// A read model (every [`Model`] has its projection in the gateway's host set-up, which a
    /// test checks).
    pub fn model(&self, model: Model) -> Result<Arc<ReadModel>, AppError> {
        let name = model.name();
        self.read_models.model(name).ok_or_else(|| AppError::Internal(anyhow::anyhow!("no {name} model")))
    }

    /// Runs `f` on read model `model` on tokio's blocking pool, for queries whose cost grows
    /// with the fleet (every accepted device, every member of a group, thousands of ids). On an
    /// async worker such a scan holds one of the few threads that serve device polls for as
    /// long as it takes: seconds at a million devices.
    pub async fn off_worker<T: Send + 'static>(
        &self,
        model: Model,
        f: impl FnOnce(&ReadModel) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let model = self.model(model)?;
        tokio::task::spawn_blocking(move || f(&model))
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("read-model query task failed: {e}")))?
    }

    /// True while the NATS connection is up.
    pub fn nats_connected(&self) -> bool {
        self.store().client().connection_state() == async_nats::connection::State::Connected
    }

    /// Waits until the local read models show position `seq`, so that a client that writes and
    /// then reads sees its write. The write itself has happened either way; the wait lasts
    /// while the models make progress, and only a stall (no progress for the read-your-writes
    /// time) is [`AppError::Unavailable`].
    pub async fn seen(&self, seq: u64) -> Result<(), AppError> {
        if self.read_models.wait_for(seq, self.read_your_writes).await {
            Ok(())
        } else {
            let at: Vec<String> =
                self.read_models.models().map(|m| format!("{}={}", m.name(), m.position())).collect();
            Err(AppError::Unavailable(anyhow::anyhow!(
                "the write is in the log at {seq}, but the read models stalled before showing it (at {})",
                at.join(", ")
            )))
        }
    }

    /// Runs a command and waits until the read models show it: the one way every write of
    /// the application layer ends, so a caller that writes and then reads sees its write.
    pub async fn execute<A: Aggregate>(
        &self,
        caller: &Caller,
        id: &str,
        command: &A::Command,
    ) -> Result<Outcome, AppError>
    where
        AppError: From<A::Error>,
    {
        let out = self.commands.execute::<A>(&caller.meta(), id, command).await?;
        self.seen(out.position).await?;
        Ok(out)
    }

    /// Runs a command that takes or gives up unique values (claims), then waits as
    /// [`App::execute`] does.
    pub async fn execute_with_claims<A: Aggregate>(
        &self,
        caller: &Caller,
        id: &str,
        command: &A::Command,
        claims: &[ClaimOp<'_>],
    ) -> Result<Outcome, AppError>
    where
        AppError: From<A::Error>,
    {
        let out = self.commands.execute_with_claims::<A>(&caller.meta(), id, command, claims).await?;
        self.seen(out.position).await?;
        Ok(out)
    }

    /// Creates the new aggregate `id` (a fresh id) that holds a unique value: the claim first,
    /// then the command, two single appends instead of one atomic batch (see
    /// [`CommandService::execute_claim_first`] for why that keeps the value unique); then waits
    /// as [`App::execute`] does. [`AppError::Taken`] names the holder if another has it.
    pub async fn execute_claim_first<A: Aggregate>(
        &self,
        caller: &Caller,
        id: &str,
        command: &A::Command,
        claim: &str,
    ) -> Result<Outcome, AppError>
    where
        AppError: From<A::Error>,
    {
        let out = self.commands.execute_claim_first::<A>(&caller.meta(), id, command, claim).await?;
        self.seen(out.position).await?;
        Ok(out)
    }

    /// Who holds a unique value, if anyone.
    pub async fn claim_holder(&self, tenant: &str, claim: &str) -> Result<Option<String>, AppError> {
        Ok(self.commands.claim_holder(tenant, claim).await?)
    }
}

/// The claim id of a unique value of some kind (see `fleetlog_events::claim`).
pub fn claim_id(kind: &str, value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    fleetlog_events::claim::claim_id(kind, &hex)
}

/// Runs `pass` every `period` until `shutdown` completes; a failed pass is logged as `what`
/// and the next one runs on time (the background tasks: upload sweeper, rollout scheduler).
pub async fn every<T, F>(
    period: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
    what: &str,
    mut pass: impl FnMut() -> F,
) where
    F: std::future::Future<Output = Result<T, AppError>>,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(period) => {}
        }
        if let Err(e) = pass().await {
            tracing::warn!(error = %e, "{what}");
        }
    }
}
