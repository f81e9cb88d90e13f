//! The gateway as a whole: loads the configuration, opens the state store,
//! starts the embedded hub, builds each connector (its plugins and bot) and
//! starts the ones marked `autostart`; then runs until told to stop.
//!
//! Owns: wiring and lifetime. Each part's logic lives in its own module.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bot;
use crate::config::{self, Config, ConfigErrors, ConnectorConfig};
use crate::connector::{Connector, ConnectorSettings, Status, StatusReport};
use crate::hub::{Hub, HubError, HubHandle};
use crate::messaging::{AgentConnection, Credentials};
use crate::plugin::{LoadedPlugin, PluginChain, PluginEngine, PluginError, PluginInstance};
use crate::store::{StateStore, StatusChange, StoreError};
use crate::tls;

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
    /// A connector could not be set up.
    #[error(transparent)]
    Lifecycle(LifecycleError),
    /// The TLS client configuration (`[messaging] ca_file`) could not be made.
    #[error("messaging TLS: {0}")]
    Tls(crate::tls::TlsError),
    /// Connectors need a platform: the hub or `[messaging] csds`.
    #[error("no messaging platform: enable [hub] or set [messaging] csds in switchboard.toml")]
    NoPlatform,
}

/// A started gateway: the hub, and every configured connector by id.
pub struct Gateway {
    client_tls: Arc<rustls::ClientConfig>,
    hub: Option<HubHandle>,
    config: Config,
    csds: String,
    engine: PluginEngine,
    store: StateStore,
    loaded: HashMap<PathBuf, Arc<LoadedPlugin>>,
    connectors: BTreeMap<String, Connector>,
}

/// What `switchboard run` may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Listen address of the hub instead of the configured one.
    pub hub_listen: Option<SocketAddr>,
}

/// Why a lifecycle request was refused.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// No connector has this id.
    #[error("no connector `{0}`")]
    Unknown(String),
    /// Already one with this id.
    #[error("a connector `{0}` exists already")]
    Exists(String),
    /// Edit and delete need a stopped connector.
    #[error("connector `{id}` is running: stop it before you {action} it")]
    Running {
        /// The connector.
        id: String,
        /// "edit" or "delete".
        action: &'static str,
    },
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
    /// A plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The platform refused the connector's user (missing, disabled, not a bot, no skill, 401).
    #[error("connector `{id}`: {reason}")]
    Platform {
        /// The connector.
        id: String,
        /// What the platform said.
        reason: String,
    },
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
            Some(hub_config) => {
                Some(Hub::start(hub_config.clone(), &config.gateway.data_dir).await?)
            }
            None => None,
        };
        let csds = match (&config.gateway.csds, &hub) {
            (Some(csds), _) => csds.clone(),
            (None, Some(hub)) => hub.url(),
            (None, None) if config.connectors.is_empty() => String::new(),
            (None, None) => return Err(StartError::NoPlatform),
        };
        // An https platform is trusted through `[messaging] ca_file` (or
        // the public roots); the embedded hub's own certificate is trusted
        // without saying so when connectors use the embedded hub.
        let trusted = match &config.gateway.csds {
            Some(_) => config.gateway.ca_file.clone(),
            None => hub.as_ref().and_then(|h| h.certificate.clone()),
        };
        let client_tls = tls::client_config(trusted.as_deref()).map_err(StartError::Tls)?;
        let mut gateway = Gateway {
            client_tls,
            hub,
            config: config.clone(),
            csds,
            engine,
            store,
            loaded: HashMap::new(),
            connectors: BTreeMap::new(),
        };
        for connector_config in &config.connectors {
            let connector =
                gateway
                    .build(connector_config, false)
                    .map_err(|source| match source {
                        LifecycleError::Plugin(source) => StartError::Plugin {
                            connector: connector_config.id.clone(),
                            source,
                        },
                        other => StartError::Lifecycle(other),
                    })?;
            gateway
                .connectors
                .insert(connector_config.id.clone(), connector);
        }
        for connector_config in config.connectors.iter().filter(|c| c.autostart) {
            gateway
                .start_connector(&connector_config.id)
                .map_err(StartError::Lifecycle)?;
        }
        Ok(gateway)
    }

    /// The embedded hub's base URL, if it runs.
    pub fn hub_url(&self) -> Option<String> {
        self.hub.as_ref().map(HubHandle::url)
    }

    /// The certificate the embedded hub serves, when it serves TLS.
    pub fn hub_certificate(&self) -> Option<&Path> {
        self.hub.as_ref().and_then(|h| h.certificate.as_deref())
    }

    /// The connectors' ids, in order.
    pub fn connector_ids(&self) -> Vec<String> {
        self.connectors.keys().cloned().collect()
    }

    /// Every connector's status and Details, by id.
    pub fn reports(&self) -> Vec<(String, StatusReport)> {
        self.connectors
            .iter()
            .map(|(id, c)| (id.clone(), c.report()))
            .collect()
    }

    /// One connector's status and Details.
    pub fn report(&self, id: &str) -> Result<StatusReport, LifecycleError> {
        Ok(self.connector(id)?.report())
    }

    /// One connector's status history, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<StatusChange>, LifecycleError> {
        self.connector(id)?;
        Ok(self.store.status_log().history(id))
    }

    fn connector(&self, id: &str) -> Result<&Connector, LifecycleError> {
        self.connectors
            .get(id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))
    }

    fn connector_config(&self, id: &str) -> Result<&ConnectorConfig, LifecycleError> {
        self.config
            .connectors
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))
    }

    /// Starts a connector: it logs in, checks its prerequisites and goes
    /// online, showing progress; failures show as Offline in its Details.
    pub fn start_connector(&mut self, id: &str) -> Result<(), LifecycleError> {
        let config = self.connector_config(id)?.clone();
        let bot_config = self
            .config
            .bots
            .iter()
            .find(|b| b.id == config.bot)
            .ok_or_else(|| LifecycleError::NoBot {
                id: id.to_owned(),
                bot: config.bot.clone(),
            })?;
        let bot = bot::from_config(bot_config).map_err(|e| LifecycleError::Platform {
            id: id.to_owned(),
            reason: format!(
                "bot {}: cannot start its callback server: {e}",
                bot_config.id
            ),
        })?;
        let credentials = self.credentials(&config);
        self.connectors
            .get_mut(id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))?
            .start(credentials, bot);
        Ok(())
    }

    /// Stops a connector; the platform routes its conversations to others.
    pub async fn stop_connector(&mut self, id: &str) -> Result<(), LifecycleError> {
        self.connectors
            .get_mut(id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))?
            .stop()
            .await;
        Ok(())
    }

    /// Adds a connector (Ready to Start). Its user is checked on the
    /// platform at once: it must exist, be enabled, be a bot and have a
    /// routed skill.
    pub async fn add_connector(&mut self, config: ConnectorConfig) -> Result<(), LifecycleError> {
        if self.connectors.contains_key(&config.id) {
            return Err(LifecycleError::Exists(config.id));
        }
        self.check_user_free(&config)?;
        AgentConnection::verify(&self.credentials(&config))
            .await
            .map_err(|e| LifecycleError::Platform {
                id: config.id.clone(),
                reason: e.to_string(),
            })?;
        let connector = self.build(&config, false)?;
        self.connectors.insert(config.id.clone(), connector);
        self.config.connectors.push(config);
        Ok(())
    }

    /// Replaces a stopped connector's configuration.
    pub fn edit_connector(&mut self, config: ConnectorConfig) -> Result<(), LifecycleError> {
        if self.connector(&config.id)?.is_running() {
            return Err(LifecycleError::Running {
                id: config.id,
                action: "edit",
            });
        }
        self.check_user_free(&config)?;
        let was_stopped = self.connector(&config.id)?.report().status == Status::Stopped;
        let connector = self.build(&config, was_stopped)?;
        self.connectors.insert(config.id.clone(), connector);
        self.config.connectors.retain(|c| c.id != config.id);
        self.config.connectors.push(config);
        Ok(())
    }

    /// Deletes a stopped connector.
    pub fn delete_connector(&mut self, id: &str) -> Result<(), LifecycleError> {
        if self.connector(id)?.is_running() {
            return Err(LifecycleError::Running {
                id: id.to_owned(),
                action: "delete",
            });
        }
        self.connectors.remove(id);
        self.config.connectors.retain(|c| c.id != id);
        Ok(())
    }

    fn check_user_free(&self, config: &ConnectorConfig) -> Result<(), LifecycleError> {
        match self.config.connectors.iter().find(|c| {
            c.id != config.id
                && c.agent_user_id == config.agent_user_id
                && c.account == config.account
        }) {
            Some(other) => Err(LifecycleError::UserTaken {
                user: config.agent_user_id.clone(),
                other: other.id.clone(),
            }),
            None => Ok(()),
        }
    }

    fn credentials(&self, config: &ConnectorConfig) -> Credentials {
        Credentials::new(
            &self.csds,
            &config.account,
            &config.agent_user_id,
            config.credentials.clone(),
            config.external_webhook_url.clone(),
            self.client_tls.clone(),
        )
    }

    fn build(
        &mut self,
        config: &ConnectorConfig,
        stopped: bool,
    ) -> Result<Connector, LifecycleError> {
        let chain = build_chain(
            &self.config,
            config,
            &self.engine,
            &self.store,
            &mut self.loaded,
        )?;
        Ok(Connector::new(
            ConnectorSettings {
                id: config.id.clone(),
                bot_id: config.bot.clone(),
                conversation_type: config.conversation_type,
                accessibility: config.accessibility,
                custom: config.custom.clone(),
                fallback_skill_id: config.fallback_skill_id.clone(),
                max_conversations: config.max_conversations,
                plugins: chain,
            },
            Some(self.store.status_log()),
            stopped,
        ))
    }

    /// Stops every connector (each logs out) and flushes the store.
    pub async fn shutdown(mut self) {
        for connector in self.connectors.values_mut() {
            connector.stop().await;
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
) -> Result<PluginChain, PluginError> {
    let mut instances = Vec::new();
    for plugin in &connector.plugins {
        let path = config
            .gateway
            .find_plugin(&plugin.file)
            .ok_or_else(|| PluginError::Read {
                path: PathBuf::from(&plugin.file),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })?;
        let component = match loaded.get(&path) {
            Some(component) => component.clone(),
            None => {
                let component = engine.load(&path)?;
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
            plugin.grants.clone(),
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
        let _ = writeln!(std::io::stderr(), "{warning}");
    }
    let gateway = Gateway::start(loaded.config, &overrides).await?;
    if let Some(url) = gateway.hub_url() {
        if let Some(certificate) = gateway.hub_certificate() {
            say(format_args!(
                "switchboard: hub TLS certificate at {} (trust it, e.g. NODE_EXTRA_CA_CERTS={0})",
                certificate.display()
            ));
        }
        say(format_args!("switchboard: hub listening on {url}"));
        say(format_args!("switchboard: web chat at {url}/"));
    }
    for (id, report) in gateway.reports() {
        say(format_args!(
            "switchboard: connector {id}: {:?}",
            report.status
        ));
    }
    wait_for_shutdown().await;
    say(format_args!("switchboard: shutting down"));
    gateway.shutdown().await;
    Ok(())
}

/// Prints a line for the person running `switchboard run`; a closed
/// stdout (a pipe nobody reads any more) is no reason to stop serving.
fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stdout(), "{line}");
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
