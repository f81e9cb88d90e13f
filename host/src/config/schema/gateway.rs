//! `switchboard.toml` as a whole: `[hub]` (see [`super::hub`]), `[admin]`
//! (see [`super::admin`]), `[cluster]` (see [`super::cluster`]), `[messaging]`,
//! `[store]` and `[plugins]`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::admin::{AdminConfig, RawAdmin};
use super::cluster::{ClusterConfig, RawCluster};
use super::hub::{HubConfig, RawHub};
use super::limits::RawLimits;
use super::parse;
use crate::config::Limits;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// `switchboard.toml`.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// The embedded hub, when enabled.
    pub hub: Option<HubConfig>,
    /// The platform's domain lookup (CSDS) base URL; `None` means the embedded hub.
    pub csds: Option<String>,
    /// A CA certificate (PEM) to trust for an `https://` platform instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// How often a connector refreshes its login session
    /// (`[messaging] session_refresh_ms`; LivePerson asks for every three to
    /// five minutes).
    pub session_refresh: std::time::Duration,
    /// Where the state store lives.
    pub data_dir: PathBuf,
    /// Where plugin files are looked up, in order; the build's output comes last.
    pub plugin_dirs: Vec<PathBuf>,
    /// Default limits of every plugin.
    pub plugin_limits: Limits,
    /// The admin API and the Agent Connectors page, when enabled.
    pub admin: Option<AdminConfig>,
    /// The etcd cluster whose gateways share the connectors, when set.
    pub cluster: Option<ClusterConfig>,
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
    #[serde(default)]
    cluster: Option<RawCluster>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMessaging {
    #[serde(default)]
    csds: Option<String>,
    #[serde(default)]
    ca_file: Option<String>,
    #[serde(default)]
    session_refresh_ms: Option<Located<u64>>,
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
    let session_refresh = match raw.messaging.session_refresh_ms {
        Some(ms) if !(1_000..=MAX_SESSION_REFRESH_MS).contains(ms.get()) => {
            diagnostics.push(Diagnostic::error(
                file,
                source,
                ms.span(),
                format!(
                    "[messaging] `session_refresh_ms` must be 1000 to {MAX_SESSION_REFRESH_MS}"
                ),
            ));
            DEFAULT_SESSION_REFRESH
        }
        Some(ms) => std::time::Duration::from_millis(*ms.get()),
        None => DEFAULT_SESSION_REFRESH,
    };
    let cluster = raw.cluster.and_then(|cluster| {
        cluster.check(raw.messaging.csds.is_some(), dir, file, source, diagnostics)
    });
    Some(GatewayConfig {
        hub,
        csds: raw.messaging.csds,
        ca_file: raw.messaging.ca_file.map(|f| dir.join(f)),
        session_refresh,
        data_dir: dir.join(raw.store.data_dir),
        plugin_dirs,
        plugin_limits,
        admin,
        cluster,
    })
}

/// The default `[messaging] session_refresh_ms`: four minutes, within the
/// three to five LivePerson asks for.
pub const DEFAULT_SESSION_REFRESH: std::time::Duration = std::time::Duration::from_secs(4 * 60);

/// The longest `[messaging] session_refresh_ms`: half an hour.
const MAX_SESSION_REFRESH_MS: u64 = 30 * 60 * 1000;

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
