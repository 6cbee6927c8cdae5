//! The fleetlog server: the axum gateway over the command side and the read models, the CLI,
//! and the embedded nats-server. `main.rs` only parses flags and calls [`app::Application`].

pub mod admin;
pub mod app;
#[cfg(test)]
mod app_tests;
pub mod auth;
pub mod connect;
pub mod http;
pub mod logtools;
pub mod nats_server;
pub mod remote;
pub mod serve;
pub mod services;
pub mod settings;
pub mod state;

/// The tenant of a single-tenant installation (Mender OSS has no tenants).
pub const DEFAULT_TENANT: &str = "default";
