//! The server's own folders kept out of what the admin API says: error
//! messages and reload findings name files relative to the configuration
//! directory, or by a folder's last name.

use std::path::Path;

use crate::app::Gateway;
use crate::plugin::PluginStatus;

/// The server's own folders (the configuration directory, the plugin
/// folders, the data directory), kept out of what the API says: paths
/// inside the configuration directory are told relative to it, the others
/// by their last component (`…/plugins`). The whole paths are in the log.
pub(super) struct ServerPaths {
    /// (folder as text, what it reads as before a `/`, what it reads as alone),
    /// longest first.
    hidden: Vec<(String, String, String)>,
}

impl ServerPaths {
    pub(super) fn of(gateway: &Gateway) -> Self {
        let mut dirs = gateway.watched_dirs().into_iter();
        let config = dirs.next().unwrap_or_default();
        let mut hidden = Vec::new();
        // Relative folders say nothing about the server; their absolute
        // forms do.
        let mut hide = |dir: &Path, inside: String, alone: String| {
            let canonical = dir.canonicalize().ok();
            for form in std::iter::once(dir).chain(canonical.as_deref()) {
                let text = form.display().to_string();
                if form.is_absolute() && text.len() > 1 {
                    hidden.push((text, inside.clone(), alone.clone()));
                }
            }
        };
        hide(&config, String::new(), ".".into());
        for dir in dirs.chain([gateway.data_dir().to_owned()]) {
            if dir.starts_with(&config) {
                continue;
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            hide(&dir, format!("…/{name}/"), format!("…/{name}"));
        }
        hidden.sort_by_key(|(text, ..)| std::cmp::Reverse(text.len()));
        ServerPaths { hidden }
    }

    /// `text` with every hidden folder replaced where it stands as a whole
    /// path component.
    pub(super) fn hide(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (dir, inside, alone) in &self.hidden {
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(at) = rest.find(dir.as_str()) {
                out.push_str(&rest[..at]);
                let after = &rest[at + dir.len()..];
                match after.chars().next() {
                    Some('/') => {
                        out.push_str(inside);
                        rest = &after[1..];
                    }
                    Some(c) if c.is_alphanumeric() || "-_.".contains(c) => {
                        out.push_str(dir);
                        rest = after;
                    }
                    _ => {
                        out.push_str(alone);
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            text = out;
        }
        text
    }

    /// Plugin statuses as the API tells them: each file, and any fault
    /// that names one, with the server's folders hidden.
    pub(super) fn hide_plugins(&self, plugins: &mut [PluginStatus]) {
        for plugin in plugins {
            plugin.path = self.hide(&plugin.path);
            if let Some(fault) = &mut plugin.last_fault {
                *fault = self.hide(fault);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_paths_are_told_relative_to_the_configuration_or_by_their_last_name() {
        let paths = ServerPaths {
            hidden: vec![
                ("/srv/gw/config".into(), String::new(), ".".into()),
                (
                    "/opt/plugins".into(),
                    "…/plugins/".into(),
                    "…/plugins".into(),
                ),
            ],
        };
        assert_eq!(
            paths.hide("/srv/gw/config/connectors/a.toml:1:6: error: unknown plugin file `x.wasm` (searched /opt/plugins, /srv/gw/config/plugins)"),
            "connectors/a.toml:1:6: error: unknown plugin file `x.wasm` (searched …/plugins, plugins)"
        );
        assert_eq!(paths.hide("/srv/gw/config: fuel"), ".: fuel");
        assert_eq!(
            paths.hide("/srv/gw/configs/a and /opt/plugins-old"),
            "/srv/gw/configs/a and /opt/plugins-old",
            "only whole path components"
        );
    }
}
