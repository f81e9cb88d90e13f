//! Hot reload: the configuration directory and the plugin files, read
//! again and applied to the running gateway as a difference.
//!
//! The new state is checked as a whole first: the directory must load, no
//! running connector may change its identity
//! ([`ConnectorIdentity`](crate::config::ConnectorIdentity)) or lose its
//! file, and every new or changed plugin file must compile and instantiate.
//! On any error nothing is applied. Otherwise behaviour
//! ([`ConnectorBehaviour`](crate::config::ConnectorBehaviour)) is swapped
//! into the connectors whether they run or not, new connectors appear,
//! deleted ones go.
//!
//! A plugin file whose bytes did not change is neither compiled nor
//! re-instantiated: its instances, with their counters, carry over.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;

use super::Gateway;
use crate::config::{self, Config, ConnectorConfig, Diagnostic};
use crate::connector::{Connector, ConnectorSettings};
use crate::plugin::{PluginChain, PluginEngine, PluginInstance, Recorder};

/// The outcome of the last reload, for status and the admin API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReloadReport {
    /// When it ran, in ms since the Unix epoch; 0 if no reload ran yet.
    pub at_ms: u64,
    /// True if the new state was applied.
    pub ok: bool,
    /// Why it was refused, each `file:line:col: error: message`.
    pub errors: Vec<String>,
    /// Findings that did not stop it.
    pub warnings: Vec<String>,
    /// What changed.
    pub changes: Vec<String>,
}

/// A connector as the reload will leave it.
struct Planned {
    config: ConnectorConfig,
    chain: PluginChain,
    changed: bool,
}

impl Gateway {
    /// Reads the configuration directory and the plugin files again and
    /// applies the difference (see the module docs). The running state is
    /// kept whole when anything is wrong.
    pub async fn reload(&mut self) -> &ReloadReport {
        let mut report = match self.plan_reload().await {
            Ok((new, planned, warnings)) => {
                let changes = self.apply(new, planned);
                ReloadReport {
                    ok: true,
                    warnings,
                    changes,
                    ..ReloadReport::default()
                }
            }
            Err((errors, warnings)) => ReloadReport {
                errors,
                warnings,
                ..ReloadReport::default()
            },
        };
        report.at_ms = crate::clock::now_ms();
        for error in &report.errors {
            tracing::error!("reload refused, nothing applied: {error}");
        }
        for warning in &report.warnings {
            tracing::warn!("reload: {warning}");
        }
        for change in &report.changes {
            tracing::info!("reload: {change}");
        }
        if report.ok {
            self.reloads_applied += 1;
        } else {
            self.reloads_refused += 1;
        }
        self.last_reload = report;
        &self.last_reload
    }

    /// The last reload's outcome.
    pub fn last_reload(&self) -> &ReloadReport {
        &self.last_reload
    }

    /// How many reloads ran.
    pub fn reload_count(&self) -> u64 {
        self.reloads_applied + self.reloads_refused
    }

    /// How many reloads were applied.
    pub fn reloads_applied(&self) -> u64 {
        self.reloads_applied
    }

    /// How many reloads were refused.
    pub fn reloads_refused(&self) -> u64 {
        self.reloads_refused
    }

    #[allow(clippy::type_complexity)]
    async fn plan_reload(
        &mut self,
    ) -> Result<(Config, Vec<Planned>, Vec<String>), (Vec<String>, Vec<String>)> {
        let loaded = match config::load(&self.config.dir) {
            Ok(loaded) => loaded,
            Err(errors) => {
                let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
                    errors.0.into_iter().partition(Diagnostic::is_error);
                return Err((render(&errors), render(&warnings)));
            }
        };
        let mut warnings = render(&loaded.warnings);
        let mut new = loaded.config;
        if restart_only(&new) != self.restart_only {
            warnings.push(format!(
                "{}: changes to [hub], [messaging], [store] and [cluster] take effect at the next start",
                new.dir.join("switchboard.toml").display()
            ));
        }
        if super::wants_fuel(&new) && !self.engine.meters_fuel() {
            warnings.push(format!(
                "{}: fuel limits take effect at the next start (the engine was started without fuel metering)",
                new.dir.display()
            ));
        }
        // The hub, platform and store keep what they started with.
        new.gateway.hub.clone_from(&self.config.gateway.hub);
        new.gateway.csds.clone_from(&self.config.gateway.csds);
        new.gateway.cluster.clone_from(&self.config.gateway.cluster);
        new.gateway.ca_file.clone_from(&self.config.gateway.ca_file);
        new.gateway
            .data_dir
            .clone_from(&self.config.gateway.data_dir);

        let mut errors = Vec::new();
        for old in &self.config.connectors {
            let running = self.runs_anywhere(old.id.as_str());
            if running && !new.connectors.iter().any(|c| c.id == old.id) {
                errors.push(Diagnostic::file_error(
                    &old.file,
                    format!(
                        "connector `{}` is running: stop it before you remove its file (it keeps running)",
                        old.id
                    ),
                ));
            }
        }
        for bot in &new.bots {
            let before = self.config.bots.iter().find(|b| b.id == bot.id);
            if before.is_some_and(|b| format!("{:?}", b.kind) != format!("{:?}", bot.kind)) {
                let users: Vec<&str> = self
                    .connectors
                    .values()
                    .filter(|c| c.is_running() && c.settings().bot_id == *bot.id)
                    .map(Connector::id)
                    .collect();
                if !users.is_empty() {
                    warnings.push(format!(
                        "{}: bot `{}` changed; running connectors {} use it after their next start",
                        bot.file.display(),
                        bot.id,
                        users.join(", ")
                    ));
                }
            }
        }
        let mut planned = Vec::new();
        for connector in &new.connectors {
            let before = self.connector_config(&connector.id).ok().cloned();
            let running = self.runs_anywhere(connector.id.as_str());
            if let (true, Some(before)) = (running, &before)
                && before.identity != connector.identity
                && let Some((field, span)) = before.identity.first_change(&connector.identity)
            {
                errors.push(Diagnostic::error(
                    &connector.file,
                    &connector.source,
                    span,
                    format!(
                        "`{field}` of connector `{}` cannot change while it runs: stop it, then save again (the running connector is unchanged)",
                        connector.id
                    ),
                ));
                continue;
            }
            let old_chain = self
                .connectors
                .get(connector.id.as_str())
                .map(|c| c.settings());
            match self
                .plan_chain(&new, connector, old_chain.as_ref().map(|s| &s.plugins))
                .await
            {
                Ok((chain, fresh)) => planned.push(Planned {
                    changed: fresh
                        || before.as_ref().is_none_or(|b| {
                            b.identity != connector.identity
                                || b.behaviour != connector.behaviour
                                || b.autostart != connector.autostart
                        })
                        || old_chain
                            .as_ref()
                            .is_some_and(|s| s.plugins.plugins().len() != chain.plugins().len()),
                    config: connector.clone(),
                    chain,
                }),
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok((new, planned, warnings))
        } else {
            Err((render(&errors), warnings))
        }
    }

    /// Loads (or reuses) each plugin of `connector` and instantiates the new
    /// ones; true in the result if any instance is new.
    pub(super) async fn plan_chain(
        &mut self,
        config: &Config,
        connector: &ConnectorConfig,
        old: Option<&PluginChain>,
    ) -> Result<(PluginChain, bool), Diagnostic> {
        let mut instances = Vec::new();
        let mut fresh = Vec::new();
        for plugin in &connector.behaviour.plugins {
            let at = |message: String| plugin_error(connector, plugin, message);
            let (path, bytes) = read_plugin(config, connector, plugin)?;
            let digest = PluginEngine::digest(&bytes);
            let loaded = match self.loaded.get(&path) {
                Some(loaded) if loaded.digest == digest => loaded.clone(),
                _ => {
                    // Compiling takes seconds for a large component (a
                    // JavaScript or Python plugin): off the runtime's
                    // threads, so that nothing else waits for it.
                    let engine = self.engine.clone();
                    let compile_path = path.clone();
                    let loaded = tokio::task::spawn_blocking(move || {
                        engine.load_bytes(&compile_path, &bytes)
                    })
                    .await
                    .map_err(|e| at(format!("the compile stopped: {e}")))?
                    .map_err(|e| at(e.to_string()))?;
                    self.loaded.insert(path.clone(), loaded.clone());
                    loaded
                }
            };
            let limits = plugin.limits.apply(config.gateway.plugin_limits);
            let kept = old.and_then(|chain| {
                chain
                    .plugins()
                    .iter()
                    .find(|i| i.serves_as(&loaded, &plugin.settings, &limits, &plugin.grants))
            });
            let instance = match kept {
                Some(instance) => instance.clone(),
                None => {
                    let instance = Arc::new(PluginInstance::new(
                        loaded.clone(),
                        &connector.id,
                        plugin.settings.clone(),
                        self.store.plugin_kv(&loaded.name, &connector.id),
                        limits,
                        plugin.grants.clone(),
                    ));
                    fresh.push((instance.clone(), plugin.file.span()));
                    instance
                }
            };
            instances.push(instance);
        }
        for (instance, span) in &fresh {
            instance.prepare().await.map_err(|reason| {
                Diagnostic::error(
                    &connector.file,
                    &connector.source,
                    span.clone(),
                    reason.clone(),
                )
            })?;
        }
        let mut chain = PluginChain::new(instances);
        match &connector.behaviour.transcripts {
            Some(settings) => {
                let recorder = match self.recorders.get(connector.id.as_str()) {
                    Some((kept, recorder)) if kept == settings => recorder.clone(),
                    _ => {
                        let recorder = Arc::new(Recorder::start(
                            &config.gateway.data_dir,
                            &connector.id,
                            settings,
                        ));
                        self.recorders.insert(
                            connector.id.get().clone(),
                            (settings.clone(), recorder.clone()),
                        );
                        recorder
                    }
                };
                chain = chain.recording(recorder);
            }
            None => {
                self.recorders.remove(connector.id.as_str());
            }
        }
        Ok((chain, !fresh.is_empty()))
    }

    fn apply(&mut self, new: Config, planned: Vec<Planned>) -> Vec<String> {
        let mut changes = Vec::new();
        let keep: BTreeSet<&str> = new.connectors.iter().map(|c| c.id.as_str()).collect();
        let removed: Vec<String> = self
            .connectors
            .keys()
            .filter(|id| !keep.contains(id.as_str()))
            .cloned()
            .collect();
        for id in removed {
            self.connectors.remove(&id);
            if let Err(error) = self.store.forget_desired(&id) {
                tracing::error!(connector = %id, %error, "could not forget the connector's state");
            }
            changes.push(format!("connector {id}: removed"));
        }
        let mut autostart = Vec::new();
        for Planned {
            config,
            chain,
            changed,
        } in planned
        {
            let settings = settings_of(&config, chain);
            match self.connectors.get(config.id.as_str()) {
                Some(connector) => {
                    connector.apply(settings);
                    if changed {
                        changes.push(format!("connector {}: updated", config.id));
                    }
                }
                None => {
                    let connector = Connector::new(settings, Some(&self.store), false);
                    if self.cluster.is_some() {
                        connector.place(crate::ports::Placement::Unknown);
                    }
                    self.connectors.insert(config.id.get().clone(), connector);
                    changes.push(format!("connector {}: added", config.id));
                    // In a cluster, the cluster task starts what this gateway wins.
                    if config.autostart && self.cluster.is_none() {
                        autostart.push(config.id.get().clone());
                    }
                }
            }
        }
        self.config = new;
        for id in autostart {
            if let Err(error) = self.start_connector(&id) {
                changes.push(format!("connector {id}: could not start: {error}"));
            }
        }
        changes
    }
}

/// A connector's running settings from its configuration and chain.
pub(super) fn settings_of(config: &ConnectorConfig, plugins: PluginChain) -> ConnectorSettings {
    let behaviour = &config.behaviour;
    ConnectorSettings {
        id: config.id.get().clone(),
        bot_id: config.identity.bot.get().clone(),
        conversation_type: *config.identity.conversation_type,
        accessibility: behaviour.accessibility,
        custom: behaviour.custom.fields.clone(),
        custom_pairs: behaviour.custom.fields.as_pairs().into(),
        fallback_skill_id: behaviour.fallback_skill_id.clone(),
        max_conversations: *behaviour.max_conversations,
        plugins,
    }
}

/// The parts of switchboard.toml a reload cannot change. The etcd password
/// is left out of the cluster's `Debug`, so it is compared by a hash.
pub(super) fn restart_only(config: &Config) -> String {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let g = &config.gateway;
    let etcd_password = g
        .cluster
        .as_ref()
        .and_then(|c| c.auth.as_ref())
        .map(|auth| BuildHasherDefault::<DefaultHasher>::default().hash_one(&auth.password));
    format!(
        "{:?}",
        (
            &g.hub,
            &g.csds,
            &g.ca_file,
            &g.data_dir,
            &g.cluster,
            etcd_password
        )
    )
}

fn render(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

/// An error located at `plugin`'s entry in `connector`'s file.
pub fn plugin_error(
    connector: &ConnectorConfig,
    plugin: &crate::config::PluginConfig,
    message: String,
) -> Diagnostic {
    Diagnostic::error(
        &connector.file,
        &connector.source,
        plugin.file.span(),
        message,
    )
}

/// Finds and reads the file of `plugin` (an entry of `connector`).
pub fn read_plugin(
    config: &Config,
    connector: &ConnectorConfig,
    plugin: &crate::config::PluginConfig,
) -> Result<(std::path::PathBuf, Vec<u8>), Diagnostic> {
    let at = |message: String| plugin_error(connector, plugin, message);
    let path = config
        .gateway
        .find_plugin(&plugin.file)
        .ok_or_else(|| at(format!("unknown plugin file `{}`", plugin.file)))?;
    let bytes = std::fs::read(&path)
        .map_err(|e| at(format!("plugin {}: cannot read the file: {e}", plugin.file)))?;
    Ok((path, bytes))
}
