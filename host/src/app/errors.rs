//! Why the gateway did not start ([`StartError`]), and why a lifecycle
//! request (start, stop, add, edit, delete a connector) was refused
//! ([`LifecycleError`]): what callers (the server, the admin API) show.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::ReloadReport;
use crate::config::{ConfigErrors, Diagnostic};
use crate::hub::HubError;
use crate::plugin::PluginError;
use crate::store::StoreError;

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration has errors.
    #[error("configuration errors:\n{0}")]
    Config(#[from] ConfigErrors),
    /// The state store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin could not be loaded or instantiated.
    #[error("{0}")]
    Plugin(Diagnostic),
    /// The plugin engine could not be set up.
    #[error(transparent)]
    Engine(PluginError),
    /// The hub could not listen.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// A connector could not be set up.
    #[error(transparent)]
    Lifecycle(LifecycleError),
    /// The TLS client configuration (`[messaging] ca_file`) could not be made.
    #[error("messaging TLS: {0}")]
    Tls(crate::tls::TlsError),
    /// The TLS client configuration to etcd (`[cluster]` `ca_file`,
    /// `cert_file`, `key_file`) could not be made.
    #[error("[cluster] TLS to etcd: {0}")]
    ClusterTls(crate::tls::TlsError),
    /// The admin API could not listen.
    #[error("admin API: cannot listen on {listen}: {source}")]
    Admin {
        /// The address.
        listen: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// `switchboard hub` needs a `[hub]` table.
    #[error("{}: switchboard.toml has no [hub] table to run", .0.display())]
    NoHub(PathBuf),
    /// Connectors need a platform: the hub or `[messaging] csds`.
    #[error("no messaging platform: enable [hub] or set [messaging] csds in switchboard.toml")]
    NoPlatform,
}

/// Why a lifecycle request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// No connector has this id.
    #[error("no connector `{0}`")]
    Unknown(String),
    /// The connector has no plugin of this name.
    #[error("connector `{id}` has no plugin `{name}`")]
    UnknownPlugin {
        /// The connector.
        id: String,
        /// The plugin name asked for.
        name: String,
    },
    /// Already one with this id.
    #[error("a connector `{0}` exists already")]
    Exists(String),
    /// Delete needs a stopped connector.
    #[error("connector `{id}` is running: stop it before you {action} it")]
    Running {
        /// The connector.
        id: String,
        /// "delete".
        action: &'static str,
    },
    /// The changed configuration was refused as a whole.
    #[error("the change was refused, nothing applied:\n{}", .0.errors.join("\n"))]
    Refused(Box<ReloadReport>),
    /// The connector's file could not be written. The message names the
    /// file, not its folder: it reaches API callers, who have no business
    /// knowing the server's paths (the whole path is logged).
    #[error(
        "cannot write connectors/{}: {source}",
        .path.file_name().unwrap_or_default().to_string_lossy()
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The gateway is shutting down.
    #[error("the gateway is shutting down")]
    Closing,
    /// Connector ids name files: the rule of [`ConnectorId`](crate::config::ConnectorId).
    #[error(transparent)]
    BadId(#[from] crate::config::BadConnectorId),
    /// Its bot is not configured.
    #[error("connector `{id}` serves bot `{bot}`, which is not configured")]
    NoBot {
        /// The connector.
        id: String,
        /// The bot.
        bot: String,
    },
    /// Another connector logs in as the same agent user.
    #[error(
        "agent user `{user}` is already used by connector `{other}`: each connector needs its own bot user"
    )]
    UserTaken {
        /// The agent user.
        user: String,
        /// The connector using it.
        other: String,
    },
    /// The platform refused the connector's user (missing, disabled, not a bot, no skill, 401).
    #[error("connector `{id}`: {reason}")]
    Platform {
        /// The connector.
        id: String,
        /// What the platform said.
        reason: String,
    },
    /// A Start or Stop could not be recorded in the cluster's etcd.
    #[error("connector `{id}`: {reason}")]
    Cluster {
        /// The connector.
        id: String,
        /// Why.
        reason: String,
    },
}
