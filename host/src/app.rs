//! The gateway as a whole: loads the configuration, opens the state store,
//! starts the embedded hub, builds each connector (its plugins and bot) and
//! starts the ones marked `autostart`; then runs until told to stop.
//!
//! Owns: wiring and lifetime. Each part's logic lives in its own module.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bot;
use crate::config::{self, Config, ConfigErrors, ConnectorConfig};
use crate::connector::{Connector, ConnectorSettings, StatusReport};
use crate::hub::{Hub, HubError, HubHandle};
use crate::messaging::Credentials;
use crate::plugin::{LoadedPlugin, PluginChain, PluginEngine, PluginError, PluginInstance};
use crate::store::{StateStore, StoreError};

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration has errors.
    #[error("configuration errors:\n{0}")]
    Config(#[from] ConfigErrors),
    /// The state store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A plugin could not be loaded.
    #[error("connector {connector}: {source}")]
    Plugin {
        /// The connector whose plugin failed.
        connector: String,
        /// Why.
        source: PluginError,
    },
    /// The plugin engine could not be set up.
    #[error(transparent)]
    Engine(PluginError),
    /// The hub could not listen.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Connectors need a platform: the hub or `[messaging] csds`.
    #[error("no messaging platform: enable [hub] or set [messaging] csds in switchboard.toml")]
    NoPlatform,
}

/// A started gateway.
pub struct Gateway {
    hub: Option<HubHandle>,
    connectors: Vec<Connector>,
    store: StateStore,
}

/// What `switchboard run` may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Listen address of the hub instead of the configured one.
    pub hub_listen: Option<SocketAddr>,
}

impl Gateway {
    /// Starts everything the configuration describes.
    pub async fn start(mut config: Config, overrides: &Overrides) -> Result<Gateway, StartError> {
        if let (Some(hub), Some(listen)) = (&mut config.gateway.hub, overrides.hub_listen) {
            hub.listen = listen;
        }
        let store = StateStore::open(&config.gateway.data_dir)?;
        let engine = PluginEngine::new().map_err(StartError::Engine)?;
        let hub = match &config.gateway.hub {
            Some(hub_config) => Some(Hub::start(hub_config.clone()).await?),
            None => None,
        };
        let csds = match (&config.gateway.csds, &hub) {
            (Some(csds), _) => csds.clone(),
            (None, Some(hub)) => hub.url(),
            (None, None) if config.connectors.is_empty() => String::new(),
            (None, None) => return Err(StartError::NoPlatform),
        };

        let mut loaded: HashMap<PathBuf, Arc<LoadedPlugin>> = HashMap::new();
        let mut connectors = Vec::new();
        for connector_config in &config.connectors {
            let chain = build_chain(&config, connector_config, &engine, &store, &mut loaded)?;
            let mut connector = Connector::new(ConnectorSettings {
                id: connector_config.id.clone(),
                bot_id: connector_config.bot.clone(),
                conversation_type: connector_config.conversation_type,
                accessibility: connector_config.accessibility,
                custom: connector_config.custom.clone(),
                fallback_skill_id: connector_config.fallback_skill_id.clone(),
                plugins: chain,
            });
            if connector_config.autostart {
                let bot_config = config
                    .bots
                    .iter()
                    .find(|b| b.id == connector_config.bot)
                    .expect("validated: every connector's bot exists");
                connector.start(
                    Credentials {
                        csds: csds.clone(),
                        account: connector_config.account.clone(),
                        username: connector_config.agent_user_id.clone(),
                        password: connector_config.password.clone(),
                    },
                    bot::from_config(bot_config),
                );
            }
            connectors.push(connector);
        }
        Ok(Gateway {
            hub,
            connectors,
            store,
        })
    }

    /// The embedded hub's base URL, if it runs.
    pub fn hub_url(&self) -> Option<String> {
        self.hub.as_ref().map(HubHandle::url)
    }

    /// Every connector's status and Details, by id.
    pub fn reports(&self) -> Vec<(String, StatusReport)> {
        self.connectors
            .iter()
            .map(|c| (c.id().to_owned(), c.report()))
            .collect()
    }

    /// Stops every connector and flushes the store.
    pub fn shutdown(mut self) {
        for connector in &mut self.connectors {
            connector.stop();
        }
        if let Err(error) = self.store.flush() {
            tracing::error!(%error, "could not flush the state store");
        }
    }
}

/// Loads a connector's plugins (each file compiled once per start) into its chain.
fn build_chain(
    config: &Config,
    connector: &ConnectorConfig,
    engine: &PluginEngine,
    store: &StateStore,
    loaded: &mut HashMap<PathBuf, Arc<LoadedPlugin>>,
) -> Result<PluginChain, StartError> {
    let mut instances = Vec::new();
    for plugin in &connector.plugins {
        let path = config
            .gateway
            .find_plugin(&plugin.file)
            .ok_or_else(|| StartError::Plugin {
                connector: connector.id.clone(),
                source: PluginError::Read {
                    path: PathBuf::from(&plugin.file),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                },
            })?;
        let component = match loaded.get(&path) {
            Some(component) => component.clone(),
            None => {
                let component = engine.load(&path).map_err(|source| StartError::Plugin {
                    connector: connector.id.clone(),
                    source,
                })?;
                loaded.insert(path, component.clone());
                component
            }
        };
        let kv = store.plugin_kv(&component.name, &connector.id);
        instances.push(Arc::new(PluginInstance::new(
            component,
            &connector.id,
            plugin.settings.clone(),
            kv,
            plugin.limits.apply(config.gateway.plugin_limits),
        )));
    }
    Ok(PluginChain::new(instances))
}

/// The configuration directory to use when none is given: `./config` if it
/// exists, else the shipped one beside the source tree.
pub fn default_config_dir() -> PathBuf {
    let local = Path::new("config");
    if local.join("switchboard.toml").is_file() {
        return local.to_owned();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// `switchboard run`: starts the gateway, prints where to chat, and runs
/// until Ctrl-C or SIGTERM.
pub async fn run(config_dir: &Path, overrides: Overrides) -> Result<(), StartError> {
    let loaded = config::load(config_dir)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
        eprintln!("{warning}");
    }
    let gateway = Gateway::start(loaded.config, &overrides).await?;
    if let Some(url) = gateway.hub_url() {
        println!("switchboard: hub listening on {url}");
        println!("switchboard: web chat at {url}/");
    }
    for (id, report) in gateway.reports() {
        println!("switchboard: connector {id}: {:?}", report.status);
    }
    wait_for_shutdown().await;
    println!("switchboard: shutting down");
    gateway.shutdown();
    Ok(())
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// `switchboard validate`: every diagnostic, one per line; true if no errors.
pub fn validate(config_dir: &Path) -> (bool, Vec<String>) {
    match config::load(config_dir) {
        Ok(loaded) => (
            true,
            loaded.warnings.iter().map(ToString::to_string).collect(),
        ),
        Err(errors) => (false, errors.0.iter().map(ToString::to_string).collect()),
    }
}
