//! A connector's status and its Details: the health of each component
//! (messaging, bot, plugins), the status computed from it, and each
//! change recorded in the status history.

use std::sync::MutexGuard;

use crate::plugin::PluginStatus;

use serde::Serialize;

use super::Shared;
use crate::ports::{Placement, Status};

/// One component's state in Details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Component {
    /// `Some(true)` up, `Some(false)` down, `None` not known yet.
    pub up: Option<bool>,
    /// What is known: "connected", the error, ...
    pub detail: String,
}

impl Component {
    pub(super) fn unknown(detail: &str) -> Self {
        Component {
            up: None,
            detail: detail.to_owned(),
        }
    }
}

/// Which components work.
#[derive(Clone, Debug, Serialize)]
pub struct Details {
    /// The messaging connection.
    pub messaging: Component,
    /// The bot server connection (known after the first bot call).
    pub bot: Component,
    /// Each plugin (down while its last hook call faulted).
    pub plugins: Vec<PluginStatus>,
}

/// What a connector counts for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectorMetrics {
    /// Consumer messages received (each once, after deduplication).
    pub messages_in: crate::metrics::Counter,
    /// Messages published to consumers.
    pub messages_out: crate::metrics::Counter,
    /// How long the bot took to answer a turn.
    pub bot_latency: crate::metrics::Histogram,
    /// Bot messages not published because LivePerson would refuse them.
    pub bot_messages_refused: crate::metrics::Counter,
}

/// A connector's status with its Details.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The status.
    pub status: Status,
    /// While starting: the step under way.
    pub progress: Option<String>,
    /// Which components work.
    pub details: Details,
    /// Conversations the connector is handling.
    pub conversations: usize,
    /// In a cluster: the gateway that runs the connector (this one or
    /// another); none when no gateway runs it, or outside a cluster.
    pub gateway: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    NeverStarted,
    Starting,
    Running,
    Stopped,
}

pub(super) struct Health {
    pub(super) lifecycle: Lifecycle,
    pub(super) progress: Option<String>,
    pub(super) messaging: Component,
    pub(super) bot: Component,
    pub(super) conversations: usize,
    pub(super) recorded: Option<(Status, String)>,
    /// Why the bot's last refused message was refused.
    pub(super) bot_refused: Option<String>,
    /// In a cluster: where it runs (`None` outside a cluster).
    pub(super) placement: Option<Placement>,
}

/// The health half of what a connector's tasks share.
impl Shared {
    pub(super) fn health(&self) -> MutexGuard<'_, Health> {
        self.health
            .lock()
            .expect("health lock is never poisoned: no panics under it")
    }

    /// Records the outcome of a bot call in Details.
    pub fn bot_result(&self, result: Result<(), String>) {
        let component = match result {
            Ok(()) => Component {
                up: Some(true),
                detail: match &self.health().bot_refused {
                    None => "answering".into(),
                    Some(last) => format!(
                        "answering; {} message(s) LivePerson would refuse were not published (last: {last})",
                        self.metrics.bot_messages_refused.get()
                    ),
                },
            },
            Err(error) => Component {
                up: Some(false),
                detail: error,
            },
        };
        // Every answer reports here: only a change costs a new report.
        if self.health().bot == component {
            return;
        }
        self.update(|h| h.bot = component);
    }

    /// The bot sent a message LivePerson would refuse (`reason`): it is
    /// counted against the bot, in metrics and in its Details.
    pub fn bot_refused(&self, reason: String) {
        self.metrics.bot_messages_refused.inc();
        self.health().bot_refused = Some(reason);
    }

    pub(super) fn update(&self, change: impl FnOnce(&mut Health)) {
        let mut health = self.health();
        change(&mut health);
        let report = self.compute(&health);
        self.record(&mut health, &report);
    }

    fn compute(&self, health: &Health) -> StatusReport {
        let plugins = self.settings().plugins.status();
        let plugin_down = plugins.iter().any(|p| p.consecutive_faults > 0);
        let elsewhere = matches!(health.placement, Some(Placement::Elsewhere(_)));
        let status = match health.lifecycle {
            Lifecycle::NeverStarted | Lifecycle::Stopped if elsewhere => Status::Standby,
            Lifecycle::NeverStarted => Status::ReadyToStart,
            Lifecycle::Stopped => Status::Stopped,
            Lifecycle::Starting => Status::Starting,
            Lifecycle::Running => {
                if health.messaging.up == Some(true) && health.bot.up != Some(false) && !plugin_down
                {
                    Status::Online
                } else {
                    Status::Offline
                }
            }
        };
        StatusReport {
            status,
            progress: health.progress.clone(),
            details: Details {
                messaging: health.messaging.clone(),
                bot: health.bot.clone(),
                plugins,
            },
            conversations: health.conversations,
            gateway: health
                .placement
                .as_ref()
                .and_then(Placement::gateway)
                .map(str::to_owned),
        }
    }

    /// Keeps a status change in the history. Called with the health lock
    /// held, so that changes reach the history in the order they happened.
    fn record(&self, health: &mut Health, report: &StatusReport) {
        let reason = match report.status {
            Status::Offline if report.details.messaging.up != Some(true) => {
                format!("messaging: {}", report.details.messaging.detail)
            }
            Status::Offline if report.details.bot.up == Some(false) => {
                format!("bot: {}", report.details.bot.detail)
            }
            Status::Offline => "plugin faults".into(),
            Status::Starting => report.progress.clone().unwrap_or_default(),
            Status::Standby => format!(
                "runs on gateway {}",
                report.gateway.as_deref().unwrap_or("?")
            ),
            _ => String::new(),
        };
        let entry = (report.status, reason);
        if health.recorded.as_ref() == Some(&entry) {
            return;
        }
        health.recorded = Some(entry.clone());
        if let Some(log) = &self.log
            && let Err(error) = log.append(&self.settings().id, entry.0, &entry.1)
        {
            tracing::error!(connector = %self.settings().id, %error, "could not record the status change");
        }
    }

    /// Where the connector runs in a cluster (see [`StatusReport::gateway`]).
    pub(super) fn place(&self, placement: Placement) {
        if self.health().placement.as_ref() == Some(&placement) {
            return;
        }
        self.update(|h| h.placement = Some(placement));
    }

    /// Status and Details now.
    pub fn report(&self) -> StatusReport {
        let mut health = self.health();
        let report = self.compute(&health);
        self.record(&mut health, &report);
        report
    }
}
