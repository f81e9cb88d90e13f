//! The consumer socket's requests: one handler per kind of
//! `lp::ConsumerRequest`. A handler takes the request's typed body and
//! returns its typed answer (the table's response type, checked by
//! [`answer`]) and what has to follow the answer once it is sent, or a
//! refusal. Every request but `InitConnection` and `GetClock` needs an
//! authenticated socket.

use std::borrow::Cow;
use std::sync::Arc;

use lp::common::{Empty, Subscribed, Text};
use lp::connection::{Clock, GetClock, Header};
use lp::consumer::ConsumerRequest;
use lp::conversations::{
    CloseReason, ConsumerRequestConversation, ConversationCreated, ConversationState,
    SubscribeExConversations, UnsubscribeExConversations,
};
use lp::error::GENERIC_RESPONSE;
use lp::fields::{ConversationField, UpdateConversationField};
use lp::messaging::{EncodedMetadata, PublishEvent, Published, SubscribeMessagingEvents};
use lp::users::SetUserProfile;
use lp::{Incoming, Request};
use tokio::time::Instant;

use super::UNAUTHORIZED;
use crate::clock::now_ms;
use crate::hub::limits;
use crate::hub::state::{HubState, Outbox, Outgoing, Refusal};
use crate::hub::{Hub, new_subscription};

/// What a handler works on: the hub, and the consumer socket the request came on.
pub(super) struct Ctx<'a> {
    pub hub: &'a Arc<Hub>,
    pub conn: u64,
    pub outbox: &'a Outbox,
}

impl Ctx<'_> {
    fn send(&self, frame: String) {
        // A closed outbox means the socket is going away; its cleanup follows.
        let _ = self.outbox.send(Outgoing::Text(frame));
    }
}

/// What has to follow a request's answer, once that is sent.
enum Then {
    Nothing,
    /// Routing: a conversation waits, or a slot is free.
    Route,
    /// The conversation subscription starts: the consumer's conversations
    /// now, then every change.
    Subscribe(String),
    /// The dialog subscription starts: its events from `from_seq`, then
    /// every new one.
    History {
        dialog_id: String,
        from_seq: u64,
    },
}

/// A handler's answer and what follows it, or its refusal.
type Reply<R> = Result<(R, Then), Refusal>;

/// Answers one request (every request gets exactly one response), then
/// does what follows it.
pub(super) fn answer(ctx: &Ctx, incoming: Incoming<ConsumerRequest>) {
    let to = Answering {
        kind: incoming.response_kind(),
        id: incoming.id,
    };
    use ConsumerRequest as R;
    let then = match incoming.request {
        R::InitConnection(_) => {
            init_connection(ctx, &to, Header::jwt_in(&incoming.headers));
            Then::Nothing
        }
        R::GetClock(r) => to.reply(ctx, r, get_clock),
        R::ConsumerRequestConversation(r) => to.reply(ctx, r, consumer_request_conversation),
        R::PublishEvent(r) => {
            let encoded_metadata = incoming.encoded_metadata;
            to.reply(ctx, r, |ctx, r| publish_event(ctx, r, encoded_metadata))
        }
        R::SubscribeMessagingEvents(r) => to.reply(ctx, r, subscribe_messaging_events),
        R::SubscribeExConversations(r) => to.reply(ctx, r, subscribe_ex_conversations),
        R::UnsubscribeExConversations(r) => to.reply(ctx, r, unsubscribe_ex_conversations),
        R::UpdateConversationField(r) => to.reply(ctx, r, update_conversation_field),
        R::SetUserProfile(r) => to.reply(ctx, r, set_user_profile),
    };
    after(ctx, then);
}

/// Where a request's answer goes: its id and its response type. The
/// consumer side refuses under `GenericResponse`.
struct Answering {
    id: String,
    kind: Cow<'static, str>,
}

impl Answering {
    /// Runs `handler` on `body` and sends its answer; returns what follows it.
    fn reply<Q: Request<lp::Consumer>>(
        &self,
        ctx: &Ctx,
        body: Q,
        handler: impl FnOnce(&Ctx, Q) -> Reply<Q::Response>,
    ) -> Then {
        match handler(ctx, body) {
            Ok((answer, then)) => {
                ctx.send(lp::envelope::response_frame(
                    Some(&self.id),
                    200,
                    &self.kind,
                    &answer,
                ));
                then
            }
            Err(refusal) => {
                ctx.send(refusal.to_frame(Some(&self.id), GENERIC_RESPONSE));
                Then::Nothing
            }
        }
    }
}

fn after(ctx: &Ctx, then: Then) {
    match then {
        Then::Nothing => {}
        Then::Route => ctx.hub.route(),
        Then::Subscribe(id) => {
            let mut state = ctx.hub.state();
            if let Some(consumer) = state.consumers.get_mut(&ctx.conn) {
                consumer.conversation_subscription = Some(id);
            }
            state.consumer_snapshot(ctx.conn);
        }
        Then::History {
            dialog_id,
            from_seq,
        } => {
            let mut state = ctx.hub.state();
            let Some(consumer_id) = signed_in(&state, ctx.conn).ok() else {
                return;
            };
            if let Err(refusal) =
                state.subscribe_dialog(ctx.conn, &consumer_id, &dialog_id, from_seq)
            {
                tracing::warn!(%refusal, "subscription failed after its checks");
            }
        }
    }
}

/// The consumer id the socket authenticated as.
fn signed_in(state: &HubState, conn: u64) -> Result<String, Refusal> {
    state
        .consumers
        .get(&conn)
        .and_then(|c| c.consumer_id.clone())
        .ok_or_else(|| Refusal::new(401, "send InitConnection with a valid JWT first"))
}

/// Authenticates the socket with the JWT of its `ConsumerAuthentication`
/// header; a consumer's new identity on the socket, or one linked by
/// `/authenticate`, is a step-up of its conversation. Without a valid JWT:
/// 401 under the request's own response type, and the socket is closed.
fn init_connection(ctx: &Ctx, to: &Answering, jwt: Option<&str>) {
    let mut state = ctx.hub.state();
    let now = Instant::now();
    let identity = jwt.and_then(|jwt| {
        let consumer = state.consumer_tokens.consumer(jwt, now)?;
        Some((jwt, consumer.to_owned()))
    });
    let Some((jwt, id)) = identity else {
        drop(state);
        let refusal = Refusal::new(401, "no valid JWT");
        ctx.send(refusal.to_frame(Some(&to.id), &to.kind));
        let _ = ctx
            .outbox
            .send(Outgoing::Close(UNAUTHORIZED, "no valid JWT".into()));
        return;
    };
    let current = state
        .consumers
        .get(&ctx.conn)
        .and_then(|c| c.consumer_id.clone());
    let from = current
        .filter(|c| *c != id)
        .or_else(|| state.consumer_tokens.take_step_up(jwt, now));
    if let Some(from) = from {
        state.step_up(&from, &id);
    }
    state.sign_in_consumer(ctx.conn, id);
    drop(state);
    let ok = Text::from("OK");
    ctx.send(lp::envelope::response_frame(
        Some(&to.id),
        200,
        &to.kind,
        &ok,
    ));
}

fn get_clock(_: &Ctx, _: GetClock) -> Reply<Clock> {
    let clock = Clock {
        current_time: now_ms(),
    };
    Ok((clock, Then::Nothing))
}

/// A conversation on the skill asked for (the default skill for none or
/// `-1`), routed after the answer; one open conversation per consumer.
fn consumer_request_conversation(
    ctx: &Ctx,
    request: ConsumerRequestConversation,
) -> Reply<ConversationCreated> {
    let mut state = ctx.hub.state();
    let consumer_id = signed_in(&state, ctx.conn)?;
    let client = state.consumers.get(&ctx.conn).and_then(|c| c.client);
    let skill = request.skill_id.map(String::from);
    let id = state.request_conversation(&consumer_id, client, skill)?;
    let created = ConversationCreated {
        conversation_id: id.into(),
    };
    Ok((created, Then::Route))
}

/// Publishes into the consumer's own open conversation; its encoded
/// metadata goes out with it live.
fn publish_event(
    ctx: &Ctx,
    publish: PublishEvent,
    encoded_metadata: Option<EncodedMetadata>,
) -> Reply<Published> {
    let mut state = ctx.hub.state();
    let consumer_id = signed_in(&state, ctx.conn)?;
    limits::check_event(&publish.event, encoded_metadata.as_ref())?;
    let sequence = state.consumer_publish(
        &consumer_id,
        publish.dialog_id.as_str(),
        publish.event,
        encoded_metadata,
    )?;
    Ok((Published { sequence }, Then::Nothing))
}

/// The consumer's profile (names, engagement attributes), which the agent
/// assigned to its conversation reads with `GetUserProfile`.
fn set_user_profile(ctx: &Ctx, set: SetUserProfile) -> Reply<Text> {
    let consumer_id = signed_in(&ctx.hub.state(), ctx.conn)?;
    let profile = set.profile();
    let own = crate::hub::profiles::Source::Consumer;
    ctx.hub.profiles().set(&consumer_id, own, Some(&profile))?;
    Ok((Text::from("OK"), Then::Nothing))
}

/// The consumer's own dialog: its past events from `fromSeq` after the
/// answer, then every new one.
fn subscribe_messaging_events(ctx: &Ctx, subscribe: SubscribeMessagingEvents) -> Reply<Empty> {
    let state = ctx.hub.state();
    let consumer_id = signed_in(&state, ctx.conn)?;
    let dialog_id = String::from(subscribe.dialog_id);
    match state.conversations.get(&dialog_id) {
        Some(conv) if conv.consumer_id == consumer_id => {
            let then = Then::History {
                dialog_id,
                from_seq: subscribe.from_seq,
            };
            Ok((Empty {}, then))
        }
        Some(_) => Err(Refusal::new(
            403,
            format!("dialog {dialog_id} is not this consumer's"),
        )),
        None => Err(Refusal::new(404, format!("no dialog {dialog_id}"))),
    }
}

/// The consumer's conversations: all of them after the answer, then every change.
fn subscribe_ex_conversations(ctx: &Ctx, _: SubscribeExConversations) -> Reply<Subscribed> {
    signed_in(&ctx.hub.state(), ctx.conn)?;
    let id = new_subscription();
    let subscribed = Subscribed {
        subscription_id: id.as_str().into(),
    };
    Ok((subscribed, Then::Subscribe(id)))
}

/// Ends this socket's conversation subscription (404 for another).
fn unsubscribe_ex_conversations(
    ctx: &Ctx,
    unsubscribe: UnsubscribeExConversations,
) -> Reply<Empty> {
    let mut state = ctx.hub.state();
    signed_in(&state, ctx.conn)?;
    let id = unsubscribe.subscription_id.as_str();
    let ended = state
        .consumers
        .get_mut(&ctx.conn)
        .and_then(|c| c.conversation_subscription.take_if(|s| s == id));
    match ended {
        Some(_) => Ok((Empty {}, Then::Nothing)),
        None => Err(Refusal::new(
            404,
            format!("no conversation subscription {id} on this connection"),
        )),
    }
}

/// Closes the consumer's conversation: the only field a consumer may change.
fn update_conversation_field(ctx: &Ctx, update: UpdateConversationField) -> Reply<Text> {
    let mut state = ctx.hub.state();
    let consumer_id = signed_in(&state, ctx.conn)?;
    let conv_id = update.conversation_id.as_str();
    let closes = update.conversation_field.iter().any(|f| {
        matches!(f, ConversationField::State(s) if s.conversation_state == ConversationState::Close)
    });
    match state.conversations.get(conv_id) {
        Some(conv) if conv.consumer_id == consumer_id && closes => {
            state.close(conv_id, CloseReason::Consumer);
            let resolved = Text::from("OK Conversation resolved successfully");
            Ok((resolved, Then::Route))
        }
        Some(conv) if conv.consumer_id == consumer_id => Err(Refusal::new(
            400,
            "a consumer may only close its conversation (ConversationStateField CLOSE)",
        )),
        Some(_) => Err(Refusal::new(
            403,
            format!("conversation {conv_id} is not this consumer's"),
        )),
        None => Err(Refusal::new(404, format!("no conversation {conv_id}"))),
    }
}
