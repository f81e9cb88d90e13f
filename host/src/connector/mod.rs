//! Connectors: a connector logs its bot agent user into the messaging
//! platform, accepts the conversations routed to it, and runs each one's
//! pipeline (see [`conversation`]) between the platform and the bot.
//!
//! Owns: the session loop, per-conversation tasks, the behaviour of the
//! custom fields ([`fields`]) and the connector's status. Reaches the
//! outside only through the [`Platform`] and [`Bot`] traits ([`ports`]) and
//! the plugin chain; never into `messaging`, `bot` or `hub` internals.

pub mod conversation;
pub mod fields;
mod ports;

pub use ports::{
    Bot, BotAction, BotError, BotTurn, PastEvent, Platform, PlatformError, PlatformEvent, TurnKind,
};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{ConversationType, CustomFields};
use crate::messaging::{AgentConnection, Credentials};
use crate::plugin::{ConversationView, PluginChain, PluginStatus};
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
    /// The plugins, in order.
    pub plugins: PluginChain,
}

/// A connector's status, as the product documents it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Added, never started.
    #[serde(rename = "Ready to Start")]
    ReadyToStart,
    /// Starting: logging in and subscribing.
    Starting,
    /// Every component works.
    Online,
    /// At least one component is down; Details say which.
    Offline,
    /// Stopped by a person.
    Stopped,
}

/// A connector's status with its Details.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The status.
    pub status: Status,
    /// The messaging connection: "connected", or what is wrong.
    pub messaging: String,
    /// Each plugin's health.
    pub plugins: Vec<PluginStatus>,
    /// Conversations the connector is handling.
    pub conversations: usize,
}

/// A running (or stopped) connector.
pub struct Connector {
    settings: Arc<ConnectorSettings>,
    report: Arc<Mutex<StatusReport>>,
    task: Option<JoinHandle<()>>,
}

impl Connector {
    /// A connector that has not been started.
    pub fn new(settings: ConnectorSettings) -> Self {
        let report = StatusReport {
            status: Status::ReadyToStart,
            messaging: "not connected".into(),
            plugins: settings.plugins.status(),
            conversations: 0,
        };
        Connector {
            settings: Arc::new(settings),
            report: Arc::new(Mutex::new(report)),
            task: None,
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.settings.id
    }

    /// Logs in and serves until stopped, reconnecting with backoff.
    pub fn start(&mut self, credentials: Credentials, bot: Arc<dyn Bot>) {
        if self.task.is_some() {
            return;
        }
        let (settings, report) = (self.settings.clone(), self.report.clone());
        self.task = Some(tokio::spawn(supervise(settings, credentials, bot, report)));
    }

    /// Stops: the session ends and the platform re-routes its conversations.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let mut report = self.report.lock().expect("not poisoned");
        report.status = Status::Stopped;
        report.messaging = "stopped".into();
        report.conversations = 0;
    }

    /// Status and Details.
    pub fn report(&self) -> StatusReport {
        let mut report = self.report.lock().expect("not poisoned").clone();
        report.plugins = self.settings.plugins.status();
        report
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

const BACKOFF_START: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

async fn supervise(
    settings: Arc<ConnectorSettings>,
    credentials: Credentials,
    bot: Arc<dyn Bot>,
    report: Arc<Mutex<StatusReport>>,
) {
    let set = |status: Status, messaging: String| {
        let mut report = report.lock().expect("not poisoned");
        report.status = status;
        report.messaging = messaging;
    };
    let mut backoff = BACKOFF_START;
    loop {
        set(Status::Starting, "connecting".into());
        match AgentConnection::connect(&credentials).await {
            Ok((connection, events)) => {
                tracing::info!(connector = %settings.id, agent = connection.agent_id(), "online");
                set(Status::Online, "connected".into());
                backoff = BACKOFF_START;
                let reason = session(&settings, connection, events, bot.clone(), &report).await;
                tracing::warn!(connector = %settings.id, %reason, "messaging connection lost");
                set(Status::Offline, format!("disconnected: {reason}"));
            }
            Err(error) => {
                tracing::warn!(connector = %settings.id, %error, "could not connect");
                set(Status::Offline, error.to_string());
            }
        }
        tokio::time::sleep(jitter(backoff)).await;
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

/// Serves one platform session; returns why it ended.
async fn session(
    settings: &Arc<ConnectorSettings>,
    connection: Arc<AgentConnection>,
    mut events: mpsc::UnboundedReceiver<PlatformEvent>,
    bot: Arc<dyn Bot>,
    report: &Arc<Mutex<StatusReport>>,
) -> String {
    let platform: Arc<dyn Platform> = connection;
    let mut conversations: HashMap<String, mpsc::UnboundedSender<Input>> = HashMap::new();
    let mut rung: HashSet<String> = HashSet::new();
    let mut early: HashMap<String, Vec<(u64, Value)>> = HashMap::new();
    let reason = loop {
        let Some(event) = events.recv().await else {
            break "event stream ended".to_string();
        };
        match event {
            PlatformEvent::Ring {
                ring_id,
                conversation_id,
                ..
            } => {
                rung.insert(conversation_id);
                tokio::spawn(accept_after_wait(
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
                if !open || !assigned_to_me {
                    if let Some(inbox) = conversations.remove(&conversation_id) {
                        let _ = inbox.send(Input::Gone);
                    }
                    continue;
                }
                if let Some(inbox) = conversations.get(&conversation_id) {
                    let _ = inbox.send(Input::Skill(skill_id));
                    continue;
                }
                let view = ConversationView {
                    id: conversation_id.clone(),
                    connector_id: settings.id.clone(),
                    bot_id: settings.bot_id.clone(),
                    skill_id,
                    consumer_id,
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
                    settings.clone(),
                    platform.clone(),
                    bot.clone(),
                    is_new,
                );
                tokio::spawn(task.run(receiver));
                conversations.insert(conversation_id, inbox);
            }
            PlatformEvent::ConversationGone { conversation_id } => {
                if let Some(inbox) = conversations.remove(&conversation_id) {
                    let _ = inbox.send(Input::Gone);
                }
            }
            PlatformEvent::ConversationEvent {
                conversation_id,
                sequence: Some(sequence),
                from_consumer: true,
                event,
            } => {
                match conversations.get(&conversation_id) {
                    Some(inbox) => {
                        let _ = inbox.send(Input::Consumer { sequence, event });
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
        report.lock().expect("not poisoned").conversations = conversations.len();
    };
    for (_, inbox) in conversations.drain() {
        let _ = inbox.send(Input::Gone);
    }
    reason
}
