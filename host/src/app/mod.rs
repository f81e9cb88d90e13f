//! The gateway as a whole: loads the configuration, opens the state store,
//! starts the embedded hub, builds each connector (its plugins and bot) and
//! starts the ones marked `autostart` (in a cluster, the ones the cluster
//! gives this gateway: `placement`); winds them down when told to
//! (`server` decides when, and runs the admin API and the cluster task
//! beside it).
//!
//! Owns: wiring and lifetime. Each part's logic lives in its own module.
//! Hot reload ([`reload`]) and the file watcher ([`watch`]) live beside it:
//! every change, by hand or through the admin API, goes through
//! [`Gateway::reload`].

mod errors;
mod placement;
mod reload;
mod watch;

pub use errors::{LifecycleError, StartError};
pub use reload::{ReloadReport, plugin_error, read_plugin};
pub use watch::Watcher;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::bot;
use crate::cluster::ClusterLink;
use crate::config::{Config, ConnectorConfig};
use crate::connector::{Connector, StatusReport};
use crate::hub::{Hub, HubHandle};
use crate::messaging::{AgentConnection, Credentials, LivePersonDialer};
use crate::plugin::{CompileStats, LoadedPlugin, PluginEngine};
use crate::store::{StateStore, StatusChange};
use crate::tls;

/// A started gateway: the hub, and every configured connector by id.
pub struct Gateway {
    client_tls: Arc<rustls::ClientConfig>,
    hub: Option<HubHandle>,
    config: Config,
    csds: String,
    engine: PluginEngine,
    store: StateStore,
    loaded: HashMap<PathBuf, Arc<LoadedPlugin>>,
    /// Each recording connector's transcript recorder, kept across
    /// reloads while its settings stay (one writer per folder).
    recorders: HashMap<
        String,
        (
            crate::config::TranscriptSettings,
            Arc<crate::plugin::Recorder>,
        ),
    >,
    connectors: BTreeMap<String, Connector>,
    /// switchboard.toml's parts a reload cannot change, as started.
    restart_only: String,
    reloads_applied: u64,
    reloads_refused: u64,
    last_reload: ReloadReport,
    /// Who created each bot user (account, login), as the platform said.
    owners: HashMap<(String, String), Option<String>>,
    /// Winding down: no connector starts and no reload applies any more.
    closing: bool,
    /// In a cluster (`[cluster]`), the cluster decides where connectors
    /// run (see `placement`).
    cluster: Option<ClusterLink>,
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
        let restart_only = reload::restart_only(&config);
        if let (Some(hub), Some(listen)) = (&mut config.gateway.hub, overrides.hub_listen) {
            hub.listen = listen;
        }
        let store = StateStore::open(&config.gateway.data_dir)?;
        let engine = PluginEngine::with_cache_dir(
            &config.gateway.data_dir.join("compiled"),
            wants_fuel(&config),
        )
        .map_err(StartError::Engine)?;
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
            recorders: HashMap::new(),
            connectors: BTreeMap::new(),
            restart_only,
            reloads_applied: 0,
            reloads_refused: 0,
            last_reload: ReloadReport::default(),
            owners: HashMap::new(),
            closing: false,
            cluster: config
                .gateway
                .cluster
                .as_ref()
                .map(ClusterLink::new)
                .transpose()
                .map_err(StartError::ClusterTls)?,
        };
        for connector_config in &config.connectors {
            let (chain, _) = gateway
                .plan_chain(&config, connector_config, None)
                .await
                .map_err(StartError::Plugin)?;
            // A person's last Start or Stop wins over `autostart`.
            let stopped = gateway.store.desired_running(&connector_config.id) == Some(false);
            let connector = Connector::new(
                reload::settings_of(connector_config, chain),
                Some(&gateway.store),
                stopped,
            );
            gateway
                .connectors
                .insert(connector_config.id.get().clone(), connector);
        }
        // In a cluster, the cluster task starts what this gateway wins.
        gateway.place_unknown();
        let autostart = gateway.cluster.is_none();
        for connector_config in config.connectors.iter().filter(|_| autostart) {
            let desired = gateway.store.desired_running(&connector_config.id);
            if desired.unwrap_or(connector_config.autostart) {
                gateway
                    .start_connector(&connector_config.id)
                    .map_err(StartError::Lifecycle)?;
            }
        }
        Ok(gateway)
    }

    /// Compiles done and compiled components taken from the disk cache.
    pub fn compile_stats(&self) -> CompileStats {
        self.engine.stats()
    }

    /// The directories a [`Watcher`] should watch: the configuration
    /// directory and the plugin directories.
    pub fn watched_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.config.dir.clone()];
        dirs.extend(self.config.gateway.plugin_dirs.iter().cloned());
        dirs
    }

    /// `[admin]`, when the admin API is enabled.
    pub fn admin_config(&self) -> Option<&crate::config::AdminConfig> {
        self.config.gateway.admin.as_ref()
    }

    /// The state store's directory (changes there are not configuration).
    pub fn data_dir(&self) -> &Path {
        &self.config.gateway.data_dir
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

    /// Every connector, in id order.
    pub fn connectors(&self) -> impl Iterator<Item = &Connector> {
        self.connectors.values()
    }

    /// True while connector `id` is started.
    pub fn is_running(&self, id: &str) -> bool {
        self.connectors.get(id).is_some_and(Connector::is_running)
    }

    /// True while connector `id` runs here or, in a cluster, on another
    /// gateway: its identity and its file are then not to be changed, and
    /// its user not to be logged in as.
    pub fn runs_anywhere(&self, id: &str) -> bool {
        self.connectors
            .get(id)
            .is_some_and(|c| c.is_running() || c.runs_elsewhere())
    }

    /// Lifts a plugin's quarantine and forgets its faults in a row: an
    /// operator's reset.
    pub fn reset_plugin(&self, id: &str, name: &str) -> Result<(), LifecycleError> {
        let settings = self.connector(id)?.settings();
        let plugin = settings
            .plugins
            .plugins()
            .iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| LifecycleError::UnknownPlugin {
                id: id.to_owned(),
                name: name.to_owned(),
            })?;
        plugin.reset();
        tracing::info!(
            connector = id,
            plugin = name,
            "plugin reset: quarantine lifted"
        );
        Ok(())
    }

    /// Who created the connector's bot user, where known: the embedded
    /// hub's `created_by`, or what the platform said when the user was last
    /// checked (a stopped connector's user is checked now).
    pub async fn bot_user_owner(&self, config: &ConnectorConfig) -> Option<String> {
        if self.config.gateway.csds.is_none() {
            return self.config.gateway.hub.as_ref().and_then(|hub| {
                hub.users
                    .iter()
                    .find(|u| u.login == *config.identity.agent_user_id)
                    .and_then(|u| u.created_by.clone())
            });
        }
        let identity = &config.identity;
        let key = (
            identity.account.get().clone(),
            identity.agent_user_id.get().clone(),
        );
        if let Some(owner) = self.owners.get(&key) {
            return owner.clone();
        }
        // A second login would log a running connector out: ask only when stopped.
        if self.runs_anywhere(&config.id) {
            return None;
        }
        AgentConnection::verify(&self.credentials(config))
            .await
            .ok()
            .flatten()
    }

    fn connector(&self, id: &str) -> Result<&Connector, LifecycleError> {
        self.connectors
            .get(id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))
    }

    /// Connector `id`'s configuration as applied.
    pub fn connector_config(&self, id: &str) -> Result<&ConnectorConfig, LifecycleError> {
        self.config
            .connectors
            .iter()
            .find(|c| c.id.as_str() == id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))
    }

    /// Starts a connector: it logs in, checks its prerequisites and goes
    /// online, showing progress; failures show as Offline in its Details.
    pub fn start_connector(&mut self, id: &str) -> Result<(), LifecycleError> {
        if self.closing {
            return Err(LifecycleError::Closing);
        }
        let config = self.connector_config(id)?.clone();
        let bot_config = self
            .config
            .bots
            .iter()
            .find(|b| b.id == config.identity.bot)
            .ok_or_else(|| LifecycleError::NoBot {
                id: id.to_owned(),
                bot: config.identity.bot.get().clone(),
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
            .start(Arc::new(LivePersonDialer::new(credentials)), bot);
        if self.cluster.is_none() {
            self.remember(id, true);
        }
        Ok(())
    }

    /// Stops a connector; the platform routes its conversations to others.
    pub async fn stop_connector(&mut self, id: &str) -> Result<(), LifecycleError> {
        self.connectors
            .get_mut(id)
            .ok_or_else(|| LifecycleError::Unknown(id.to_owned()))?
            .stop()
            .await;
        if self.cluster.is_none() {
            self.remember(id, false);
        }
        Ok(())
    }

    /// Keeps a person's Start or Stop, so a restart does the same.
    fn remember(&self, id: &str, running: bool) {
        if let Err(error) = self.store.set_desired_running(id, running) {
            tracing::error!(connector = %id, %error, "could not record the connector's desired state");
        }
    }

    /// Adds a connector (Ready to Start, or started if `autostart`). Its
    /// user is checked on the platform at once: it must exist, be enabled,
    /// be a bot and have a routed skill. The connector's file is written
    /// and the configuration reloaded, as for an edit by hand.
    pub async fn add_connector(&mut self, config: ConnectorConfig) -> Result<(), LifecycleError> {
        if self.connectors.contains_key(config.id.as_str()) {
            return Err(LifecycleError::Exists(config.id.into_inner()));
        }
        self.check_user_free(&config)?;
        let owner = AgentConnection::verify(&self.credentials(&config))
            .await
            .map_err(|e| LifecycleError::Platform {
                id: config.id.get().clone(),
                reason: e.to_string(),
            })?;
        let identity = &config.identity;
        self.owners.insert(
            (
                identity.account.get().clone(),
                identity.agent_user_id.get().clone(),
            ),
            owner,
        );
        self.change_connector(&config.id, Some(&config.source))
            .await
    }

    /// Replaces a connector's configuration: its file is written and the
    /// configuration reloaded. Behaviour applies at once, running or not;
    /// identity fields of a running connector are refused (nothing changes).
    pub async fn edit_connector(&mut self, config: ConnectorConfig) -> Result<(), LifecycleError> {
        self.connector(&config.id)?;
        self.check_user_free(&config)?;
        self.change_connector(&config.id, Some(&config.source))
            .await
    }

    /// Deletes a stopped connector (and its file).
    pub async fn delete_connector(&mut self, id: &str) -> Result<(), LifecycleError> {
        self.connector(id)?;
        if self.runs_anywhere(id) {
            return Err(LifecycleError::Running {
                id: id.to_owned(),
                action: "delete",
            });
        }
        self.change_connector(id, None).await
    }

    /// The one path of every change made through the gateway: writes
    /// connector `id`'s file atomically (`None` removes it), then reloads.
    /// If the reload refuses the new state, the previous file is put back.
    pub async fn write_connector(
        &mut self,
        id: &str,
        text: Option<&str>,
    ) -> Result<(), LifecycleError> {
        crate::config::ConnectorId::parse(id)?;
        let path = match self.connector_config(id) {
            Ok(existing) => existing.file.clone(),
            Err(_) => self
                .config
                .dir
                .join("connectors")
                .join(format!("{id}.toml")),
        };
        let previous = std::fs::read(&path).ok();
        let write = |text: Option<&[u8]>| {
            let result = match text {
                Some(text) => std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
                    .and_then(|()| crate::store::write_atomically(&path, text)),
                None => std::fs::remove_file(&path),
            };
            result.map_err(|source| {
                tracing::error!(file = %path.display(), %source, "cannot write a connector file");
                LifecycleError::Write {
                    path: path.clone(),
                    source,
                }
            })
        };
        write(text.map(str::as_bytes))?;
        let report = self.reload().await.clone();
        if report.ok {
            return Ok(());
        }
        if let Err(error) = write(previous.as_deref()) {
            tracing::error!(%error, "could not put the previous connector file back");
        }
        Err(LifecycleError::Refused(Box::new(report)))
    }

    fn check_user_free(&self, config: &ConnectorConfig) -> Result<(), LifecycleError> {
        let identity = &config.identity;
        match self.config.connectors.iter().find(|c| {
            c.id != config.id
                && c.identity.agent_user_id == identity.agent_user_id
                && c.identity.account == identity.account
        }) {
            Some(other) => Err(LifecycleError::UserTaken {
                user: identity.agent_user_id.get().clone(),
                other: other.id.get().clone(),
            }),
            None => Ok(()),
        }
    }

    fn credentials(&self, config: &ConnectorConfig) -> Credentials {
        let identity = &config.identity;
        let bot_users = self
            .config
            .connectors
            .iter()
            .filter(|c| c.identity.bot == identity.bot && c.identity.account == identity.account)
            .map(|c| c.identity.agent_user_id.get().clone());
        Credentials::new(
            &self.csds,
            &identity.account,
            &identity.agent_user_id,
            identity.credentials.get().clone(),
            identity.external_webhook_url.get().clone(),
            self.client_tls.clone(),
        )
        .with_bot_users(bot_users)
        .with_session_refresh(self.config.gateway.session_refresh)
    }

    /// Winds the gateway down where it stands: every connector stops at
    /// once (each logs out, so the platform re-routes its conversations
    /// without waiting for a grace period), the embedded hub stops (its
    /// listener closes, its sockets are closed with 1001) and the store is
    /// flushed. Desired states are kept: a restart resumes what ran.
    ///
    /// Bounded: each connector's stop waits for its bot calls and its
    /// logout a limited time ([`STOP_LIMIT`] in all), and the store is
    /// flushed whatever happened before.
    pub async fn wind_down(&mut self) {
        self.closing = true;
        let stops =
            futures_util::future::join_all(self.connectors.values_mut().map(Connector::stop));
        if tokio::time::timeout(STOP_LIMIT, stops).await.is_err() {
            tracing::error!(
                "connectors still stopping after {STOP_LIMIT:?}: going on without them"
            );
        }
        if let Some(hub) = self.hub.take() {
            hub.stop().await;
        }
        if let Err(error) = self.store.flush() {
            tracing::error!(%error, "could not flush the state store");
        }
    }

    /// [`Gateway::wind_down`], then closes the store: its directory is
    /// released when this returns, so a gateway can start on it at once.
    pub async fn shutdown(mut self) {
        self.wind_down().await;
        let store = self.store.clone();
        drop(self);
        if let Err(error) = store.close() {
            tracing::error!(%error, "could not close the state store");
        }
    }
}

/// True if any plugin has a fuel limit (then the engine meters fuel).
pub(crate) fn wants_fuel(config: &Config) -> bool {
    config.gateway.plugin_limits.fuel.is_some()
        || config
            .connectors
            .iter()
            .flat_map(|c| &c.behaviour.plugins)
            .any(|p| p.limits.sets_fuel())
}

/// How long the connectors of a gateway that winds down may take to stop
/// (bot calls in flight, logout); with the hub's close handshakes and the
/// store's flush a shutdown stays within 5 s, what supervisors usually
/// wait between SIGTERM and SIGKILL.
pub const STOP_LIMIT: std::time::Duration = std::time::Duration::from_millis(3500);
