//! Connectors: a connector logs its bot agent user into the messaging
//! platform, accepts the conversations routed to it, and runs each one's
//! pipeline (see [`conversation`]) between the platform and the bot.
//!
//! Owns: the session loop, per-conversation tasks and their inboxes
//! ([`inbox`]), the events of conversations not known yet (`early`), the
//! behaviour of the custom fields ([`fields`]) and the connector's status
//! with its Details.
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
mod early;
pub mod fields;
pub mod inbox;
mod saved;
mod session;
mod status;

use session::supervise;
pub use status::{Component, ConnectorMetrics, Details, StatusReport};
use status::{Health, Lifecycle};

pub use crate::ports::Status;
use crate::ports::{Bot, Dialer, Placement, Session};

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::{ConversationType, CustomFields};
use crate::plugin::PluginChain;
use crate::store::{ConversationStore, StateStore, StatusLog};

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
    /// The custom fields by name, as plugins see them; shared by every
    /// conversation's view.
    pub custom_pairs: Arc<[(String, String)]>,
    /// Skill to escalate to when the bot fails.
    pub fallback_skill_id: Option<String>,
    /// The most conversations taken at once; further rings are declined.
    pub max_conversations: u32,
    /// The plugins, in order.
    pub plugins: PluginChain,
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
    /// Says when the running connector is asked to stop (a bot's pause
    /// ends early then); set at each start.
    stop: RwLock<Option<tokio::sync::watch::Receiver<bool>>>,
}

impl Shared {
    /// The settings now.
    pub fn settings(&self) -> Arc<ConnectorSettings> {
        self.settings
            .read()
            .expect("settings lock is never poisoned: no panics under it")
            .clone()
    }

    /// Waits `pause`, or less if the connector is asked to stop meanwhile:
    /// true if it waited all of it.
    pub async fn pause(&self, pause: Duration) -> bool {
        let stop = self
            .stop
            .read()
            .expect("stop lock is never poisoned: no panics under it")
            .clone();
        let Some(mut stop) = stop else {
            tokio::time::sleep(pause).await;
            return true;
        };
        tokio::time::timeout(pause, stop.wait_for(|stop| *stop))
            .await
            .is_err()
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
    stop: Arc<tokio::sync::watch::Sender<bool>>,
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
                placement: None,
            }),
            log,
            saved,
            metrics: ConnectorMetrics::default(),
            stop: RwLock::new(None),
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
        *self
            .shared
            .stop
            .write()
            .expect("stop lock is never poisoned: no panics under it") = Some(stopped.clone());
        let task = tokio::spawn(supervise(shared, dialer, bot, connection, stopped));
        self.running = Some(Running {
            task,
            stop: Arc::new(stop),
        });
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

    /// In a cluster: true while another gateway may run it (it does, or
    /// this gateway cannot know now).
    pub fn runs_elsewhere(&self) -> bool {
        matches!(
            self.shared.health().placement,
            Some(Placement::Elsewhere(_) | Placement::Unknown)
        )
    }

    /// In a cluster: where it runs (stopped here while another gateway
    /// runs it, its status is Standby).
    pub fn place(&self, placement: Placement) {
        self.shared.place(placement);
    }

    /// Its counters.
    pub fn metrics(&self) -> &ConnectorMetrics {
        &self.shared.metrics
    }

    /// What stops it at once, without waiting for the stop to finish (see
    /// [`StopSignal`]); `None` while it is not running.
    pub fn stop_signal(&self) -> Option<StopSignal> {
        self.running
            .as_ref()
            .map(|running| StopSignal(running.stop.clone()))
    }
}

/// Tells a running connector to stop serving now, from anywhere: it
/// takes no more rings, gives its bot calls in flight their patience, and
/// ends its session. [`Connector::stop`] does this too, then waits for it
/// and logs out; a signal is for whoever cannot wait (a cluster gateway
/// whose lease is running out).
#[derive(Clone, Debug)]
pub struct StopSignal(Arc<tokio::sync::watch::Sender<bool>>);

impl StopSignal {
    /// Stops the connector's session (it does not log out).
    pub fn send(&self) {
        let _ = self.0.send(true);
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.task.abort();
        }
    }
}
