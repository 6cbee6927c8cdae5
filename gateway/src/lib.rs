//! The fleetlog server: the axum gateway over the command side and the read models, the CLI,
//! and the embedded nats-server. `main.rs` only parses flags and calls [`server::Application`].

pub mod admin;
pub mod http;
pub mod logtools;
pub mod nats_client;
pub mod nats_server;
pub mod rebuild_rpc;
pub mod server;
#[cfg(test)]
mod server_tests;
pub mod settings;
pub mod state;
pub mod tls;
pub mod tls_settings;
pub mod webhook_settings;

/// The application layer and the keys it signs with live in `fleetlog-commands`; named here
/// so that the gateway reads `app::…` and `auth::…`.
pub use fleetlog_commands::{app, auth};

/// The tenant of a single-tenant installation (Mender OSS has no tenants).
pub use fleetlog_commands::app::DEFAULT_TENANT;
