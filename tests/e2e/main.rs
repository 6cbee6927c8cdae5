//! End-to-end tests against a real nats-server: one test binary, one shared server, one stream
//! per test.

mod audit;
mod connect_env;
mod connect_protocol;
mod deployments;
mod device_keys;
mod gateway;
mod gui_audit;
mod gui_contract;
mod gui_deployments;
mod gui_direct_upload;
mod gui_identity;
mod gui_inventory;
mod gui_releases;
mod hardening_auth;
mod hardening_input;
mod hardening_state;
mod identities_search;
mod identity;
mod inventory;
mod inventory_groups;
mod logtools;
mod mender_client;
mod mender_update;
mod playback;
mod projections;
mod python_consumer;
mod remote;
mod restart;
mod server;
mod spec_sweep;
mod store;
mod support;
mod users;
mod webhooks;
mod webhooks_restart;
