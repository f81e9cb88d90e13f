//! The ports: the small traits through which a connector reaches the
//! outside, and the values that cross them. The messaging platform is
//! reached through a [`Dialer`] (it logs in and opens a [`Session`], which
//! is a [`Platform`]: the requests a conversation makes), implemented by
//! `messaging`; the bot brain is a [`Bot`], implemented by `bot`. A
//! connector's [`Status`] lives here too: the store records it and the
//! admin API shows it.
//!
//! Owns: these types only. Depends on nothing but `content` (the outgoing
//! message), so `connector`, `messaging`, `bot` and `store` meet here
//! instead of naming each other.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use lp::messaging::{EncodedMetadata, Event};
use lp::users::UserProfile;
use tokio::sync::mpsc;

use crate::content::OutMessage;

/// A connector's status, as the product documents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// In a cluster: runs on another gateway; this one takes it over if
    /// that one stops or is lost.
    Standby,
}

/// Where a connector runs in a cluster of gateways (`[cluster]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Not known: this gateway is not a member of the cluster now (it is
    /// starting, or cannot reach etcd). It may run on another gateway.
    Unknown,
    /// No gateway runs it.
    Nowhere,
    /// This gateway, named, runs it.
    Here(String),
    /// Another gateway, named, runs it.
    Elsewhere(String),
}

impl Placement {
    /// The gateway that runs it, if known.
    pub fn gateway(&self) -> Option<&str> {
        match self {
            Placement::Here(gateway) | Placement::Elsewhere(gateway) => Some(gateway),
            Placement::Unknown | Placement::Nowhere => None,
        }
    }
}

/// What the platform tells a connector.
#[derive(Clone, Debug, PartialEq)]
pub enum PlatformEvent {
    /// A conversation is offered to this agent.
    Ring {
        /// The ring to accept.
        ring_id: String,
        /// The conversation offered.
        conversation_id: String,
        /// Its skill.
        skill_id: Option<String>,
    },
    /// A ring of this agent's ended without its answer: withdrawn (the
    /// consumer left, another agent took it), expired, or declined. The
    /// conversation is not coming.
    RingEnded {
        /// The ring that ended.
        ring_id: String,
        /// The conversation it offered.
        conversation_id: String,
    },
    /// A conversation this agent sees was created or changed.
    ConversationUpsert {
        /// Conversation id.
        conversation_id: String,
        /// Its skill.
        skill_id: Option<String>,
        /// The current consumer participant.
        consumer_id: String,
        /// False once it is closed.
        open: bool,
        /// True while this agent is its assigned agent.
        assigned_to_me: bool,
    },
    /// A conversation left this agent (closed, transferred away).
    ConversationGone {
        /// Conversation id.
        conversation_id: String,
    },
    /// A live event the consumer sent, in a conversation this agent is in.
    /// Nothing else live is passed on: the consumer's chat states without
    /// a sequence and every agent's events (among them the platform's
    /// echoes of the connector's own) are dropped where the frame is read,
    /// since no connector acts on them.
    ConsumerEvent {
        /// Conversation id (= main dialog id).
        conversation_id: String,
        /// Its sequence in the dialog.
        sequence: u64,
        /// The event itself (text, structured content, a receipt, ...).
        event: Event,
    },
    /// The connection to the platform is gone.
    Disconnected {
        /// Why.
        reason: String,
    },
}

/// A past event of a conversation, from its history: one the consumer and
/// its agents exchanged. Private messages (audience AGENTS_AND_MANAGERS)
/// and the platform's own (role CONTROLLER) are not past events: the
/// platform side leaves them out, so nothing the consumer never saw or
/// nobody said counts as an utterance of the conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct PastEvent {
    /// Its sequence.
    pub sequence: u64,
    /// True if the consumer sent it.
    pub from_consumer: bool,
    /// True if an agent user of this connector's bot sent it (this
    /// connector's or another connector's of the same bot): the bot's own
    /// words, never to be fed back to it.
    pub from_this_bot: bool,
    /// The event.
    pub event: Event,
}

/// Why a platform request failed.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum PlatformError {
    /// The platform answered with an error code.
    #[error("{request} refused with {code}: {message}")]
    Refused {
        /// The request type.
        request: String,
        /// Its code (> 399).
        code: u16,
        /// What the platform said.
        message: String,
    },
    /// No answer in time, or the connection is gone.
    #[error("{request}: {reason}")]
    Unavailable {
        /// The request type.
        request: String,
        /// What happened.
        reason: String,
    },
}

/// What [`Platform::publish_then`] does with the platform's answer.
pub type Published = Box<dyn FnOnce(Result<u64, PlatformError>) + Send>;

/// The requests a connector makes of the messaging platform.
pub trait Platform: Send + Sync {
    /// Accepts a ring.
    fn accept_ring<'a>(&'a self, ring_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>>;
    /// Declines a ring (the connector is full).
    fn reject_ring<'a>(&'a self, ring_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>>;
    /// Publishes an event into a conversation; returns its sequence.
    fn publish<'a>(
        &'a self,
        conversation_id: &'a str,
        event: Event,
    ) -> BoxFuture<'a, Result<u64, PlatformError>>;
    /// Publishes an event without waiting for the platform's answer: it
    /// goes out in order behind the session's earlier requests, and `then`
    /// runs with the answer (the event's sequence, or why it failed) when it
    /// comes; keep it short. Over the agent WebSocket there is nothing left
    /// to await (`None`); over HTTP (`external_webhook_url`) each request is
    /// a call, which the returned future makes: await it to keep the order
    /// of what follows, or spawn it. `encoded_metadata` goes with the event
    /// (beside it in the request).
    fn publish_then(
        &self,
        conversation_id: &str,
        event: Event,
        encoded_metadata: Option<&EncodedMetadata>,
        then: Published,
    ) -> Option<BoxFuture<'static, ()>>;
    /// The conversation's past events (see [`PastEvent`] for those left out).
    fn history<'a>(
        &'a self,
        conversation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PastEvent>, PlatformError>>;
    /// Transfers the conversation to a skill (this agent leaves it).
    fn transfer<'a>(
        &'a self,
        conversation_id: &'a str,
        skill_id: &'a str,
    ) -> BoxFuture<'a, Result<(), PlatformError>>;
    /// Closes the conversation.
    fn close<'a>(&'a self, conversation_id: &'a str) -> BoxFuture<'a, Result<(), PlatformError>>;
    /// A consumer's engagement attributes (`GetUserProfile`).
    fn user_profile<'a>(
        &'a self,
        consumer_id: &'a str,
    ) -> BoxFuture<'a, Result<UserProfile, PlatformError>>;
    /// Publishes a private text: agents and managers see it, the consumer
    /// never does (`messageAudience` `AGENTS_AND_MANAGERS`).
    fn publish_private<'a>(
        &'a self,
        conversation_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<u64, PlatformError>>;
    /// Sets the conversation's time to response (`TTRField`).
    fn change_ttr<'a>(
        &'a self,
        conversation_id: &'a str,
        ttr: lp::fields::Ttr,
    ) -> BoxFuture<'a, Result<(), PlatformError>>;
}

/// Why a turn reaches the bot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TurnKind {
    /// Consumer text (after aggregation and plugins).
    Message,
    /// A new conversation's greeting (defaultGreetingMessage or a plugin's).
    Greeting,
    /// The consumer stepped up (defaultStepupMessage or a plugin's).
    StepUp,
    /// A platform event told in words: `__agent_escalation_failed__`,
    /// `LP_CLOSECONVERSATION`.
    Event,
}

/// One turn sent to the bot.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BotTurn {
    /// The conversation.
    pub conversation_id: String,
    /// The consumer.
    pub consumer_id: String,
    /// The text.
    pub text: String,
    /// Why it is sent.
    pub kind: TurnKind,
    /// The consumer's engagement attributes, for a bot that takes them
    /// (read from the platform when the conversation arrives and after a
    /// step-up; not saved: they are read again).
    #[serde(skip)]
    pub engagement: Option<Arc<UserProfile>>,
}

/// The consumer's engagement attributes are personal data: counted, not shown.
impl std::fmt::Debug for BotTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotTurn")
            .field("conversation_id", &self.conversation_id)
            .field("consumer_id", &self.consumer_id)
            .field("text", &self.text)
            .field("kind", &self.kind)
            .field(
                "engagement",
                &self.engagement.as_ref().map(|attributes| attributes.len()),
            )
            .finish()
    }
}

/// What the bot wants done.
#[derive(Clone, Debug, PartialEq)]
pub enum BotAction {
    /// Publish this message.
    Say(OutMessage),
    /// Transfer to this skill: its id, or (as LivePerson's Third-Party
    /// Bots name skills) its name.
    Escalate(String),
    /// Close the conversation.
    Close,
    /// Show the consumer that the bot is typing.
    Typing,
    /// A private text for the agents and managers of the conversation
    /// (a note for whoever gets it next); the consumer never sees it, and
    /// no plugin shapes it: the bot-message hooks shape what consumers see.
    Private(String),
    /// Set the conversation's time to response (its urgency).
    ChangeTtr(lp::fields::Ttr),
    /// Wait before what follows: the messages before it are published
    /// first. An answer's pauses wait [`MAX_BOT_DELAY`] at most, together.
    Delay(std::time::Duration),
}

/// The most actions one bot answer is carried out with (messages, private
/// texts, typing indicators, pauses, transfers...); the rest is left out,
/// logged, so one answer cannot keep a conversation busy for long.
pub const MAX_BOT_ACTIONS: usize = 50;

/// The longest an answer's pauses wait, all together; what is asked beyond
/// it is cut, so a bot cannot hold its conversation (or the connector's
/// stop) for long.
pub const MAX_BOT_DELAY: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens platform sessions for one connector: looks the account up, logs
/// in, goes ONLINE and subscribes; what the platform then tells arrives on
/// the receiver, until the session ends.
pub trait Dialer: Send + Sync {
    /// Opens a session, reporting each step to `progress`.
    fn dial<'a>(
        &'a self,
        progress: &'a (dyn Fn(&str) + Send + Sync),
    ) -> BoxFuture<'a, Result<Dialed, DialError>>;
}

/// An open session and the events it brings.
pub type Dialed = (Arc<dyn Session>, mpsc::UnboundedReceiver<PlatformEvent>);

/// An open platform session: its requests, and a logout.
pub trait Session: Platform {
    /// The agent's account-qualified id.
    fn agent_id(&self) -> &str;
    /// Goes OFFLINE and ends the session, within a bounded time.
    fn log_out(&self) -> BoxFuture<'_, ()>;
    /// What the session could not check and the operator should know (a
    /// prerequisite that could not be read), for Details.
    fn warnings(&self) -> Vec<String>;
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Domain lookup failed or lacks a service.
    #[error("domain lookup: {0}")]
    Lookup(String),
    /// Login was refused (401: wrong credentials, user missing or disabled).
    #[error("login as {user}: {reason}")]
    Login {
        /// The user.
        user: String,
        /// What the platform said.
        reason: String,
    },
    /// The WebSocket could not be opened.
    #[error("messaging WebSocket: {0}")]
    Socket(String),
    /// The platform's account does not let this user serve as a bot.
    #[error("prerequisite: {0}")]
    Prerequisite(String),
    /// A setup request failed.
    #[error("setup: {0}")]
    Setup(#[from] PlatformError),
}

impl DialError {
    /// True when retrying cannot help until someone changes the account or the configuration.
    pub fn is_permanent(&self) -> bool {
        matches!(self, DialError::Login { .. } | DialError::Prerequisite(_))
    }
}

/// Why the bot gave no answer.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
#[error("bot {bot}: {reason}")]
pub struct BotError {
    /// The bot id.
    pub bot: String,
    /// What happened.
    pub reason: String,
    /// True when the bot did not answer within its timeout.
    pub timed_out: bool,
}

/// A bot brain.
pub trait Bot: Send + Sync {
    /// Sends one turn and returns the bot's answer.
    fn ask<'a>(&'a self, turn: &'a BotTurn) -> BoxFuture<'a, Result<Vec<BotAction>, BotError>>;
    /// True when the answer is computed in this process without waiting on
    /// anything else (the scripted bot): a conversation then asks the bot in
    /// its own task rather than beside it, which spares a task and two
    /// hand-overs per turn (the task's timers wait meanwhile, for the
    /// turn's durable save and the answer).
    fn answers_in_process(&self) -> bool {
        false
    }

    /// True for a bot that takes the consumer's engagement attributes with
    /// each turn (`engagement_attributes` in its file): the connector reads
    /// them from the platform.
    fn engagement_attributes(&self) -> bool {
        false
    }
}
