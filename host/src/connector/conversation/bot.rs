//! The bot's side of a conversation: asking the bot (one call in flight,
//! the rest queued), what its answer or its failure leads to (publishing,
//! resends, `on-bot-error`), transfers and escalation failures, and
//! telling the bot the conversation closed.

use lp::messaging::{AcceptStatusEvent, ChatState, ChatStateEvent, Event};
use tokio::time::Instant;

use super::super::Shared;
use super::super::fields::max_escalation_retries::{ESCALATION_FAILED, TRANSFER_IMPOSSIBLE};
use super::{BotAnswer, CLOSE_CONVERSATION, Conversation, Input};
use crate::content::OutMessage;
use crate::plugin::{BotFailure, FailureDecision};
use crate::ports::{
    Bot, BotAction, BotError, BotTurn, MAX_BOT_ACTIONS, MAX_BOT_DELAY, Published, TurnKind,
};
use crate::store::Durable;

/// Waits until `durable` (the state saying the turn is in flight) is on
/// disk: the bot hears no turn a crash could make it hear twice.
async fn on_disk(turn: &BotTurn, durable: Option<Durable>) {
    if let Some(durable) = durable
        && let Err(error) = durable.on_disk().await
    {
        tracing::error!(conversation = %turn.conversation_id, %error, "could not make the conversation durable before asking the bot");
    }
}

/// Asks the bot and times the answer.
async fn ask(bot: &dyn Bot, shared: &Shared, turn: &BotTurn) -> Result<Vec<BotAction>, BotError> {
    let started = std::time::Instant::now();
    let result = bot.ask(turn).await;
    shared.metrics.bot_latency.observe(started.elapsed());
    result
}

/// A turn for a bot that answers in this process, as the task's loop
/// asks it (`Conversation::ask_here`).
pub(super) struct AskHere {
    turn: BotTurn,
    /// The save the turn waits for.
    durable: Option<Durable>,
    /// The receipt for the consumer's messages of the turn (and of turns
    /// queued behind it meanwhile), sent once the turn is on disk, just
    /// before the bot answers.
    read: Option<AcceptStatusEvent>,
}

impl AskHere {
    /// Holds a receipt until the turn is on disk, beside any held already.
    pub(super) fn hold_read(&mut self, read: AcceptStatusEvent) {
        match &mut self.read {
            Some(held) => held.sequence_list.extend(read.sequence_list),
            None => self.read = Some(read),
        }
    }
}

/// Says when the platform has answered the last message of a publish.
pub(super) struct Confirmation(tokio::sync::oneshot::Receiver<()>);

impl Confirmation {
    /// Resolves once the platform answered (or refused) the last message,
    /// or could not (the session ended, no answer in time); at once when
    /// nothing was published.
    pub(super) async fn arrived(self) {
        // The client tells every request its answer, the socket's end or
        // that it is overdue; this bound only backs that up.
        let _ = tokio::time::timeout(CONFIRMATION_PATIENCE, self.0).await;
    }
}

/// The longest a transfer or close waits for the messages before it.
const CONFIRMATION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

impl Conversation {
    /// Calls the bot beside the task (or in it, for a bot that answers in
    /// this process), or queues the turn behind the call in flight.
    /// The state saying the turn is in flight is durable before the bot
    /// hears it, so a crash never makes the turn go twice.
    pub(super) fn send(&mut self, mut turn: BotTurn) {
        // A turn saved before a restart comes back without them.
        if turn.engagement.is_none() {
            turn.engagement.clone_from(&self.engagement);
        }
        if self.st.in_flight.is_some() || self.stopping {
            self.st.queued.push_back(turn);
            return;
        }
        self.st.in_flight = Some(Box::new(turn.clone()));
        let durable = self.save_durably();
        if self.bot.answers_in_process() {
            // The task's loop asks it next (see `ask_here`).
            self.ask_here = Some(Box::new(AskHere {
                turn,
                durable,
                read: None,
            }));
            return;
        }
        let (bot, inbox, shared) = (self.bot.clone(), self.inbox_tx.clone(), self.shared.clone());
        let calls = self.bot_calls.get_or_insert_with(tokio::task::JoinSet::new);
        while calls.try_join_next().is_some() {}
        calls.spawn(async move {
            on_disk(&turn, durable).await;
            let result = ask(&*bot, &shared, &turn).await;
            let _ = inbox.send(Input::BotAnswered(Box::new(BotAnswer { turn, result })));
        });
    }

    /// Asks a bot that answers in this process, in this task, and handles its answer.
    pub(super) async fn ask_here(&mut self, call: AskHere) {
        let AskHere {
            turn,
            durable,
            read,
        } = call;
        on_disk(&turn, durable).await;
        self.mark_read(read);
        let result = ask(&*self.bot, &self.shared, &turn).await;
        self.answered(turn, result).await;
    }

    pub(super) async fn answered(
        &mut self,
        turn: BotTurn,
        result: Result<Vec<BotAction>, BotError>,
    ) {
        self.st.in_flight = None;
        let (actions, failure) = match result {
            Ok(actions) => (self.publishable(actions), BotFailure::Empty),
            Err(error) => {
                tracing::warn!(conversation = %self.view.id, %error, "the bot gave no answer");
                self.shared.bot_result(Err(error.to_string()));
                let failure = if error.timed_out {
                    BotFailure::TimedOut(error.to_string())
                } else {
                    BotFailure::Failed(error.to_string())
                };
                (Vec::new(), failure)
            }
        };
        // A typing indicator alone is no answer.
        let answered = actions.iter().any(|a| !matches!(a, BotAction::Typing));
        if answered {
            self.st.escalation.stop();
            self.st.resends.clear();
            self.carry_out(actions).await;
        } else if turn.kind == TurnKind::Message {
            self.failed(&turn, failure).await;
        }
        if !self.stopping
            && let Some(next) = self.st.queued.pop_front()
        {
            self.send(next);
        }
    }

    /// The bot failed a consumer message: the plugins may answer the
    /// consumer or escalate (`on-bot-error`); by default the message is
    /// resent and the fallback escalation clock keeps running.
    async fn failed(&mut self, turn: &BotTurn, failure: BotFailure) {
        let decision = self
            .settings()
            .plugins
            .bot_error(&self.view, &turn.text, &failure)
            .await;
        match decision {
            FailureDecision::Default => {
                let interval = self.settings().custom.retry_message_interval;
                self.st.resends.no_response(turn, Instant::now(), interval);
            }
            FailureDecision::Reply(messages) => {
                self.st.escalation.stop();
                self.st.resends.clear();
                self.publish(messages).await;
            }
            FailureDecision::Escalate(skill) => {
                self.st.resends.clear();
                self.transfer(&skill).await;
            }
        }
    }

    /// The bot's actions without the messages LivePerson would refuse
    /// (structured content or quick replies its schemas reject): those are
    /// not published, and are logged and counted against the bot before
    /// any plugin sees the answer, so no plugin is blamed for them.
    fn publishable(&self, actions: Vec<BotAction>) -> Vec<BotAction> {
        let publishable: Vec<BotAction> = actions
            .into_iter()
            .filter(|action| {
                let BotAction::Say(message) = action else {
                    return true;
                };
                let Err(error) = message.validate() else {
                    return true;
                };
                tracing::warn!(connector = %self.view.connector_id, conversation = %self.view.id, %error, "the bot sent a message LivePerson would refuse: not published");
                self.shared.bot_refused(error.to_string());
                false
            })
            .collect();
        self.shared.bot_result(Ok(()));
        publishable
    }

    async fn carry_out(&mut self, mut actions: Vec<BotAction>) {
        if actions.len() > MAX_BOT_ACTIONS {
            tracing::warn!(conversation = %self.view.id, actions = actions.len(), "the bot's answer asks too much: the actions after the first {MAX_BOT_ACTIONS} are left out");
            actions.truncate(MAX_BOT_ACTIONS);
        }
        let mut messages = Vec::new();
        let mut after = Vec::new();
        // Every part published: the actions after them wait for them all.
        let mut confirmations = Vec::new();
        // What the answer's pauses may still wait, all together.
        let mut pause_left = MAX_BOT_DELAY;
        let mut typing = false;
        for action in actions {
            // A typing indicator right after another says nothing new.
            let repeated = typing && matches!(action, BotAction::Typing);
            typing = matches!(action, BotAction::Typing);
            match action {
                BotAction::Say(message) => messages.push(message),
                BotAction::Typing if repeated => {}
                BotAction::Typing => {
                    // After the messages before it, which it would overtake.
                    self.publish_gathered(&mut messages, &mut confirmations)
                        .await;
                    let typing = Event::ChatState(ChatStateEvent {
                        chat_state: ChatState::Composing,
                    });
                    if let Err(error) = self.platform.publish(&self.view.id, typing).await {
                        tracing::debug!(conversation = %self.view.id, %error, "could not show typing");
                    }
                }
                // A private text keeps its place among the messages: those
                // before it go out first.
                BotAction::Private(text) => {
                    self.publish_gathered(&mut messages, &mut confirmations)
                        .await;
                    if let Err(error) = self.platform.publish_private(&self.view.id, &text).await {
                        tracing::warn!(conversation = %self.view.id, %error, "could not publish a private text");
                    }
                }
                // A pause between messages: those before it go out first.
                // A stop cuts it short: the rest of the answer goes at once.
                BotAction::Delay(pause) => {
                    self.publish_gathered(&mut messages, &mut confirmations)
                        .await;
                    let pause = pause.min(pause_left);
                    pause_left -= pause;
                    if !self.shared.pause(pause).await {
                        pause_left = std::time::Duration::ZERO;
                    }
                }
                other => after.push(other),
            }
        }
        self.publish_gathered(&mut messages, &mut confirmations)
            .await;
        // A transfer, a close or a new time to response must not overtake
        // the messages before it on a platform that runs requests side by
        // side.
        if !after.is_empty() {
            for confirmation in confirmations {
                confirmation.arrived().await;
            }
        }
        // A new time to response goes first: after a transfer or a close
        // the conversation is no longer this agent's to change.
        after.sort_by_key(|action| !matches!(action, BotAction::ChangeTtr(_)));
        for action in after {
            match action {
                BotAction::Escalate(skill) => self.transfer(&skill).await,
                BotAction::Close => {
                    if let Err(error) = self.platform.close(&self.view.id).await {
                        tracing::warn!(conversation = %self.view.id, %error, "could not close");
                    }
                }
                BotAction::ChangeTtr(ttr) => {
                    if let Err(error) = self.platform.change_ttr(&self.view.id, ttr).await {
                        tracing::warn!(conversation = %self.view.id, %error, "could not change the time to response");
                    }
                }
                BotAction::Say(_) | BotAction::Private(_) => unreachable!("published above"),
                BotAction::Typing | BotAction::Delay(_) => {
                    unreachable!("carried out in order above")
                }
            }
        }
    }

    /// Publishes the messages gathered so far, if any, keeping the
    /// platform's confirmation of them.
    async fn publish_gathered(
        &mut self,
        messages: &mut Vec<OutMessage>,
        confirmations: &mut Vec<Confirmation>,
    ) {
        if !messages.is_empty() {
            confirmations.push(self.publish(std::mem::take(messages)).await);
        }
    }

    /// Tells the platform the consumer's messages were read (if there is a
    /// receipt), without waiting for its answer: that would only delay the bot.
    pub(super) fn mark_read(&self, read: Option<AcceptStatusEvent>) {
        if let Some(call) = read.and_then(|read| self.read_call(read)) {
            tokio::spawn(call);
        }
    }

    /// Publishes the receipt; what is returned (over HTTP) is the request
    /// still to make.
    pub(super) fn read_call(
        &self,
        read: AcceptStatusEvent,
    ) -> Option<futures_util::future::BoxFuture<'static, ()>> {
        let id = self.view.id.clone();
        let then: Published = Box::new(move |answered| {
            if let Err(error) = answered {
                tracing::warn!(conversation = %id, %error, "could not mark messages read");
            }
        });
        let read = Event::AcceptStatus(read);
        self.platform.publish_then(&self.view.id, read, None, then)
    }

    /// Runs the bot-message hooks and publishes the result in order.
    pub(super) async fn publish(&mut self, messages: Vec<OutMessage>) -> Confirmation {
        let messages = self
            .settings()
            .plugins
            .bot_message(&self.view, messages)
            .await;
        // Each goes out behind the one before; the platform's answers are
        // read as they come (a message is counted once it is confirmed).
        let (confirm, confirmation) = tokio::sync::oneshot::channel();
        let mut confirm = Some(confirm);
        let count = messages.len();
        for (n, message) in messages.into_iter().enumerate() {
            let (shared, id) = (self.shared.clone(), self.view.id.clone());
            let last = confirm.take_if(|_| n + 1 == count);
            let then: Published = Box::new(move |answered| {
                match answered {
                    Ok(_) => shared.metrics.messages_out.inc(),
                    Err(error) => tracing::warn!(conversation = %id, %error, "could not publish"),
                }
                if let Some(last) = last {
                    let _ = last.send(());
                }
            });
            if let Some(call) = self.platform.publish_then(
                &self.view.id,
                message.to_event(),
                message.encoded_metadata.as_ref(),
                then,
            ) {
                call.await;
            }
        }
        Confirmation(confirmation)
    }

    /// Transfers to `skill`. When the platform refuses, the bot hears
    /// `__agent_escalation_failed__`, at most maxEscalationRetries times per
    /// conversation; after that the consumer is told.
    pub(super) async fn transfer(&mut self, skill: &str) {
        let Err(error) = self.platform.transfer(&self.view.id, skill).await else {
            self.transferred = true;
            self.st.escalation.stop();
            self.st.resends.clear();
            return;
        };
        tracing::warn!(conversation = %self.view.id, skill, %error, "transfer failed");
        let max = self.settings().custom.max_escalation_retries;
        if self.st.escalation_failures.try_count(max) {
            self.send(self.turn(ESCALATION_FAILED.to_owned(), TurnKind::Event));
        } else {
            self.publish(vec![OutMessage::text(TRANSFER_IMPOSSIBLE)])
                .await;
        }
    }

    pub(super) fn tell_bot_closed(&self) {
        let (bot, turn) = (
            self.bot.clone(),
            self.turn(CLOSE_CONVERSATION.to_owned(), TurnKind::Event),
        );
        tokio::spawn(async move {
            if let Err(error) = bot.ask(&turn).await {
                tracing::debug!(%error, "the bot did not take LP_CLOSECONVERSATION");
            }
        });
    }
}
