//! Connectors: a connector logs its bot agent user into the messaging
//! platform, accepts the conversations routed to it, and runs each one's
//! pipeline (see [`conversation`]) between the platform and the bot.
//!
//! Owns: the session loop, per-conversation tasks, the behaviour of the
//! custom fields ([`fields`]) and the connector's status with its Details.
//! Reaches the outside only through the [`Platform`] and [`Bot`] traits
//! ([`ports`]) and the plugin chain; never into `messaging`, `bot` or `hub`
//! internals.
//!
//! Statuses (as the product documents them): **Ready to Start** (added,
//! never started), **Starting** (with progress), **Online** (every
//! component works), **Offline** (at least one component is down; Details
//! say which), **Stopped** (stopped by a person). Every change is recorded
//! in the status history, which the state store keeps.

pub mod conversation;
pub mod fields;
mod saved;

pub use crate::ports::Status;
use crate::ports::{Bot, Dialer, Platform, PlatformEvent, Session};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use lp::messaging::Event;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{ConversationType, CustomFields};
use crate::plugin::{ConversationView, PluginChain, PluginStatus};
use crate::store::{ConversationStore, StateStore, StatusLog};
use conversation::{Conversation, Input};
use fields::ring_accept_wait::accept_after_wait;

/// What a running connector needs to know about itself.
pub struct ConnectorSettings {
    /// Connector id.
    pub id: String,
    /// The bot it serves.
    pub bot_id: String,
    /// Messaging or chat.
    pub conversation_type: ConversationType,
    /// Tooltips on structured content.
    pub accessibility: bool,
    /// The custom fields.
    pub custom: CustomFields,
    /// Skill to escalate to when the bot fails.
    pub fallback_skill_id: Option<String>,
    /// The most conversations taken at once; further rings are declined.
    pub max_conversations: u32,
    /// The plugins, in order.
    pub plugins: PluginChain,
}

/// One component's state in Details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Component {
    /// `Some(true)` up, `Some(false)` down, `None` not known yet.
    pub up: Option<bool>,
    /// What is known: "connected", the error, ...
    pub detail: String,
}

impl Component {
    fn unknown(detail: &str) -> Self {
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    NeverStarted,
    Starting,
    Running,
    Stopped,
}

struct Health {
    lifecycle: Lifecycle,
    progress: Option<String>,
    messaging: Component,
    bot: Component,
    conversations: usize,
    recorded: Option<(Status, String)>,
    /// Why the bot's last refused message was refused.
    bot_refused: Option<String>,
}

/// What a connector's tasks share: its settings, its health and where its
/// conversations are saved.
pub struct Shared {
    /// The settings now. A reload swaps them whole: work already under way
    /// keeps the `Arc` it took (a hook call finishes on the old plugin),
    /// the next step takes the new one.
    settings: RwLock<Arc<ConnectorSettings>>,
    health: Mutex<Health>,
    log: Option<StatusLog>,
    saved: Option<ConversationStore>,
    /// Counters for `/metrics`.
    pub metrics: ConnectorMetrics,
}

impl Shared {
    /// The settings now.
    pub fn settings(&self) -> Arc<ConnectorSettings> {
        self.settings
            .read()
            .expect("settings lock is never poisoned: no panics under it")
            .clone()
    }

    fn health(&self) -> MutexGuard<'_, Health> {
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

    fn update(&self, change: impl FnOnce(&mut Health)) {
        let mut health = self.health();
        change(&mut health);
        let report = self.compute(&health);
        self.record(&mut health, &report);
    }

    fn compute(&self, health: &Health) -> StatusReport {
        let plugins = self.settings().plugins.status();
        let plugin_down = plugins.iter().any(|p| p.consecutive_faults > 0);
        let status = match health.lifecycle {
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

    /// Status and Details now.
    pub fn report(&self) -> StatusReport {
        let mut health = self.health();
        let report = self.compute(&health);
        self.record(&mut health, &report);
        report
    }
}

/// A running (or stopped) connector.
pub struct Connector {
    id: String,
    shared: Arc<Shared>,
    running: Option<Running>,
    connection: Arc<Mutex<Option<Arc<dyn Session>>>>,
}

/// The supervising task of a started connector, and how to tell it to stop.
struct Running {
    task: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// How long a stop waits for bot calls in flight to be answered (and the
/// answers published) before it ends the conversations regardless.
pub const IN_FLIGHT_PATIENCE: Duration = Duration::from_millis(1500);

/// How long a stop waits for the session to end after that, before it
/// cancels the session outright.
const SESSION_END_PATIENCE: Duration = Duration::from_millis(500);

impl Connector {
    /// A connector that has not been started (Ready to Start), or one that
    /// was stopped; `store` keeps its status history and its conversations.
    pub fn new(settings: ConnectorSettings, store: Option<&StateStore>, stopped: bool) -> Self {
        let log = store.map(StateStore::status_log);
        let saved = store.map(|s| s.conversations(&settings.id));
        let shared = Arc::new(Shared {
            settings: RwLock::new(Arc::new(settings)),
            health: Mutex::new(Health {
                lifecycle: if stopped {
                    Lifecycle::Stopped
                } else {
                    Lifecycle::NeverStarted
                },
                progress: None,
                messaging: Component::unknown("not connected"),
                bot: Component::unknown("not asked yet"),
                conversations: 0,
                recorded: None,
                bot_refused: None,
            }),
            log,
            saved,
            metrics: ConnectorMetrics::default(),
        });
        shared.report();
        Connector {
            id: shared.settings().id.clone(),
            shared,
            running: None,
            connection: Arc::default(),
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its settings now.
    pub fn settings(&self) -> Arc<ConnectorSettings> {
        self.shared.settings()
    }

    /// Replaces its settings, running or not: conversations take the new
    /// ones at their next step, and none is dropped. The caller keeps the
    /// identity (id, user, conversation type) of a running connector.
    pub fn apply(&self, settings: ConnectorSettings) {
        *self.shared.settings.write().expect("not poisoned") = Arc::new(settings);
        self.shared.report();
    }

    /// True while started (connected or trying to).
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Logs in and serves until stopped, reconnecting with backoff and jitter.
    pub fn start(&mut self, dialer: Arc<dyn Dialer>, bot: Arc<dyn Bot>) {
        if self.running.is_some() {
            return;
        }
        self.shared.update(|h| {
            h.lifecycle = Lifecycle::Starting;
            h.progress = Some("starting".into());
        });
        let (shared, connection) = (self.shared.clone(), self.connection.clone());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(supervise(shared, dialer, bot, connection, stopped));
        self.running = Some(Running { task, stop });
    }

    /// Stops: no more rings are taken; bot calls in flight get
    /// [`IN_FLIGHT_PATIENCE`] to be answered and published; the conversation
    /// tasks end (each conversation's state is saved); then the connector
    /// goes OFFLINE and logs out, so the platform routes its conversations
    /// to other connectors at once. What the bot has not been asked yet (a
    /// messageDelay window, queued turns) is in the conversation's history
    /// as unanswered consumer messages, for whoever gets it next.
    ///
    /// The stop runs as a task of its own: a caller that gives up waiting
    /// (a timeout, a dropped request) does not leave it half done.
    pub async fn stop(&mut self) {
        let running = self.running.take();
        let (id, shared, slot) = (
            self.id.clone(),
            self.shared.clone(),
            self.connection.clone(),
        );
        let stopping = tokio::spawn(async move {
            if let Some(Running { mut task, stop }) = running {
                let _ = stop.send(true);
                let patience = IN_FLIGHT_PATIENCE + SESSION_END_PATIENCE;
                if tokio::time::timeout(patience, &mut task).await.is_err() {
                    tracing::warn!(connector = %id, "the session did not end in time: cancelled");
                    task.abort();
                    let _ = task.await;
                }
            }
            let connection = slot.lock().expect("not poisoned").take();
            if let Some(connection) = connection {
                connection.log_out().await;
            }
            shared.update(|h| {
                h.lifecycle = Lifecycle::Stopped;
                h.progress = None;
                h.messaging = Component::unknown("stopped");
                h.conversations = 0;
            });
        });
        if let Err(error) = stopping.await {
            tracing::error!(connector = %self.id, %error, "stopping failed");
        }
    }

    /// Status and Details.
    pub fn report(&self) -> StatusReport {
        self.shared.report()
    }

    /// Its counters.
    pub fn metrics(&self) -> &ConnectorMetrics {
        &self.shared.metrics
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }
}

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Resolves once the connector is told to stop.
async fn stop_requested(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // An error means the `Connector` is gone: that is a stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn supervise(
    shared: Arc<Shared>,
    dialer: Arc<dyn Dialer>,
    bot: Arc<dyn Bot>,
    slot: Arc<Mutex<Option<Arc<dyn Session>>>>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = BACKOFF_START;
    loop {
        let progress_shared = shared.clone();
        let progress =
            move |step: &str| progress_shared.update(|h| h.progress = Some(step.to_owned()));
        let connected = tokio::select! {
            connected = dialer.dial(&progress) => connected,
            () = stop_requested(&mut stop) => return,
        };
        match connected {
            Ok((connection, events)) => {
                tracing::info!(connector = %shared.settings().id, agent = connection.agent_id(), "online");
                *slot.lock().expect("not poisoned") = Some(connection.clone());
                shared.update(|h| {
                    h.lifecycle = Lifecycle::Running;
                    h.progress = None;
                    h.messaging = Component {
                        up: Some(true),
                        detail: "connected".into(),
                    };
                });
                backoff = BACKOFF_START;
                let Some(reason) =
                    session(&shared, connection, events, bot.clone(), &mut stop).await
                else {
                    // Stopped: `Connector::stop` logs out with the connection in `slot`.
                    return;
                };
                slot.lock().expect("not poisoned").take();
                tracing::warn!(connector = %shared.settings().id, %reason, "messaging connection lost");
                shared.update(|h| {
                    h.messaging = Component {
                        up: Some(false),
                        detail: format!("disconnected ({reason}); reconnecting"),
                    };
                    h.conversations = 0;
                });
            }
            Err(error) => {
                tracing::warn!(connector = %shared.settings().id, %error, "could not connect");
                let retry = jitter(backoff);
                shared.update(|h| {
                    h.lifecycle = Lifecycle::Running;
                    h.progress = None;
                    h.messaging = Component {
                        up: Some(false),
                        detail: format!("{error}; retrying in {} ms", retry.as_millis()),
                    };
                });
            }
        }
        tokio::select! {
            () = tokio::time::sleep(jitter(backoff)) => {}
            () = stop_requested(&mut stop) => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// `base` plus up to 50% more, so that many connectors do not retry in step.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// One conversation as the session loop knows it.
struct Tracked {
    inbox: mpsc::UnboundedSender<Input>,
    consumer_id: String,
}

/// Serves one platform session; returns why it ended, or `None` when the
/// connector was told to stop (its conversation tasks have ended then).
async fn session(
    shared: &Arc<Shared>,
    connection: Arc<dyn Session>,
    mut events: mpsc::UnboundedReceiver<PlatformEvent>,
    bot: Arc<dyn Bot>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<String> {
    let platform: Arc<dyn Platform> = connection;
    let mut conversations: HashMap<String, Tracked> = HashMap::new();
    let mut rung: HashSet<String> = HashSet::new();
    let mut early: HashMap<String, Vec<(u64, Event)>> = HashMap::new();
    // Conversation tasks live as long as the session: dropping the set (a
    // stop, a lost connection) ends them all.
    let mut tasks = JoinSet::new();
    // Accepting or declining rings: a stop cancels them at once.
    let mut rings = JoinSet::new();
    let reason = loop {
        let event = tokio::select! {
            event = events.recv() => event,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            Some(_) = rings.join_next(), if !rings.is_empty() => continue,
            () = stop_requested(stop) => {
                rings.shutdown().await;
                // Rings waiting to be accepted are not; conversations finish
                // the bot call in flight, save their state and end.
                for tracked in conversations.values() {
                    let _ = tracked.inbox.send(Input::Stop);
                }
                let drained = async { while tasks.join_next().await.is_some() {} };
                if tokio::time::timeout(IN_FLIGHT_PATIENCE, drained).await.is_err() {
                    tracing::warn!(connector = %shared.settings().id, "bot calls still in flight at the stop: not answered here");
                }
                tasks.shutdown().await;
                return None;
            }
        };
        let Some(event) = event else {
            break "event stream ended".to_string();
        };
        match event {
            PlatformEvent::Ring {
                ring_id,
                conversation_id,
                ..
            } => {
                let settings = shared.settings();
                if conversations.len() + rung.len() >= settings.max_conversations as usize {
                    let platform = platform.clone();
                    rings.spawn(async move {
                        if let Err(error) = platform.reject_ring(&ring_id).await {
                            tracing::warn!(ring = %ring_id, %error, "could not decline the ring");
                        }
                    });
                    continue;
                }
                rung.insert(conversation_id);
                rings.spawn(accept_after_wait(
                    platform.clone(),
                    ring_id,
                    settings.custom.ring_accept_wait,
                ));
            }
            PlatformEvent::ConversationUpsert {
                conversation_id,
                skill_id,
                consumer_id,
                open,
                assigned_to_me,
            } => {
                if !open {
                    if let Some(tracked) = conversations.remove(&conversation_id) {
                        let _ = tracked.inbox.send(Input::Closed);
                    }
                    continue;
                }
                if !assigned_to_me {
                    if let Some(tracked) = conversations.remove(&conversation_id) {
                        let _ = tracked.inbox.send(Input::Gone);
                    }
                    continue;
                }
                if let Some(tracked) = conversations.get_mut(&conversation_id) {
                    let _ = tracked.inbox.send(Input::Skill(skill_id));
                    if tracked.consumer_id != consumer_id {
                        tracked.consumer_id = consumer_id.clone();
                        let _ = tracked.inbox.send(Input::StepUp { consumer_id });
                    }
                    continue;
                }
                let settings = shared.settings();
                let view = ConversationView {
                    id: conversation_id.clone(),
                    connector_id: settings.id.clone(),
                    bot_id: settings.bot_id.clone(),
                    skill_id,
                    consumer_id: consumer_id.clone(),
                    authenticated: false,
                    conversation_type: settings.conversation_type,
                    accessibility: settings.accessibility,
                    custom_fields: settings.custom.as_pairs(),
                };
                let is_new = rung.remove(&conversation_id);
                let (inbox, receiver) = mpsc::unbounded_channel();
                for (sequence, event) in early.remove(&conversation_id).unwrap_or_default() {
                    let _ = inbox.send(Input::Consumer { sequence, event });
                }
                let task = Conversation::new(
                    view,
                    shared.clone(),
                    platform.clone(),
                    bot.clone(),
                    is_new,
                    inbox.clone(),
                );
                tasks.spawn(task.run(receiver));
                conversations.insert(conversation_id, Tracked { inbox, consumer_id });
            }
            PlatformEvent::ConversationGone { conversation_id } => {
                rung.remove(&conversation_id);
                if let Some(tracked) = conversations.remove(&conversation_id) {
                    let _ = tracked.inbox.send(Input::Gone);
                }
            }
            PlatformEvent::ConversationEvent {
                conversation_id,
                sequence: Some(sequence),
                from_consumer: true,
                event,
            } => {
                match conversations.get(&conversation_id) {
                    Some(tracked) => {
                        let _ = tracked.inbox.send(Input::Consumer { sequence, event });
                    }
                    // Notification order is not guaranteed: keep it for the UPSERT.
                    None => early
                        .entry(conversation_id)
                        .or_default()
                        .push((sequence, event)),
                }
            }
            PlatformEvent::ConversationEvent { .. } => {}
            PlatformEvent::Disconnected { reason } => break reason,
        }
        let open = conversations.len();
        shared.update(|h| h.conversations = open);
    };
    // The conversations stay saved: the platform gives them back on the
    // next login (within its grace period) and they resume.
    for (_, tracked) in conversations.drain() {
        let _ = tracked.inbox.send(Input::Detached);
    }
    Some(reason)
}
