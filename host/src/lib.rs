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
//! messaging.
//!
//! - [`config`]: the typed schema of the configuration directory, loading
//!   and located diagnostics.
//! - [`plugin`]: the wasmtime runtime: engine, limits, host imports, the
//!   per-connector plugin chain and its fallbacks.
//! - [`ports`]: the traits a connector reaches the outside through
//!   (`Dialer`, `Session`, `Platform`, `Bot`), the values crossing them and
//!   a connector's `Status`: where `connector`, `messaging`, `bot` and
//!   `store` meet without naming each other.
//! - [`connector`]: the session loop, per-conversation pipelines, the
//!   custom fields' behaviour, status and its Details.
//! - [`messaging`]: the LivePerson Messaging Agent API client (implements
//!   `Platform`).
//! - [`bot`]: bot brains (implement `Bot`); today the scripted bot.
//! - [`hub`]: the embedded messaging platform (agent and consumer sides,
//!   routing, web chat page).
//! - [`store`]: durable state in sled.
//! - [`content`]: outgoing messages and LivePerson's structured-content
//!   schemas that judge them.
//! - [`wire`]: the JSON envelopes both WebSocket sides share.
//! - [`admin`]: the admin API, `/metrics` and the Agent Connectors page.
//! - [`metrics`]: counters and histograms behind `/metrics`.
//! - [`consumer`]: a consumer of the hub, typed: what the load generator
//!   and the tests chat with.
//! - [`http`]: small hyper helpers for servers and clients.
//! - [`tls`]: rustls configuration: the hub's certificate, clients' roots.
//! - [`app`]: the gateway as a whole ([`app::Gateway`]): wiring, hot
//!   reload, the connectors' lifecycle.
//! - [`server`]: `switchboard run` and `switchboard hub`: the process from
//!   start to a clean stop on SIGTERM or Ctrl-C.
//! - [`validate`]: `switchboard validate`, as strict as `run`.

#![deny(missing_docs)]

pub mod admin;
pub mod app;
pub mod bot;
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
pub mod validate;
pub mod wire;
