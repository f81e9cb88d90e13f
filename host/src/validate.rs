//! `switchboard validate`: a configuration directory checked as strictly
//! as `run` checks it, without binding a port or logging in.

use std::path::Path;

use crate::app;
use crate::config::{self, Config};
use crate::plugin::PluginEngine;
use crate::store::StateStore;
use crate::tls;

/// `switchboard validate`: every diagnostic, one per line; true if no
/// errors. As strict as `run`, without binding a port: besides the
/// configuration, every plugin file must be a component of the plugin
/// world that compiles and starts.
pub fn validate(config_dir: &Path) -> (bool, Vec<String>) {
    let loaded = match config::load(config_dir) {
        Ok(loaded) => loaded,
        Err(errors) => return (false, errors.0.iter().map(ToString::to_string).collect()),
    };
    let mut lines: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    let mut errors = check_plugins(&loaded.config);
    errors.extend(check_tls(&loaded.config));
    lines.extend(errors.iter().cloned());
    (errors.is_empty(), lines)
}

/// The TLS files `run` loads before it listens: the hub's certificate and
/// key, the platform's CA file. (A self-signed certificate is made at
/// start, in the data directory; nothing to check here.)
fn check_tls(config: &Config) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(crate::config::HubTls::Files { cert, key }) =
        config.gateway.hub.as_ref().and_then(|hub| hub.tls.as_ref())
        && let Err(error) = tls::server_config(cert, key)
    {
        errors.push(format!("[hub.tls]: {error}"));
    }
    if let Some(ca_file) = &config.gateway.ca_file
        && let Err(error) = tls::client_config(Some(ca_file))
    {
        errors.push(format!("[messaging] ca_file: {error}"));
    }
    if let Some(cluster) = &config.gateway.cluster
        && let Err(error) =
            tls::client_config_with_identity(cluster.tls.ca_file.as_deref(), cluster.tls.identity())
    {
        errors.push(format!("[cluster] TLS to etcd: {error}"));
    }
    errors
}

/// What `run` checks of each connector's plugins before it serves: the
/// file is found, compiles as a component of the plugin world and starts
/// without a trap. Findings are located at the plugin's entry.
fn check_plugins(config: &Config) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    runtime.block_on(async {
        let engine = match PluginEngine::new() {
            Ok(engine) => engine,
            Err(error) => return vec![format!("the plugin engine cannot start: {error}")],
        };
        let store = match StateStore::temporary() {
            Ok(store) => store,
            Err(error) => return vec![error.to_string()],
        };
        let mut errors = Vec::new();
        for connector in &config.connectors {
            for plugin in &connector.behaviour.plugins {
                let checked = async {
                    let (path, bytes) = app::read_plugin(config, connector, plugin)?;
                    let at = |message: String| app::plugin_error(connector, plugin, message);
                    let loaded = engine
                        .load_bytes(&path, &bytes)
                        .map_err(|e| at(e.to_string()))?;
                    let instance = crate::plugin::PluginInstance::new(
                        loaded.clone(),
                        &connector.id,
                        plugin.settings.clone(),
                        store.plugin_kv(&loaded.name, &connector.id),
                        plugin.limits.apply(config.gateway.plugin_limits),
                        plugin.grants.clone(),
                    );
                    instance.prepare().await.map_err(at)
                };
                if let Err(diagnostic) = checked.await {
                    errors.push(diagnostic.to_string());
                }
            }
        }
        errors
    })
}
