//! The files' schemas (version 1) and their conversion to typed values,
//! one file per table, as Spin's manifest crate lays out its schema:
//!
//! - [`gateway`]: `switchboard.toml` as a whole, `[messaging]`, `[store]`
//!   and `[plugins]`.
//! - [`hub`]: `[hub]`, its skills, users, engagements and `[hub.tls]`;
//!   [`hub_access`]: `[hub.consumer_auth]` and `[hub.clients]`;
//!   [`hub_sessions`]: `[hub]`'s agent login session keys.
//! - [`admin`]: `[admin]` and its tokens.
//! - [`cluster`]: `[cluster]`, the etcd cluster whose gateways share connectors.
//! - [`connector`]: one `connectors/*.toml`, split into what the connector
//!   *is* (its identity) and how it *behaves*.
//! - [`plugin`]: a connector's `[[plugins]]` entries and their grants;
//!   [`limits`]: plugin limits, shared by `[plugins.limits]` and entries.
//! - [`transcripts`]: a connector's `[transcripts]` (recording hook calls).
//! - [`credentials`]: how an agent user logs in (connectors and hub users).
//! - [`bot`]: one `bots/*.toml`.
//!
//! Each file has a private shape serde reads (the file as written) and the
//! public typed values the rest of switchboard uses. Values later findings
//! point at are kept [`Located`].

mod admin;
mod bot;
mod cluster;
mod connector;
mod credentials;
mod gateway;
mod hub;
mod hub_access;
mod hub_sessions;
mod limits;
mod plugin;
mod transcripts;

pub use admin::{AdminConfig, AdminRole, AdminToken};
pub use bot::{BotConfig, BotKind, CardButton, CardConfig, ScriptedAnswer, ScriptedRule};
pub use cluster::{ClusterConfig, DEFAULT_LEASE_TTL, EtcdAuth, EtcdTls};
pub use connector::{
    ConnectorBehaviour, ConnectorConfig, ConnectorIdentity, ConversationType, DeployTo,
    MAX_CONVERSATIONS_PER_AGENT, Role,
};
pub use credentials::LoginCredentials;
pub use gateway::{DEFAULT_SESSION_REFRESH, GatewayConfig, shipped_plugin_dir};
pub use hub::{HubConfig, HubEngagement, HubSkill, HubTls, HubUser, UserKind};
pub use hub_access::{ClientLimits, ConsumerAuth};
pub use hub_sessions::AgentSessions;
pub use limits::LimitOverrides;
pub use plugin::PluginConfig;
pub use transcripts::TranscriptSettings;

pub(super) use bot::parse_bot;
pub(super) use connector::parse_connector;
pub(super) use gateway::parse_gateway;

use std::ops::RangeInclusive;
use std::path::Path;

use serde::Deserialize;

use super::diagnostic::Diagnostic;
use super::located::Located;

/// A file's text as `T`, or its located TOML error.
fn parse<T: for<'de> Deserialize<'de>>(
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    match toml::from_str(source) {
        Ok(raw) => Some(raw),
        Err(error) => {
            let span = error.span().unwrap_or(0..0);
            diagnostics.push(Diagnostic::error(
                file,
                source,
                span,
                error.message().trim().to_owned(),
            ));
            None
        }
    }
}

/// A number within `range`, or a diagnostic at it naming it as `what`
/// (`` `deadline_ms` ``, ``[hub.clients] `open_sockets` ``).
fn number_in(
    value: Option<&Located<u64>>,
    what: &str,
    range: RangeInclusive<u64>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<u64> {
    let value = value?;
    if range.contains(value) {
        return Some(**value);
    }
    diagnostics.push(Diagnostic::error(
        file,
        source,
        value.span(),
        format!("{what} must be {} to {}", range.start(), range.end()),
    ));
    None
}

/// A `listen` address, or its located error.
fn parse_listen(
    listen: &Located<String>,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<std::net::SocketAddr> {
    match listen.parse() {
        Ok(addr) => Some(addr),
        Err(error) => {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                listen.span(),
                format!("`listen` must be an address like 127.0.0.1:8080: {error}"),
            ));
            None
        }
    }
}

fn yes() -> bool {
    true
}
