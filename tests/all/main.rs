//! switchboard's integration tests, all in one binary (one link, one
//! compile of each component): real sockets on loopback, real sled, real
//! components built from `plugins/` and `tests/fixtures/plugins/`, and the
//! `switchboard` binary as a real process.

mod admin;
mod blame;
mod bots;
mod cluster;
mod config;
mod config_ui;
mod contract;
mod e2e;
mod fields;
mod fuzz_seeds;
mod hostile;
mod hostile_consumers;
mod hub;
mod hub_sessions;
mod interop;
mod layout;
mod lifecycle;
mod login_sessions;
mod plugin_langs;
mod plugin_tools;
mod plugins;
mod readme;
mod reload;
mod shutdown;
mod support;
mod third_party_bots;
mod tools;
mod transfers;
mod validate;
