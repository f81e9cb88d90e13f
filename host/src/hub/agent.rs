//! The agent WebSocket (LivePerson's Messaging Agent API): one logged-in agent session.
//!
//! Besides the requests a bot connector uses (§A3), it serves the rest of
//! what LivePerson's node-agent-sdk sends:
//! - `.ams.aam.UnsubscribeExConversations` `{"subscriptionId"}` ends that
//!   conversation subscription (404 for one this connection does not hold).
//! - `.ams.routing.SubscribeAgentsState` `{"agentId"?}` → `{"subscriptionId"}`;
//!   then a `.ams.routing.AgentStateNotification`
//!   `{"subscriptionId","changes":[{"type":"UPSERT","result":{"agentUserId","channels","availability","description"}}]}`
//!   whenever that agent user's state is set.
//! - `.ams.ms.SubscribeMessagingEvents` `{"dialogId","fromSeq"}` →
//!   `GenericSubscribeResponse`, then the dialog's past events from `fromSeq`
//!   as one `ms.MessagingEventNotification`. As on LivePerson (UMS v2), an
//!   agent needs no subscription for live events: participants receive them
//!   as `.ams.ms.OnlineEventDistribution`.
//! - `.ams.cm.AgentRequestConversation` `{"consumerId","skillId"?,"channelType":"MESSAGING"}`
//!   → `{"conversationId"}`: an outbound conversation with a consumer the
//!   hub knows, assigned to the requesting agent at once (no ring); both
//!   sides get the UPSERT. `conversationContext` (proactive context) is
//!   accepted and not kept.

use std::sync::Arc;

use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::Hub;
use super::state::{
    self, Agent, AgentStateSubscription, Availability, ConversationSubscription, Outbox, Outgoing,
    Refusal, Session,
};
use crate::http::ServerSocket;
use crate::wire::{self, Frame, Request};

/// Adds a logged-in agent session whose frames go to `outbox`.
pub(super) fn register(hub: &Arc<Hub>, session: &Session, outbox: Outbox) -> u64 {
    let mut state = hub.state();
    let conn = state.next_id();
    let user = state
        .config
        .users
        .iter()
        .find(|u| u.login == session.login)
        .cloned();
    let (skills, max) = user
        .map(|u| (u.skills, u.max_conversations))
        .unwrap_or_default();
    state.agent_back(&session.user_id, &session.pid);
    state.agents.insert(
        conn,
        Agent {
            outbox,
            login: session.login.clone(),
            user_id: session.user_id.clone(),
            pid: session.pid.clone(),
            availability: Availability::Offline,
            routing_subscription: None,
            conversation_subscription: None,
            agent_state_subscription: None,
            skills,
            max_conversations: max,
            last_assigned: 0,
        },
    );
    tracing::info!(agent = %session.user_id, conn, "agent connected to the hub");
    conn
}

/// The session ended: rings are withdrawn; conversations move at once
/// after a logout, after the grace period after a drop.
pub(super) fn gone(hub: &Arc<Hub>, conn: u64) {
    let dropped = hub.state().agent_gone(conn);
    hub.route();
    if let Some(user) = dropped {
        let (hub, grace) = (hub.clone(), hub.state().config.agent_grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            hub.state().release_user(&user);
            hub.route();
        });
    }
}

/// What has to follow a request's response, once that is sent.
pub(super) enum Then {
    Nothing,
    /// The first notification of a new conversation subscription.
    ConversationSnapshot,
    /// Routing: the agent may take conversations now, or a slot is free.
    Route,
    /// A dialog's past events (`SubscribeMessagingEvents`).
    History {
        dialog_id: String,
        from_seq: u64,
    },
    /// A conversation the agent opened, to both sides.
    Announce(String),
}

/// Reads one frame: the response to send (every request gets one), then
/// what has to follow it.
pub(super) fn process(
    hub: &Arc<Hub>,
    conn: u64,
    session: &Session,
    text: &str,
) -> (Option<String>, Then) {
    match wire::parse(text) {
        Ok(Frame::Request(request)) => {
            let (answer, then) = handle(hub, conn, session, request);
            (Some(answer), then)
        }
        Ok(_) => (None, Then::Nothing),
        Err(error) => (
            Some(wire::response(
                wire::salvage_id(text).as_deref(),
                400,
                "GenericResponse",
                json!({"msg": error.to_string()}),
            )),
            Then::Nothing,
        ),
    }
}

/// Does what follows a request's response.
pub(super) fn after(hub: &Arc<Hub>, conn: u64, then: Then) {
    match then {
        Then::Nothing => {}
        Then::ConversationSnapshot => hub.state().snapshot_for(conn),
        Then::Route => hub.route(),
        Then::History {
            dialog_id,
            from_seq,
        } => hub.state().send_history(conn, &dialog_id, from_seq),
        Then::Announce(conv_id) => hub.state().announce(&conv_id),
    }
}

pub(super) async fn serve(hub: Arc<Hub>, session: Session, socket: ServerSocket) {
    let (sink, mut stream) = socket.split();
    let (outbox, outgoing) = state::outbox();
    let conn = register(&hub, &session, outbox.clone());

    let mut writer = tokio::spawn(state::write_frames(sink, outgoing));
    let mut too_big = false;

    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            // tungstenite has queued the answering close frame (same code);
            // the next read sends it and ends the stream, closing the TCP
            // connection: the close handshake is complete.
            Ok(Message::Close(_)) => continue,
            Err(error) => {
                too_big = super::limits::is_too_big(&error);
                break;
            }
            Ok(_) => continue,
        };
        let (reply, then) = process(&hub, conn, &session, &text);
        if let Some(reply) = reply {
            let _ = outbox.send(Outgoing::Text(reply));
        }
        after(&hub, conn, then);
    }

    if too_big {
        super::limits::close_too_big(&outbox, &mut writer).await;
    }
    gone(&hub, conn);
    writer.abort();
    tracing::info!(agent = %session.user_id, conn, "agent disconnected from the hub");
}

/// How many failed deliveries in a row end a webhook session.
const WEBHOOK_FAILURES: u32 = 3;

/// An agent session over HTTP (the connector's `external_webhook_url`
/// mode): requests come as POSTs, notifications go as POSTs to `url`, in
/// order. Returns the session's connection id.
pub(super) fn serve_webhook(hub: &Arc<Hub>, session: &Session, url: String) -> u64 {
    let (outbox, mut outgoing) = state::outbox();
    let conn = register(hub, session, outbox);
    let hub = hub.clone();
    tokio::spawn(async move {
        let mut failures = 0;
        while let Some(frame) = outgoing.next().await {
            let Outgoing::Text(text) = frame else { break };
            let body: Value = serde_json::from_str(&text).expect("the hub writes JSON");
            match crate::http::post_json(&url, &body).await {
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%url, %error, "webhook delivery failed");
                    if failures >= WEBHOOK_FAILURES {
                        break;
                    }
                }
            }
        }
        gone(&hub, conn);
    });
    conn
}

/// Answers one request; every request gets exactly one response. Returns
/// it and what has to follow it.
fn handle(hub: &Arc<Hub>, conn: u64, session: &Session, request: Request) -> (String, Then) {
    let response_type = format!("{}$Response", request.kind);
    let ok = |code: u16, body: Value| wire::response(Some(&request.id), code, &response_type, body);
    let refused = |(code, msg): (u16, String)| (ok(code, json!({"msg": msg})), Then::Nothing);
    let body = &request.body;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    match request.kind.as_str() {
        ".GetClock" | "GetClock" => (
            ok(200, json!({"currentTime": wire::now_ms()})),
            Then::Nothing,
        ),
        ".ams.routing.SetAgentState" => {
            let state: SetAgentState = match parse(body) {
                Ok(state) => state,
                Err(refusal) => return refused(refusal),
            };
            hub.state()
                .set_availability(conn, state.availability, &state.channels);
            (ok(200, json!({})), Then::Route)
        }
        ".ams.aam.SubscribeExConversations" => {
            let subscribe: SubscribeExConversations = match parse(body) {
                Ok(subscribe) => subscribe,
                Err(refusal) => return refused(refusal),
            };
            let id = uuid::Uuid::new_v4().to_string();
            if let Some(agent) = hub.state().agents.get_mut(&conn) {
                agent.conversation_subscription = Some(ConversationSubscription {
                    id: id.clone(),
                    agent_ids: subscribe.agent_ids,
                    states: subscribe.conv_state,
                });
            }
            (
                ok(200, json!({"subscriptionId": id})),
                Then::ConversationSnapshot,
            )
        }
        // The SDK sends the aam name; the cqm one is the same request under
        // the service's older name.
        ".ams.aam.UnsubscribeExConversations" | ".ams.cqm.UnsubscribeExConversations" => {
            let unsubscribe: Unsubscribe = match parse(body) {
                Ok(unsubscribe) => unsubscribe,
                Err(refusal) => return refused(refusal),
            };
            match hub
                .state()
                .unsubscribe_conversations(conn, &unsubscribe.subscription_id)
            {
                Ok(()) => (ok(200, json!({})), Then::Nothing),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.routing.SubscribeRoutingTasks" => {
            let subscription = uuid::Uuid::new_v4().to_string();
            if let Some(agent) = hub.state().agents.get_mut(&conn) {
                agent.routing_subscription = Some(subscription.clone());
            }
            (
                ok(200, json!({"subscriptionId": subscription})),
                Then::Route,
            )
        }
        ".ams.routing.SubscribeAgentsState" => {
            let subscribe: SubscribeAgentsState = match parse(body) {
                Ok(subscribe) => subscribe,
                Err(refusal) => return refused(refusal),
            };
            let mut state = hub.state();
            let account = state.config.account.clone();
            let watched = subscribe
                .agent_id
                .unwrap_or_else(|| session.user_id.clone());
            let known = state
                .config
                .users
                .iter()
                .any(|u| format!("{account}.{}", u.login) == watched);
            if !known {
                return refused((404, format!("no agent {watched} in account {account}")));
            }
            let id = uuid::Uuid::new_v4().to_string();
            if let Some(agent) = state.agents.get_mut(&conn) {
                agent.agent_state_subscription = Some(AgentStateSubscription {
                    id: id.clone(),
                    agent_user_id: watched,
                });
            }
            (ok(200, json!({"subscriptionId": id})), Then::Nothing)
        }
        ".ams.routing.UpdateRingState" => {
            let (Some(ring_id), Some(ring_state)) = (text("ringId"), text("ringState")) else {
                return refused((400, "ringId and ringState are required".into()));
            };
            match hub.state().update_ring(conn, &ring_id, &ring_state) {
                Ok(()) => (ok(200, json!({})), Then::Route),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.ms.PublishEvent" => {
            let (Some(dialog), Some(event)) = (text("dialogId"), body.get("event").cloned()) else {
                return refused((400, "dialogId and event are required".into()));
            };
            if !event.is_object() || event.get("type").and_then(Value::as_str).is_none() {
                return refused((400, "event must be an object with a type".into()));
            }
            if let Err(refusal) = super::limits::check_event(&event) {
                return refused(refusal);
            }
            match hub.state().agent_publish(conn, &dialog, event) {
                Ok(sequence) => (ok(200, json!({"sequence": sequence})), Then::Nothing),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.ms.QueryMessages" => {
            let Some(dialog) = text("dialogId") else {
                return refused((400, "dialogId is required".into()));
            };
            let newer_than = body.get("newerThanSequence").and_then(Value::as_u64);
            // LivePerson's maxQuantity: 100 by default and at most.
            let page = body
                .get("maxQuantity")
                .and_then(Value::as_u64)
                .map_or(super::limits::HISTORY_PAGE, |n| {
                    (n as usize).clamp(1, super::limits::HISTORY_PAGE)
                });
            match hub.state().history(&dialog, newer_than, page) {
                Ok(events) => (ok(200, events), Then::Nothing),
                Err(refusal) => refused(refusal),
            }
        }
        // What the SDK's subscribeMessagingEvents means (it sends it as
        // QueryMessages): the dialog's past events as one notification.
        ".ams.ms.SubscribeMessagingEvents" | "ms.SubscribeMessagingEvents" => {
            let subscribe: SubscribeMessagingEvents = match parse(body) {
                Ok(subscribe) => subscribe,
                Err(refusal) => return refused(refusal),
            };
            if !hub.state().conversations.contains_key(&subscribe.dialog_id) {
                return refused((404, format!("no dialog {}", subscribe.dialog_id)));
            }
            let answer = wire::response(
                Some(&request.id),
                200,
                "GenericSubscribeResponse",
                json!({}),
            );
            let then = Then::History {
                dialog_id: subscribe.dialog_id,
                from_seq: subscribe.from_seq,
            };
            (answer, then)
        }
        ".ams.cm.AgentRequestConversation" => {
            let outbound: AgentRequestConversation = match parse(body) {
                Ok(outbound) => outbound,
                Err(refusal) => return refused(refusal),
            };
            if outbound
                .channel_type
                .as_deref()
                .is_some_and(|c| c != "MESSAGING")
            {
                return refused((400, "channelType must be MESSAGING".into()));
            }
            let skill = outbound.skill_id.map(String::from);
            match hub
                .state()
                .agent_request_conversation(conn, &outbound.consumer_id, skill)
            {
                Ok(id) => (ok(200, json!({"conversationId": id})), Then::Announce(id)),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.cm.UpdateConversationField" => {
            let Some(conv) = text("conversationId") else {
                return refused((400, "conversationId is required".into()));
            };
            let fields = match body.get("conversationField") {
                Some(Value::Array(fields)) => fields.clone(),
                Some(field @ Value::Object(_)) => vec![field.clone()],
                _ => return refused((400, "conversationField is required".into())),
            };
            match hub.state().agent_update_fields(conn, &conv, &fields) {
                Ok(()) => (ok(200, json!("OK")), Then::Route),
                Err(refusal) => refused(refusal),
            }
        }
        ".ams.userprofile.GetUserProfile" => (ok(200, json!([])), Then::Nothing),
        other => {
            tracing::debug!(agent = %session.user_id, request = other, "unsupported agent request");
            refused((400, format!("unsupported request type {other}")))
        }
    }
}

/// Reads a request body into its type; an absent body reads as `{}`.
fn parse<T: DeserializeOwned>(body: &Value) -> Result<T, Refusal> {
    let result = if body.is_null() {
        T::deserialize(&json!({}))
    } else {
        T::deserialize(body)
    };
    result.map_err(|e| (400, format!("invalid body: {e}")))
}

/// `.ams.routing.SetAgentState`.
#[derive(Deserialize)]
struct SetAgentState {
    availability: Availability,
    #[serde(default = "messaging_channels")]
    channels: Vec<String>,
}

fn messaging_channels() -> Vec<String> {
    vec!["MESSAGING".into()]
}

/// `.ams.aam.SubscribeExConversations`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeExConversations {
    #[serde(default)]
    conv_state: Vec<String>,
    agent_ids: Option<Vec<String>>,
}

/// `.ams.aam.UnsubscribeExConversations`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Unsubscribe {
    subscription_id: String,
}

/// `.ams.routing.SubscribeAgentsState`: the SDK fills in `brandId` and its
/// own `agentId`; without one, the agent's own state.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeAgentsState {
    agent_id: Option<String>,
}

/// `.ams.ms.SubscribeMessagingEvents`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribeMessagingEvents {
    dialog_id: String,
    #[serde(default)]
    from_seq: u64,
}

/// `.ams.cm.AgentRequestConversation`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentRequestConversation {
    consumer_id: String,
    skill_id: Option<TextOrNumber>,
    channel_type: Option<String>,
}

/// An id clients send as a string or a number (`"skillId": 77`).
#[derive(Deserialize)]
#[serde(untagged)]
enum TextOrNumber {
    Text(String),
    Number(serde_json::Number),
}

impl From<TextOrNumber> for String {
    fn from(id: TextOrNumber) -> String {
        match id {
            TextOrNumber::Text(text) => text,
            TextOrNumber::Number(number) => number.to_string(),
        }
    }
}
