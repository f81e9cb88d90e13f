//! `switchboard.toml` as a whole: `[hub]` (see [`super::hub`]), `[admin]`
//! (see [`super::admin`]), `[messaging]`, `[store]` and `[plugins]`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::admin::{AdminConfig, RawAdmin};
use super::hub::{HubConfig, RawHub};
use super::limits::RawLimits;
use super::parse;
use crate::config::Limits;
use crate::config::diagnostic::Diagnostic;

/// `switchboard.toml`.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The embedded hub, when enabled.
    pub hub: Option<HubConfig>,
    /// The platform's domain lookup (CSDS) base URL; `None` means the embedded hub.
    pub csds: Option<String>,
    /// A CA certificate (PEM) to trust for an `https://` platform instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Where the state store lives.
    pub data_dir: PathBuf,
    /// Where plugin files are looked up, in order; the build's output comes last.
    pub plugin_dirs: Vec<PathBuf>,
    /// Default limits of every plugin.
    pub plugin_limits: Limits,
    /// The admin API and the Agent Connectors page, when enabled.
    pub admin: Option<AdminConfig>,
}

impl GatewayConfig {
    /// The first `dir/file` that exists among the plugin directories.
    pub fn find_plugin(&self, file: &str) -> Option<PathBuf> {
        self.plugin_dirs
            .iter()
            .map(|dir| dir.join(file))
            .find(|path| path.is_file())
    }
}

/// The file as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    #[serde(default)]
    hub: Option<RawHub>,
    #[serde(default)]
    messaging: RawMessaging,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    plugins: RawPlugins,
    #[serde(default)]
    admin: Option<RawAdmin>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMessaging {
    #[serde(default)]
    csds: Option<String>,
    #[serde(default)]
    ca_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default = "default_data_dir")]
    data_dir: String,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            data_dir: default_data_dir(),
        }
    }
}

fn default_data_dir() -> String {
    "../data".into()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    #[serde(default)]
    dirs: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
}

/// `switchboard.toml` of the configuration directory `dir`; the paths it
/// names are relative to `dir`. `None` if it cannot be read as TOML or its
/// hub has no address.
pub(in crate::config) fn parse_gateway(
    dir: &Path,
    file: &Path,
    source: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<GatewayConfig> {
    let raw: RawGateway = parse(file, source, diagnostics)?;
    let hub = match raw.hub {
        Some(hub) if hub.enabled => Some(hub.check(dir, file, source, diagnostics)?),
        _ => None,
    };
    let admin = raw
        .admin
        .filter(|a| a.enabled)
        .and_then(|admin| admin.check(file, source, diagnostics));
    let mut plugin_dirs: Vec<PathBuf> = raw.plugins.dirs.iter().map(|d| dir.join(d)).collect();
    plugin_dirs.extend(shipped_plugin_dir());
    let plugin_limits = raw
        .plugins
        .limits
        .check(file, source, diagnostics)
        .apply(Limits::default());
    Some(GatewayConfig {
        hub,
        csds: raw.messaging.csds,
        ca_file: raw.messaging.ca_file.map(|f| dir.join(f)),
        data_dir: dir.join(raw.store.data_dir),
        plugin_dirs,
        plugin_limits,
        admin,
    })
}

/// The shipped plugins' directory, found from the running executable: the
/// nearest `plugins/` beside it or up to two levels above it
/// (`target/debug/switchboard` → `target/plugins/`; an installed
/// `bin/switchboard` → `plugins/` beside `bin/`).
pub fn shipped_plugin_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("plugins"))
        .find(|dir| dir.is_dir())
}
