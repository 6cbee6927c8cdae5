//! End-to-end tests against a real nats-server: one test binary, one shared server, one stream
//! per test.

mod audit;
mod connect_env;
mod connect_protocol;
mod deployments;
mod gateway;
mod gui_deployments;
mod gui_direct_upload;
mod gui_releases;
mod identity;
mod inventory;
mod inventory_groups;
mod logtools;
mod mender_client;
mod mender_update;
mod projections;
mod python_consumer;
mod remote;
mod restart;
mod server;
mod store;
mod support;
mod users;
