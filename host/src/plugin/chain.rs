//! A connector's plugins in their configured order, and the fallback rules.
//!
//! Each plugin sees the previous one's output. A plugin that does not
//! implement a hook is skipped. A hook that faults (see [`PluginInstance`])
//! or returns output LivePerson would refuse gets its built-in default (the
//! input passes through unchanged) and the chain goes on.

use std::sync::Arc;

use lp::messaging::EncodedMetadata;

use super::ConversationView;
use super::bindings::{
    BotFailure as WitBotFailure, ConsumerAction, Content, Conversation,
    ConversationType as WitConversationType, EndReason, FailureAction, Message,
};
use super::call::{Call, HookName, Outcome};
use super::instance::{PluginInstance, PluginStatus};
use super::recorder::Recorder;
use crate::config::ConversationType;
use crate::content::{Body, OutMessage, VALIDATED};

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

/// How the bot failed a consumer message, for `on-bot-error`.
#[derive(Clone, Debug, PartialEq)]
pub enum BotFailure {
    /// The bot could not be asked, or answered with an error.
    Failed(String),
    /// The bot did not answer in time.
    TimedOut(String),
    /// The bot answered with nothing to publish.
    Empty,
}

/// What the chain decided about a bot's failure.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureDecision {
    /// What the connector does without plugins: resend, then escalate.
    Default,
    /// Tell the consumer this; no resend, no fallback escalation.
    Reply(Vec<OutMessage>),
    /// Transfer the conversation to this skill now.
    Escalate(String),
}

/// Why a conversation is over for the connector, for `on-conversation-end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationEnd {
    /// Somebody closed it.
    Closed,
    /// This connector transferred it away.
    Transferred,
}

/// A connector's plugins in their configured order.
#[derive(Default)]
pub struct PluginChain {
    plugins: Vec<Arc<PluginInstance>>,
    recorder: Option<Arc<Recorder>>,
}

impl PluginChain {
    /// A chain of these instances, called in this order.
    pub fn new(plugins: Vec<Arc<PluginInstance>>) -> Self {
        PluginChain {
            plugins,
            recorder: None,
        }
    }

    /// The same chain, recording every hook call that runs.
    pub fn recording(mut self, recorder: Arc<Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
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
        if !self.runs(HookName::ConversationStart) {
            return Some(greeting);
        }
        let wit = conv.wit();
        let mut current = greeting;
        for plugin in &self.plugins {
            match plugin
                .call(&wit, self.recorder.as_deref(), Call::Start(&current))
                .await
            {
                Some(Outcome::Text(Some(text))) => current = text,
                Some(Outcome::Text(None)) => return None,
                _ => {}
            }
        }
        Some(current)
    }

    /// The text to send to the bot after step-up, starting from defaultStepupMessage.
    pub async fn step_up(&self, conv: &ConversationView, text: String) -> Option<String> {
        if !self.runs(HookName::StepUp) {
            return Some(text);
        }
        let wit = conv.wit();
        let mut current = text;
        for plugin in &self.plugins {
            match plugin
                .call(&wit, self.recorder.as_deref(), Call::StepUp(&current))
                .await
            {
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
        if !self.runs(HookName::ConsumerMessage) {
            return ConsumerDecision::Forward(text);
        }
        let wit = conv.wit();
        let mut current = text;
        for plugin in &self.plugins {
            let Some(Outcome::Action(action)) = plugin
                .call(&wit, self.recorder.as_deref(), Call::Consumer(&current))
                .await
            else {
                continue;
            };
            match action {
                ConsumerAction::Forward => {}
                ConsumerAction::Rewrite(text) => current = text,
                ConsumerAction::Drop => return ConsumerDecision::Drop,
                ConsumerAction::Escalate(skill) => return ConsumerDecision::Escalate(skill),
                ConsumerAction::Reply(messages) => match from_wit_all(messages) {
                    Ok(messages) => {
                        plugin.worked();
                        return ConsumerDecision::Reply(messages);
                    }
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
        if !self.runs(HookName::BotMessage) {
            return messages;
        }
        let wit = conv.wit();
        let mut current: Vec<Message> = messages.iter().map(to_wit_message).collect();
        let carried = Carried::of(&messages);
        let count = messages.len();
        let mut checked = messages;
        for plugin in &self.plugins {
            let Some(Outcome::Messages(output)) = plugin
                .call(&wit, self.recorder.as_deref(), Call::Bot(&current))
                .await
            else {
                continue;
            };
            // What it was given, handed on unchanged (a text a tile or
            // tooltip plugin leaves alone), has been checked already.
            if output == current {
                plugin.worked();
                continue;
            }
            match from_wit_all(output.clone()) {
                Ok(valid) => {
                    plugin.worked();
                    current = output;
                    checked = valid;
                }
                Err(reason) => plugin.fault(&wit, HookName::BotMessage, reason),
            }
        }
        if !carried.is_empty() {
            keep_metadata(carried, count, &mut checked, &conv.id);
        }
        checked
    }

    /// What to do about a consumer message (`text`) the bot failed. The
    /// first plugin that chooses something other than the default decides.
    pub async fn bot_error(
        &self,
        conv: &ConversationView,
        text: &str,
        failure: &BotFailure,
    ) -> FailureDecision {
        if !self.runs(HookName::BotError) {
            return FailureDecision::Default;
        }
        let wit = conv.wit();
        let failure = match failure {
            BotFailure::Failed(why) => WitBotFailure::Failed(why.clone()),
            BotFailure::TimedOut(why) => WitBotFailure::TimedOut(why.clone()),
            BotFailure::Empty => WitBotFailure::Empty,
        };
        for plugin in &self.plugins {
            let Some(Outcome::Failure(action)) = plugin
                .call(
                    &wit,
                    self.recorder.as_deref(),
                    Call::BotError(text, &failure),
                )
                .await
            else {
                continue;
            };
            match action {
                FailureAction::DefaultBehaviour => {}
                FailureAction::Escalate(skill) => return FailureDecision::Escalate(skill),
                FailureAction::Reply(messages) => match from_wit_all(messages) {
                    Ok(messages) => {
                        plugin.worked();
                        return FailureDecision::Reply(messages);
                    }
                    Err(reason) => plugin.fault(&wit, HookName::BotError, reason),
                },
            }
        }
        FailureDecision::Default
    }

    /// Tells every plugin the conversation is over for the connector.
    pub async fn conversation_end(&self, conv: &ConversationView, reason: ConversationEnd) {
        if !self.runs(HookName::ConversationEnd) {
            return;
        }
        let wit = conv.wit();
        let reason = match reason {
            ConversationEnd::Closed => EndReason::Closed,
            ConversationEnd::Transferred => EndReason::Transferred,
        };
        for plugin in &self.plugins {
            plugin
                .call(&wit, self.recorder.as_deref(), Call::End(reason))
                .await;
        }
    }

    /// True if some plugin may implement `hook`: when none does, a hook
    /// costs nothing (no conversation record built, no instance locked).
    fn runs(&self, hook: HookName) -> bool {
        self.plugins.iter().any(|plugin| plugin.may_implement(hook))
    }

    /// The health of every plugin.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.plugins.iter().map(|p| p.status()).collect()
    }
}

/// True if `record` is what [`to_wit`] would make of `conv`.
pub(super) fn matches(record: &Conversation, conv: &ConversationView) -> bool {
    record.id == conv.id
        && record.connector_id == conv.connector_id
        && record.bot_id == conv.bot_id
        && record.skill_id == conv.skill_id
        && record.consumer_id == conv.consumer_id
        && record.authenticated == conv.authenticated
        && record.conversation_type == wit_type(conv.conversation_type)
        && record.accessibility == conv.accessibility
        && *record.custom_fields == *conv.custom_fields
}

fn wit_type(conversation_type: ConversationType) -> WitConversationType {
    match conversation_type {
        ConversationType::Messaging => WitConversationType::Messaging,
        ConversationType::Chat => WitConversationType::Chat,
    }
}

pub(super) fn to_wit(conv: &ConversationView) -> Conversation {
    Conversation {
        id: conv.id.clone(),
        connector_id: conv.connector_id.clone(),
        bot_id: conv.bot_id.clone(),
        skill_id: conv.skill_id.clone(),
        consumer_id: conv.consumer_id.clone(),
        authenticated: conv.authenticated,
        conversation_type: wit_type(conv.conversation_type),
        accessibility: conv.accessibility,
        custom_fields: conv.custom_fields.to_vec(),
    }
}

/// A bot message that carries `encodedMetadata`, which plugins do not see:
/// where it was, what it was, and its metadata.
struct Carried {
    at: usize,
    body: Body,
    quick_replies: Option<serde_json::Value>,
    metadata: EncodedMetadata,
}

impl Carried {
    /// The messages of `messages` that carry metadata (none, mostly: then
    /// nothing is copied).
    fn of(messages: &[OutMessage]) -> Vec<Carried> {
        messages
            .iter()
            .enumerate()
            .filter_map(|(at, m)| {
                Some(Carried {
                    at,
                    metadata: m.encoded_metadata.clone()?,
                    body: m.body.clone(),
                    quick_replies: m.quick_replies.clone(),
                })
            })
            .collect()
    }
}

/// Gives the bot-message hooks' output (`to`) the metadata of the bot's
/// `count` messages: a message plugins passed on unchanged keeps its own,
/// wherever it went; a changed one keeps its place while the number of
/// messages is unchanged (a plugin that rewrites each message, as tooltips
/// do). When plugins joined or split messages (tile display), the metadata
/// of a message they changed is dropped, logged.
fn keep_metadata(carried: Vec<Carried>, count: usize, to: &mut [OutMessage], conversation: &str) {
    let mut changed = Vec::new();
    for c in carried {
        let unchanged = to.iter_mut().find(|m| {
            m.encoded_metadata.is_none() && m.body == c.body && m.quick_replies == c.quick_replies
        });
        match unchanged {
            Some(message) => message.encoded_metadata = Some(c.metadata),
            None => changed.push(c),
        }
    }
    // Rewritten one for one (tooltips): a changed message keeps its place.
    if count == to.len() {
        changed.retain(|c| match &mut to[c.at].encoded_metadata {
            free @ None => {
                *free = Some(c.metadata.clone());
                false
            }
            Some(_) => true,
        });
    }
    let dropped = changed.len();
    if dropped > 0 {
        tracing::warn!(
            conversation,
            dropped,
            "plugins joined or split the bot's messages: the encodedMetadata of those they changed is dropped"
        );
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
pub(super) fn from_wit_all(messages: Vec<Message>) -> Result<Vec<OutMessage>, String> {
    messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| {
            from_wit(message).map_err(|e| format!("bad output, message {index}: {e}"))
        })
        .collect()
}

/// Judged through the process's cache of validated content: a card
/// template returned on every turn meets the schema once.
fn from_wit(message: Message) -> Result<OutMessage, String> {
    let Message {
        body,
        quick_replies: replies_json,
    } = message;
    let (body, structured) = match body {
        Content::Text(text) => (Body::Text(text), None),
        Content::Structured(json) => (
            Body::Structured(
                serde_json::from_str(&json)
                    .map_err(|e| format!("structured content is not JSON: {e}"))?,
            ),
            Some(json),
        ),
    };
    let quick_replies = match &replies_json {
        Some(json) => Some(
            serde_json::from_str(json).map_err(|e| format!("quick replies are not JSON: {e}"))?,
        ),
        None => None,
    };
    let out = OutMessage {
        quick_replies,
        ..OutMessage::new(body)
    };
    VALIDATED
        .validate(&out, structured.as_deref(), replies_json.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &str, metadata: Option<&str>) -> OutMessage {
        OutMessage {
            encoded_metadata: metadata.map(|m| EncodedMetadata::new(m).unwrap()),
            ..OutMessage::text(text)
        }
    }

    fn metadata(messages: &[OutMessage]) -> Vec<Option<&str>> {
        messages
            .iter()
            .map(|m| m.encoded_metadata.as_ref().map(EncodedMetadata::as_str))
            .collect()
    }

    #[test]
    fn encoded_metadata_keeps_to_its_message_through_the_plugins() {
        let bot = [
            with("a", None),
            with("b", Some("Qg==")),
            with("c", Some("Qw==")),
        ];
        let carried = || Carried::of(&bot);

        // Rewritten one for one: each keeps its own.
        let mut rewritten = vec![with("A", None), with("B", None), with("C", None)];
        keep_metadata(carried(), 3, &mut rewritten, "c1");
        assert_eq!(metadata(&rewritten), [None, Some("Qg=="), Some("Qw==")]);

        // b and c joined into one: theirs is dropped, never put on a.
        let mut joined = vec![with("a", None), with("bc", None)];
        keep_metadata(carried(), 3, &mut joined, "c1");
        assert_eq!(metadata(&joined), [None, None]);

        // Reordered: each unchanged message keeps its own.
        let mut reordered = vec![with("c", None), with("b", None), with("a", None)];
        keep_metadata(carried(), 3, &mut reordered, "c1");
        assert_eq!(metadata(&reordered), [Some("Qw=="), Some("Qg=="), None]);

        // a split in two, b and c passed on unchanged: they keep theirs.
        let mut split = vec![
            with("a1", None),
            with("a2", None),
            with("b", None),
            with("c", None),
        ];
        keep_metadata(carried(), 3, &mut split, "c1");
        assert_eq!(metadata(&split), [None, None, Some("Qg=="), Some("Qw==")]);
    }
}
