//! One conversation's pipeline, run as its own task:
//! greeting after 3 s of silence, messageDelay aggregation, the
//! consumer-message hooks, the bot, the bot-message hooks, publishing;
//! resends, fallback escalation and escalation failures; step-up; close.
//!
//! The task never waits on the bot: a bot call runs beside it and reports
//! back through the inbox, so timers (messageDelay, resend, escalation)
//! keep running while a bot is slow. One bot call is in flight at a time;
//! later turns queue behind it, so answers keep their order.
//!
//! Consumer events are deduplicated by sequence: a replay or reconnect
//! never sends a message to the bot twice.
//!
//! The task saves its state ([`SavedConversation`]) after every step and
//! makes it durable before each bot call. A conversation that comes back
//! without a ring (a reconnect, or a restart after a crash within the
//! platform's grace period) resumes from what was saved: its messageDelay
//! window, queued turns and counters, and the consumer messages that
//! arrived while nobody listened, read from its history. A turn that was in
//! flight when the process died is not sent again, not even as a resend:
//! the bot has it, and may have acted on it; only its answer is lost.

use std::sync::Arc;

use lp::messaging::{AcceptStatus, AcceptStatusEvent, ContentType, Event, Message};
use tokio::time::{Instant, sleep_until};

use super::fields::default_greeting_message::greeting_due;
use super::fields::default_stepup_message::is_step_up_echo;
use super::fields::skip_agent_message::{FirstTurn, first_turn};
use super::inbox;
use super::saved::SavedConversation;
use super::{ConnectorSettings, Shared};
use crate::plugin::{ConsumerDecision, ConversationEnd, ConversationView};
use crate::ports::{Bot, BotAction, BotError, BotTurn, Platform, TurnKind};
use crate::store::Durable;
use bot::AskHere;

mod bot;
mod engagement;

/// When each of a conversation's timers is due, if it runs.
#[derive(Clone, Copy)]
struct Timers {
    flush_at: Option<Instant>,
    greet_at: Option<Instant>,
    resend_at: Option<Instant>,
    escalate_at: Option<Instant>,
}

impl Timers {
    fn next(&self) -> Option<Instant> {
        [
            self.flush_at,
            self.greet_at,
            self.resend_at,
            self.escalate_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// A hash of saved state, to tell a change.
fn hash_of(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Sent to the bot when the conversation closes.
pub const CLOSE_CONVERSATION: &str = "LP_CLOSECONVERSATION";

/// What a conversation task hears.
#[derive(Debug)]
pub enum Input {
    /// A consumer event with its sequence.
    Consumer {
        /// Sequence in the dialog.
        sequence: u64,
        /// The event (boxed: an input waiting in an inbox stays small).
        event: Box<Event>,
    },
    /// The conversation's skill changed.
    Skill(Option<String>),
    /// The consumer participant changed: the consumer stepped up.
    StepUp {
        /// The new, authenticated consumer id.
        consumer_id: String,
    },
    /// The conversation closed: the bot hears `LP_CLOSECONVERSATION`, then the task ends.
    Closed,
    /// The conversation left this connector's open conversations: closed,
    /// or transferred away. The bot hears it closed unless this connector
    /// transferred it; the task ends and its saved state is forgotten.
    Gone,
    /// The platform session ended: the task ends, its saved state is kept
    /// for when the conversation comes back.
    Detached,
    /// The connector stops: the bot call in flight is awaited and its
    /// answer published, nothing new is started, then the task ends with
    /// its state saved.
    Stop,
    /// A bot call finished (boxed, as `Consumer`'s event is).
    BotAnswered(Box<BotAnswer>),
}

/// A finished bot call.
#[derive(Debug)]
pub struct BotAnswer {
    /// The turn it answered.
    pub turn: BotTurn,
    /// The answer.
    pub result: Result<Vec<BotAction>, BotError>,
}

/// The task's state.
pub struct Conversation {
    view: ConversationView,
    shared: Arc<Shared>,
    platform: Arc<dyn Platform>,
    bot: Arc<dyn Bot>,
    inbox_tx: inbox::Sender<Input>,
    /// Resumed from saved state: history after `newest_handled` is unhandled.
    restored: bool,
    st: SavedConversation,
    /// A hash of the state last written, to skip writing it unchanged
    /// (kept instead of the bytes: idle conversations are many).
    last_saved: u64,
    /// The settings the view was last brought up to date with.
    seen: Option<Arc<ConnectorSettings>>,
    /// The connector is stopping: no new bot call, no timers.
    stopping: bool,
    /// A turn for a bot that answers in this process, asked next by the
    /// task's loop (boxed: idle conversations are many).
    ask_here: Option<Box<AskHere>>,
    /// The bot call in flight (it reports through the inbox); it ends with
    /// the task, so nothing of a stopped conversation outlives it. Made at
    /// the first call: a set allocates, and bots that answer in this
    /// process never use it.
    bot_calls: Option<tokio::task::JoinSet<()>>,
    /// This connector transferred the conversation away: its leaving is
    /// no close.
    transferred: bool,
    /// The consumer's engagement attributes, for a bot that takes them.
    engagement: Option<Arc<lp::users::UserProfile>>,
}

impl Conversation {
    /// A conversation that just reached the connector. `rung` is true if
    /// the connector accepted a ring for it in this session. `inbox_tx` is
    /// the sender of the inbox the task will run on.
    pub fn new(
        mut view: ConversationView,
        shared: Arc<Shared>,
        platform: Arc<dyn Platform>,
        bot: Arc<dyn Bot>,
        rung: bool,
        inbox_tx: inbox::Sender<Input>,
    ) -> Self {
        // A ring means the platform routed the conversation here anew:
        // whatever was saved from an earlier stay no longer holds.
        let saved = if rung {
            None
        } else {
            Self::load(&shared, &view.id)
        };
        let restored = saved.is_some();
        let mut st = saved.unwrap_or_default();
        if restored {
            view.skill_id = st.skill_id.clone().or(view.skill_id);
            view.authenticated = st.authenticated;
            if let Some(turn) = st.in_flight.take() {
                tracing::warn!(conversation = %view.id, text = %turn.text, "a bot call was in flight when the connector last stopped: not asking again");
                // Its resend, armed for this turn, would ask again.
                st.resends.clear();
            }
        } else {
            st.greet_at = greeting_due(Instant::now(), rung);
        }
        Conversation {
            view,
            shared,
            platform,
            bot,
            inbox_tx,
            restored,
            st,
            last_saved: 0,
            seen: None,
            stopping: false,
            ask_here: None,
            bot_calls: None,
            transferred: false,
            engagement: None,
        }
    }

    fn load(shared: &Shared, id: &str) -> Option<SavedConversation> {
        let bytes = shared.saved.as_ref()?.get(id).ok()??;
        match serde_json::from_slice::<SavedConversation>(&bytes) {
            Ok(saved) => Some(saved.upgraded()),
            Err(error) => {
                tracing::error!(conversation = %id, %error, "unreadable saved state: starting afresh");
                None
            }
        }
    }

    /// Writes the state if it changed since the last save.
    fn save(&mut self) {
        let Some(bytes) = self.state_bytes() else {
            return;
        };
        let hash = hash_of(&bytes);
        if hash != self.last_saved {
            let store = self.shared.saved.as_ref().expect("state_bytes checked");
            if let Err(error) = store.put(&self.view.id, &bytes) {
                tracing::error!(conversation = %self.view.id, %error, "could not save the conversation");
            }
            self.last_saved = hash;
        }
    }

    /// Writes the state now, durably: what the returned handle resolves
    /// to says when it is on disk (`None` without a store).
    fn save_durably(&mut self) -> Option<Durable> {
        let bytes = self.state_bytes()?;
        let store = self.shared.saved.as_ref()?;
        let durable = store.put_durable(&self.view.id, &bytes);
        self.last_saved = hash_of(&bytes);
        match durable {
            Ok(durable) => Some(durable),
            Err(error) => {
                tracing::error!(conversation = %self.view.id, %error, "could not save the conversation");
                None
            }
        }
    }

    /// The state as saved, if there is a store to save it in.
    fn state_bytes(&mut self) -> Option<Vec<u8>> {
        self.shared.saved.as_ref()?;
        self.st.consumer_id.clone_from(&self.view.consumer_id);
        self.st.authenticated = self.view.authenticated;
        self.st.skill_id.clone_from(&self.view.skill_id);
        let bytes = serde_json::to_vec(&self.st).expect("saved state serializes");
        // The view keeps them; a second copy per idle conversation is waste.
        self.st.consumer_id = String::new();
        self.st.skill_id = None;
        Some(bytes)
    }

    /// The conversation is over for the connector: the plugins hear it
    /// (`on-conversation-end`) and its saved state is forgotten.
    async fn end(&mut self, reason: ConversationEnd) {
        // Forgotten first: the hooks may take their deadline, and a new
        // task for the same conversation (it came back) must not find this
        // state, nor lose its own to this removal.
        self.forget();
        self.settings()
            .plugins
            .conversation_end(&self.view, reason)
            .await;
    }

    fn forget(&self) {
        if let Some(store) = &self.shared.saved
            && let Err(error) = store.remove(&self.view.id)
        {
            tracing::error!(conversation = %self.view.id, %error, "could not forget the conversation");
        }
    }

    /// The settings now: a reload may have changed them since the last
    /// step, and then the view plugins see follows.
    fn settings(&mut self) -> Arc<ConnectorSettings> {
        let settings = self.shared.settings();
        if !self
            .seen
            .as_ref()
            .is_some_and(|seen| Arc::ptr_eq(seen, &settings))
        {
            self.view.accessibility = settings.accessibility;
            self.view.custom_fields = settings.custom_pairs.clone();
            self.seen = Some(settings.clone());
        }
        settings
    }

    /// Runs until the conversation leaves or its inbox closes. Every step
    /// that awaits plugins, the bot or the platform is boxed: an idle
    /// conversation's task then holds only this loop's state, not the
    /// largest step's (4 KiB of wasmtime and socket futures otherwise).
    /// The conversation comes boxed: an async fn's future keeps its
    /// arguments beside the locals they move into, and the conversation
    /// held by value would take its room twice.
    pub async fn run(mut self: Box<Self>, mut inbox: inbox::Receiver<Input>) {
        Box::pin(self.catch_up()).await;
        // The first snapshot: from here a crash or a lost session resumes
        // from it, and the messages after its last sequence come back from
        // the platform's history (without it, a conversation never saved
        // would come back as if its history had been handled).
        self.save();
        loop {
            if let Some(call) = self.ask_here.take() {
                Box::pin(self.ask_here(*call)).await;
                continue;
            }
            // State is written where it must be: once caught up (above),
            // durably before each bot call (`send`), and when the task ends
            // with the conversation still open. Each write is the whole
            // state, so a crash in between resumes from the last one, and
            // the platform's history gives back the messages after it.
            if self.stopping && self.st.in_flight.is_none() {
                self.save();
                break;
            }
            // A window already over (a zero messageDelay) is flushed before
            // anything else is read, so nothing joins it.
            if !self.stopping && self.st.delay.due().is_some_and(|due| due <= Instant::now()) {
                Box::pin(self.flush()).await;
                continue;
            }
            // A stopping conversation only waits for its bot's answer.
            let running = !self.stopping;
            let flush_at = self.st.delay.due().filter(|_| running);
            let greet_at = self.st.greet_at.filter(|_| running);
            let resend_at = self.st.resends.due().filter(|_| running);
            let escalate_at = self.st.escalation.due().filter(|_| running);
            // One timer for the earliest of them (an idle conversation's
            // task holds one sleep, not four). Timers first: a due window
            // or deadline is handled before more input, so a zero
            // messageDelay (chat) never joins messages.
            let timers = Timers {
                flush_at,
                greet_at,
                resend_at,
                escalate_at,
            };
            let next = timers.next();
            if self.st.in_flight.is_none() && inbox.is_empty() {
                // The turn is over and nothing waits: the task parks, so
                // the plugins' record goes until the next hook call.
                self.view.record.forget();
            }
            tokio::select! {
                biased;
                _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    Box::pin(self.timer_due(timers)).await;
                }
                input = inbox.recv() => match input {
                    Some(Input::Consumer { sequence, event }) => self.consumer_event(sequence, *event),
                    Some(Input::Skill(skill)) => self.view.skill_id = skill,
                    Some(Input::StepUp { consumer_id }) => Box::pin(self.step_up(consumer_id)).await,
                    Some(Input::BotAnswered(answer)) => {
                        let BotAnswer { turn, result } = *answer;
                        Box::pin(self.answered(turn, result)).await
                    }
                    Some(Input::Closed) => {
                        self.tell_bot_closed();
                        Box::pin(self.end(ConversationEnd::Closed)).await;
                        break;
                    }
                    Some(Input::Gone) => {
                        // The platform says only that it left this agent's
                        // open conversations: unless this connector moved it,
                        // it is over for the bot.
                        if self.transferred {
                            Box::pin(self.end(ConversationEnd::Transferred)).await;
                        } else {
                            self.tell_bot_closed();
                            Box::pin(self.end(ConversationEnd::Closed)).await;
                        }
                        break;
                    }
                    Some(Input::Detached) | None => {
                        self.save();
                        break;
                    }
                    Some(Input::Stop) => self.stopping = true,
                },
            }
        }
        tracing::debug!(conversation = %self.view.id, "conversation left the connector");
    }

    /// Handles the first timer that is due, in this order: the messageDelay
    /// window, the greeting, a resend, the fallback escalation.
    async fn timer_due(&mut self, timers: Timers) {
        let now = Instant::now();
        let due = |at: Option<Instant>| at.is_some_and(|at| at <= now);
        if due(timers.flush_at) {
            self.flush().await;
        } else if due(timers.greet_at) {
            self.greet().await;
        } else if due(timers.resend_at) {
            if let Some(turn) = self.st.resends.take_due() {
                tracing::info!(conversation = %self.view.id, "the bot gave no response: resending");
                self.send(turn);
            }
        } else if due(timers.escalate_at) {
            self.st.escalation.stop();
            self.st.resends.clear();
            if let Some(skill) = self.settings().fallback_skill_id.clone() {
                tracing::info!(conversation = %self.view.id, skill, "the bot stayed silent: escalating to the fallback skill");
                self.transfer(&skill).await;
            }
        }
    }

    /// Reads the conversation's history. A resumed conversation hands on the
    /// consumer messages after the last one it handled. Any other with
    /// utterances in its history is a transfer in, or a consumer who wrote
    /// before it was accepted: the bot sees the last utterance
    /// (skipAgentMessage decides whose). That includes one assigned to the
    /// connector without a ring it accepted and without saved state (an
    /// auto-accepted ring, a connection lost between the accept and the
    /// conversation's arrival, a conversation whose state stayed with
    /// another gateway): it is not greeted, but what nobody answered still
    /// reaches the bot. The rest of the history is marked as seen, so it
    /// never reaches the bot again.
    async fn catch_up(&mut self) {
        let (engagement, history) =
            tokio::join!(self.read_engagement(), self.platform.history(&self.view.id));
        self.engagement = engagement;
        self.resume_queue();
        let events = match history {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(conversation = %self.view.id, %error, "no history");
                return;
            }
        };
        if self.restored {
            for past in events.iter().filter(|e| e.from_consumer) {
                self.consumer_event(past.sequence, past.event.clone());
            }
        } else {
            match first_turn(&events, self.settings().custom.skip_agent_message) {
                FirstTurn::Nothing => {}
                FirstTurn::Consumer(messages) => {
                    for (sequence, event) in messages {
                        self.consumer_event(sequence, event);
                        // With no messageDelay (chat), each goes alone.
                        if self.st.delay.due().is_some_and(|due| due <= Instant::now()) {
                            self.flush().await;
                        }
                    }
                }
                FirstTurn::Agent(text) => {
                    self.st.greet_at = None;
                    self.forward(text);
                }
                FirstTurn::Resume => self.st.greet_at = None,
            }
        }
        let newest = events.iter().map(|e| e.sequence).max();
        self.st.newest_handled = self.st.newest_handled.max(newest);
    }

    /// Sends the first saved turn that waited behind a bot call that is no more.
    fn resume_queue(&mut self) {
        if self.st.in_flight.is_none()
            && let Some(next) = self.st.queued.pop_front()
        {
            self.send(next);
        }
    }

    fn consumer_event(&mut self, sequence: u64, event: Event) {
        // Chat states are not in the dialog's numbering (a platform that
        // gives one a sequence gives it 0, which is the first message's).
        if matches!(event, Event::ChatState(_))
            || self
                .st
                .newest_handled
                .is_some_and(|newest| sequence <= newest)
        {
            return;
        }
        self.st.newest_handled = Some(sequence);
        let text = match event {
            Event::Content(content) => match (content.content_type, content.message) {
                (ContentType::TextPlain, Message::Text(text)) => text,
                // A file, an image: the bot hears that one came.
                _ => "__image_received__".to_owned(),
            },
            _ => return,
        };
        self.shared.metrics.messages_in.inc();
        if is_step_up_echo(&text, &self.settings().custom) {
            return;
        }
        self.st.greet_at = None;
        self.st.resends.consumer_wrote();
        let window = self.settings().custom.message_delay;
        self.st.delay.push(Instant::now(), window, sequence, text);
    }

    async fn greet(&mut self) {
        self.st.greet_at = None;
        let greeting = self.settings().custom.default_greeting_message.clone();
        let Some(text) = self
            .settings()
            .plugins
            .conversation_start(&self.view, greeting)
            .await
        else {
            return;
        };
        self.send(self.turn(text, TurnKind::Greeting));
    }

    async fn step_up(&mut self, consumer_id: String) {
        self.view.consumer_id = consumer_id;
        self.view.authenticated = true;
        self.engagement = self.read_engagement().await;
        let text = self.settings().custom.default_stepup_message.clone();
        if let Some(text) = self.settings().plugins.step_up(&self.view, text).await {
            self.send(self.turn(text, TurnKind::StepUp));
        }
    }

    async fn flush(&mut self) {
        let Some(joined) = self.st.delay.take() else {
            return;
        };
        let read = AcceptStatusEvent {
            status: AcceptStatus::Read,
            sequence_list: joined.sequences,
        };
        // A bot in this process answers as soon as its turn is on disk:
        // its receipt is held until then and usually leaves in the same
        // write as the answer. Any other bot's goes out at once, before the
        // plugins are asked.
        let mut held = Some(read);
        if !self.bot.answers_in_process() {
            self.mark_read(held.take());
        }
        let decision = self
            .settings()
            .plugins
            .consumer_message(&self.view, joined.text)
            .await;
        match decision {
            ConsumerDecision::Forward(text) => {
                self.forward(text);
                match (held.take(), self.ask_here.as_mut()) {
                    (Some(read), Some(call)) => call.hold_read(read),
                    (read, _) => self.mark_read(read),
                }
            }
            ConsumerDecision::Drop => self.mark_read(held),
            ConsumerDecision::Reply(messages) => {
                self.mark_read(held);
                self.publish(messages).await;
            }
            ConsumerDecision::Escalate(skill) => {
                // The receipt first: over HTTP its request must not race
                // the transfer's.
                if let Some(call) = held.and_then(|read| self.read_call(read)) {
                    call.await;
                }
                self.transfer(&skill).await;
            }
        }
    }

    /// A consumer message goes to the bot: the fallback escalation clock
    /// starts if it is not running, and a resend waits for silence.
    fn forward(&mut self, text: String) {
        let settings = self.settings();
        let custom = &settings.custom;
        if settings.fallback_skill_id.is_some() && custom.escalates_on_silence() {
            self.st
                .escalation
                .start(Instant::now(), custom.fallback_escalation_time);
        }
        let turn = self.turn(text, TurnKind::Message);
        self.st
            .resends
            .arm(&turn, custom.message_resend_max_retries);
        self.send(turn);
    }

    fn turn(&self, text: String, kind: TurnKind) -> BotTurn {
        BotTurn {
            conversation_id: self.view.id.clone(),
            consumer_id: self.view.consumer_id.clone(),
            text,
            kind,
            engagement: self.engagement.clone(),
        }
    }
}
