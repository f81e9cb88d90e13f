//! One conversation's pipeline (ARCHITECTURE.md §3), run as its own task:
//! greeting after 3 s of silence, messageDelay aggregation, the
//! consumer-message hooks, the bot, the bot-message hooks, publishing.
//!
//! Consumer events are deduplicated by sequence: a replay or reconnect
//! never sends a message to the bot twice.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::fields::default_greeting_message::greeting_due;
use super::fields::message_delay::MessageDelay;
use super::{Bot, BotAction, BotTurn, ConnectorSettings, Platform, TurnKind};
use crate::content::OutMessage;
use crate::plugin::{ConsumerDecision, ConversationView};

/// What the session tells a conversation.
#[derive(Debug)]
pub enum Input {
    /// A consumer event with its sequence.
    Consumer {
        /// Sequence in the dialog.
        sequence: u64,
        /// The event.
        event: Value,
    },
    /// The conversation's skill changed.
    Skill(Option<String>),
    /// The conversation left this connector or closed: stop.
    Gone,
}

/// The task's parts.
pub struct Conversation {
    view: ConversationView,
    settings: Arc<ConnectorSettings>,
    platform: Arc<dyn Platform>,
    bot: Arc<dyn Bot>,
    last_sequence: u64,
    delay: MessageDelay,
    greet_at: Option<Instant>,
    is_new: bool,
}

impl Conversation {
    /// A conversation that just reached the connector. `rung` is true if
    /// the connector accepted a ring for it in this session.
    pub fn new(
        view: ConversationView,
        settings: Arc<ConnectorSettings>,
        platform: Arc<dyn Platform>,
        bot: Arc<dyn Bot>,
        rung: bool,
    ) -> Self {
        Conversation {
            view,
            settings,
            platform,
            bot,
            last_sequence: 0,
            delay: MessageDelay::default(),
            greet_at: greeting_due(Instant::now(), rung),
            is_new: rung,
        }
    }

    /// Runs until the conversation leaves or its inbox closes.
    pub async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Input>) {
        self.catch_up().await;
        loop {
            let flush_at = self.delay.due();
            let greet_at = self.greet_at;
            tokio::select! {
                input = inbox.recv() => match input {
                    Some(Input::Consumer { sequence, event }) => self.consumer_event(sequence, event),
                    Some(Input::Skill(skill)) => self.view.skill_id = skill,
                    Some(Input::Gone) | None => break,
                },
                _ = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => self.flush().await,
                _ = sleep_until(greet_at.unwrap_or_else(Instant::now)), if greet_at.is_some() => self.greet().await,
            }
        }
        tracing::debug!(conversation = %self.view.id, "conversation left the connector");
    }

    /// Reads the conversation's history. In a new conversation, consumer
    /// messages sent before the connector accepted it (after the last agent
    /// message, if any) are handled like live ones; the rest of the history
    /// is marked as seen, so it never reaches the bot again.
    async fn catch_up(&mut self) {
        let events = match self.platform.history(&self.view.id).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(conversation = %self.view.id, %error, "no history");
                return;
            }
        };
        if self.is_new {
            let last_agent = events
                .iter()
                .filter(|e| !e.from_consumer && e.event["type"] != "AcceptStatusEvent")
                .map(|e| e.sequence)
                .max()
                .unwrap_or(0);
            for event in events
                .iter()
                .filter(|e| e.from_consumer && e.sequence > last_agent)
            {
                self.consumer_event(event.sequence, event.event.clone());
            }
        }
        let newest = events.iter().map(|e| e.sequence).max().unwrap_or(0);
        self.last_sequence = self.last_sequence.max(newest);
    }

    fn consumer_event(&mut self, sequence: u64, event: Value) {
        if sequence <= self.last_sequence {
            return;
        }
        self.last_sequence = sequence;
        let is_text = event["type"] == "ContentEvent";
        let Some(text) = event["message"].as_str().filter(|_| is_text) else {
            return;
        };
        if text == self.settings.custom.default_stepup_message {
            return;
        }
        self.greet_at = None;
        self.delay.push(
            Instant::now(),
            self.settings.custom.message_delay,
            sequence,
            text.to_owned(),
        );
    }

    async fn greet(&mut self) {
        self.greet_at = None;
        let greeting = self.settings.custom.default_greeting_message.clone();
        let Some(text) = self
            .settings
            .plugins
            .conversation_start(&self.view, greeting)
            .await
        else {
            return;
        };
        self.ask(text, TurnKind::Greeting).await;
    }

    async fn flush(&mut self) {
        let Some(joined) = self.delay.take() else {
            return;
        };
        let read = json!({"type": "AcceptStatusEvent", "status": "READ", "sequenceList": joined.sequences});
        if let Err(error) = self.platform.publish(&self.view.id, read).await {
            tracing::warn!(conversation = %self.view.id, %error, "could not mark messages read");
        }
        match self
            .settings
            .plugins
            .consumer_message(&self.view, joined.text)
            .await
        {
            ConsumerDecision::Forward(text) => self.ask(text, TurnKind::Message).await,
            ConsumerDecision::Drop => {}
            ConsumerDecision::Reply(messages) => self.publish(messages).await,
            ConsumerDecision::Escalate(skill) => self.transfer(&skill).await,
        }
    }

    /// Sends a turn to the bot and carries out its answer.
    async fn ask(&mut self, text: String, kind: TurnKind) {
        let turn = BotTurn {
            conversation_id: self.view.id.clone(),
            consumer_id: self.view.consumer_id.clone(),
            text,
            kind,
        };
        let actions = match self.bot.ask(&turn).await {
            Ok(actions) => actions,
            Err(error) => {
                tracing::warn!(conversation = %self.view.id, %error, "the bot gave no answer");
                return;
            }
        };
        let mut messages = Vec::new();
        let mut after = Vec::new();
        for action in actions {
            match action {
                BotAction::Say(message) => messages.push(message),
                other => after.push(other),
            }
        }
        if !messages.is_empty() {
            self.publish(messages).await;
        }
        for action in after {
            match action {
                BotAction::Escalate(skill) => self.transfer(&skill).await,
                BotAction::Close => {
                    if let Err(error) = self.platform.close(&self.view.id).await {
                        tracing::warn!(conversation = %self.view.id, %error, "could not close");
                    }
                }
                BotAction::Say(_) => unreachable!("separated above"),
            }
        }
    }

    /// Runs the bot-message hooks and publishes the result in order.
    async fn publish(&mut self, messages: Vec<OutMessage>) {
        let messages = self
            .settings
            .plugins
            .bot_message(&self.view, messages)
            .await;
        for message in messages {
            if let Err(error) = self
                .platform
                .publish(&self.view.id, message.to_event())
                .await
            {
                tracing::warn!(conversation = %self.view.id, %error, "could not publish");
            }
        }
    }

    async fn transfer(&mut self, skill: &str) {
        if let Err(error) = self.platform.transfer(&self.view.id, skill).await {
            tracing::warn!(conversation = %self.view.id, skill, %error, "transfer failed");
        }
    }
}
