//! A connector's plugins in their configured order, and the fallback rules.
//!
//! Each plugin sees the previous one's output. A plugin that does not
//! implement a hook is skipped. A hook that traps, runs past its deadline,
//! exceeds its memory cap or returns output LivePerson would refuse counts
//! as a fault: its built-in default applies (the input passes through
//! unchanged) and the chain goes on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Mutex as AsyncMutex;
use wasmtime::Store;

use super::bindings::{
    ConsumerAction, Content, Conversation, ConversationType as WitConversationType, Hook, Message,
    Plugin, PluginState,
};
use super::engine::EPOCH_TICK;
use super::{ConversationView, Grants, Limits, LoadedPlugin};
use crate::config::ConversationType;
use crate::content::{Body, OutMessage};
use crate::store::KvScope;

/// The hooks, as the host names them in logs and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookName {
    /// `on-conversation-start`.
    ConversationStart,
    /// `on-step-up`.
    StepUp,
    /// `on-consumer-message`.
    ConsumerMessage,
    /// `on-bot-message`.
    BotMessage,
}

impl HookName {
    fn of(hook: Hook) -> HookName {
        match hook {
            Hook::ConversationStart => HookName::ConversationStart,
            Hook::StepUp => HookName::StepUp,
            Hook::ConsumerMessage => HookName::ConsumerMessage,
            Hook::BotMessage => HookName::BotMessage,
        }
    }

    /// The hook's name in the WIT contract.
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::ConversationStart => "on-conversation-start",
            HookName::StepUp => "on-step-up",
            HookName::ConsumerMessage => "on-consumer-message",
            HookName::BotMessage => "on-bot-message",
        }
    }
}

/// What the chain decided about a consumer message.
#[derive(Clone, Debug, PartialEq)]
pub enum ConsumerDecision {
    /// Send this text to the bot.
    Forward(String),
    /// Send nothing.
    Drop,
    /// Publish these messages to the consumer instead of asking the bot.
    Reply(Vec<OutMessage>),
    /// Transfer the conversation to this skill.
    Escalate(String),
}

/// A snapshot of one plugin's health, for Details and the admin API.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PluginStatus {
    /// The plugin's name.
    pub name: String,
    /// Its file.
    pub path: String,
    /// The first 12 hex digits of the SHA-256 of the file serving now.
    pub version: String,
    /// Hook calls made.
    pub calls: u64,
    /// Hook calls that fell back to the default.
    pub faults: u64,
    /// Faults since the last call that worked; above zero, Details show the plugin down.
    pub consecutive_faults: u64,
    /// True while quarantined: its hooks use their defaults.
    pub quarantined: bool,
    /// The last fault, if any.
    pub last_fault: Option<String>,
}

/// One plugin serving one connector: a single instance shared by all of
/// the connector's conversations, created on first use and after a trap.
pub struct PluginInstance {
    loaded: Arc<LoadedPlugin>,
    connector: Arc<str>,
    settings: Arc<BTreeMap<String, String>>,
    kv: KvScope,
    limits: Limits,
    grants: Grants,
    quarantined: std::sync::atomic::AtomicBool,
    live: AsyncMutex<Option<Live>>,
    calls: AtomicU64,
    faults: AtomicU64,
    consecutive_faults: AtomicU64,
    last_fault: Mutex<Option<String>>,
    hook_latency: crate::metrics::Histogram,
}

struct Live {
    store: Store<PluginState>,
    plugin: Plugin,
    implemented: Vec<HookName>,
}

/// One hook call's input.
enum Call<'a> {
    Start(&'a str),
    StepUp(&'a str),
    Consumer(&'a str),
    Bot(&'a [Message]),
}

impl Call<'_> {
    fn hook(&self) -> HookName {
        match self {
            Call::Start(_) => HookName::ConversationStart,
            Call::StepUp(_) => HookName::StepUp,
            Call::Consumer(_) => HookName::ConsumerMessage,
            Call::Bot(_) => HookName::BotMessage,
        }
    }

    /// Bytes of text the plugin is given.
    fn size(&self) -> usize {
        match self {
            Call::Start(text) | Call::StepUp(text) | Call::Consumer(text) => text.len(),
            Call::Bot(messages) => messages.iter().map(message_size).sum(),
        }
    }
}

/// Bytes of text in one message: its body and its quick replies.
fn message_size(message: &Message) -> usize {
    let body = match &message.body {
        Content::Text(t) | Content::Structured(t) => t.len(),
    };
    body + message.quick_replies.as_ref().map_or(0, String::len)
}

/// One hook call's result.
#[derive(Debug)]
enum Outcome {
    /// The plugin does not implement the hook.
    Skipped,
    Text(Option<String>),
    Action(ConsumerAction),
    Messages(Vec<Message>),
}

impl Outcome {
    /// Bytes of text the plugin returned.
    fn size(&self) -> usize {
        let message = message_size;
        match self {
            Outcome::Skipped | Outcome::Text(None) => 0,
            Outcome::Text(Some(text)) => text.len(),
            Outcome::Action(ConsumerAction::Rewrite(t) | ConsumerAction::Escalate(t)) => t.len(),
            Outcome::Action(ConsumerAction::Reply(messages)) | Outcome::Messages(messages) => {
                messages.iter().map(message).sum()
            }
            Outcome::Action(_) => 0,
        }
    }
}

impl PluginInstance {
    /// Lifts the quarantine and forgets the faults in a row (an operator's
    /// reset, or a new version of the file).
    pub fn reset(&self) {
        self.quarantined.store(false, Ordering::Relaxed);
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    /// Prepares `loaded` to serve `connector` with these settings and limits.
    pub fn new(
        loaded: Arc<LoadedPlugin>,
        connector: &str,
        settings: BTreeMap<String, String>,
        kv: KvScope,
        limits: Limits,
        grants: Grants,
    ) -> Self {
        PluginInstance {
            loaded,
            connector: connector.into(),
            settings: Arc::new(settings),
            kv,
            limits,
            grants,
            quarantined: std::sync::atomic::AtomicBool::new(false),
            live: AsyncMutex::new(None),
            calls: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            consecutive_faults: AtomicU64::new(0),
            last_fault: Mutex::new(None),
            hook_latency: crate::metrics::Histogram::default(),
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.loaded.name
    }

    /// The compiled file it runs.
    pub fn loaded(&self) -> &Arc<LoadedPlugin> {
        &self.loaded
    }

    /// True if this instance runs `loaded` with the same settings, limits
    /// and grants, so a reload can keep it (with its counters and memory).
    pub fn serves_as(
        &self,
        loaded: &LoadedPlugin,
        settings: &BTreeMap<String, String>,
        limits: &Limits,
        grants: &Grants,
    ) -> bool {
        self.loaded.digest == loaded.digest
            && self.loaded.path == loaded.path
            && *self.settings == *settings
            && self.limits == *limits
            && self.grants == *grants
    }

    /// Instantiates now rather than on the first hook call, so a reload
    /// can refuse a component that traps while starting before it serves.
    pub async fn prepare(&self) -> Result<(), String> {
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            let live = self.instantiate().await.map_err(|error| {
                format!(
                    "plugin {}: instantiation failed: {}",
                    self.loaded.path.display(),
                    describe(&error)
                )
            })?;
            *guard = Some(live);
        }
        Ok(())
    }

    /// How long its hook calls took (those it implements).
    pub fn hook_latency(&self) -> crate::metrics::HistogramSnapshot {
        self.hook_latency.snapshot()
    }

    /// Calls, faults and the last fault.
    pub fn status(&self) -> PluginStatus {
        PluginStatus {
            name: self.loaded.name.to_string(),
            path: self.loaded.path.display().to_string(),
            version: self.loaded.version.to_string(),
            calls: self.calls.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            consecutive_faults: self.consecutive_faults.load(Ordering::Relaxed),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            last_fault: self.last_fault.lock().expect("not poisoned").clone(),
        }
    }

    fn deadline_ticks(&self) -> u64 {
        let ticks = self.limits.deadline.as_micros() / EPOCH_TICK.as_micros();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    async fn instantiate(&self) -> wasmtime::Result<Live> {
        let state = PluginState::new(
            self.loaded.name.clone(),
            self.connector.clone(),
            self.settings.clone(),
            self.kv.clone(),
            &self.limits,
            &self.grants,
        )?;
        let mut store = Store::new(&self.loaded.engine, state);
        store.limiter(|state| &mut state.limiter);
        if self.loaded.fuel {
            store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX))?;
        }
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let plugin = self.loaded.pre.instantiate_async(&mut store).await?;
        store.set_epoch_deadline(self.deadline_ticks());
        let implemented = plugin
            .switchboard_connector_hooks()
            .call_implemented(&mut store)
            .await?
            .into_iter()
            .map(HookName::of)
            .collect();
        Ok(Live {
            store,
            plugin,
            implemented,
        })
    }

    fn fault(&self, conv: &Conversation, hook: HookName, reason: String) {
        self.faults.fetch_add(1, Ordering::Relaxed);
        let consecutive = self.consecutive_faults.fetch_add(1, Ordering::Relaxed) + 1;
        if consecutive >= u64::from(self.limits.quarantine_after)
            && !self.quarantined.swap(true, Ordering::Relaxed)
        {
            tracing::error!(
                plugin = &*self.loaded.name,
                connector = &*self.connector,
                faults = consecutive,
                "plugin quarantined after consecutive faults: its hooks use their defaults until its file changes or it is reset"
            );
        }
        tracing::warn!(
            plugin = &*self.loaded.name,
            connector = &*self.connector,
            conversation = %conv.id,
            hook = hook.as_str(),
            "plugin fault, using the hook's default: {reason}"
        );
        *self.last_fault.lock().expect("not poisoned") =
            Some(format!("{}: {reason}", hook.as_str()));
    }

    /// Runs one hook; `None` means "use the default" (skipped or faulted).
    async fn call(&self, conv: &Conversation, call: Call<'_>) -> Option<Outcome> {
        let hook = call.hook();
        // A plugin may return what it was given plus `max_output_bytes`: a
        // large input (a consumer's long message, a bot's long answer) is
        // not the plugin's fault, and passing it on is not either.
        let output_bound = call.size().saturating_add(self.limits.max_output_bytes);
        if self.quarantined.load(Ordering::Relaxed) {
            return None;
        }
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            match self.instantiate().await {
                Ok(live) => *guard = Some(live),
                Err(error) => {
                    self.calls.fetch_add(1, Ordering::Relaxed);
                    self.fault(
                        conv,
                        hook,
                        format!("instantiation failed: {}", describe(&error)),
                    );
                    return None;
                }
            }
        }
        let live = guard.as_mut().expect("instantiated above");
        if !live.implemented.contains(&hook) {
            return Some(Outcome::Skipped);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        live.store.set_epoch_deadline(self.deadline_ticks());
        if self.loaded.fuel
            && let Err(error) = live.store.set_fuel(self.limits.fuel.unwrap_or(u64::MAX))
        {
            self.fault(conv, hook, format!("fuel: {error}"));
            return None;
        }
        let hooks = live.plugin.switchboard_connector_hooks();
        let store = &mut live.store;
        let started = std::time::Instant::now();
        let result = match call {
            Call::Start(greeting) => hooks
                .call_on_conversation_start(store, conv, greeting)
                .await
                .map(Outcome::Text),
            Call::StepUp(text) => hooks
                .call_on_step_up(store, conv, text)
                .await
                .map(Outcome::Text),
            Call::Consumer(text) => hooks
                .call_on_consumer_message(store, conv, text)
                .await
                .map(Outcome::Action),
            Call::Bot(messages) => hooks
                .call_on_bot_message(store, conv, messages)
                .await
                .map(Outcome::Messages),
        };
        self.hook_latency.observe(started.elapsed());
        match result {
            Ok(outcome) if outcome.size() > output_bound => {
                let size = outcome.size();
                self.fault(
                    conv,
                    hook,
                    format!(
                        "output too large: {size} bytes, more than its input plus the limit ({output_bound} bytes)",
                    ),
                );
                None
            }
            Ok(outcome) => {
                self.consecutive_faults.store(0, Ordering::Relaxed);
                Some(outcome)
            }
            Err(error) => {
                // A trapped instance may not be entered again: start afresh next time.
                *guard = None;
                self.fault(conv, hook, describe(&error));
                None
            }
        }
    }
}

fn describe(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "deadline exceeded (interrupted)".into(),
        Some(wasmtime::Trap::OutOfFuel) => "fuel exhausted".into(),
        Some(trap) => format!("trap: {trap}"),
        None => format!("{error:#}"),
    }
}

/// A connector's plugins in their configured order.
#[derive(Default)]
pub struct PluginChain {
    plugins: Vec<Arc<PluginInstance>>,
}

impl PluginChain {
    /// A chain of these instances, called in this order.
    pub fn new(plugins: Vec<Arc<PluginInstance>>) -> Self {
        PluginChain { plugins }
    }

    /// The instances, in order.
    pub fn plugins(&self) -> &[Arc<PluginInstance>] {
        &self.plugins
    }

    /// The greeting to send to the bot, starting from defaultGreetingMessage;
    /// `None` if a plugin chose to send none.
    pub async fn conversation_start(
        &self,
        conv: &ConversationView,
        greeting: String,
    ) -> Option<String> {
        let wit = to_wit(conv);
        let mut current = greeting;
        for plugin in &self.plugins {
            match plugin.call(&wit, Call::Start(&current)).await {
                Some(Outcome::Text(Some(text))) => current = text,
                Some(Outcome::Text(None)) => return None,
                _ => {}
            }
        }
        Some(current)
    }

    /// The text to send to the bot after step-up, starting from defaultStepupMessage.
    pub async fn step_up(&self, conv: &ConversationView, text: String) -> Option<String> {
        let wit = to_wit(conv);
        let mut current = text;
        for plugin in &self.plugins {
            match plugin.call(&wit, Call::StepUp(&current)).await {
                Some(Outcome::Text(Some(text))) => current = text,
                Some(Outcome::Text(None)) => return None,
                _ => {}
            }
        }
        Some(current)
    }

    /// What to do with a consumer message.
    pub async fn consumer_message(
        &self,
        conv: &ConversationView,
        text: String,
    ) -> ConsumerDecision {
        let wit = to_wit(conv);
        let mut current = text;
        for plugin in &self.plugins {
            let Some(Outcome::Action(action)) = plugin.call(&wit, Call::Consumer(&current)).await
            else {
                continue;
            };
            match action {
                ConsumerAction::Forward => {}
                ConsumerAction::Rewrite(text) => current = text,
                ConsumerAction::Drop => return ConsumerDecision::Drop,
                ConsumerAction::Escalate(skill) => return ConsumerDecision::Escalate(skill),
                ConsumerAction::Reply(messages) => match from_wit_all(messages) {
                    Ok(messages) => return ConsumerDecision::Reply(messages),
                    Err(reason) => plugin.fault(&wit, HookName::ConsumerMessage, reason),
                },
            }
        }
        ConsumerDecision::Forward(current)
    }

    /// The messages to publish for a bot answer.
    pub async fn bot_message(
        &self,
        conv: &ConversationView,
        messages: Vec<OutMessage>,
    ) -> Vec<OutMessage> {
        if self.plugins.is_empty() {
            return messages;
        }
        let wit = to_wit(conv);
        let mut current: Vec<Message> = messages.iter().map(to_wit_message).collect();
        let mut checked = messages;
        for plugin in &self.plugins {
            let Some(Outcome::Messages(output)) = plugin.call(&wit, Call::Bot(&current)).await
            else {
                continue;
            };
            match from_wit_all(output.clone()) {
                Ok(valid) => {
                    current = output;
                    checked = valid;
                }
                Err(reason) => plugin.fault(&wit, HookName::BotMessage, reason),
            }
        }
        checked
    }

    /// The health of every plugin.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.plugins.iter().map(|p| p.status()).collect()
    }
}

fn to_wit(conv: &ConversationView) -> Conversation {
    Conversation {
        id: conv.id.clone(),
        connector_id: conv.connector_id.clone(),
        bot_id: conv.bot_id.clone(),
        skill_id: conv.skill_id.clone(),
        consumer_id: conv.consumer_id.clone(),
        authenticated: conv.authenticated,
        conversation_type: match conv.conversation_type {
            ConversationType::Messaging => WitConversationType::Messaging,
            ConversationType::Chat => WitConversationType::Chat,
        },
        accessibility: conv.accessibility,
        custom_fields: conv.custom_fields.clone(),
    }
}

fn to_wit_message(message: &OutMessage) -> Message {
    Message {
        body: match &message.body {
            Body::Text(text) => Content::Text(text.clone()),
            Body::Structured(value) => Content::Structured(value.to_string()),
        },
        quick_replies: message.quick_replies.as_ref().map(|v| v.to_string()),
    }
}

/// Turns plugin output into host messages, refusing what LivePerson would refuse.
fn from_wit_all(messages: Vec<Message>) -> Result<Vec<OutMessage>, String> {
    messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| {
            from_wit(message).map_err(|e| format!("bad output, message {index}: {e}"))
        })
        .collect()
}

fn from_wit(message: Message) -> Result<OutMessage, String> {
    let body = match message.body {
        Content::Text(text) => Body::Text(text),
        Content::Structured(json) => Body::Structured(
            serde_json::from_str(&json)
                .map_err(|e| format!("structured content is not JSON: {e}"))?,
        ),
    };
    let quick_replies = match message.quick_replies {
        Some(json) => Some(
            serde_json::from_str(&json).map_err(|e| format!("quick replies are not JSON: {e}"))?,
        ),
        None => None,
    };
    let out = OutMessage {
        body,
        quick_replies,
    };
    out.validate().map_err(|e| e.to_string())?;
    Ok(out)
}
