//! # switchboard
//!
//! A gateway that hosts bot agent connectors: each connector logs a bot
//! agent into a messaging platform (LivePerson's Conversational Cloud or
//! the embedded hub, which speaks the same protocol), accepts the
//! conversations routed to it, relays consumer messages to a bot brain and
//! publishes the answers back. Brands customise a connector with sandboxed
//! WebAssembly plugins written against `wit/`.
//!
//! # Layout
//!
//! Data flows one way: messaging → connector → plugins → bot → plugins →
//! messaging. LivePerson's protocol itself (every frame of both sockets as
//! a type, and the one WebSocket client) is the workspace's `lp` crate:
//! the hub, the connector's client, the load generator and the tests all
//! speak through it. No module imports another that imports it back
//! (`tests/all/layout.rs` holds that, and the 600-line bound on files).
//!
//! - [`config`]: the typed schema of the configuration directory, loading
//!   and located diagnostics.
//! - [`plugin`]: the wasmtime runtime: engine, the limits and grants the
//!   configuration states, host imports, the per-connector plugin chain
//!   and its fallbacks.
//! - [`ports`]: the traits a connector reaches the outside through
//!   (`Dialer`, `Session`, `Platform`, `Bot`), the values crossing them and
//!   a connector's `Status`: where `connector`, `messaging`, `bot` and
//!   `store` meet without naming each other.
//! - [`connector`]: the session loop, per-conversation pipelines, the
//!   custom fields' behaviour, status and its Details.
//! - [`messaging`]: the LivePerson Messaging Agent API client (implements
//!   `Platform`).
//! - [`bot`]: bot brains (implement `Bot`): scripted, webhook, Rasa, Bot
//!   Framework.
//! - [`hub`]: the embedded messaging platform (agent and consumer sides,
//!   routing, web chat page).
//! - [`store`]: durable state in sled.
//! - [`content`]: outgoing messages and LivePerson's structured-content
//!   schemas that judge them.
//! - [`clock`]: milliseconds since the epoch, as LivePerson's timestamps count.
//! - [`admin`]: the admin API, `/metrics` and the Agent Connectors page.
//! - [`metrics`]: counters and histograms behind `/metrics`.
//! - [`consumer`]: a consumer of the hub, typed: what the load generator
//!   and the tests chat with.
//! - [`http`]: small hyper helpers for servers and clients.
//! - [`tls`]: rustls configuration: the hub's certificate, clients' roots.
//! - [`cluster`]: several gateways sharing their connectors through etcd:
//!   each connector runs on one gateway, another takes it over when that
//!   one is lost.
//! - [`app`]: the gateway as a whole ([`app::Gateway`]): wiring, hot
//!   reload, the connectors' lifecycle.
//! - [`server`]: `switchboard run` and `switchboard hub`: the process from
//!   start to a clean stop on SIGTERM or Ctrl-C.
//! - [`validate`]: `switchboard validate`, as strict as `run`.
//! - [`tools`]: `switchboard plugin ...`, a plugin author's tools: write a
//!   project in Rust, JavaScript or Python and build it into a component
//!   with one command, run a hook outside the gateway, replay recorded
//!   conversations.

#![deny(missing_docs)]

pub mod admin;
pub mod app;
pub mod bot;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connector;
pub mod consumer;
pub mod content;
pub mod http;
pub mod hub;
pub mod messaging;
pub mod metrics;
pub mod plugin;
pub mod ports;
pub mod server;
pub mod store;
pub mod tls;
pub mod tools;
pub mod validate;
