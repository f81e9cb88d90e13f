//! Hook calls as JSON: what `switchboard plugin call` reads, what a
//! connector's transcript records (one line per hook call), and what
//! `switchboard plugin replay` runs again and compares.
//!
//! The JSON is the contract's values spelled for people: structured
//! content and quick replies are JSON values rather than JSON text,
//! custom fields an object, keys in snake_case, hooks and results named
//! as in the WIT (`consumer-message`, `rewrite`). [`mask`] hides digit
//! runs and email addresses in every text, for transcripts kept on disk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bindings::{
    BotFailure, ConsumerAction, Content, Conversation, ConversationType as WitType, EndReason,
    FailureAction, Message,
};
use super::call::{Call, Outcome};
use crate::config::ConversationType;

/// The conversation a hook runs for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConversationJson {
    /// Conversation id.
    pub id: String,
    /// The connector.
    pub connector_id: String,
    /// The bot.
    pub bot_id: String,
    /// The skill, when known.
    pub skill_id: Option<String>,
    /// The consumer participant.
    pub consumer_id: String,
    /// True once the consumer has stepped up.
    pub authenticated: bool,
    /// Messaging or chat.
    pub conversation_type: ConversationType,
    /// The connector's accessibility option.
    pub accessibility: bool,
    /// The connector's custom fields (by name).
    pub custom_fields: BTreeMap<String, String>,
}

impl Default for ConversationJson {
    fn default() -> Self {
        ConversationJson {
            id: "conversation-1".into(),
            connector_id: "local".into(),
            bot_id: "bot".into(),
            skill_id: None,
            consumer_id: "consumer-1".into(),
            authenticated: false,
            conversation_type: ConversationType::Messaging,
            accessibility: false,
            custom_fields: BTreeMap::new(),
        }
    }
}

impl ConversationJson {
    /// The JSON form of a conversation.
    pub fn of(conv: &Conversation) -> Self {
        ConversationJson {
            id: conv.id.clone(),
            connector_id: conv.connector_id.clone(),
            bot_id: conv.bot_id.clone(),
            skill_id: conv.skill_id.clone(),
            consumer_id: conv.consumer_id.clone(),
            authenticated: conv.authenticated,
            conversation_type: match conv.conversation_type {
                WitType::Messaging => ConversationType::Messaging,
                WitType::Chat => ConversationType::Chat,
            },
            accessibility: conv.accessibility,
            custom_fields: conv.custom_fields.iter().cloned().collect(),
        }
    }

    /// The contract's value.
    pub fn to_wit(&self) -> Conversation {
        Conversation {
            id: self.id.clone(),
            connector_id: self.connector_id.clone(),
            bot_id: self.bot_id.clone(),
            skill_id: self.skill_id.clone(),
            consumer_id: self.consumer_id.clone(),
            authenticated: self.authenticated,
            conversation_type: match self.conversation_type {
                ConversationType::Messaging => WitType::Messaging,
                ConversationType::Chat => WitType::Chat,
            },
            accessibility: self.accessibility,
            custom_fields: self.custom_fields.clone().into_iter().collect(),
        }
    }
}

/// One message: `text` or `structured` (LivePerson JSON), and its quick replies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageJson {
    /// Plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Structured content (JSON text a plugin returned that is not JSON
    /// stays a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
    /// Quick replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies: Option<Value>,
}

impl MessageJson {
    fn of(message: &Message) -> Self {
        let (text, structured) = match &message.body {
            Content::Text(text) => (Some(text.clone()), None),
            Content::Structured(json) => (None, Some(json_or_text(json))),
        };
        MessageJson {
            text,
            structured,
            quick_replies: message.quick_replies.as_deref().map(json_or_text),
        }
    }

    fn to_wit(&self) -> Result<Message, String> {
        let body = match (&self.text, &self.structured) {
            (Some(text), None) => Content::Text(text.clone()),
            (None, Some(structured)) => Content::Structured(text_of(structured)),
            _ => return Err("a message has exactly one of `text` and `structured`".into()),
        };
        Ok(Message {
            body,
            quick_replies: self.quick_replies.as_ref().map(text_of),
        })
    }
}

fn json_or_text(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_owned()))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// How the bot failed, for `bot-error`: `{"failed": why}`,
/// `{"timed-out": why}` or `"empty"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureJson {
    /// The bot failed.
    Failed(String),
    /// The bot timed out.
    TimedOut(String),
    /// The bot answered nothing.
    Empty,
}

/// Why the conversation ended, for `conversation-end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReasonJson {
    /// Closed.
    Closed,
    /// Transferred away.
    Transferred,
}

/// One hook call's input, tagged by its hook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "hook", rename_all = "kebab-case")]
pub enum InputJson {
    /// `on-conversation-start`.
    ConversationStart {
        /// The greeting so far.
        greeting: String,
    },
    /// `on-step-up`.
    StepUp {
        /// The text so far.
        text: String,
    },
    /// `on-consumer-message`.
    ConsumerMessage {
        /// The consumer's text (so far).
        text: String,
    },
    /// `on-bot-message`.
    BotMessage {
        /// The bot's messages (so far).
        messages: Vec<MessageJson>,
    },
    /// `on-bot-error`.
    BotError {
        /// The text the bot failed.
        text: String,
        /// How.
        failure: FailureJson,
    },
    /// `on-conversation-end`.
    ConversationEnd {
        /// Why.
        reason: EndReasonJson,
    },
}

/// An input turned into the contract's values, owned, ready to be lent as a [`Call`].
pub enum OwnedCall {
    /// A text hook.
    Text(super::HookName, String),
    /// Bot messages.
    Bot(Vec<Message>),
    /// A bot failure.
    BotError(String, BotFailure),
    /// A conversation end.
    End(EndReason),
}

impl OwnedCall {
    /// The call, borrowing from `self`.
    pub fn as_call(&self) -> Call<'_> {
        use super::HookName;
        match self {
            OwnedCall::Text(HookName::ConversationStart, text) => Call::Start(text),
            OwnedCall::Text(HookName::StepUp, text) => Call::StepUp(text),
            OwnedCall::Text(_, text) => Call::Consumer(text),
            OwnedCall::Bot(messages) => Call::Bot(messages),
            OwnedCall::BotError(text, failure) => Call::BotError(text, failure),
            OwnedCall::End(reason) => Call::End(*reason),
        }
    }
}

impl InputJson {
    /// The JSON form of a call.
    pub fn of(call: &Call<'_>) -> Self {
        match *call {
            Call::Start(greeting) => InputJson::ConversationStart {
                greeting: greeting.to_owned(),
            },
            Call::StepUp(text) => InputJson::StepUp {
                text: text.to_owned(),
            },
            Call::Consumer(text) => InputJson::ConsumerMessage {
                text: text.to_owned(),
            },
            Call::Bot(messages) => InputJson::BotMessage {
                messages: messages.iter().map(MessageJson::of).collect(),
            },
            Call::BotError(text, failure) => InputJson::BotError {
                text: text.to_owned(),
                failure: match failure {
                    BotFailure::Failed(why) => FailureJson::Failed(why.clone()),
                    BotFailure::TimedOut(why) => FailureJson::TimedOut(why.clone()),
                    BotFailure::Empty => FailureJson::Empty,
                },
            },
            Call::End(reason) => InputJson::ConversationEnd {
                reason: match reason {
                    EndReason::Closed => EndReasonJson::Closed,
                    EndReason::Transferred => EndReasonJson::Transferred,
                },
            },
        }
    }

    /// The contract's values for this input.
    pub fn to_call(&self) -> Result<OwnedCall, String> {
        use super::HookName;
        Ok(match self {
            InputJson::ConversationStart { greeting } => {
                OwnedCall::Text(HookName::ConversationStart, greeting.clone())
            }
            InputJson::StepUp { text } => OwnedCall::Text(HookName::StepUp, text.clone()),
            InputJson::ConsumerMessage { text } => {
                OwnedCall::Text(HookName::ConsumerMessage, text.clone())
            }
            InputJson::BotMessage { messages } => OwnedCall::Bot(
                messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| m.to_wit().map_err(|e| format!("message {i}: {e}")))
                    .collect::<Result<_, _>>()?,
            ),
            InputJson::BotError { text, failure } => OwnedCall::BotError(
                text.clone(),
                match failure {
                    FailureJson::Failed(why) => BotFailure::Failed(why.clone()),
                    FailureJson::TimedOut(why) => BotFailure::TimedOut(why.clone()),
                    FailureJson::Empty => BotFailure::Empty,
                },
            ),
            InputJson::ConversationEnd { reason } => OwnedCall::End(match reason {
                EndReasonJson::Closed => EndReason::Closed,
                EndReasonJson::Transferred => EndReason::Transferred,
            }),
        })
    }
}

/// One hook call's result, tagged by what it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum OutputJson {
    /// From conversation-start and step-up: the text, or none (`null`).
    Text {
        /// The text.
        text: Option<String>,
    },
    /// Consumer message: pass it on unchanged.
    Forward,
    /// Consumer message: pass this on instead.
    Rewrite {
        /// The new text.
        text: String,
    },
    /// Consumer message: send nothing to the bot.
    Drop,
    /// Consumer message or bot error: answer the consumer.
    Reply {
        /// The answer.
        messages: Vec<MessageJson>,
    },
    /// Consumer message or bot error: transfer.
    Escalate {
        /// The skill.
        skill: String,
    },
    /// Bot error: the connector's default behaviour.
    DefaultBehaviour,
    /// Bot message: what to publish.
    Messages {
        /// The messages.
        messages: Vec<MessageJson>,
    },
    /// Conversation end: done.
    Ended,
    /// The plugin does not implement the hook.
    Skipped,
    /// The call faulted; the hook's default applied.
    Fault {
        /// What went wrong.
        reason: String,
    },
}

impl OutputJson {
    /// The JSON form of an outcome.
    pub fn of(outcome: &Outcome) -> Self {
        let all = |messages: &[Message]| messages.iter().map(MessageJson::of).collect();
        match outcome {
            Outcome::Skipped => OutputJson::Skipped,
            Outcome::Text(text) => OutputJson::Text { text: text.clone() },
            Outcome::Action(ConsumerAction::Forward) => OutputJson::Forward,
            Outcome::Action(ConsumerAction::Rewrite(text)) => {
                OutputJson::Rewrite { text: text.clone() }
            }
            Outcome::Action(ConsumerAction::Drop) => OutputJson::Drop,
            Outcome::Action(ConsumerAction::Reply(messages))
            | Outcome::Failure(FailureAction::Reply(messages)) => OutputJson::Reply {
                messages: all(messages),
            },
            Outcome::Action(ConsumerAction::Escalate(skill))
            | Outcome::Failure(FailureAction::Escalate(skill)) => OutputJson::Escalate {
                skill: skill.clone(),
            },
            Outcome::Failure(FailureAction::DefaultBehaviour) => OutputJson::DefaultBehaviour,
            Outcome::Messages(messages) => OutputJson::Messages {
                messages: all(messages),
            },
            Outcome::Ended => OutputJson::Ended,
        }
    }
}

/// One recorded hook call: a line of a transcript file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// When it ran (ms since the Unix epoch); a replay's clock answers this.
    pub at: u64,
    /// The connector it ran for.
    pub connector: String,
    /// The plugin's name.
    pub plugin: String,
    /// The plugin file's version (the first 12 hex digits of its SHA-256).
    pub version: String,
    /// Its settings on the connector.
    pub settings: BTreeMap<String, String>,
    /// The conversation.
    pub conversation: ConversationJson,
    /// The input.
    pub input: InputJson,
    /// The result.
    pub output: OutputJson,
    /// True if texts were masked when recorded (see [`mask`]).
    pub masked: bool,
    /// Wall time of the call, in microseconds.
    pub micros: u64,
}

/// Hides what a consumer may have typed about themselves: every digit (of
/// any script) becomes `#`, every email address `[email]`.
pub fn mask(text: &str) -> String {
    let emails = email_spans(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in emails {
        mask_digits(&text[at..start], &mut out);
        out.push_str("[email]");
        at = end;
    }
    mask_digits(&text[at..], &mut out);
    out
}

fn mask_digits(text: &str, out: &mut String) {
    out.extend(text.chars().map(|c| if c.is_numeric() { '#' } else { c }));
}

/// Where the email addresses in `text` are: around each `@`, a local part
/// and a domain with a dot, made of the characters addresses use; in order,
/// not overlapping.
fn email_spans(text: &str) -> Vec<(usize, usize)> {
    let local = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| local(c))
            .last()
            .map(|(i, _)| i);
        let host_end = at
            + 1
            + text[at + 1..]
                .char_indices()
                .find(|&(_, c)| !domain(c))
                .map_or(text.len() - at - 1, |(i, _)| i);
        let host = text[at + 1..host_end].trim_end_matches(['.', '-']);
        let (Some(start), true) = (start, host.contains('.') && !host.starts_with('.')) else {
            continue;
        };
        let end = at + 1 + host.len();
        if spans.last().is_none_or(|&(_, last_end)| start >= last_end) {
            spans.push((start, end));
        }
    }
    spans
}

impl InputJson {
    /// The same input with [`mask`] applied to its texts.
    pub fn masked(&self) -> InputJson {
        let mut input = self.clone();
        match &mut input {
            InputJson::ConversationStart { greeting: text }
            | InputJson::StepUp { text }
            | InputJson::ConsumerMessage { text } => *text = mask(text),
            InputJson::BotMessage { messages } => messages.iter_mut().for_each(mask_message),
            InputJson::BotError { text, failure } => {
                *text = mask(text);
                if let FailureJson::Failed(why) | FailureJson::TimedOut(why) = failure {
                    *why = mask(why);
                }
            }
            InputJson::ConversationEnd { .. } => {}
        }
        input
    }
}

impl OutputJson {
    /// The same output with [`mask`] applied to its texts.
    pub fn masked(&self) -> OutputJson {
        let mut output = self.clone();
        match &mut output {
            OutputJson::Text { text: Some(text) } | OutputJson::Rewrite { text } => {
                *text = mask(text)
            }
            OutputJson::Reply { messages } | OutputJson::Messages { messages } => {
                messages.iter_mut().for_each(mask_message)
            }
            _ => {}
        }
        output
    }
}

fn mask_message(message: &mut MessageJson) {
    if let Some(text) = &mut message.text {
        *text = mask(text);
    }
    for value in [&mut message.structured, &mut message.quick_replies]
        .into_iter()
        .flatten()
    {
        mask_value(value);
    }
}

fn mask_value(value: &mut Value) {
    match value {
        Value::String(text) => *text = mask(text),
        Value::Array(items) => items.iter_mut().for_each(mask_value),
        Value::Object(map) => map.values_mut().for_each(mask_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_hides_digits_and_email_addresses_and_keeps_the_rest() {
        assert_eq!(
            mask("card 4111-1111 1111 1111, mail jo.doe+x@mail.example.com. thanks"),
            "card ####-#### #### ####, mail [email]. thanks"
        );
        assert_eq!(mask("no@domain is kept"), "no@domain is kept");
        assert_eq!(mask("(a@b.co)"), "([email])");
        // Every address, whatever is between them; digits of any script.
        assert_eq!(mask("@support\njane@corp.com"), "@support\n[email]");
        assert_eq!(mask("a@b,jo@x.com"), "a@b,[email]");
        assert_eq!(mask("x@y.com;jo@z.com"), "[email];[email]");
        assert_eq!(mask("tel ٠١٢٣ and ４５"), "tel #### and ##");
    }

    #[test]
    fn an_input_goes_to_json_and_back_unchanged() {
        let text = r#"{"hook":"bot-message","messages":[{"text":"hi"},{"structured":{"text":"x","type":"text"},"quick_replies":{"type":"quickReplies"}}]}"#;
        let input: InputJson = serde_json::from_str(text).unwrap();
        let call = input.to_call().unwrap();
        assert_eq!(InputJson::of(&call.as_call()), input);
        assert_eq!(serde_json::to_string(&input).unwrap(), text);
    }

    #[test]
    fn a_message_with_both_bodies_is_refused() {
        let input: InputJson = serde_json::from_str(
            r#"{"hook":"bot-message","messages":[{"text":"a","structured":{}}]}"#,
        )
        .unwrap();
        let Err(error) = input.to_call() else {
            panic!("accepted")
        };
        assert!(error.starts_with("message 0:"), "{error}");
    }
}
