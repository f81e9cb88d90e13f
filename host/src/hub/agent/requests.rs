//! The agent socket's requests: one handler per kind of `lp::AgentRequest`.
//! A handler takes the request's typed body and returns its typed answer
//! (the table's response type, checked by [`answer`]) and what has to
//! follow the answer once it is sent, or a refusal.

use std::borrow::Cow;
use std::sync::Arc;

use lp::common::{ChannelType, Empty, Subscribed, Text};
use lp::connection::{Clock, GetClock};
use lp::conversations::{
    AgentRequestConversation, ConversationCreated, SubscribeExConversations,
    UnsubscribeExConversations,
};
use lp::fields::UpdateConversationField;
use lp::messaging::{
    EncodedMetadata, EventRecord, PublishEvent, Published, QueryMessages, SubscribeMessagingEvents,
};
use lp::routing::{SetAgentState, SubscribeAgentsState, SubscribeRoutingTasks, UpdateRingState};
use lp::users::{GetUserProfile, UserProfile};
use lp::{AgentRequest, Incoming, Request};

use super::Then;
use crate::clock::now_ms;
use crate::hub::limits::{self, HISTORY_PAGE};
use crate::hub::state::{
    AgentStateSubscription, Availability, ConversationSubscription, Refusal, Session,
};
use crate::hub::{Hub, new_subscription};

/// What a handler works on: the hub, and the agent connection the request came on.
pub(super) struct Ctx<'a> {
    pub hub: &'a Arc<Hub>,
    pub conn: u64,
    pub session: &'a Session,
}

/// A handler's answer and what follows it, or its refusal.
type Reply<R> = Result<(R, Then), Refusal>;

/// Answers one request (every request gets exactly one response): the
/// response frame, and what has to follow it.
pub(super) fn answer(ctx: &Ctx, incoming: Incoming<AgentRequest>) -> (String, Then) {
    let to = Answering {
        kind: incoming.response_kind(),
        id: incoming.id,
    };
    use AgentRequest as R;
    match incoming.request {
        R::GetClock(r) => to.reply(ctx, r, get_clock),
        R::SetAgentState(r) => to.reply(ctx, r, set_agent_state),
        R::SubscribeExConversations(r) => to.reply(ctx, r, subscribe_ex_conversations),
        R::UnsubscribeExConversations(r) => to.reply(ctx, r, unsubscribe_ex_conversations),
        R::SubscribeRoutingTasks(r) => to.reply(ctx, r, subscribe_routing_tasks),
        R::SubscribeAgentsState(r) => to.reply(ctx, r, subscribe_agents_state),
        R::UpdateRingState(r) => to.reply(ctx, r, update_ring_state),
        R::PublishEvent(r) => {
            let encoded_metadata = incoming.encoded_metadata;
            to.reply(ctx, r, |ctx, r| publish_event(ctx, r, encoded_metadata))
        }
        R::QueryMessages(r) => to.reply(ctx, r, query_messages),
        R::SubscribeMessagingEvents(r) => to.reply(ctx, r, subscribe_messaging_events),
        R::AgentRequestConversation(r) => to.reply(ctx, r, agent_request_conversation),
        R::UpdateConversationField(r) => to.reply(ctx, r, update_conversation_field),
        R::GetUserProfile(r) => to.reply(ctx, r, get_user_profile),
    }
}

/// Where a request's answer goes: its id and its response type (refusals
/// travel under the same type).
struct Answering {
    id: String,
    kind: Cow<'static, str>,
}

impl Answering {
    /// Runs `handler` on `body`: its answer's frame and what follows it.
    fn reply<Q: Request<lp::Agent>>(
        &self,
        ctx: &Ctx,
        body: Q,
        handler: impl FnOnce(&Ctx, Q) -> Reply<Q::Response>,
    ) -> (String, Then) {
        match handler(ctx, body) {
            Ok((answer, then)) => (
                lp::envelope::response_frame(Some(&self.id), 200, &self.kind, &answer),
                then,
            ),
            Err(refusal) => (refusal.to_frame(Some(&self.id), &self.kind), Then::Nothing),
        }
    }
}

fn get_clock(_: &Ctx, _: GetClock) -> Reply<Clock> {
    let clock = Clock {
        current_time: now_ms(),
    };
    Ok((clock, Then::Nothing))
}

/// Availability; channels default to MESSAGING. Every watcher of this
/// agent user's state hears of it; an ONLINE agent may be rung at once.
fn set_agent_state(ctx: &Ctx, state: SetAgentState) -> Reply<Empty> {
    if let Availability::Other(unknown) = &state.availability {
        return Err(Refusal::new(
            400,
            format!(
                "availability {unknown} is unknown: use {}, {}, {} or {}",
                Availability::Online,
                Availability::Occupied,
                Availability::Away,
                Availability::Offline
            ),
        ));
    }
    let channels = match state.channels {
        channels if channels.is_empty() => vec![ChannelType::Messaging],
        channels => channels,
    };
    ctx.hub
        .state()
        .set_availability(ctx.conn, state.availability, &channels);
    Ok((Empty {}, Then::Route))
}

/// Conversation state notifications; the current ones follow at once.
fn subscribe_ex_conversations(ctx: &Ctx, subscribe: SubscribeExConversations) -> Reply<Subscribed> {
    let id = new_subscription();
    if let Some(agent) = ctx.hub.state().agents.get_mut(&ctx.conn) {
        agent.conversation_subscription = Some(ConversationSubscription {
            id: id.clone(),
            agent_ids: subscribe.agent_ids,
            states: subscribe.conv_state,
        });
    }
    Ok((subscribed(id), Then::ConversationSnapshot))
}

/// Ends this connection's conversation subscription (404 for another).
fn unsubscribe_ex_conversations(
    ctx: &Ctx,
    unsubscribe: UnsubscribeExConversations,
) -> Reply<Empty> {
    ctx.hub
        .state()
        .unsubscribe_conversations(ctx.conn, unsubscribe.subscription_id.as_str())?;
    Ok((Empty {}, Then::Nothing))
}

/// Rings; a waiting conversation may ring at once.
fn subscribe_routing_tasks(ctx: &Ctx, _: SubscribeRoutingTasks) -> Reply<Subscribed> {
    let id = new_subscription();
    if let Some(agent) = ctx.hub.state().agents.get_mut(&ctx.conn) {
        agent.routing_subscription = Some(id.clone());
    }
    Ok((subscribed(id), Then::Route))
}

/// The state changes of an agent user of the account: the one named, or
/// the requester (the SDK fills in `brandId` and its own `agentId`).
fn subscribe_agents_state(ctx: &Ctx, subscribe: SubscribeAgentsState) -> Reply<Subscribed> {
    let mut state = ctx.hub.state();
    let account = state.config.account.clone();
    let watched = subscribe
        .agent_id
        .map_or_else(|| ctx.session.user_id.clone(), String::from);
    let known = state
        .config
        .users
        .iter()
        .any(|u| format!("{account}.{}", u.login) == watched);
    if !known {
        return Err(Refusal::new(
            404,
            format!("no agent {watched} in account {account}"),
        ));
    }
    let id = new_subscription();
    if let Some(agent) = state.agents.get_mut(&ctx.conn) {
        agent.agent_state_subscription = Some(AgentStateSubscription {
            id: id.clone(),
            agent_user_id: watched,
        });
    }
    Ok((subscribed(id), Then::Nothing))
}

/// Accepts or rejects a ring; either may free the conversation for routing.
fn update_ring_state(ctx: &Ctx, answer: UpdateRingState) -> Reply<Empty> {
    ctx.hub
        .state()
        .update_ring(ctx.conn, answer.ring_id.as_str(), &answer.ring_state)?;
    Ok((Empty {}, Then::Route))
}

/// Publishes into a conversation the agent is assigned to, for everyone
/// or, with `messageAudience` `AGENTS_AND_MANAGERS`, for agents only.
/// Its encoded metadata goes out with it live.
fn publish_event(
    ctx: &Ctx,
    publish: PublishEvent,
    encoded_metadata: Option<EncodedMetadata>,
) -> Reply<Published> {
    limits::check_event(&publish.event, encoded_metadata.as_ref())?;
    let sequence = ctx.hub.state().agent_publish(
        ctx.conn,
        publish.dialog_id.as_str(),
        publish.event,
        publish.message_audience,
        encoded_metadata,
    )?;
    Ok((Published { sequence }, Then::Nothing))
}

/// A page of history: LivePerson's `maxQuantity` is 100 by default and at most.
fn query_messages(ctx: &Ctx, query: QueryMessages) -> Reply<Vec<EventRecord>> {
    let page = query
        .max_quantity
        .map_or(HISTORY_PAGE, |n| (n as usize).clamp(1, HISTORY_PAGE));
    let events =
        ctx.hub
            .state()
            .history(query.dialog_id.as_str(), query.newer_than_sequence, page)?;
    Ok((events, Then::Nothing))
}

/// What the SDK's subscribeMessagingEvents means (it sends it as
/// QueryMessages): the dialog's past events, as notifications after the answer.
fn subscribe_messaging_events(ctx: &Ctx, subscribe: SubscribeMessagingEvents) -> Reply<Empty> {
    let dialog_id = String::from(subscribe.dialog_id);
    if !ctx.hub.state().conversations.contains_key(&dialog_id) {
        return Err(Refusal::new(404, format!("no dialog {dialog_id}")));
    }
    let then = Then::History {
        dialog_id,
        from_seq: subscribe.from_seq,
    };
    Ok((Empty {}, then))
}

/// An outbound conversation, assigned to the requester at once; both sides
/// hear of it after the answer. Its `conversationContext` is not kept.
fn agent_request_conversation(
    ctx: &Ctx,
    outbound: AgentRequestConversation,
) -> Reply<ConversationCreated> {
    if let Some(channel) = outbound
        .channel_type
        .filter(|c| *c != ChannelType::Messaging)
    {
        return Err(Refusal::new(
            400,
            format!(
                "channelType {channel} is not served: use {}",
                ChannelType::Messaging
            ),
        ));
    }
    let id = ctx.hub.state().agent_request_conversation(
        ctx.conn,
        outbound.consumer_id.as_str(),
        outbound.skill_id.map(String::from),
    )?;
    let created = ConversationCreated {
        conversation_id: id.as_str().into(),
    };
    Ok((created, Then::Announce(id)))
}

/// Transfer to a skill, or close; a slot may be free afterwards.
fn update_conversation_field(ctx: &Ctx, update: UpdateConversationField) -> Reply<Text> {
    ctx.hub.state().agent_update_fields(
        ctx.conn,
        update.conversation_id.as_str(),
        &update.conversation_field,
    )?;
    Ok((Text::from("OK"), Then::Route))
}

/// A consumer's engagement attributes (see `hub::profiles`; empty when
/// none were set), for the agent assigned to its open conversation only.
fn get_user_profile(ctx: &Ctx, get: GetUserProfile) -> Reply<UserProfile> {
    let Some(consumer_id) = get.user_id else {
        return Err(Refusal::new(400, "userId (a consumer id) is missing"));
    };
    let consumer_id = consumer_id.as_str();
    if !ctx.hub.state().serves(&ctx.session.user_id, consumer_id) {
        return Err(Refusal::new(
            403,
            format!(
                "{} is not assigned to a conversation of {consumer_id}",
                ctx.session.user_id
            ),
        ));
    }
    Ok((ctx.hub.profiles().get(consumer_id), Then::Nothing))
}

fn subscribed(id: String) -> Subscribed {
    Subscribed {
        subscription_id: id.into(),
    }
}
