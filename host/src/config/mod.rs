//! Configuration: the typed schema of `switchboard.toml`,
//! `connectors/*.toml` and `bots/*.toml`, loading a directory as a whole,
//! and located diagnostics (`file:line:col`).
//!
//! Owns: parsing and validation. Everything downstream works with the typed
//! values ([`Config`]) and never sees TOML. May not touch: running state;
//! applying a new configuration is the caller's business.
//!
//! Paths in `switchboard.toml` are relative to the configuration directory.
//! Secrets (`password`) may instead be named by `password_env`, read from
//! the environment at load.
//!
//! # Layout
//!
//! - `schema/`: each file's tables, one module per table, each with the
//!   shape serde reads and the typed values it becomes.
//! - [`custom`]: the ten custom fields, declared in one table.
//! - `located`: [`Located`], a value with its place in its file.
//! - `together`: the rules that span files.
//! - `diagnostic`: [`Diagnostic`], `file:line:col: severity: message`.
//! - `connector_id`: the rule for connector ids.
//!
//! Every finding the loader can make has a case in `tests/ui/config/`.

mod connector_id;
pub mod custom;
mod diagnostic;
mod located;
mod sandbox;
mod schema;
mod together;

pub use connector_id::{BadConnectorId, ConnectorId};
pub use custom::{CustomFields, CustomTable, TileDisplay};
pub use diagnostic::{Diagnostic, Severity, line_col};
pub use located::Located;
pub use sandbox::{Grants, Limits, MAX_PLUGIN_MEMORY_BYTES};
pub use schema::{
    AdminConfig, AdminRole, AdminToken, AgentSessions, BotConfig, BotKind, CardButton, CardConfig,
    ClientLimits, ClusterConfig, ConnectorBehaviour, ConnectorConfig, ConnectorIdentity,
    ConsumerAuth, ConversationType, DEFAULT_LEASE_TTL, DEFAULT_SESSION_REFRESH, DeployTo, EtcdAuth,
    EtcdTls, GatewayConfig, HubConfig, HubEngagement, HubSkill, HubTls, HubUser, LimitOverrides,
    LoginCredentials, MAX_CONVERSATIONS_PER_AGENT, PluginConfig, Role, ScriptedAnswer,
    ScriptedRule, TranscriptSettings, UserKind, shipped_plugin_dir,
};

use std::path::{Path, PathBuf};

/// A whole configuration directory, parsed and validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// The directory it came from.
    pub dir: PathBuf,
    /// `switchboard.toml`.
    pub gateway: GatewayConfig,
    /// `connectors/*.toml`, in file name order.
    pub connectors: Vec<ConnectorConfig>,
    /// `bots/*.toml`, in file name order.
    pub bots: Vec<BotConfig>,
}

/// A configuration that loaded, with its warnings.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Findings that did not stop it from loading.
    pub warnings: Vec<Diagnostic>,
}

/// A configuration that did not load: every finding, errors first.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ConfigErrors(pub Vec<Diagnostic>);

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which file of a configuration directory a text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `switchboard.toml`.
    Gateway,
    /// `connectors/*.toml`.
    Connector,
    /// `bots/*.toml`.
    Bot,
}

/// Checks one file's text on its own (no cross-file rules): its diagnostics.
pub fn check_source(kind: FileKind, source: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let file = Path::new(match kind {
        FileKind::Gateway => "switchboard.toml",
        FileKind::Connector => "connectors/input.toml",
        FileKind::Bot => "bots/input.toml",
    });
    match kind {
        FileKind::Gateway => drop(schema::parse_gateway(
            Path::new("."),
            file,
            source,
            &mut diagnostics,
        )),
        FileKind::Connector => drop(schema::parse_connector(file, source, &mut diagnostics)),
        FileKind::Bot => drop(schema::parse_bot(file, source, &mut diagnostics)),
    }
    diagnostics
}

/// Parses one connector file's text on its own (the admin API's bodies):
/// the connector, or its errors located in `file`.
pub fn connector_from_text(file: &Path, text: &str) -> Result<ConnectorConfig, ConfigErrors> {
    let mut diagnostics = Vec::new();
    let parsed = schema::parse_connector(file, text, &mut diagnostics);
    diagnostics.retain(Diagnostic::is_error);
    match parsed {
        Some(config) if diagnostics.is_empty() => Ok(config),
        _ => Err(ConfigErrors(diagnostics)),
    }
}

/// Loads and validates the configuration directory `dir`.
pub fn load(dir: &Path) -> Result<Loaded, ConfigErrors> {
    let mut diagnostics = Vec::new();
    let gateway_file = dir.join("switchboard.toml");
    let gateway = match std::fs::read_to_string(&gateway_file) {
        Ok(source) => schema::parse_gateway(dir, &gateway_file, &source, &mut diagnostics),
        Err(error) => {
            diagnostics.push(Diagnostic::file_error(
                &gateway_file,
                format!("cannot read: {error}"),
            ));
            None
        }
    };

    let mut bots = Vec::new();
    for (file, source) in toml_files(&dir.join("bots"), &mut diagnostics) {
        if let Some(bot) = schema::parse_bot(&file, &source, &mut diagnostics) {
            bots.push((bot, source));
        }
    }
    let mut connectors = Vec::new();
    for (file, source) in toml_files(&dir.join("connectors"), &mut diagnostics) {
        if let Some(connector) = schema::parse_connector(&file, &source, &mut diagnostics) {
            connectors.push((connector, source));
        }
    }

    if let Some(gateway) = &gateway {
        together::check(gateway, &connectors, &bots, &mut diagnostics);
    }

    diagnostics.sort_by_key(|d| !d.is_error());
    match gateway {
        Some(gateway) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(Loaded {
            config: Config {
                dir: dir.to_owned(),
                gateway,
                connectors: connectors.into_iter().map(|(c, _)| c).collect(),
                bots: bots.into_iter().map(|(b, _)| b).collect(),
            },
            warnings: diagnostics,
        }),
        _ => Err(ConfigErrors(diagnostics)),
    }
}

/// The `.toml` files of `dir` in name order, with their text. A missing
/// directory is an empty one.
fn toml_files(dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|file| match std::fs::read_to_string(&file) {
            Ok(source) => Some((file, source)),
            Err(error) => {
                diagnostics.push(Diagnostic::file_error(
                    &file,
                    format!("cannot read: {error}"),
                ));
                None
            }
        })
        .collect()
}
