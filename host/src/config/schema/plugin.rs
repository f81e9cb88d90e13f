//! A connector's `[[plugins]]` entries: the file, its settings, its own
//! limits (see [`super::limits`]) and what it may reach (grants).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::limits::{LimitOverrides, RawLimits};
use crate::config::Grants;
use crate::config::diagnostic::Diagnostic;
use crate::config::located::Located;

/// One `[[plugins]]` entry of a connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginConfig {
    /// The file name as written, where it was written.
    pub file: Located<String>,
    /// Its settings for this connector.
    pub settings: BTreeMap<String, String>,
    /// Its own limits, where they differ from the gateway's `[plugins.limits]`.
    pub limits: LimitOverrides,
    /// What it may reach beyond the host interface.
    pub grants: Grants,
}

/// An entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPluginEntry {
    file: Located<String>,
    #[serde(default)]
    settings: BTreeMap<String, toml::Value>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    grants: RawGrants,
}

/// What a plugin may reach: read-only directories, environment variables,
/// the precise clock.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    dirs: Vec<RawDirGrant>,
    #[serde(default)]
    env: Vec<Located<String>>,
    #[serde(default)]
    precise_clock: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirGrant {
    host: Located<String>,
    guest: String,
}

impl RawPluginEntry {
    /// The entry, its limits and grants checked; granted directories are
    /// relative to `dir`, the configuration directory.
    pub(super) fn check(
        self,
        dir: &Path,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> PluginConfig {
        let settings = self
            .settings
            .into_iter()
            .map(|(key, value)| {
                let text = match value {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                };
                (key, text)
            })
            .collect();
        PluginConfig {
            settings,
            limits: self.limits.check(file, source, diagnostics),
            grants: self.grants.check(dir, file, source, diagnostics),
            file: self.file,
        }
    }
}

impl RawGrants {
    fn check(
        self,
        dir: &Path,
        file: &Path,
        source: &str,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Grants {
        let dirs = self
            .dirs
            .into_iter()
            .filter_map(|grant| {
                let host = dir.join(grant.host.as_str());
                if host.is_dir() {
                    Some((host, grant.guest))
                } else {
                    let message = format!("granted directory {} does not exist", host.display());
                    diagnostics.push(Diagnostic::error(file, source, grant.host.span(), message));
                    None
                }
            })
            .collect();
        let env = self
            .env
            .into_iter()
            .filter_map(|name| match std::env::var(name.as_str()) {
                Ok(value) => Some((name.into_inner(), value)),
                Err(_) => {
                    let message = format!("granted environment variable `{name}` is not set");
                    diagnostics.push(Diagnostic::warning(file, source, name.span(), message));
                    None
                }
            })
            .collect();
        Grants {
            dirs,
            env,
            precise_clock: self.precise_clock,
        }
    }
}
