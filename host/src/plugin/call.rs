//! One hook call as the runtime sees it: its input ([`Call`]), its result
//! ([`Outcome`]) and the hook's name ([`HookName`]), in the types of the
//! newest contract. Older contracts convert at the component's edge
//! (`bindings`), so nothing else knows which version a plugin was built
//! against.

use super::bindings::{
    BotFailure, ConsumerAction, Content, EndReason, FailureAction, Hook, Message,
};

/// The hooks, as the host names them in logs, status and transcripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookName {
    /// `on-conversation-start`.
    ConversationStart,
    /// `on-step-up`.
    StepUp,
    /// `on-consumer-message`.
    ConsumerMessage,
    /// `on-bot-message`.
    BotMessage,
    /// `on-bot-error` (contract 0.2).
    BotError,
    /// `on-conversation-end` (contract 0.2).
    ConversationEnd,
}

impl HookName {
    /// Every hook, in the contract's order.
    pub const ALL: [HookName; 6] = [
        HookName::ConversationStart,
        HookName::StepUp,
        HookName::ConsumerMessage,
        HookName::BotMessage,
        HookName::BotError,
        HookName::ConversationEnd,
    ];

    pub(super) fn of(hook: Hook) -> HookName {
        match hook {
            Hook::ConversationStart => HookName::ConversationStart,
            Hook::StepUp => HookName::StepUp,
            Hook::ConsumerMessage => HookName::ConsumerMessage,
            Hook::BotMessage => HookName::BotMessage,
            Hook::BotError => HookName::BotError,
            Hook::ConversationEnd => HookName::ConversationEnd,
        }
    }

    /// Its bit in a set of hooks (in [`HookName::ALL`]'s order).
    pub(super) fn bit(self) -> u8 {
        1 << HookName::ALL
            .iter()
            .position(|h| *h == self)
            .expect("every hook is in ALL")
    }

    /// The hook's name in the WIT contract.
    pub fn as_str(self) -> &'static str {
        match self {
            HookName::ConversationStart => "on-conversation-start",
            HookName::StepUp => "on-step-up",
            HookName::ConsumerMessage => "on-consumer-message",
            HookName::BotMessage => "on-bot-message",
            HookName::BotError => "on-bot-error",
            HookName::ConversationEnd => "on-conversation-end",
        }
    }

    /// The hook named `name`, with or without its `on-` prefix.
    pub fn parse(name: &str) -> Option<HookName> {
        let name = name.strip_prefix("on-").unwrap_or(name);
        HookName::ALL
            .into_iter()
            .find(|hook| &hook.as_str()[3..] == name)
    }
}

impl std::fmt::Display for HookName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hook call's input (besides the conversation).
#[derive(Clone, Copy, Debug)]
pub enum Call<'a> {
    /// `on-conversation-start` with the greeting so far.
    Start(&'a str),
    /// `on-step-up` with the text so far.
    StepUp(&'a str),
    /// `on-consumer-message` with the text so far.
    Consumer(&'a str),
    /// `on-bot-message` with the messages so far.
    Bot(&'a [Message]),
    /// `on-bot-error`: the text the bot failed, and how.
    BotError(&'a str, &'a BotFailure),
    /// `on-conversation-end`.
    End(EndReason),
}

impl Call<'_> {
    /// The hook this call runs.
    pub fn hook(&self) -> HookName {
        match self {
            Call::Start(_) => HookName::ConversationStart,
            Call::StepUp(_) => HookName::StepUp,
            Call::Consumer(_) => HookName::ConsumerMessage,
            Call::Bot(_) => HookName::BotMessage,
            Call::BotError(..) => HookName::BotError,
            Call::End(_) => HookName::ConversationEnd,
        }
    }

    /// Bytes of text the plugin is given.
    pub fn size(&self) -> usize {
        match self {
            Call::Start(text) | Call::StepUp(text) | Call::Consumer(text) => text.len(),
            Call::Bot(messages) => messages.iter().map(message_size).sum(),
            Call::BotError(text, failure) => {
                text.len()
                    + match failure {
                        BotFailure::Failed(why) | BotFailure::TimedOut(why) => why.len(),
                        BotFailure::Empty => 0,
                    }
            }
            Call::End(_) => 0,
        }
    }
}

/// Bytes of text in one message: its body and its quick replies.
pub fn message_size(message: &Message) -> usize {
    let body = match &message.body {
        Content::Text(t) | Content::Structured(t) => t.len(),
    };
    body + message.quick_replies.as_ref().map_or(0, String::len)
}

/// One hook call's result.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The plugin does not implement the hook.
    Skipped,
    /// From `on-conversation-start` and `on-step-up`.
    Text(Option<String>),
    /// From `on-consumer-message`.
    Action(ConsumerAction),
    /// From `on-bot-message`.
    Messages(Vec<Message>),
    /// From `on-bot-error`.
    Failure(FailureAction),
    /// From `on-conversation-end`.
    Ended,
}

impl Outcome {
    /// The messages it would publish, for the outcomes that publish some.
    pub fn messages(&self) -> Option<&Vec<Message>> {
        match self {
            Outcome::Messages(messages)
            | Outcome::Action(ConsumerAction::Reply(messages))
            | Outcome::Failure(FailureAction::Reply(messages)) => Some(messages),
            _ => None,
        }
    }

    /// Bytes of text the plugin returned.
    pub fn size(&self) -> usize {
        let all = |messages: &[Message]| messages.iter().map(message_size).sum();
        match self {
            Outcome::Skipped | Outcome::Text(None) | Outcome::Ended => 0,
            Outcome::Text(Some(text)) => text.len(),
            Outcome::Action(ConsumerAction::Rewrite(t) | ConsumerAction::Escalate(t)) => t.len(),
            Outcome::Action(ConsumerAction::Reply(messages)) | Outcome::Messages(messages) => {
                all(messages)
            }
            Outcome::Action(_) => 0,
            Outcome::Failure(FailureAction::Reply(messages)) => all(messages),
            Outcome::Failure(FailureAction::Escalate(skill)) => skill.len(),
            Outcome::Failure(FailureAction::DefaultBehaviour) => 0,
        }
    }
}
